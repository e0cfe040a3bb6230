//! `--fail-if` checks such as `latency.p95>2s,dropped>0`, evaluated against the live streams'
//! summaries for CI gating. Every quantity a check can name is a typed accessor of
//! `StreamSummary`; a name not in `QUANTITIES` is refused when the check is parsed.

use std::fmt;

use crate::summary::{Role, StreamSummary, Summary};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

/// A number a check can name: what people write, its summary key, whether it is a duration
/// (a value in ms, written with a unit), and how to read it from a stream's summary.
#[derive(Clone, Copy)]
pub struct Quantity {
    /// What people write: `latency.p95`, `dropped`.
    pub name: &'static str,
    /// The dotted key in `summary.json`: `latency_ms.p95`.
    pub key: &'static str,
    pub duration: bool,
    pub get: fn(&StreamSummary) -> Option<f64>,
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

macro_rules! q {
    ($name:expr, $key:expr, $dur:literal, |$s:ident| $e:expr) => {
        Quantity {
            name: $name,
            key: $key,
            duration: $dur,
            get: |$s: &StreamSummary| $e,
        }
    };
}

macro_rules! distribution {
    ($name:literal, $key:literal, $field:ident) => {
        [
            q!(concat!($name, ".p50"), concat!($key, ".p50"), true, |s| s
                .$field
                .map(|d| d.p50)),
            q!(concat!($name, ".p90"), concat!($key, ".p90"), true, |s| s
                .$field
                .map(|d| d.p90)),
            q!(concat!($name, ".p95"), concat!($key, ".p95"), true, |s| s
                .$field
                .map(|d| d.p95)),
            q!(concat!($name, ".p99"), concat!($key, ".p99"), true, |s| s
                .$field
                .map(|d| d.p99)),
            q!(concat!($name, ".min"), concat!($key, ".min"), true, |s| s
                .$field
                .map(|d| d.min)),
            q!(concat!($name, ".max"), concat!($key, ".max"), true, |s| s
                .$field
                .map(|d| d.max)),
            q!(concat!($name, ".mean"), concat!($key, ".mean"), true, |s| s
                .$field
                .map(|d| d.mean)),
        ]
    };
}

const LATENCY: [Quantity; 7] = distribution!("latency", "latency_ms", latency_ms);
const RELATIVE: [Quantity; 7] = distribution!(
    "relative_latency",
    "relative_latency_ms",
    relative_latency_ms
);

const OTHERS: [Quantity; 32] = [
    q!("dropped", "dropped", false, |s| Some(s.dropped as f64)),
    q!("lost_at_end", "lost_at_end", false, |s| Some(
        s.lost_at_end as f64
    )),
    q!("duplicated", "duplicated", false, |s| Some(
        s.duplicated as f64
    )),
    q!("redelivered", "redelivered", false, |s| Some(
        s.redelivered as f64
    )),
    q!("out_of_order", "out_of_order", false, |s| Some(
        s.out_of_order as f64
    )),
    q!("unreadable", "unreadable", false, |s| Some(
        s.unreadable as f64
    )),
    q!("stale", "stale", false, |s| Some(s.stale as f64)),
    q!("freezes", "freezes", false, |s| Some(s.freezes as f64)),
    q!("outages", "outages", false, |s| Some(s.outages as f64)),
    q!("frames_received", "frames_received", false, |s| Some(
        s.frames_received as f64
    )),
    q!("frames_expected", "frames_expected", false, |s| Some(
        s.frames_expected as f64
    )),
    q!("freeze_total", "freeze_ms_total", true, |s| Some(
        s.freeze_ms_total
    )),
    q!("outage_total", "outage_ms_total", true, |s| Some(
        s.outage_ms_total
    )),
    q!("startup", "startup_ms", true, |s| s.startup_ms),
    q!("fps.mean", "fps.mean", false, |s| s.fps.map(|f| f.mean)),
    q!("fps.min", "fps.min", false, |s| s.fps.map(|f| f.min)),
    q!("vmaf.mean", "vmaf.mean", false, |s| s.vmaf.map(|v| v.mean)),
    q!("vmaf.harmonic_mean", "vmaf.harmonic_mean", false, |s| s
        .vmaf
        .map(|v| v.harmonic_mean)),
    q!("vmaf.min", "vmaf.min", false, |s| s.vmaf.map(|v| v.min)),
    q!("vmaf.p1", "vmaf.p1", false, |s| s.vmaf.map(|v| v.p1)),
    q!("vmaf.p5", "vmaf.p5", false, |s| s.vmaf.map(|v| v.p5)),
    q!("psnr_y.mean", "psnr_y.mean", false, |s| s
        .psnr_y
        .map(|v| v.mean)),
    q!("psnr_y.min", "psnr_y.min", false, |s| s
        .psnr_y
        .map(|v| v.min)),
    q!("ssim.mean", "ssim.mean", false, |s| s.ssim.map(|v| v.mean)),
    q!("ssim.min", "ssim.min", false, |s| s.ssim.map(|v| v.min)),
    q!("av_offset.abs_p95", "av.abs_p95_ms", true, |s| s
        .av
        .map(|a| a.abs_p95_ms)),
    q!("av_offset.median", "av.median_ms", true, |s| s
        .av
        .map(|a| a.median_ms)),
    q!("av_offset.max", "av.max_ms", true, |s| s
        .av
        .map(|a| a.max_ms)),
    q!("av_offset.drift", "av.drift_ms_per_min", false, |s| s
        .av
        .and_then(|a| a.drift_ms_per_min)),
    q!("av_offset.missed", "av.beeps_missed", false, |s| s
        .av
        .map(|a| a.beeps_missed as f64)),
    q!("bitrate.mean", "bitrate.mean_kbps", false, |s| s
        .bitrate
        .map(|b| b.mean_kbps)),
    q!("bitrate.min", "bitrate.min_kbps", false, |s| s
        .bitrate
        .map(|b| b.min_kbps)),
];

/// Every quantity a check (or a report column) can name.
pub fn quantities() -> impl Iterator<Item = &'static Quantity> {
    LATENCY.iter().chain(RELATIVE.iter()).chain(OTHERS.iter())
}

