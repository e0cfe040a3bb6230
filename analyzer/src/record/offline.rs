//! Recording offline quality scoring (`streamscope vmaf`) into a run folder: `frames.csv` with
//! the quality columns filled, `summary.json`, and the plots and `report.html` drawn from them.

use std::path::Path;

use report::summary::{SCHEMA, StreamSummary, Summary};
use report::{FrameRecord, Role, Written};

use super::summarize::{pool_scores, versions};
use crate::Error;
use crate::ingest::WallClock;
use crate::quality::offline::{self, OfflineConfig, OfflineResult, Pairing};

/// A recorded `vmaf` run.
#[derive(Debug)]
pub struct RecordedScores {
    pub result: OfflineResult,
    pub summary: Summary,
    pub report: Result<Written, report::Error>,
}

/// Score `config.distorted` against `config.reference` and record it into `out`.
pub fn record(config: &OfflineConfig, out: &Path, command: &str) -> Result<RecordedScores, Error> {
    std::fs::create_dir_all(out).map_err(|source| Error::Io {
        what: format!("cannot create the run folder {}", out.display()),
        source,
    })?;
    let clock = WallClock::start();
    let result = offline::score(config)?;
    let mut summary = summarize(
        &result,
        config.distorted.url(),
        command,
        clock.start_us(),
        clock.now_us(),
    );
    summary.versions = versions(&config.ffmpeg);
    let rows: Vec<FrameRecord> = result
        .frames
        .iter()
        .map(|f| FrameRecord {
            stream: "distorted".into(),
            frame: f.timecode.map(|t| t.frame),
            capture_us: f.timecode.map(|t| t.capture_us as i64),
            pts_us: f.pts_us,
            vmaf: f.scores.map(|s| s.vmaf),
            psnr_y: f.scores.map(|s| s.psnr_y),
            ssim: f.scores.map(|s| s.ssim),
            event: f.unscored.unwrap_or("").to_owned(),
            ..FrameRecord::default()
        })
        .collect();
    report::frames::write_all(&out.join("frames.csv"), &rows)?;
    summary.write_json(&out.join("summary.json"))?;
    let report = report::write_run_report(out, Some(&[]));
    Ok(RecordedScores {
        result,
        summary,
        report,
    })
}

fn summarize(
    r: &OfflineResult,
    distorted_url: &str,
    command: &str,
    started_us: i64,
    ended_us: i64,
) -> Summary {
    use report::frames::utc;
    let scores: Vec<_> = r.frames.iter().filter_map(|f| f.scores).collect();
    let pooled = pool_scores(&scores);
    let mut stream = StreamSummary::new("distorted", Role::Live, distorted_url);
    stream.frames_received = r.frames.len() as u64;
    stream.frames_scored = Some(scores.len() as u64);
    stream.unscored = Some((r.frames.len() - scores.len()) as u64);
    stream.vmaf = pooled.vmaf;
    stream.psnr_y = pooled.psnr_y;
    stream.ssim = pooled.ssim;
    Summary {
        schema: SCHEMA.to_owned(),
        started_at: utc(started_us),
        ended_at: utc(ended_us),
        command: command.to_owned(),
        clock: None,
        interrupted: false,
        versions: Default::default(),
        fail_if: None,
        vmaf_model: Some(r.model.clone()),
        vmaf_disabled: None,
        pairing: Some(
            match r.pairing {
                Pairing::FrameNumber => "frame_number",
                Pairing::Index => "index",
            }
            .to_owned(),
        ),
        scaled_to: r.scaled_to.map(|(w, h)| format!("{w}x{h}")),
        streams: vec![stream],
    }
}
