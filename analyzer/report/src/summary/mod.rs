//! `summary.json` (schema `streamscope.summary/2`) and `summary.csv` as typed structs: the
//! same types write a run's summary and read it back (`report`, `compare`, `--fail-if`). The
//! numbers inside come from `metrics`; this module only holds and formats them.

use std::path::Path;

use metrics::{Distribution, MeanMin, Transport, VmafSummary};
use serde::{Deserialize, Serialize};

use crate::{Error, write_file, writing};

pub const SCHEMA: &str = "streamscope.summary/2";
/// Schemas this build reads: its own and the one before (read with the new fields empty).
pub const READABLE: [&str; 2] = ["streamscope.summary/1", SCHEMA];

/// Which streams a run judges: live streams are measured against the control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Live,
    Control,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Live => "live",
            Role::Control => "control",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whole run: what was run, when, with what, and a summary per stream. `analyze`, `demo`
/// and `vmaf` write it; the fields only one of them fills are optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema: String,
    pub started_at: String,
    pub ended_at: String,
    pub command: String,
    /// `realtime` or `pts` (analyze); absent for `vmaf`, which has no arrival clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    #[serde(default)]
    pub interrupted: bool,
    pub versions: Versions,
    /// The `--fail-if` checks the run was judged by (what `streamscope report` judges by).
    #[serde(default)]
    pub fail_if: Option<String>,
    /// The VMAF model, when quality was scored.
    #[serde(default)]
    pub vmaf_model: Option<String>,
    /// Why quality was not scored although `--vmaf` asked for it.
    #[serde(default)]
    pub vmaf_disabled: Option<String>,
    /// How `vmaf` paired frames: `frame_number` or `index`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairing: Option<String>,
    /// `vmaf`: the distorted frames were scaled (bicubic) to this reference size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_to: Option<String>,
    /// The clocks' sync and what it means for absolute latency (`analyze` on the realtime
    /// clock; absent for replays and `vmaf`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_sync: Option<crate::sync::ClockSync>,
    pub streams: Vec<StreamSummary>,
}

/// What measured: streamscope's version and ffmpeg's `-version` line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    pub streamscope: String,
    #[serde(default)]
    pub ffmpeg: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fps {
    pub mean: f64,
    pub min: f64,
}

/// Bytes of video received per second (from the packets the reader received).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bitrate {
    pub mean_kbps: f64,
    /// Lowest and highest over complete 1 s windows.
    pub min_kbps: f64,
    pub max_kbps: f64,
}