/// The quantity written `name` (as people write it, or as its summary key).
pub fn quantity(name: &str) -> Option<&'static Quantity> {
    quantities().find(|q| q.name == name || q.key == name)
}

/// One threshold: the run fails if `quantity op value` holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub text: String,
    pub quantity: &'static Quantity,
    pub op: Op,
    /// Milliseconds for durations; a plain number otherwise.
    pub value: f64,
}

/// A check that failed (held), or could not be evaluated, for a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub stream: String,
    pub check: String,
    pub actual: Option<f64>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.actual {
            Some(v) => write!(f, "{}: {} (actual {v})", self.stream, self.check),
            None => write!(f, "{}: {} (no value measured)", self.stream, self.check),
        }
    }
}

/// Parse `latency.p95>2s,dropped>0`.
pub fn parse(spec: &str) -> Result<Vec<Check>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_one)
        .collect()
}

fn known() -> String {
    let names: Vec<&str> = quantities().map(|q| q.name).collect();
    names.join(", ")
}

fn parse_one(text: &str) -> Result<Check, String> {
    let bad = |why: &str| format!("invalid --fail-if check {text:?}: {why}");
    let (pos, op, len) = [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)]
        .iter()
        .find_map(|&(sym, op)| text.find(sym).map(|p| (p, op, sym.len())))
        .ok_or_else(|| bad("expected METRIC>VALUE, e.g. latency.p95>2s"))?;
    let name = text[..pos].trim();
    let raw = text[pos + len..].trim();
    let quantity =
        quantity(name).ok_or_else(|| bad(&format!("unknown metric; use one of {}", known())))?;
    let has_unit = raw.ends_with(|c: char| c.is_ascii_alphabetic());
    let value = match (quantity.duration, has_unit) {
        (true, true) => {
            humantime::parse_duration(raw)
                .map_err(|e| bad(&e.to_string()))?
                .as_secs_f64()
                * 1e3
        }
        (true, false) => {
            return Err(bad(&format!(
                "{name} is a duration: give a unit, e.g. {raw}ms or {raw}s"
            )));
        }
        (false, true) => return Err(bad(&format!("{name} is a number, not a duration"))),
        (false, false) => raw
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| bad("the value is not a number or a duration"))?,
    };
    Ok(Check {
        text: text.to_owned(),
        quantity,
        op,
        value,
    })
}

