//! Running per-stream counters for `analyze --metrics`, updated row by row and rendered in
//! Prometheus' text format (base units, `_total` counters). Pure: no clock, no I/O; the
//! "last second" of the fps gauge is the one before the stream's newest arrival.

use std::collections::VecDeque;
use std::fmt::Write;

use super::{FrameKind, FrameRow};
use crate::timeline::{Delivered, OUTAGE_MIN_INTERVALS, Player, Transport};

/// Upper bounds (s) of the latency histogram's buckets: sub-second WebRTC-like delivery up to
/// HLS with long segments.
pub const LATENCY_BUCKETS_S: [f64; 14] = [
    0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0,
];

/// Counters and gauges, one sample per stream: (name, type, help, value).
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&StreamMetrics) -> Option<f64>,
);
const FAMILIES: [Family; 10] = [
    (
        "streamscope_frames_total",
        "counter",
        "Frames received (every delivered frame, readable or not).",
        |s| Some(s.frames as f64),
    ),
    (
        "streamscope_new_frames_total",
        "counter",
        "Frames whose number was seen for the first time.",
        |s| Some(s.new_frames as f64),
    ),
    (
        "streamscope_dropped_frames_total",
        "counter",
        "Frame numbers skipped.",
        |s| Some(s.dropped as f64),
    ),
    (
        "streamscope_duplicate_frames_total",
        "counter",
        "The same frame delivered again.",
        |s| Some(s.duplicated as f64),
    ),
    (
        "streamscope_redelivered_frames_total",
        "counter",
        "Frames seen earlier delivered again (not the one just shown).",
        |s| Some(s.redelivered as f64),
    ),
    (
        "streamscope_unreadable_frames_total",
        "counter",
        "Frames without a readable timecode.",
        |s| Some(s.unreadable as f64),
    ),
    (
        "streamscope_freezes_total",
        "counter",
        "Gaps of at least 3 frame intervals without a new picture on the player timeline.",
        |s| Some(s.freezes as f64),
    ),
    (
        "streamscope_fps",
        "gauge",
        "Pictures shown in the second before the newest one, on the player timeline.",
        |s| s.player.as_ref().map(|_| s.recent.len() as f64),
    ),
    (
        "streamscope_relative_latency_seconds",
        "gauge",
        "Arrival minus the control's arrival of the same frame, newest frame.",
        |s| s.relative_s,
    ),
    (
        "streamscope_vmaf",
        "gauge",
        "Newest VMAF score against the reference.",
        |s| s.vmaf,
    ),
];

#[derive(Debug, Clone, Default)]
struct StreamMetrics {
    name: String,
    role: &'static str,
    frames: u64,
    new_frames: u64,
    dropped: u64,
    duplicated: u64,
    redelivered: u64,
    unreadable: u64,
    freezes: u64,
    buckets: [u64; LATENCY_BUCKETS_S.len()],
    latency_count: u64,
    latency_sum_s: f64,
    relative_s: Option<f64>,
    transport: Transport,
    /// Display times (µs) of the pictures shown within the last second.
    recent: VecDeque<i64>,
    last_arrival: Option<i64>,
    /// (frame, capture µs) of the last new frame, and the frame interval it implies.
    last_capture: Option<(u64, u64)>,
    interval_us: Option<i64>,
    /// Segmented delivery: the burst period, learned from the first long gap (the summary
    /// uses the median over the whole run).
    buffer_us: Option<i64>,
    /// The player timeline, once the interval (and for segmented delivery the burst period)
    /// is known.
    player: Option<Player>,
    vmaf: Option<f64>,
}

/// Every stream's metrics.
#[derive(Debug, Clone, Default)]
pub struct LiveMetrics {
    streams: Vec<StreamMetrics>,
}

