//! Recording offline quality scoring (`streamscope vmaf`) into a run folder like `analyze`'s:
//! `frames.csv` (the distorted frames classified, with their scores), `summary.json`,
//! `summary.csv`, `events.csv`, and the plots and `report.html` drawn from them. The frames
//! are placed on their own timeline (their PTS), so drops, repeats and freezes of the
//! distorted stream are counted as `analyze --clock pts` would.

use std::path::Path;

use metrics::{Classifier, FrameArrival, FrameRow, StreamContext, StreamEnd, Transport};
use report::summary::{SCHEMA, StreamSummary, Summary, Unscored};
use report::{FrameRecord, Role, Written};

use super::summarize::{Measured, pool_scores, stream_events, versions};
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

/// The distorted frames classified in delivery order, each arriving at its PTS.
fn classify(r: &OfflineResult) -> Vec<FrameRow> {
    let mut c = Classifier::new(0);
    let mut last_pts = 0;
    r.frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            last_pts = f.pts_us.unwrap_or(last_pts);
            let mut row = c.push(FrameArrival {
                seq: i as u64,
                arrival_us: last_pts,
                pts_us: f.pts_us,
                timecode: f.timecode,
                picture_changed: f.picture_changed,
                source_size: None,
            });
            // No arrival clock: no latency.
            row.latency_us = None;
            row
        })
        .collect()
}

/// Score `config.distorted` against `config.reference` and record it into `out`.
pub fn record(config: &OfflineConfig, out: &Path, command: &str) -> Result<RecordedScores, Error> {
    let _claim = report::claim::claim(out)?;
    let clock = WallClock::start();
    let result = offline::score(config)?;
    let rows = classify(&result);
    let measured = Measured::new(
        "distorted",
        &rows,
        StreamContext {
            transport: Transport::Continuous,
            end: StreamEnd::Finished,
            control: None,
            window: None,
            max_relative_us: None,
        },
    );
    let mut summary = summarize(&result, &measured, config.distorted.url(), command);
    summary.started_at = report::frames::utc(clock.start_us());
    summary.ended_at = report::frames::utc(clock.now_us());
    summary.versions = versions(&config.ffmpeg);
    let records: Vec<FrameRecord> = result
        .frames
        .iter()
        .zip(&rows)
        .map(|(f, row)| FrameRecord {
            stream: "distorted".into(),
            frame: f.timecode.map(|t| t.frame),
            capture_us: f.timecode.map(|t| t.capture_us as i64),
            pts_us: f.pts_us,
            vmaf: f.scores.map(|s| s.vmaf),
            psnr_y: f.scores.map(|s| s.psnr_y),
            ssim: f.scores.map(|s| s.ssim),
            event: row.kind.event().to_owned(),
            ..FrameRecord::default()
        })
        .collect();
    report::frames::write_all(&out.join("frames.csv"), &records)?;
    summary.write_json(&out.join("summary.json"))?;
    summary.write_csv(&out.join("summary.csv"))?;
    report::events::write(&out.join("events.csv"), &stream_events(&measured))?;
    let report = report::write_run_report(out, Some(&[]));
    Ok(RecordedScores {
        result,
        summary,
        report,
    })
}

fn summarize(r: &OfflineResult, m: &Measured<'_>, distorted_url: &str, command: &str) -> Summary {
    let scores: Vec<_> = r.frames.iter().filter_map(|f| f.scores).collect();
    let pooled = pool_scores(&scores);
    let mut stream = StreamSummary::new("distorted", Role::Live, distorted_url);
    m.fill(&mut stream);
    let why = |reason: &str| {
        r.frames
            .iter()
            .filter(|f| f.unscored == Some(reason))
            .count() as u64
    };
    stream.frames_scored = Some(scores.len() as u64);
    stream.unscored = Some((r.frames.len() - scores.len()) as u64);
    stream.vmaf_unscored = Some(Unscored {
        subsampled: why("subsampled"),
        busy: 0,
        unreadable: why("unreadable"),
        no_reference_frame: why("no_reference_frame"),
    });
    stream.vmaf = pooled.vmaf;
    stream.psnr_y = pooled.psnr_y;
    stream.ssim = pooled.ssim;
    Summary {
        schema: SCHEMA.to_owned(),
        started_at: String::new(),
        ended_at: String::new(),
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
        clock_sync: None,
        streams: vec![stream],
    }
}
