//! A finished session turned into the run folder's summary and events: the numbers come
//! from `metrics` (one `Smoothness` per stream feeds both the summary and the events, so they
//! agree by construction), the types from `report`; this module only assembles them.

use std::path::Path;

use metrics::quality::{mean_min, pool};
use metrics::stats::{self, resolution_changes};
use metrics::{
    ControlFrame, Delivered, FrameKind, FrameRow, MeanMin, Smoothness, StreamContext, StreamEnd,
    VmafSummary, Window,
};
use report::frames::utc;
use report::summary::{Fps, SCHEMA, StreamSummary, Summary, Unscored, Versions};
use report::{Event, Role};

use crate::ingest::Protocol;
use crate::quality::FrameScores;
use crate::session::{ClockMode, SessionResult, StreamResult, VmafRun};

/// What measured: streamscope's version and ffmpeg's `-version` line.
pub fn versions(ffmpeg: &Path) -> Versions {
    Versions {
        streamscope: env!("CARGO_PKG_VERSION").to_owned(),
        ffmpeg: generator::process::version_line(ffmpeg),
    }
}

/// VMAF, PSNR-Y and SSIM pooled over the scored frames of a stream.
pub struct Pooled {
    pub vmaf: Option<VmafSummary>,
    pub psnr_y: Option<MeanMin>,
    pub ssim: Option<MeanMin>,
}

pub fn pool_scores(scores: &[FrameScores]) -> Pooled {
    let pick = |f: fn(&FrameScores) -> f64| scores.iter().map(f).collect::<Vec<_>>();
    Pooled {
        vmaf: pool(&pick(|s| s.vmaf)),
        psnr_y: mean_min(&pick(|s| s.psnr_y)),
        ssim: mean_min(&pick(|s| s.ssim)),
    }
}

/// One stream's frames, measured once: what its summary counts and its events list.
pub struct Measured<'a> {
    pub name: &'a str,
    /// The rows judged (a rotated run's period: those of `ctx.window`).
    pub rows: &'a [FrameRow],
    pub end: StreamEnd,
    /// The period judged, when the rows given are more than it.
    pub window: Option<Window>,
    pub smoothness: Smoothness,
}

impl<'a> Measured<'a> {
    /// Measure `all` (arrival order); with `ctx.window` only its rows are judged, the rest
    /// are context.
    pub fn new(name: &'a str, all: &'a [FrameRow], ctx: StreamContext<'_>) -> Self {
        let deliveries: Vec<Delivered> = all.iter().map(Delivered::from).collect();
        let smoothness = metrics::smoothness(&deliveries, ctx);
        let rows = match ctx.window {
            Some(w) => &all[w.rows.0.min(all.len())..w.rows.1.min(all.len())],
            None => all,
        };
        Measured {
            name,
            rows,
            end: ctx.end,
            window: ctx.window.copied(),
            smoothness,
        }
    }

    /// Counts, loss and smoothness into a stream's summary (the part `analyze` and `vmaf`
    /// share).
    pub fn fill(&self, st: &mut StreamSummary) {
        let rows = self.rows;
        let timeline = self.smoothness.timeline.as_ref();
        let freezes = timeline.map_or(&[][..], |t| &t.freezes[..]);
        let outages = timeline.map_or(&[][..], |t| &t.outages[..]);
        let total_ms = |spans: &[metrics::timeline::Span]| {
            spans.iter().map(|f| f.duration_us).sum::<i64>() as f64 / 1e3
        };
        let loss = &self.smoothness.loss;
        st.frames_received = rows.len() as u64;
        st.frames_expected = loss.expected;
        st.dropped = loss.dropped;
        st.lost_at_end = loss.lost_at_end;
        st.duplicated = stats::count(rows, |k| k == FrameKind::Duplicate);
        st.redelivered = stats::count(rows, |k| k == FrameKind::Redelivered);
        st.out_of_order = stats::count(rows, |k| k == FrameKind::OutOfOrder);
        st.unreadable = stats::count(rows, |k| k.is_unreadable());
        st.stale = stats::count(rows, |k| k == FrameKind::Stale);
        st.freezes = freezes.len() as u64;
        st.freeze_ms_total = total_ms(freezes);
        st.resolution_changes = resolution_changes(rows).len() as u64;
        st.outages = outages.len() as u64;
        st.outage_ms_total = total_ms(outages);
        st.fps = self.smoothness.fps().map(|(mean, min)| Fps { mean, min });
        st.stopped_at = match self.end {
            StreamEnd::Stopped { at_us } => Some(utc(at_us)),
            StreamEnd::Finished => None,
        };
    }
}

