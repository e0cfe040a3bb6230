//! `--fail-if` checks such as `latency.p95>2s,dropped>0`, evaluated against live streams'
//! summaries for CI gating.

use std::fmt;

use super::summary::Summary;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

/// One threshold: the run fails if `metric op value` holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub text: String,
    /// Dotted key in a stream summary (`latency_ms.p95`, `dropped`).
    pub key: String,
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

/// Metric names people write → summary keys. Durations are in ms in the summary.
fn key_for(metric: &str) -> Option<String> {
    let (head, tail) = metric
        .split_once('.')
        .map_or((metric, None), |(h, t)| (h, Some(t)));
    let head = match head {
        "latency" | "relative_latency" => format!("{head}_ms"),
        "startup" => "startup_ms".into(),
        "freeze_total" => "freeze_ms_total".into(),
        "fps"
        | "dropped"
        | "duplicated"
        | "out_of_order"
        | "unreadable"
        | "stale"
        | "freezes"
        | "frames_received"
        | "frames_expected"
        | "latency_ms"
        | "relative_latency_ms"
        | "startup_ms"
        | "freeze_ms_total"
        | "vmaf"
        | "psnr_y"
        | "ssim" => head.into(),
        _ => return None,
    };
    let needs_tail =
        head.ends_with("latency_ms") || ["fps", "vmaf", "psnr_y", "ssim"].contains(&head.as_str());
    match (needs_tail, tail) {
        (true, Some(t)) => Some(format!("{head}.{t}")),
        (false, None) => Some(head),
        _ => None,
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

fn parse_one(text: &str) -> Result<Check, String> {
    let bad = |why: &str| format!("invalid --fail-if check {text:?}: {why}");
    let (pos, op, len) = [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)]
        .iter()
        .find_map(|&(sym, op)| text.find(sym).map(|p| (p, op, sym.len())))
        .ok_or_else(|| bad("expected METRIC>VALUE, e.g. latency.p95>2s"))?;
    let metric = text[..pos].trim();
    let raw = text[pos + len..].trim();
    let key = key_for(metric).ok_or_else(|| {
        bad("unknown metric; use latency.pNN|mean|max|min, relative_latency.pNN, fps.mean|min, dropped, duplicated, out_of_order, unreadable, stale, freezes, freeze_total, startup")
    })?;
    let value = if raw.ends_with(|c: char| c.is_ascii_alphabetic()) {
        humantime::parse_duration(raw)
            .map_err(|e| bad(&e.to_string()))?
            .as_secs_f64()
            * 1e3
    } else {
        raw.parse::<f64>()
            .map_err(|_| bad("the value is not a number or a duration"))?
    };
    Ok(Check {
        text: text.to_owned(),
        key,
        op,
        value,
    })
}

/// Checks that hold for any live stream (control streams are the reference, not judged).
pub fn evaluate(checks: &[Check], summary: &Summary) -> Vec<Failure> {
    evaluate_json(checks, &serde_json::to_value(summary).unwrap_or_default())
}

/// [`evaluate`] over a `summary.json` as read back from a run folder (`streamscope report`).
pub fn evaluate_json(checks: &[Check], summary: &serde_json::Value) -> Vec<Failure> {
    let mut failures = Vec::new();
    let streams = summary["streams"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for value in streams.iter().filter(|s| s["role"] == "live") {
        let name = value["name"].as_str().unwrap_or_default();
        for c in checks {
            let actual = c
                .key
                .split('.')
                .try_fold(value, |v, k| v.get(k))
                .and_then(serde_json::Value::as_f64);
            let holds = actual.is_none_or(|a| match c.op {
                Op::Gt => a > c.value,
                Op::Ge => a >= c.value,
                Op::Lt => a < c.value,
                Op::Le => a <= c.value,
            });
            if holds {
                failures.push(Failure {
                    stream: name.to_owned(),
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
            (c[0].key.as_str(), c[0].op, c[0].value),
            ("latency_ms.p95", Op::Gt, 2000.0)
        );
        assert_eq!((c[1].key.as_str(), c[1].value), ("dropped", 0.0));
        assert_eq!(
            (c[2].key.as_str(), c[2].op, c[2].value),
            ("fps.min", Op::Le, 29.5)
        );
        assert_eq!(
            (c[3].key.as_str(), c[3].value),
            ("relative_latency_ms.p50", 150.0)
        );
    }

    #[test]
    fn rejects_unknown_metrics_and_syntax() {
        assert!(parse("speed>1").unwrap_err().contains("unknown metric"));
        assert!(parse("latency>1s").unwrap_err().contains("unknown metric"));
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
}
