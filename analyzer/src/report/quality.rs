//! Outputs of offline quality scoring (`streamscope vmaf`): `frames.csv` with the quality
//! columns filled and `summary.json` (schema `streamscope.summary/1`).

use std::path::Path;

use serde::Serialize;

use super::frames::{FRAMES_HEADER, FrameCells, utc};
use crate::Error;
use crate::vmaf::offline::{OfflineResult, Pairing};
use crate::vmaf::{MeanMin, VmafSummary, pool_scores};

#[derive(Debug, Clone, Serialize)]
pub struct QualitySummary {
    pub schema: &'static str,
    pub started_at: String,
    pub ended_at: String,
    pub command: String,
    pub versions: super::summary::Versions,
    pub vmaf_model: String,
    /// `frame_number` or `index`.
    pub pairing: &'static str,
    /// The distorted frames were scaled (bicubic) to this reference size, when sizes differed.
    pub scaled_to: Option<String>,
    pub streams: Vec<QualityStream>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QualityStream {
    pub name: &'static str,
    pub role: &'static str,
    pub url: String,
    pub frames_received: u64,
    pub frames_scored: u64,
    pub unscored: u64,
    pub vmaf: Option<VmafSummary>,
    pub psnr_y: Option<MeanMin>,
    pub ssim: Option<MeanMin>,
}

pub fn summarize(
    r: &OfflineResult,
    distorted_url: &str,
    command: &str,
    started_us: i64,
    ended_us: i64,
    versions: super::summary::Versions,
) -> QualitySummary {
    let scores: Vec<_> = r.frames.iter().filter_map(|f| f.scores).collect();
    let pooled = pool_scores(&scores);
    QualitySummary {
        schema: super::summary::SCHEMA,
        started_at: utc(started_us),
        ended_at: utc(ended_us),
        command: command.to_owned(),
        versions,
        vmaf_model: r.model.clone(),
        pairing: match r.pairing {
            Pairing::FrameNumber => "frame_number",
            Pairing::Index => "index",
        },
        scaled_to: r.scaled_to.map(|(w, h)| format!("{w}x{h}")),
        streams: vec![QualityStream {
            name: "distorted",
            role: "live",
            url: distorted_url.to_owned(),
            frames_received: r.frames.len() as u64,
            frames_scored: scores.len() as u64,
            unscored: (r.frames.len() - scores.len()) as u64,
            vmaf: pooled.vmaf,
            psnr_y: pooled.psnr_y,
            ssim: pooled.ssim,
        }],
    }
}

pub fn write(dir: &Path, r: &OfflineResult, summary: &QualitySummary) -> Result<(), Error> {
    let path = dir.join("frames.csv");
    let io = super::writing(&path);
    let mut w = csv::Writer::from_path(&path).map_err(|e| io(e.into()))?;
    w.write_record(FRAMES_HEADER).map_err(|e| io(e.into()))?;
    for f in &r.frames {
        let cells = FrameCells {
            stream: "distorted",
            timecode: f.timecode,
            pts_us: f.pts_us,
            scores: f.scores,
            event: f.unscored.unwrap_or(""),
            ..FrameCells::default()
        };
        w.write_record(cells.record()).map_err(|e| io(e.into()))?;
    }
    w.flush().map_err(&io)?;
    let json = serde_json::to_string_pretty(summary).map_err(|e| io(e.into()))?;
    super::write_file(&dir.join("summary.json"), json + "\n")
}