/// The control's first sightings.
fn control_frames(result: &SessionResult) -> Option<Vec<ControlFrame>> {
    let c = result
        .streams
        .iter()
        .find(|s| s.spec.role == Role::Control)?;
    Some(
        c.rows
            .iter()
            .filter(|r| r.kind.is_first_sighting())
            .filter_map(|r| {
                let tc = r.arrival.timecode?;
                Some(ControlFrame {
                    frame: tc.frame,
                    capture_us: tc.capture_us as i64,
                    arrival_us: r.arrival.arrival_us,
                })
            })
            .collect(),
    )
}

/// Every stream's smoothness and loss (of its window, when `windows` has one for it).
pub fn measure<'a>(result: &'a SessionResult, windows: &'a [Option<Window>]) -> Vec<Measured<'a>> {
    let control = control_frames(result);
    result
        .streams
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Measured::new(
                &s.spec.name,
                &s.rows,
                StreamContext {
                    transport: s.spec.input.transport(),
                    end: s.end,
                    control: control.as_deref().filter(|_| s.spec.role == Role::Live),
                    max_relative_us: s.rows.iter().filter_map(|r| r.relative_latency_us).max(),
                    window: windows.get(i).and_then(Option::as_ref),
                },
            )
        })
        .collect()
}

/// Quality of one stream: scores pooled in delivery order.
#[derive(Default)]
struct QualityCells {
    vmaf: Option<VmafSummary>,
    psnr_y: Option<MeanMin>,
    ssim: Option<MeanMin>,
    unscored: Option<Unscored>,
    scaled_to: Option<String>,
    error: Option<String>,
}

fn quality_cells(s: &StreamResult, rows: &[FrameRow], vmaf: Option<&VmafRun>) -> QualityCells {
    let Some(q) = &s.quality else {
        return QualityCells::default();
    };
    let scores: Vec<_> = rows
        .iter()
        .filter_map(|r| q.scores.get(&r.arrival.seq).copied())
        .collect();
    let pooled = pool_scores(&scores);
    let size = vmaf.and_then(|v| v.size);
    let scaled = size.filter(|&(w, h)| {
        rows.iter().any(|r| {
            r.arrival
                .source_size
                .is_some_and(|z| z != (w as u32, h as u32))
        })
    });
    QualityCells {
        vmaf: pooled.vmaf,
        psnr_y: pooled.psnr_y,
        ssim: pooled.ssim,
        unscored: Some(q.unscored),
        scaled_to: scaled.map(|(w, h)| format!("{w}x{h}")),
        error: q.error.as_ref().map(ToString::to_string),
    }
}

/// The frame rate a stream declares. A live input read in real time is stamped on arrival,
/// and ffmpeg's rate is then an estimate from arrival stamps (29.83 `fps`, 33 `tbr` for a
/// 30 fps RTMP stream, measured): its timecodes' capture times tell the rate it was made at.
fn nominal_fps(s: &StreamResult, rows: &[FrameRow], clock: ClockMode) -> Option<f32> {
    let declared = s.info.as_ref().map(|i| i.fps).filter(|f| *f > 0.0);
    if !measures_bitrate(s, clock) {
        return declared;
    }
    let captured: Vec<(u64, i64)> = rows
        .iter()
        .filter_map(|r| r.arrival.timecode)
        .filter_map(|t| Some((t.frame, i64::try_from(t.capture_us).ok()?)))
        .collect();
    Some(metrics::av::frame_rate(&captured) as f32)
        .filter(|f| *f > 0.0)
        .or(declared)
}

/// Whether a stream's received bytes are a delivery's bitrate: live inputs in real time.
fn measures_bitrate(s: &StreamResult, clock: ClockMode) -> bool {
    clock == ClockMode::Realtime && s.spec.input.protocol().is_live()
}

