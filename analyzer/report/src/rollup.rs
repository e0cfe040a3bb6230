//! The roll-up of a rotated run (`analyze --rotate`): `index.json` lists every period folder
//! with its headline numbers per stream and its `--fail-if` verdict, `index.html` shows them
//! as one table linking each period's `report.html`. Rewritten whole (atomically) as each
//! period closes, so it is never half written.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::html::escape;
use crate::summary::{Role, Summary};
use crate::thresholds::{Failure, quantity};
use crate::{Error, write_file};

pub const SCHEMA: &str = "streamscope.rollup/1";

/// The headline quantities of a period (names of `--fail-if`, so one definition each), with
/// the decimals they are shown with.
pub const HEADLINE: [(&str, usize); 10] = [
    ("frames_received", 0),
    ("dropped", 0),
    ("lost_at_end", 0),
    ("freezes", 0),
    ("outages", 0),
    ("fps.min", 2),
    ("latency.p50", 1),
    ("latency.p95", 1),
    ("relative_latency.p95", 1),
    ("vmaf.mean", 2),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollUp {
    pub schema: String,
    /// The length of a period, as given (`1h`).
    pub period: String,
    pub command: String,
    #[serde(default)]
    pub fail_if: Option<String>,
    pub periods: Vec<Period>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    /// The period's folder, relative to the roll-up.
    pub dir: String,
    pub started_at: String,
    pub ended_at: String,
    pub streams: Vec<Headline>,
    /// `--fail-if` checks that held in this period (`stream: check (actual v)`).
    #[serde(default)]
    pub failures: Vec<String>,
    /// The period was cut short by Ctrl-C.
    #[serde(default)]
    pub interrupted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    pub name: String,
    pub role: Role,
    /// `HEADLINE` quantity → value (absent when nothing was measured).
    pub values: BTreeMap<String, Option<f64>>,
    #[serde(default)]
    pub error: Option<String>,
}

impl Period {
    pub fn new(dir: &str, summary: &Summary, failures: &[Failure]) -> Self {
        Period {
            dir: dir.to_owned(),
            started_at: summary.started_at.clone(),
            ended_at: summary.ended_at.clone(),
            streams: summary
                .streams
                .iter()
                .map(|s| Headline {
                    name: s.name.clone(),
                    role: s.role,
                    values: HEADLINE
                        .iter()
                        .map(|&(q, _)| (q.to_owned(), quantity(q).and_then(|q| (q.get)(s))))
                        .collect(),
                    error: s.error.clone(),
                })
                .collect(),
            failures: failures.iter().map(ToString::to_string).collect(),
            interrupted: summary.interrupted,
        }
    }
}

impl RollUp {
    /// Write `index.json` and `index.html` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Io {
            what: "encoding index.json".into(),
            source: e.into(),
        })?;
        write_file(&dir.join("index.json"), json)?;
        write_file(&dir.join("index.html"), self.html())
    }

    /// Read a roll-up back.
    pub fn read(dir: &Path) -> Result<Self, Error> {
        let path = dir.join("index.json");
        let bad = |reason: String| Error::RunFolder {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
        let r: RollUp = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if r.schema != SCHEMA {
            return Err(bad(format!(
                "schema {} is not {SCHEMA}: written by another streamscope version",
                r.schema
            )));
        }
        Ok(r)
    }

    /// The page: one row per period and stream, failed periods marked.
    pub fn html(&self) -> String {
        let mut h = String::new();
        let failed = self
            .periods
            .iter()
            .filter(|p| !p.failures.is_empty())
            .count();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <title>streamscope roll-up</title><style>{STYLE}</style></head><body>\n\
             <h1>streamscope roll-up: {n} periods of {p}</h1>\n<p class=\"l\">{cmd}</p>\n",
            n = self.periods.len(),
            p = escape(&self.period),
            cmd = escape(&self.command),
        );
        if let Some(f) = &self.fail_if {
            let _ = writeln!(
                h,
                "<p id=\"verdict\">Judged by <code>--fail-if {}</code>: <span class=\"{}\">{failed} of {} periods failed</span></p>",
                escape(f),
                if failed == 0 { "pass" } else { "fail" },
                self.periods.len()
            );
        }
        h.push_str("<table id=\"periods\"><tr><th class=\"l\">period (UTC)</th><th class=\"l\">stream</th>");
        for (q, _) in HEADLINE {
            let _ = write!(h, "<th>{}</th>", escape(q));
        }
        h.push_str("<th class=\"l\">verdict</th></tr>\n");
        for p in &self.periods {
            for (i, s) in p.streams.iter().enumerate() {
                h.push_str("<tr>");
                if i == 0 {
                    let _ = write!(
                        h,
                        "<td class=\"l\" rowspan=\"{}\"><a href=\"{}/report.html\">{}</a> – {}{}</td>",
                        p.streams.len(),
                        escape(&p.dir),
                        escape(&p.started_at),
                        escape(p.ended_at.get(11..).unwrap_or(&p.ended_at)),
                        if p.interrupted { " (interrupted)" } else { "" }
                    );
                }
                let _ = write!(h, "<td class=\"l\">{}</td>", escape(&s.name));
                for (q, d) in HEADLINE {
                    let v = s.values.get(q).copied().flatten();
                    let _ = write!(
                        h,
                        "<td>{}</td>",
                        v.map_or_else(|| "–".into(), |v| format!("{v:.d$}"))
                    );
                }
                let mine: Vec<&String> = p
                    .failures
                    .iter()
                    .filter(|f| f.starts_with(&format!("{}:", s.name)))
                    .collect();
                let verdict = match (&s.error, mine.is_empty()) {
                    (Some(e), _) => format!("<span class=\"fail\">{}</span>", escape(e)),
                    (None, false) => format!(
                        "<span class=\"fail\">FAIL</span> {}",
                        escape(
                            &mine
                                .iter()
                                .map(|f| f.as_str())
                                .collect::<Vec<_>>()
                                .join("; ")
                        )
                    ),
                    (None, true) if s.role == Role::Live && self.fail_if.is_some() => {
                        "<span class=\"pass\">pass</span>".into()
                    }
                    _ => String::new(),
                };
                let _ = writeln!(h, "<td class=\"l\">{verdict}</td></tr>");
            }
        }
        h.push_str("</table>\n</body></html>\n");
        h
    }
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1500px;color:#222;padding:0 12px}\
h1{font-size:22px;margin:0 0 4px}table{border-collapse:collapse;font-size:13px}\
td,th{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}th{background:#f4f4f4}\
td.l,th.l{text-align:left}.pass{color:#186a18;font-weight:600}.fail{color:#b3141b;font-weight:600}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::StreamSummary;

    #[test]
    fn a_roll_up_lists_periods_with_their_verdicts_and_reads_back() {
        let mut s = StreamSummary::new("cdn", Role::Live, "udp://x");
        s.frames_received = 1800;
        s.dropped = 3;
        let summary = Summary {
            schema: crate::summary::SCHEMA.into(),
            started_at: "2026-11-30T18:00:00.000000Z".into(),
            ended_at: "2026-11-30T18:01:00.000000Z".into(),
            command: String::new(),
            clock: None,
            interrupted: false,
            versions: Default::default(),
            fail_if: None,
            vmaf_model: None,
            vmaf_disabled: None,
            pairing: None,
            clock_sync: None,
            scaled_to: None,
            streams: vec![s],
        };
        let failures = [Failure {
            stream: "cdn".into(),
            check: "dropped>0".into(),
            actual: Some(3.0),
        }];
        let r = RollUp {
            schema: SCHEMA.into(),
            period: "1m".into(),
            command: "streamscope analyze --rotate 1m".into(),
            fail_if: Some("dropped>0".into()),
            periods: vec![
                Period::new("0001_2026-11-30T18-00-00Z", &summary, &failures),
                Period::new("0002_2026-11-30T18-01-00Z", &summary, &[]),
            ],
        };
        assert_eq!(r.periods[0].streams[0].values["dropped"], Some(3.0));
        assert_eq!(r.periods[0].streams[0].values["latency.p50"], None);
        let html = r.html();
        assert!(html.contains("1 of 2 periods failed"), "{html}");
        assert!(html.contains("href=\"0001_2026-11-30T18-00-00Z/report.html\""));
        assert!(html.contains("cdn: dropped&gt;0 (actual 3)"));
        let dir = std::env::temp_dir().join(format!("rollup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        r.write(&dir).unwrap();
        assert_eq!(RollUp::read(&dir).unwrap(), r);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