/// Why frames of a live stream were not scored for quality.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unscored {
    /// Skipped by the adaptive subsampler to keep up.
    pub subsampled: u64,
    /// Offered while the queue was full.
    pub busy: u64,
    /// No readable timecode, so no frame number to pair by.
    pub unreadable: u64,
    /// The reference frame with that number was not (or no longer) held.
    pub no_reference_frame: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamSummary {
    pub name: String,
    pub role: Role,
    pub url: String,
    /// How the transport delivers frames, which decides how smoothness is judged.
    #[serde(default)]
    pub transport: Transport,
    #[serde(default)]
    pub error: Option<String>,
    /// Things the numbers need read with (e.g. a file read in real time).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// ffmpeg found the input cut short (a truncated file).
    #[serde(default)]
    pub input_truncated: bool,
    #[serde(default)]
    pub codec: Option<String>,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    /// Frame rate the stream declares (delivered fps is `fps`).
    #[serde(default)]
    pub fps_nominal: Option<f32>,
    /// The bitrate the container declares.
    #[serde(default)]
    pub bitrate_kbps: Option<u32>,
    /// The bitrate measured as video was received.
    #[serde(default)]
    pub bitrate: Option<Bitrate>,
    pub frames_received: u64,
    #[serde(default)]
    pub frames_expected: u64,
    #[serde(default)]
    pub dropped: u64,
    /// Frames the control delivered that this stream had not when the run stopped.
    #[serde(default)]
    pub lost_at_end: u64,
    #[serde(default)]
    pub duplicated: u64,
    /// Frames seen earlier delivered again (a demuxer re-reading overlapping segments).
    #[serde(default)]
    pub redelivered: u64,
    #[serde(default)]
    pub out_of_order: u64,
    #[serde(default)]
    pub unreadable: u64,
    #[serde(default)]
    pub stale: u64,
    #[serde(default)]
    pub freezes: u64,
    #[serde(default)]
    pub freeze_ms_total: f64,
    #[serde(default)]
    pub resolution_changes: u64,
    /// Gaps of ≥ 1 s with no frame at all (source dropped, reader reconnected).
    #[serde(default)]
    pub outages: u64,
    #[serde(default)]
    pub outage_ms_total: f64,
    #[serde(default)]
    pub startup_ms: Option<f64>,
    /// When the run stopped while this stream was still expected to deliver (RFC 3339); null
    /// when it ended by itself.
    #[serde(default)]
    pub stopped_at: Option<String>,
    #[serde(default)]
    pub fps: Option<Fps>,
    #[serde(default)]
    pub latency_ms: Option<Distribution>,
    #[serde(default)]
    pub relative_latency_ms: Option<Distribution>,
    #[serde(default)]
    pub vmaf: Option<VmafSummary>,
    #[serde(default)]
    pub psnr_y: Option<MeanMin>,
    #[serde(default)]
    pub ssim: Option<MeanMin>,
    /// Frames not scored, by reason (live streams of a `--vmaf` run).
    #[serde(default)]
    pub vmaf_unscored: Option<Unscored>,
    /// The stream's frames were scaled (bicubic) to this reference size before scoring.
    #[serde(default)]
    pub scaled_to: Option<String>,
    /// libvmaf failed for this stream.
    #[serde(default)]
    pub vmaf_error: Option<String>,
    /// A/V offset from the beeps (files and replays with audio).
    #[serde(default)]
    pub av: Option<metrics::av::AvSummary>,
    /// Why there is no A/V offset: "no audio", or what kept it from being measured.
    #[serde(default)]
    pub av_error: Option<String>,
    /// `vmaf`: frames scored and not scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames_scored: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unscored: Option<u64>,
}

impl StreamSummary {
    /// A stream with nothing measured yet.
    pub fn new(name: &str, role: Role, url: &str) -> Self {
        StreamSummary {
            name: name.to_owned(),
            role,
            url: url.to_owned(),
            transport: Transport::Continuous,
            error: None,
            warnings: Vec::new(),
            input_truncated: false,
            codec: None,
            width: None,
            height: None,
            fps_nominal: None,
            bitrate_kbps: None,
            bitrate: None,
            frames_received: 0,
            frames_expected: 0,
            dropped: 0,
            lost_at_end: 0,
            duplicated: 0,
            redelivered: 0,
            out_of_order: 0,
            unreadable: 0,
            stale: 0,
            freezes: 0,
            freeze_ms_total: 0.0,
            resolution_changes: 0,
            outages: 0,
            outage_ms_total: 0.0,
            startup_ms: None,
            stopped_at: None,
            fps: None,
            latency_ms: None,
            relative_latency_ms: None,
            vmaf: None,
            psnr_y: None,
            ssim: None,
            vmaf_unscored: None,
            scaled_to: None,
            vmaf_error: None,
            av: None,
            av_error: None,
            frames_scored: None,
            unscored: None,
        }
    }
}

impl Summary {
    /// Why the run failed whatever its thresholds: each stream that could not be measured (or
    /// scored, when quality was asked for), and quality not scored at all — one sentence each,
    /// `NAME: …`. A quality error never passes silently.
    pub fn errors(&self) -> Vec<String> {
        self.streams
            .iter()
            .flat_map(|s| {
                let quality = s.vmaf_error.as_ref().map(|e| format!("quality: {e}"));
                s.error
                    .iter()
                    .cloned()
                    .chain(quality)
                    .map(|e| format!("{}: {e}", s.name))
            })
            .chain(
                self.vmaf_disabled
                    .iter()
                    .map(|why| format!("quality was not scored: {why}")),
            )
            .collect()
    }

    /// The summary of stream `name`.
    pub fn stream(&self, name: &str) -> Option<&StreamSummary> {
        self.streams.iter().find(|s| s.name == name)
    }