impl LiveMetrics {
    /// `streams`: (name, is the control, transport) in session order.
    pub fn new<'a>(streams: impl IntoIterator<Item = (&'a str, bool, Transport)>) -> Self {
        Self {
            streams: streams
                .into_iter()
                .map(|(name, control, transport)| StreamMetrics {
                    name: name.to_owned(),
                    role: if control { "control" } else { "live" },
                    transport,
                    ..StreamMetrics::default()
                })
                .collect(),
        }
    }

    pub fn observe(&mut self, stream: usize, row: &FrameRow) {
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        s.frames += 1;
        match row.kind {
            FrameKind::Duplicate => s.duplicated += 1,
            FrameKind::Redelivered => s.redelivered += 1,
            FrameKind::Unreadable | FrameKind::UnreadableRepeat => s.unreadable += 1,
            FrameKind::New => s.new_frame(row),
            FrameKind::OutOfOrder | FrameKind::Stale => {}
        }
        s.play(row);
        if let Some(us) = row.latency_us {
            let v = us as f64 / 1e6;
            for (b, le) in s.buckets.iter_mut().zip(LATENCY_BUCKETS_S) {
                if v <= le {
                    *b += 1;
                }
            }
            s.latency_count += 1;
            s.latency_sum_s += v;
        }
        if let Some(us) = row.relative_latency_us {
            s.relative_s = Some(us as f64 / 1e6);
        }
    }

    /// The newest VMAF score of a stream.
    pub fn set_vmaf(&mut self, stream: usize, score: f64) {
        if let Some(s) = self.streams.get_mut(stream) {
            s.vmaf = Some(score);
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, kind, help, value) in FAMILIES {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for s in &self.streams {
                if let Some(v) = value(s) {
                    let _ = writeln!(out, "{name}{} {}", labels(s, None), number(v));
                }
            }
        }
        let name = "streamscope_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Arrival minus capture time of new frames.\n# TYPE {name} histogram"
        );
        for s in &self.streams {
            for (count, le) in s.buckets.iter().zip(LATENCY_BUCKETS_S) {
                let _ = writeln!(out, "{name}_bucket{} {count}", labels(s, Some(&number(le))));
            }
            let _ = writeln!(
                out,
                "{name}_bucket{} {}",
                labels(s, Some("+Inf")),
                s.latency_count
            );
            let _ = writeln!(
                out,
                "{name}_sum{} {}",
                labels(s, None),
                number(s.latency_sum_s)
            );
            let _ = writeln!(out, "{name}_count{} {}", labels(s, None), s.latency_count);
        }
        out
    }
}

impl StreamMetrics {
    fn new_frame(&mut self, row: &FrameRow) {
        self.new_frames += 1;
        self.dropped += row.gap_before;
        if let Some(tc) = row.arrival.timecode {
            if let Some((frame, capture)) = self.last_capture
                && tc.frame == frame + 1
                && tc.capture_us > capture
            {
                self.interval_us = Some((tc.capture_us - capture) as i64);
            }
            self.last_capture = Some((tc.frame, tc.capture_us));
        }
    }

    /// Put the frame on the player timeline (see `timeline`).
    fn play(&mut self, row: &FrameRow) {
        let at = row.arrival.arrival_us;
        let gap = self.last_arrival.map(|p| at - p);
        self.last_arrival = Some(at);
        let Some(interval) = self.interval_us else {
            return;
        };
        if self.transport == Transport::Segmented
            && self.buffer_us.is_none()
            && let Some(g) = gap.filter(|&g| g >= OUTAGE_MIN_INTERVALS * interval)
        {
            self.buffer_us = Some(g);
        }
        if self.player.is_none()
            && (self.transport == Transport::Continuous || self.buffer_us.is_some())
        {
            self.player = Some(Player::new(interval, self.buffer_us.unwrap_or(0)));
        }
        let Some((shown, freeze)) = self
            .player
            .as_mut()
            .and_then(|p| p.show(&Delivered::from(row)))
        else {
            return;
        };
        self.freezes += u64::from(freeze.is_some());
        self.recent.push_back(shown);
        while self.recent.front().is_some_and(|&t| t <= shown - 1_000_000) {
            self.recent.pop_front();
        }
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(s: &StreamMetrics, le: Option<&str>) -> String {
    let le = le.map_or(String::new(), |le| format!(",le=\"{le}\""));
    format!("{{stream=\"{}\",role=\"{}\"{le}}}", escape(&s.name), s.role)
}

/// Prometheus floats: Go-style, integers without a fraction.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FrameArrival;
    use signal::Timecode;

    fn row(frame: u64, arrival_ms: i64, kind: FrameKind, gap: u64) -> FrameRow {
        let capture_us = 1_000_000_000 + frame * 33_333;
        FrameRow {
            arrival: FrameArrival {
                seq: 0,
                arrival_us: 1_000_000_000 + arrival_ms * 1000,
                pts_us: None,
                timecode: Some(Timecode {
                    stream_id: 1,
                    frame,
                    capture_us,
                }),
                picture_changed: true,
                source_size: None,
            },
            kind,
            latency_us: (kind == FrameKind::New)
                .then_some(arrival_ms * 1000 - (frame * 33_333) as i64),
            gap_before: gap,
            relative_latency_us: Some(250_000),
        }
    }

    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{series} in\n{text}"))
    }

