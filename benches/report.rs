//! Benchmark: drawing a long run. A synthetic 1-hour 30 fps run (108k rows per stream: a live
//! stream with VMAF and the control, with drops and freezes) is read back, plotted with and
//! without per-pixel-column decimation (SVG + PNG), and put in report.html; the times are
//! printed side by side. `cargo bench --bench report` (env BENCH_MINUTES=60; BENCH_KEEP=DIR
//! keeps the plots and page).

use std::fmt::Write as _;
use std::time::Instant;

use report::plot::{self, PlotOptions};
use report::run::Run;
use report::{html, thresholds};

fn utc(us: i64) -> String {
    generator::signal::utc_rfc3339(us)
}

/// frames.csv, events.csv and summary.json of a run `minutes` long.
fn synthesize(dir: &std::path::Path, minutes: u64) -> usize {
    let start: i64 = 1_800_000_000_000_000;
    let rows = minutes * 60 * 30;
    let mut frames = String::from(
        "stream,frame,capture_utc,arrival_utc,latency_ms,relative_latency_ms,pts_s,vmaf,psnr_y,ssim,event\n",
    );
    let mut events = String::from("stream,kind,start_utc,duration_ms,frames,detail\n");
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % 10_000) as f64 / 10_000.0
    };
    for n in 0..rows {
        let capture = start + (n as i64) * 33_333;
        let control = 100_000 + (next() * 8000.0) as i64;
        let live = 600_000 + (next() * 40_000.0) as i64 + if n % 9000 < 30 { 900_000 } else { 0 };
        let _ = writeln!(
            frames,
            "control,{n},{},{},{:.3},,{:.6},,,,",
            utc(capture),
            utc(capture + control),
            control as f64 / 1e3,
            n as f64 / 30.0
        );
        if n % 3000 == 1500 {
            let _ = writeln!(events, "live,drop,{},66.667,2,", utc(capture + live));
            continue;
        }
        let _ = writeln!(
            frames,
            "live,{n},{},{},{:.3},{:.3},{:.6},{:.6},{:.6},{:.6},",
            utc(capture),
            utc(capture + live),
            live as f64 / 1e3,
            (live - control) as f64 / 1e3,
            n as f64 / 30.0,
            80.0 + next() * 15.0,
            38.0 + next() * 4.0,
            0.97 + next() * 0.02
        );
        if n % 9000 == 0 && n > 0 {
            let _ = writeln!(events, "live,freeze,{},900.000,27,", utc(capture + live));
        }
    }
    std::fs::write(dir.join("frames.csv"), frames).unwrap();
    std::fs::write(dir.join("events.csv"), events).unwrap();
    let summary = serde_json::json!({
        "schema": "streamscope.summary/1", "started_at": utc(start), "ended_at": utc(start + rows as i64 * 33_333),
        "command": "synthetic", "clock": "realtime", "versions": {"streamscope": "bench"},
        "streams": [{"name": "live", "role": "live", "url": "synthetic", "frames_received": rows},
                    {"name": "control", "role": "control", "url": "synthetic", "frames_received": rows}]
    });
    std::fs::write(dir.join("summary.json"), summary.to_string()).unwrap();
    rows as usize
}

fn main() {
    let minutes: u64 = std::env::var("BENCH_MINUTES").map_or(60, |v| v.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let rows = synthesize(dir.path(), minutes);
    let t = Instant::now();
    let run = Run::load(dir.path()).unwrap();
    let load = t.elapsed().as_secs_f64();
    let time = |decimate: bool| {
        let t = Instant::now();
        let plots = plot::render(
            &run,
            PlotOptions {
                decimate,
                ..PlotOptions::default()
            },
        )
        .unwrap();
        (t.elapsed().as_secs_f64(), plots)
    };
    let (with, plots) = time(true);
    let (without, raw) = time(false);
    let t = Instant::now();
    let checks = thresholds::parse("latency.p95>2s").unwrap();
    let failures = thresholds::evaluate(&checks, &run.summary);
    let page = html::page(
        &run,
        &plots,
        &html::Verdicts {
            checks: &checks,
            failures: &failures,
        },
    );
    let page_s = t.elapsed().as_secs_f64();
    if let Ok(keep) = std::env::var("BENCH_KEEP") {
        // Look at what was measured: the plots and page in a folder of your choice.
        std::fs::create_dir_all(&keep).unwrap();
        plot::write(std::path::Path::new(&keep), &plots).unwrap();
        std::fs::write(std::path::Path::new(&keep).join("report.html"), &page).unwrap();
    }
    let svg_kb = |p: &[plot::Plot]| p.iter().map(|p| p.svg.len()).sum::<usize>() / 1024;
    println!(
        "Report of a {minutes}-minute 30 fps run: {rows} rows per stream, 2 streams, {} plots (SVG + PNG each)",
        plots.len()
    );
    println!("| step | seconds | SVG total |");
    println!("|---|---|---|");
    println!("| read frames.csv/events.csv/summary.json | {load:.3} | |");
    println!(
        "| plots with min/max decimation | {with:.3} | {} KiB |",
        svg_kb(&plots)
    );
    println!(
        "| plots without decimation | {without:.3} | {} KiB |",
        svg_kb(&raw)
    );
    println!(
        "| report.html | {page_s:.3} | {} KiB page |",
        page.len() / 1024
    );
    println!(
        "decimation: {:.1}x faster, SVGs {:.1}x smaller",
        without / with,
        svg_kb(&raw) as f64 / svg_kb(&plots).max(1) as f64
    );
}
