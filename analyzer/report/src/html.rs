//! `report.html`: one self-contained page (inline CSS and SVG, no script, no network) with a
//! run's metadata, a summary table per stream judged against `--fail-if`, the plots and the
//! events. A pure function of the run folder's contents.

use std::fmt::Write;

use crate::frames::parse_utc_us;
use crate::plot::Plot;
use crate::run::Run;
use crate::summary::{Role, StreamSummary};
use crate::thresholds::{Check, Failure, quantity};

/// Event rows shown in the page; the rest stay in `events.csv`.
pub const MAX_EVENT_ROWS: usize = 500;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1500px;color:#222;padding:0 12px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}\
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}\
th{background:#f4f4f4}td.l,th.l{text-align:left;white-space:normal}.meta td{text-align:left;white-space:normal}\
.pass{color:#186a18;font-weight:600}.fail{color:#b3141b;font-weight:600}.err{color:#b3141b}\
.wide{overflow-x:auto}figure{margin:18px 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}\
figcaption{font-size:12px;color:#555}\
#headline{display:grid;grid-template-columns:repeat(auto-fit,minmax(250px,1fr));gap:12px;margin:14px 0 6px}\
.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px}.card h3{margin:0 0 6px;font-size:15px}\
.card .v{font-size:22px;font-weight:600}.card .k{font-size:12px;color:#555;display:block}\
.card dl{display:grid;grid-template-columns:1fr 1fr;gap:6px 12px;margin:0}.card dd{margin:0}\
.badge{font-size:12px;padding:1px 7px;border-radius:9px;margin-left:6px;vertical-align:middle}\
.badge.pass{background:#e3f4e3}.badge.fail{background:#fbe3e4}";

/// (header, dotted summary key, decimals) of the per-stream summary table; every key is a
/// `thresholds` quantity.
const COLUMNS: [(&str, &str, usize); 18] = [
    ("frames", "frames_received", 0),
    ("dropped", "dropped", 0),
    ("duplicated", "duplicated", 0),
    ("freezes", "freezes", 0),
    ("outages", "outages", 0),
    ("fps mean", "fps.mean", 2),
    ("fps min", "fps.min", 2),
    ("startup ms", "startup_ms", 0),
    ("latency p50 ms", "latency_ms.p50", 1),
    ("p95", "latency_ms.p95", 1),
    ("p99", "latency_ms.p99", 1),
    ("relative p50 ms", "relative_latency_ms.p50", 1),
    ("relative p95", "relative_latency_ms.p95", 1),
    ("VMAF mean", "vmaf.mean", 2),
    ("VMAF 1% low", "vmaf.p1", 2),
    ("PSNR-Y dB", "psnr_y.mean", 2),
    ("SSIM", "ssim.mean", 4),
    ("A/V |p95| ms", "av.abs_p95_ms", 1),
];

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A summary value at a dotted key, formatted with `decimals`; `–` when absent.
pub fn cell(stream: &StreamSummary, key: &str, decimals: usize) -> String {
    quantity(key)
        .and_then(|q| (q.get)(stream))
        .map_or_else(|| "–".to_owned(), |v| format!("{v:.decimals$}"))
}

fn text(v: Option<&str>) -> String {
    v.map_or_else(|| "–".to_owned(), str::to_owned)
}

/// What the page says about thresholds.
pub struct Verdicts<'a> {
    pub checks: &'a [Check],
    pub failures: &'a [Failure],
}

/// The whole page.
pub fn page(run: &Run, plots: &[Plot], verdicts: &Verdicts<'_>) -> String {
    let mut h = String::new();
    let title = if run.compared.is_empty() {
        format!("streamscope report — {}", run.label)
    } else {
        format!("streamscope comparison of {} runs", run.compared.len())
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    headline(&mut h, run, verdicts);
    metadata(&mut h, run);
    summary_table(&mut h, run, verdicts);
    h.push_str("<h2>Plots</h2>\n");
    if plots.is_empty() {
        h.push_str("<p>No rows to plot.</p>\n");
    }
    for p in plots {
        let svg = p.svg.trim_start();
        let svg = svg
            .strip_prefix("<?xml")
            .and_then(|rest| rest.split_once("?>").map(|(_, r)| r.trim_start()))
            .unwrap_or(svg);
        let _ = write!(
            h,
            "<figure id=\"plot-{n}\">{svg}\n<figcaption>{t} · <a href=\"{n}.png\">PNG</a> · <a href=\"{n}.svg\">SVG</a></figcaption></figure>\n",
            n = p.name,
            t = escape(p.title)
        );
    }
    events(&mut h, run);
    if !run.problems.is_empty() {
        let _ = writeln!(
            h,
            "<h2>Data left out ({})</h2>\n<ul id=\"problems\">",
            run.problems.total
        );
        for p in run.problems.lines() {
            let _ = writeln!(h, "<li>{}</li>", escape(&p));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</body></html>\n");
    h
}

/// A value with its unit, or `–`.
fn shown(v: Option<f64>, decimals: usize, unit: &str) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.decimals$}{unit}"))
}

/// What a reader needs at a glance, per live stream: latency (relative to the control when
/// there is one), frames lost, freezes, quality, and the verdict.
fn headline(h: &mut String, run: &Run, v: &Verdicts<'_>) {
    let live: Vec<&StreamSummary> = run
        .summary
        .streams
        .iter()
        .filter(|s| s.role == Role::Live)
        .collect();
    if live.is_empty() {
        return;
    }
    h.push_str("<div id=\"headline\">\n");
    for st in live {
        let failures = v.failures.iter().filter(|f| f.stream == st.name).count();
        let badge = match (v.checks.is_empty(), failures) {
            (true, _) => String::new(),
            (false, 0) => "<span class=\"badge pass\">pass</span>".into(),
            (false, n) => format!("<span class=\"badge fail\">FAIL ({n})</span>"),
        };
        let (latency, key) = match st.relative_latency_ms {
            Some(_) => (st.relative_latency_ms, "relative_latency_ms"),
            None => (st.latency_ms, "latency_ms"),
        };
        let latency_label = if key == "latency_ms" {
            "latency p50 / p95"
        } else {
            "latency vs control p50 / p95"
        };
        let _ = write!(
            h,
            "<div class=\"card\" data-stream=\"{n}\"><h3>{n}{badge}</h3><dl>",
            n = escape(&st.name)
        );
        let mut item = |label: &str, keys: &[(&str, String)]| {
            let values: Vec<String> = keys
                .iter()
                .map(|(k, text)| {
                    format!("<span class=\"v\" data-key=\"{k}\">{}</span>", escape(text))
                })
                .collect();
            let _ = write!(
                h,
                "<dd><span class=\"k\">{}</span>{}</dd>",
                escape(label),
                values.join(" / ")
            );
        };
        item(
            latency_label,
            &[
                (
                    &format!("{key}.p50"),
                    shown(latency.map(|d| d.p50), 1, " ms"),
                ),
                (&format!("{key}.p95"), shown(latency.map(|d| d.p95), 1, "")),
            ],
        );
        item(
            "dropped + lost at end",
            &[
                ("dropped", st.dropped.to_string()),
                ("lost_at_end", st.lost_at_end.to_string()),
            ],
        );
        item("freezes", &[("freezes", st.freezes.to_string())]);
        item(
            "VMAF mean / 1% low",
            &[
                ("vmaf.mean", shown(st.vmaf.map(|q| q.mean), 1, "")),
                ("vmaf.p1", shown(st.vmaf.map(|q| q.p1), 1, "")),
            ],
        );
        h.push_str("</dl></div>\n");
    }
    h.push_str("</div>\n");
}

fn metadata(h: &mut String, run: &Run) {
    let s = &run.summary;
    h.push_str("<h2>Run</h2>\n<table class=\"meta\">\n");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(
            h,
            "<tr><th class=\"l\">{}</th><td>{}</td></tr>",
            escape(k),
            escape(&v)
        );
    };
    if run.compared.is_empty() {
        row("command", s.command.clone());
        row("started", s.started_at.clone());
        row("ended", s.ended_at.clone());
        if let (Some(a), Some(b)) = (parse_utc_us(&s.started_at), parse_utc_us(&s.ended_at)) {
            row("duration", format!("{:.1} s", (b - a) as f64 / 1e6));
        }
        if let Some(c) = &s.clock {
            row("clock", c.clone());
        }
        if let Some(c) = &s.clock_sync {
            row("clock sync", c.note.clone());
        }
        if s.interrupted {
            row(
                "interrupted",
                "yes: stopped early (Ctrl-C); everything measured until then is here".into(),
            );
        }
        row(
            "versions",
            format!(
                "streamscope {} · {}",
                s.versions.streamscope,
                text(s.versions.ffmpeg.as_deref())
            ),
        );
        row("VMAF model", text(s.vmaf_model.as_deref()));
        if let Some(why) = &s.vmaf_disabled {
            row("VMAF disabled", why.clone());
        }
        if let Some(p) = &s.pairing {
            row("pairing", p.clone());
        }
        if let Some(f) = &s.fail_if {
            row("--fail-if (at run time)", f.clone());
        }
    } else {
        for r in &run.compared {
            row(
                &r.label,
                format!(
                    "{} → {} · clock {} · VMAF model {} · {}",
                    r.started_at,
                    r.ended_at,
                    text(r.clock.as_deref()),
                    text(r.vmaf_model.as_deref()),
                    r.command
                ),
            );
        }
    }
    for st in &s.streams {
        let scaled = st
            .scaled_to
            .as_deref()
            .or(s.scaled_to.as_deref())
            .map_or(String::new(), |t| format!(" · scaled (bicubic) to {t}"));
        let picture = match (&st.codec, st.width, st.height) {
            (Some(c), Some(w), Some(hh)) => format!(" · {c} {w}x{hh}"),
            _ => String::new(),
        };
        row(
            &format!("input {}", st.name),
            format!("{} ({}){picture}{scaled}", st.url, st.role),
        );
    }
    h.push_str("</table>\n");
}

fn summary_table(h: &mut String, run: &Run, v: &Verdicts<'_>) {
    h.push_str("<h2>Summary</h2>\n");
    if !v.checks.is_empty() {
        let list: Vec<_> = v.checks.iter().map(|c| escape(&c.text)).collect();
        let failed = !v.failures.is_empty();
        let _ = writeln!(
            h,
            "<p id=\"verdict\" class=\"{}\">Thresholds {}: <code>{}</code></p>",
            if failed { "fail" } else { "pass" },
            if failed { "FAILED" } else { "passed" },
            list.join(", ")
        );
    }
    h.push_str("<div class=\"wide\"><table id=\"summary\">\n<tr><th class=\"l\">stream</th><th class=\"l\">role</th>");
    // Absolute latency as value ± uncertainty when both clocks were synced; marked as
    // assuming synced clocks when not.
    let bound = run.summary.clock_sync.as_ref().map(|c| {
        c.latency_uncertainty_ms.map_or_else(
            || " (clocks assumed synced)".to_owned(),
            |u| format!(" ± {u:.3}"),
        )
    });
    for (head, key, _) in COLUMNS {
        let mark = bound
            .as_deref()
            .filter(|_| key == "latency_ms.p50")
            .unwrap_or("");
        let _ = write!(h, "<th>{}{}</th>", escape(head), escape(mark));
    }
    h.push_str("<th class=\"l\">verdict</th></tr>\n");
    for st in &run.summary.streams {
        let _ = write!(
            h,
            "<tr data-stream=\"{n}\"><td class=\"l\">{n}</td><td class=\"l\">{}</td>",
            st.role,
            n = escape(&st.name)
        );
        for (_, key, decimals) in COLUMNS {
            let _ = write!(h, "<td data-key=\"{key}\">{}</td>", cell(st, key, decimals));
        }
        let failures: Vec<_> = v.failures.iter().filter(|f| f.stream == st.name).collect();
        let verdict = if st.role != Role::Live {
            "<td class=\"l\">reference</td>".to_owned()
        } else if v.checks.is_empty() {
            "<td class=\"l\">–</td>".to_owned()
        } else if failures.is_empty() {
            "<td class=\"l pass\">pass</td>".to_owned()
        } else {
            let why: Vec<_> = failures.iter().map(|f| escape(&f.to_string())).collect();
            format!("<td class=\"l fail\">FAIL: {}</td>", why.join("; "))
        };
        let _ = writeln!(h, "{verdict}</tr>");
        if let Some(e) = st.error.as_deref().or(st.vmaf_error.as_deref()) {
            let _ = writeln!(
                h,
                "<tr><td></td><td class=\"l err\" colspan=\"{}\">{}</td></tr>",
                COLUMNS.len() + 2,
                escape(e)
            );
        }
    }
    h.push_str("</table></div>\n");
}

fn events(h: &mut String, run: &Run) {
    let _ = writeln!(h, "<h2>Events ({})</h2>", run.events.len());
    if run.events.is_empty() {
        h.push_str("<p>No drops, freezes, outages or resolution changes.</p>\n");
        return;
    }
    h.push_str("<div class=\"wide\"><table id=\"events\">\n<tr><th class=\"l\">stream</th><th class=\"l\">kind</th><th>at (s)</th><th>duration ms</th><th>frames</th><th class=\"l\">detail</th></tr>\n");
    for e in run.events.iter().take(MAX_EVENT_ROWS) {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{:.3}</td><td>{:.0}</td><td>{}</td><td class=\"l\">{}</td></tr>",
            escape(&e.stream),
            escape(&e.kind),
            e.t,
            e.duration_s * 1e3,
            e.frames,
            escape(&e.detail)
        );
    }
    h.push_str("</table></div>\n");
    if run.events.len() > MAX_EVENT_ROWS {
        let _ = writeln!(
            h,
            "<p>{} more in events.csv.</p>",
            run.events.len() - MAX_EVENT_ROWS
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thresholds;

    fn run() -> Run {
        let summary: crate::summary::Summary = serde_json::from_value(serde_json::json!({
            "schema": "streamscope.summary/1", "command": "streamscope analyze --live <x>",
            "started_at": "2026-01-01T00:00:00.000000Z", "ended_at": "2026-01-01T00:00:10.000000Z",
            "clock": "realtime", "versions": {"streamscope": "0.1.0", "ffmpeg": "ffmpeg version 5.1"},
            "streams": [
                {"name": "live1", "role": "live", "url": "udp://x", "frames_received": 300,
                 "dropped": 2, "latency_ms": {"p50": 512.34, "p90": 550.0, "p95": 600.0,
                 "p99": 700.0, "min": 500.0, "max": 800.0, "mean": 520.0}},
                {"name": "control", "role": "control", "url": "udp://y", "frames_received": 301}]
        }))
        .unwrap();
        Run {
            dir: ".".into(),
            label: "r1".into(),
            summary,
            compared: Vec::new(),
            streams: Vec::new(),
            events: Vec::new(),
            problems: Default::default(),
        }
    }

    #[test]
    fn the_page_holds_the_numbers_and_the_verdicts_escaped() {
        let checks = thresholds::parse("dropped>0,latency.p95>2s").unwrap();
        let failures = thresholds::evaluate(&checks, &run().summary);
        let page = page(
            &run(),
            &[],
            &Verdicts {
                checks: &checks,
                failures: &failures,
            },
        );
        assert!(page.contains("<td data-key=\"latency_ms.p50\">512.3</td>"));
        assert!(page.contains("<td data-key=\"frames_received\">300</td>"));
        assert!(page.contains("<td data-key=\"vmaf.mean\">–</td>"));
        assert!(page.contains("class=\"l fail\">FAIL: live1: dropped&gt;0 (actual 2)"));
        assert!(page.contains("Thresholds FAILED"));
        assert!(page.contains("streamscope analyze --live &lt;x&gt;"));
        assert!(page.contains("duration</th><td>10.0 s"));
        assert!(!page.contains("<script"), "no script needed");
        let passing = thresholds::parse("dropped>5").unwrap();
        let page = page_for(&passing);
        assert!(page.contains("class=\"l pass\">pass"));
    }

    fn page_for(checks: &[Check]) -> String {
        let failures = thresholds::evaluate(checks, &run().summary);
        page(
            &run(),
            &[],
            &Verdicts {
                checks,
                failures: &failures,
            },
        )
    }

    #[test]
    fn inline_svg_loses_its_xml_declaration() {
        let plot = Plot {
            name: "latency",
            title: "Latency",
            svg: "<?xml version=\"1.0\"?>\n<svg width=\"10\"></svg>".into(),
            png: Vec::new(),
        };
        let page = page(
            &run(),
            &[plot],
            &Verdicts {
                checks: &[],
                failures: &[],
            },
        );
        assert!(page.contains("<figure id=\"plot-latency\"><svg width=\"10\"></svg>"));
        assert!(!page.contains("<?xml"));
    }
}