fn bitrate(s: &StreamResult, clock: ClockMode) -> Option<report::summary::Bitrate> {
    measures_bitrate(s, clock)
        .then(|| {
            let stopped = match s.end {
                metrics::StreamEnd::Stopped { at_us } => Some(at_us.div_euclid(1_000_000)),
                metrics::StreamEnd::Finished => None,
            };
            metrics::bitrate::summary(&s.received.per_second, stopped)
        })
        .flatten()
        .map(|(mean_kbps, min_kbps, max_kbps)| report::summary::Bitrate {
            mean_kbps,
            min_kbps,
            max_kbps,
        })
}

/// `bitrate.csv` rows of a session: every second of every live stream.
pub fn bitrate_rows(
    result: &SessionResult,
    clock: ClockMode,
) -> Vec<report::bitrate::BitrateRecord> {
    result
        .streams
        .iter()
        .filter(|s| measures_bitrate(s, clock))
        .flat_map(|s| {
            s.received.per_second.iter().map(|(&second, &bytes)| {
                report::bitrate::BitrateRecord::new(
                    &s.spec.name,
                    second,
                    metrics::bitrate::kbps(bytes),
                )
            })
        })
        .collect()
}

/// What the numbers of a stream need read with.
fn warnings(
    s: &StreamResult,
    rows: &[FrameRow],
    clock: ClockMode,
    fps: Option<f64>,
) -> Vec<String> {
    let mut out = Vec::new();
    if s.received.truncated {
        out.push(format!(
            "{} is cut short (ffmpeg: \"partial file\"): frames missing at its end are the file's, not a delivery's",
            s.spec.input
        ));
    }
    if clock == ClockMode::Realtime && s.spec.input.protocol() == Protocol::File && !rows.is_empty()
    {
        let latency =
            stats::distribution(&rows.iter().filter_map(|r| r.latency_us).collect::<Vec<_>>());
        let start = rows.iter().find_map(|r| {
            let tc = r.arrival.timecode?;
            Some(utc(tc.capture_us as i64 - r.arrival.pts_us?))
        });
        out.push(format!(
            "{} is a file read as fast as ffmpeg decodes it: arrival is when this machine decoded each frame, so latency{} and fps{} describe the decoding, not a delivery. Replay a recording with --clock pts --start-time {}",
            s.spec.input,
            latency.map_or(String::new(), |l| format!(" (median {:.0} ms)", l.p50)),
            fps.map_or(String::new(), |f| format!(" ({f:.0})")),
            start.unwrap_or_else(|| "<capture time of PTS 0>".into())
        ));
    }
    out
}

fn stream_summary(
    result: &SessionResult,
    s: &StreamResult,
    m: &Measured<'_>,
    clock: ClockMode,
) -> StreamSummary {
    let rows = m.rows;
    let quality = quality_cells(s, rows, result.vmaf.as_ref());
    let latencies: Vec<i64> = rows.iter().filter_map(|r| r.latency_us).collect();
    let relative: Vec<i64> = rows.iter().filter_map(|r| r.relative_latency_us).collect();
    let info = s.info.as_ref();
    let mut st = StreamSummary::new(&s.spec.name, s.spec.role, s.spec.input.url());
    m.fill(&mut st);
    StreamSummary {
        transport: s.spec.input.transport(),
        error: s.error.as_ref().map(ToString::to_string),
        warnings: warnings(s, rows, clock, st.fps.map(|f| f.mean)),
        input_truncated: s.received.truncated,
        codec: info.map(|i| i.codec.clone()),
        width: info.map(|i| i.width),
        height: info.map(|i| i.height),
        fps_nominal: nominal_fps(s, rows, clock),
        bitrate_kbps: info.and_then(|i| i.bitrate_kbps),
        bitrate: bitrate(s, clock),
        // On the replay clock there is no moment the analysis started to count from; a
        // period that is not the stream's first has no start-up.
        startup_ms: (clock == ClockMode::Realtime && m.window.is_none_or(|w| w.rows.0 == 0))
            .then(|| rows.first())
            .flatten()
            .map(|r| (r.arrival.arrival_us - result.started_us) as f64 / 1e3),
        latency_ms: stats::distribution(&latencies),
        relative_latency_ms: stats::distribution(&relative),
        vmaf: quality.vmaf,
        psnr_y: quality.psnr_y,
        ssim: quality.ssim,
        vmaf_unscored: quality.unscored,
        scaled_to: quality.scaled_to,
        vmaf_error: quality.error,
        ..st
    }
}