    #[test]
    fn counts_drops_duplicates_freezes_fps_and_latency_buckets() {
        let mut m = LiveMetrics::new([
            ("cdn \"a\"", false, Transport::Continuous),
            ("control", true, Transport::Continuous),
        ]);
        // 30 frames 200 ms late, frame 10 repeated, frames 20-24 missing (a freeze).
        let mut t = 200;
        for f in 0..30 {
            if (20..25).contains(&f) {
                continue;
            }
            t = 200 + f as i64 * 33;
            m.observe(0, &row(f, t, FrameKind::New, if f == 25 { 5 } else { 0 }));
            if f == 10 {
                m.observe(0, &row(10, t + 5, FrameKind::Duplicate, 0));
            }
        }
        m.set_vmaf(0, 87.5);
        let text = m.render();
        let l = "{stream=\"cdn \\\"a\\\"\",role=\"live\"}";
        assert_eq!(value(&text, &format!("streamscope_frames_total{l}")), 26.0);
        assert_eq!(
            value(&text, &format!("streamscope_dropped_frames_total{l}")),
            5.0
        );
        assert_eq!(
            value(&text, &format!("streamscope_duplicate_frames_total{l}")),
            1.0
        );
        assert_eq!(value(&text, &format!("streamscope_freezes_total{l}")), 1.0);
        assert_eq!(value(&text, &format!("streamscope_vmaf{l}")), 87.5);
        assert_eq!(
            value(&text, &format!("streamscope_relative_latency_seconds{l}")),
            0.25
        );
        // Frames arriving in (t - 1 s, t]: 30 frames at 33 ms, minus the 5 missing.
        let fps = value(&text, &format!("streamscope_fps{l}"));
        assert!((24.0..=26.0).contains(&fps), "{fps} (newest at {t} ms)");
        // Latency 200 ms minus a third of a ms per frame: all in the 0.2 s bucket, none in 0.15.
        let b = |le: &str| {
            value(
                &text,
                &format!(
                    "streamscope_latency_seconds_bucket{{stream=\"cdn \\\"a\\\"\",role=\"live\",le=\"{le}\"}}"
                ),
            )
        };
        assert_eq!(b("0.15"), 0.0);
        assert_eq!(b("0.2"), 25.0);
        assert_eq!(b("+Inf"), 25.0);
        assert_eq!(
            value(&text, &format!("streamscope_latency_seconds_count{l}")),
            25.0
        );
        // The control has no frames yet: counters at 0, no gauges.
        assert_eq!(
            value(
                &text,
                "streamscope_frames_total{stream=\"control\",role=\"control\"}"
            ),
            0.0
        );
        assert!(!text.contains("streamscope_fps{stream=\"control\""));
        // Every family is declared once, before its samples.
        for name in ["streamscope_frames_total", "streamscope_latency_seconds"] {
            assert_eq!(text.matches(&format!("# TYPE {name} ")).count(), 1);
        }
    }
}