    /// Read `summary.json`.
    pub fn load(path: &Path) -> Result<Summary, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::RunFolder {
            path: path.display().to_string(),
            reason: format!("{e} (is this a streamscope run folder?)"),
        })?;
        let bad = |reason: String| Error::RunFolder {
            path: path.display().to_string(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        match value["schema"].as_str() {
            Some(s) if READABLE.contains(&s) => {}
            Some(s) if s.starts_with("streamscope.summary/") => {
                return Err(bad(format!(
                    "schema {s} is not one this streamscope {} reads ({}): made by a newer streamscope?",
                    env!("CARGO_PKG_VERSION"),
                    READABLE.join(", ")
                )));
            }
            _ => return Err(bad("not a streamscope summary (no schema)".into())),
        }
        serde_json::from_value(value).map_err(|e| bad(e.to_string()))
    }

    pub fn write_json(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(self).map_err(|e| writing(path)(e.into()))?;
        write_file(path, text + "\n")
    }

    /// The summary flattened: one row per stream, dotted column names (`latency_ms.p95`),
    /// always the columns of `CSV_COLUMNS` in that order (empty where a stream has no value),
    /// so runs of one schema append into one sheet.
    pub fn write_csv(&self, path: &Path) -> Result<(), Error> {
        let io = writing(path);
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(CSV_COLUMNS).map_err(|e| io(e.into()))?;
        for s in &self.streams {
            let value = serde_json::to_value(s).map_err(|e| io(e.into()))?;
            let mut cells = Vec::new();
            flatten("", &value, &mut cells);
            let cells: std::collections::HashMap<String, String> = cells.into_iter().collect();
            let row: Vec<&str> = CSV_COLUMNS
                .iter()
                .map(|k| cells.get(*k).map_or("", String::as_str))
                .collect();
            w.write_record(&row).map_err(|e| io(e.into()))?;
        }
        let bytes = w.into_inner().map_err(|e| io(e.into_error()))?;
        crate::write_file(path, bytes)
    }
}

/// The columns of `summary.csv` for this schema, in order.
pub const CSV_COLUMNS: [&str; 72] = [
    "name",
    "role",
    "url",
    "transport",
    "error",
    "warnings",
    "input_truncated",
    "codec",
    "width",
    "height",
    "fps_nominal",
    "bitrate_kbps",
    "frames_received",
    "frames_expected",
    "dropped",
    "lost_at_end",
    "duplicated",
    "redelivered",
    "out_of_order",
    "unreadable",
    "stale",
    "freezes",
    "freeze_ms_total",
    "resolution_changes",
    "outages",
    "outage_ms_total",
    "startup_ms",
    "stopped_at",
    "fps.mean",
    "fps.min",
    "latency_ms.p50",
    "latency_ms.p90",
    "latency_ms.p95",
    "latency_ms.p99",
    "latency_ms.min",
    "latency_ms.max",
    "latency_ms.mean",
    "relative_latency_ms.p50",
    "relative_latency_ms.p90",
    "relative_latency_ms.p95",
    "relative_latency_ms.p99",
    "relative_latency_ms.min",
    "relative_latency_ms.max",
    "relative_latency_ms.mean",
    "vmaf.mean",
    "vmaf.harmonic_mean",
    "vmaf.min",
    "vmaf.p1",
    "vmaf.p5",
    "vmaf.frames_scored",
    "psnr_y.mean",
    "psnr_y.min",
    "ssim.mean",
    "ssim.min",
    "vmaf_unscored.subsampled",
    "vmaf_unscored.busy",
    "vmaf_unscored.unreadable",
    "vmaf_unscored.no_reference_frame",
    "scaled_to",
    "vmaf_error",
    "av.beeps_expected",
    "av.beeps_missed",
    "av.median_ms",
    "av.abs_p95_ms",
    "av.max_ms",
    "av.drift_ms_per_min",
    "av_error",
    "frames_scored",
    "unscored",
    "bitrate.mean_kbps",
    "bitrate.min_kbps",
    "bitrate.max_kbps",
];

/// Nested objects become dotted keys; nulls become empty cells.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Null => out.push((prefix.to_owned(), String::new())),
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        Value::Array(items) => {
            let texts: Vec<String> = items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect();
            out.push((prefix.to_owned(), texts.join("; ")));
        }
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

#[cfg(test)]
mod tests;