/// Drops, freezes, outages and resolution changes of one stream: the same lists the summary
/// counts.
pub fn stream_events(m: &Measured<'_>) -> Vec<Event> {
    let name = m.name;
    let interval = m.smoothness.interval_us.unwrap_or(0);
    let event = |kind, start_us, duration_us, frames, detail| Event {
        stream: name.to_owned(),
        kind,
        start_us,
        duration_us,
        frames,
        detail,
    };
    let mut events: Vec<Event> = m
        .smoothness
        .loss
        .drops
        .iter()
        .map(|d| {
            event(
                "drop",
                d.at_us,
                d.frames as i64 * interval,
                d.frames,
                String::new(),
            )
        })
        .collect();
    if let Some(t) = &m.smoothness.timeline {
        events.extend(t.freezes.iter().map(|f| {
            event(
                "freeze",
                f.start_us,
                f.duration_us,
                (f.duration_us / t.interval_us) as u64,
                String::new(),
            )
        }));
        events.extend(t.outages.iter().map(|o| {
            let to_end = o.start_us + o.duration_us >= t.end_us;
            let detail = match (m.window.filter(|w| w.to_us < i64::MAX), m.end) {
                (Some(_), _) if to_end => "to the end of the period".to_owned(),
                (None, StreamEnd::Stopped { .. }) if to_end => "to the end of the run".to_owned(),
                _ => String::new(),
            };
            event("outage", o.start_us, o.duration_us, 0, detail)
        }));
    }
    if m.smoothness.loss.lost_at_end > 0
        && let StreamEnd::Stopped { at_us } = m.end
    {
        let from = m.window.map_or(i64::MIN, |w| w.from_us);
        let last = m
            .rows
            .last()
            .map_or(at_us, |r| r.arrival.arrival_us)
            .max(from);
        events.push(event(
            "lost_at_end",
            last,
            at_us - last,
            m.smoothness.loss.lost_at_end,
            format!(
                "{} frames the control delivered never came",
                m.smoothness.loss.lost_at_end
            ),
        ));
    }
    events.extend(resolution_changes(m.rows).into_iter().map(|c| {
        event(
            "resolution_change",
            m.rows[c.row].arrival.arrival_us,
            0,
            0,
            format!("{}x{}→{}x{}", c.from.0, c.from.1, c.to.0, c.to.1),
        )
    }));
    events.sort_by_key(|e| e.start_us);
    events
}

/// The whole summary and the events of a session (of a period of it: each stream's rows in
/// its window judged, the rest context).
pub fn summarize(
    result: &SessionResult,
    windows: &[Option<Window>],
    command: &str,
    clock: ClockMode,
    versions: Versions,
) -> (Summary, Vec<Event>) {
    assemble(result, &measure(result, windows), command, clock, versions)
}

/// The summary and events of streams already measured.
pub fn assemble(
    result: &SessionResult,
    measured: &[Measured<'_>],
    command: &str,
    clock: ClockMode,
    versions: Versions,
) -> (Summary, Vec<Event>) {
    let summary = Summary {
        schema: SCHEMA.to_owned(),
        started_at: utc(result.started_us),
        ended_at: utc(result.ended_us),
        command: command.to_owned(),
        clock: Some(clock.name().to_owned()),
        interrupted: result.interrupted,
        versions,
        fail_if: None,
        vmaf_model: result
            .vmaf
            .as_ref()
            .filter(|v| v.disabled.is_none())
            .map(|v| v.model.clone()),
        vmaf_disabled: result.vmaf.as_ref().and_then(|v| v.disabled.clone()),
        pairing: None,
        scaled_to: None,
        clock_sync: None,
        streams: result
            .streams
            .iter()
            .zip(measured)
            .map(|(s, m)| stream_summary(result, s, m, clock))
            .collect(),
    };
    let events = measured.iter().flat_map(stream_events).collect();
    (summary, events)
}