impl Check {
    /// Does the check hold (the run fails) for a measured `actual`? A value never measured
    /// fails the check: a gate must not pass on what it could not see.
    pub fn holds(&self, actual: Option<f64>) -> bool {
        actual.is_none_or(|a| match self.op {
            Op::Gt => a > self.value,
            Op::Ge => a >= self.value,
            Op::Lt => a < self.value,
            Op::Le => a <= self.value,
        })
    }
}

/// Checks that hold for any live stream (control streams are the reference, not judged).
pub fn evaluate(checks: &[Check], summary: &Summary) -> Vec<Failure> {
    let mut failures = Vec::new();
    for s in summary.streams.iter().filter(|s| s.role == Role::Live) {
        for c in checks {
            let actual = (c.quantity.get)(s);
            if c.holds(actual) {
                failures.push(Failure {
                    stream: s.name.clone(),
                    check: c.text.clone(),
                    actual,
                });
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_counts_and_names() {
        let c =
            parse("latency.p95>2s, dropped>0,fps.min<=29.5,relative_latency.p50>=150ms").unwrap();
        assert_eq!(c.len(), 4);
        assert_eq!(
            (c[0].quantity.key, c[0].op, c[0].value),
            ("latency_ms.p95", Op::Gt, 2000.0)
        );
        assert_eq!((c[1].quantity.key, c[1].value), ("dropped", 0.0));
        assert_eq!(
            (c[2].quantity.key, c[2].op, c[2].value),
            ("fps.min", Op::Le, 29.5)
        );
        assert_eq!(
            (c[3].quantity.key, c[3].value),
            ("relative_latency_ms.p50", 150.0)
        );
        assert_eq!(
            parse("latency_ms.p95>1s").unwrap()[0].quantity.name,
            "latency.p95"
        );
    }

    #[test]
    fn rejects_unknown_metrics_and_syntax() {
        assert!(parse("speed>1").unwrap_err().contains("unknown metric"));
        assert!(parse("latency>1s").unwrap_err().contains("unknown metric"));
        for unknown in [
            "latency.p75>1s",
            "latency.p99.9>1s",
            "latency.p0>1s",
            "vmaf.p3<50",
        ] {
            let e = parse(unknown).unwrap_err();
            assert!(
                e.contains("unknown metric") && e.contains("latency.p95"),
                "{e}"
            );
        }
        assert!(
            parse("dropped")
                .unwrap_err()
                .contains("expected METRIC>VALUE")
        );
        assert!(parse("dropped>1.2.3").unwrap_err().contains("not a number"));
        assert!(
            parse("latency.p95>2 fortnights")
                .unwrap_err()
                .starts_with("invalid --fail-if check")
        );
    }

    #[test]
    fn durations_need_a_unit_and_counts_none() {
        let e = parse("latency.p95>2").unwrap_err();
        assert!(e.contains("give a unit") && e.contains("2ms"), "{e}");
        assert!(parse("dropped>2s").unwrap_err().contains("not a duration"));
        assert_eq!(parse("startup<=1500ms").unwrap()[0].value, 1500.0);
    }

    #[test]
    fn a_check_holds_on_its_side_and_on_nothing_measured() {
        let c = &parse("vmaf.p1<60").unwrap()[0];
        assert!(c.holds(Some(59.9)) && !c.holds(Some(60.0)) && c.holds(None));
    }
}
