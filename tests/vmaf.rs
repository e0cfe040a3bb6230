//! End-to-end tests of `streamscope vmaf` with real ffmpeg and the bundled libvmaf: identical
//! inputs, a bitrate ladder, pairing through dropped frames, a scaled rendition.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// A 3 s 640x360 timecoded reference, nearly lossless.
/// The reference clip, the same in every run: its codes carry a fixed capture time (with "now",
/// each run drew different QR codes, and CI once met a clock second whose code in one frame of
/// the 180p rendition was not read: 79 scored instead of 80).
fn reference(dir: &Path) -> PathBuf {
    generated_clip(
        dir,
        "ref.mp4",
        &["--crf", "12", "--start-time", "2026-11-30T23:58:12Z"],
    )
}

fn ffmpeg(args: &[&str], input: &Path, out: &Path) {
    run_ok(ffmpeg_cmd().arg("-i").arg(input).args(args).arg(out));
}

/// `streamscope vmaf`: (summary.json's distorted stream, frame number → vmaf, whole summary).
fn vmaf(
    dir: &Path,
    name: &str,
    reference: &Path,
    distorted: &Path,
) -> (Value, HashMap<u64, f64>, Value) {
    let out = dir.join(name);
    let r = run(bin()
        .args([
            "vmaf",
            "--vmaf-threads",
            "2",
            "--reference",
            path_str(reference),
            "--distorted",
            path_str(distorted),
        ])
        .args(["--out", path_str(&out)]));
    assert!(r.status.success(), "{}", r.stderr);
    let summary: Value = summary_json(&out);
    let csv = std::fs::read_to_string(out.join("frames.csv")).unwrap();
    let per_frame = csv
        .lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            Some((c[1].parse().ok()?, c[7].parse().ok()?))
        })
        .collect();
    (summary["streams"][0].clone(), per_frame, summary)
}

#[test]
fn identical_inputs_score_at_the_caps() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let r = reference(dir.path());
    let (s, per_frame, all) = vmaf(dir.path(), "same", &r, &r);
    assert_eq!(all["pairing"], "frame_number");
    assert_eq!(all["vmaf_model"], "vmaf_v0.6.1");
    assert!(
        all["versions"]["ffmpeg"]
            .as_str()
            .unwrap()
            .starts_with("ffmpeg version")
    );
    // The report: quality plots only (no arrival times, so no latency plots).
    let html = std::fs::read_to_string(dir.path().join("same/report.html")).unwrap();
    for plot in ["vmaf", "psnr_y", "vmaf_histogram", "comparison"] {
        assert!(
            html.contains(&format!("<figure id=\"plot-{plot}\">")),
            "{plot}"
        );
    }
    assert!(!html.contains("plot-latency"));
    assert_eq!(s["frames_scored"], 90);
    assert_eq!(per_frame.len(), 90);
    assert!(s["vmaf"]["mean"].as_f64().unwrap() >= 99.0, "{s}");
    assert_eq!(s["psnr_y"]["mean"], 60.0, "libvmaf's 8-bit PSNR cap");
    assert!(
        (s["ssim"]["mean"].as_f64().unwrap() - 1.0).abs() < 1e-6,
        "{s}"
    );
}

#[test]
fn lower_bitrates_score_strictly_lower() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let r = reference(dir.path());
    let mut means = Vec::new();
    for rate in ["3000k", "800k", "200k"] {
        let d = dir.path().join(format!("{rate}.mp4"));
        ffmpeg(
            &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-b:v",
                rate,
                "-maxrate",
                rate,
                "-bufsize",
                rate,
            ],
            &r,
            &d,
        );
        let (s, _, _) = vmaf(dir.path(), rate, &r, &d);
        means.push(s["vmaf"]["mean"].as_f64().unwrap());
    }
    assert!(
        means[0] > means[1] && means[1] > means[2],
        "VMAF means {means:?}"
    );
}

#[test]
fn dropped_frames_are_skipped_not_misaligned() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let r = reference(dir.path());
    let drop = "select='not(between(n,30,39))'";
    // The provider's copy: frames 30–39 lost, the rest re-encoded lossy.
    let distorted = impair(&r, drop, "30", &dir.path().join("dropped.mp4"));
    // The correctly paired run: a reference with the same frames removed, losslessly.
    let aligned_ref = dir.path().join("ref_dropped.mkv");
    ffmpeg(
        &[
            "-vf",
            drop,
            "-fps_mode",
            "passthrough",
            "-c:v",
            "libx264",
            "-qp",
            "0",
            "-preset",
            "ultrafast",
        ],
        &r,
        &aligned_ref,
    );

    let (s, paired, _) = vmaf(dir.path(), "paired", &r, &distorted);
    let (_, aligned, _) = vmaf(dir.path(), "aligned", &aligned_ref, &distorted);
    assert_eq!(s["frames_received"], 80);
    assert_eq!(s["frames_scored"], 80);
    assert_eq!(paired.len(), 80);
    // The distorted stream's own numbers, as analyze counts them: the drop is in the
    // summary, events.csv and summary.csv (the same header as analyze's).
    assert_eq!(
        (s["dropped"].as_u64(), s["frames_expected"].as_u64()),
        (Some(10), Some(90)),
        "{s}"
    );
    let events = std::fs::read_to_string(dir.path().join("paired/events.csv")).unwrap();
    assert!(
        events
            .lines()
            .any(|l| l.starts_with("distorted,drop,") && l.split(',').nth(4) == Some("10")),
        "{events}"
    );
    let header = |dir: &str| {
        std::fs::read_to_string(Path::new(dir).join("summary.csv"))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned()
    };
    let paired_dir = dir.path().join("paired");
    assert!(header(path_str(&paired_dir)).starts_with("name,role,url,transport,"));
    assert!(
        (30..40).all(|f| !paired.contains_key(&f)),
        "dropped frames are not scored"
    );
    for (frame, score) in &aligned {
        let p = paired[frame];
        assert!(
            (p - score).abs() < 1e-4,
            "frame {frame}: {p} paired by number vs {score} aligned"
        );
    }
}

#[test]
fn a_smaller_rendition_is_scaled_to_the_reference() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let r = reference(dir.path());
    let small = impair(&r, "scale=320:180", "18", &dir.path().join("small.mp4"));
    let (s, _, all) = vmaf(dir.path(), "small", &r, &small);
    assert_eq!(all["scaled_to"], "640x360", "{all}");
    assert_eq!(s["frames_scored"], 90, "{s}");
    let mean = s["vmaf"]["mean"].as_f64().unwrap();
    assert!(
        mean > 40.0 && mean < 99.0,
        "VMAF {mean} of an upscaled 180p rendition"
    );
}

#[test]
fn unreadable_first_frames_neither_unpair_the_run_nor_freeze_it() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let r = reference(dir.path());
    // The provider's copy starts black for 3 frames (a fade-in): no code to read there.
    let black = "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='lt(n,3)'";
    let d = impair(&r, black, "20", &dir.path().join("fade.mp4"));
    let (s, paired, all) = vmaf(dir.path(), "fade", &r, &d);
    // Before: pairing was decided on the first frame alone, so this run paired by position.
    assert_eq!(all["pairing"], "frame_number", "{all}");
    assert_eq!(s["unreadable"], 3, "{s}");
    assert_eq!(s["frames_scored"], 87, "{s}");
    assert!((3..90).all(|f| paired.contains_key(&f)));
    // Before: the black frames sat on the PTS clock and the rest on UTC, a 56-year freeze
    // (and a mean fps of 7e-8). Now: the three identical black frames hold one picture for
    // 100 ms, which is all the freeze there is.
    assert_eq!(s["freeze_ms_total"].as_f64(), Some(100.0), "{s}");
    assert!(s["fps"]["min"].as_f64().is_some_and(|f| f >= 28.0), "{s}");
}

/// `analyze --vmaf` on a replay: per stream frame number → vmaf from frames.csv.
fn analyze_vmaf(dir: &Path, name: &str, args: &[&str]) -> (Value, HashMap<u64, f64>) {
    let out = dir.join(name);
    let r = run(bin()
        .args(["analyze", "--vmaf-threads", "2", "--clock", "pts"])
        .args([
            "--start-time",
            "2026-11-21T12:00:00Z",
            "--out",
            path_str(&out),
        ])
        .args(args));
    assert!(r.status.success(), "{}", r.stderr);
    let summary: Value = summary_json(&out);
    let csv = std::fs::read_to_string(out.join("frames.csv")).unwrap();
    let per_frame = csv
        .lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0] == "live1").then_some(())?;
            Some((c[1].parse().ok()?, c[7].parse().ok()?))
        })
        .collect();
    (summary, per_frame)
}

#[test]
fn analyze_vmaf_scores_each_frame_like_the_offline_command() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let r = reference(dir.path());
    // A provider's 180p rendition that lost frames 30–39.
    let distorted = impair(
        &r,
        "select='not(between(n,30,39))',scale=320:180",
        "26",
        &dir.path().join("rendition.mp4"),
    );
    let (_, offline, _) = vmaf(dir.path(), "offline", &r, &distorted);
    assert_eq!(offline.len(), 80);
    let live = format!("live1={}", path_str(&distorted));
    for (name, reference) in [
        ("control", ["--control", path_str(&r), "--vmaf"]),
        ("file", ["--reference", path_str(&r), "--vmaf"]),
    ] {
        let (s, scores) = analyze_vmaf(
            dir.path(),
            name,
            &[&["--live", &live][..], &reference[..]].concat(),
        );
        assert_eq!(s["vmaf_model"], "vmaf_v0.6.1", "{name}");
        let l = stream(&s, "live1");
        assert_eq!(l["vmaf"]["frames_scored"], 80, "{name}: {l}");
        assert_eq!(l["scaled_to"], "640x360", "{name}");
        assert_eq!(
            l["vmaf_unscored"],
            serde_json::json!({"subsampled": 0, "busy": 0, "unreadable": 0, "no_reference_frame": 0}),
            "{name}: a replay scores every frame"
        );
        assert!(l["psnr_y"]["mean"].as_f64().unwrap() > 20.0, "{l}");
        assert!(stream(&s, "live1")["ssim"]["min"].as_f64().unwrap() > 0.5);
        if name == "control" {
            assert!(
                stream(&s, "control")["vmaf"].is_null(),
                "the control is the reference"
            );
        }
        assert_eq!(scores.len(), 80, "{name}");
        for (frame, score) in &offline {
            let live = scores[frame];
            assert!(
                (live - score).abs() < 1e-4,
                "{name}: frame {frame}: {live} in analyze vs {score} offline"
            );
        }
    }
}

#[test]
fn analyze_vmaf_without_a_reference_is_refused() {
    let r = run(bin().args(["analyze", "--live", "x.mp4", "--vmaf"]));
    assert!(!r.status.success());
    assert!(
        r.stderr
            .contains("--vmaf needs a reference: --control URL or --reference FILE"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_subsample_of_n_scores_every_nth_pair_offline_and_live() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let r = reference(dir.path());
    let out = dir.path().join("sub");
    let run_ = run(bin()
        .args(["vmaf", "--vmaf-threads", "2", "--vmaf-subsample", "3"])
        .args(["--reference", path_str(&r), "--distorted", path_str(&r)])
        .args(["--out", path_str(&out)]));
    assert!(run_.status.success(), "{}", run_.stderr);
    let s = summary_json(&out)["streams"][0].clone();
    assert_eq!(
        (s["frames_scored"].as_u64(), s["unscored"].as_u64()),
        (Some(30), Some(60)),
        "{s}"
    );
    assert_eq!(s["vmaf"]["frames_scored"], 30);
    assert!(s["vmaf"]["mean"].as_f64().unwrap() >= 99.0, "{s}");
    assert_eq!(s["vmaf_unscored"]["subsampled"], 60, "{s}");
    let csv = std::fs::read_to_string(out.join("frames.csv")).unwrap();
    let filled = csv
        .lines()
        .skip(1)
        .filter(|l| !l.split(',').nth(7).unwrap().is_empty())
        .count();
    assert_eq!(filled, 30, "{csv}");
    let live = format!("live1={}", path_str(&r));
    let (s, scores) = analyze_vmaf(
        dir.path(),
        "live",
        &[
            "--live",
            &live,
            "--reference",
            path_str(&r),
            "--vmaf-subsample",
            "2",
        ],
    );
    let l = stream(&s, "live1");
    assert_eq!(l["vmaf"]["frames_scored"], 45, "{l}");
    assert_eq!(l["vmaf_unscored"]["subsampled"], 45, "{l}");
    assert_eq!(scores.len(), 45);
}

#[test]
fn quality_that_could_not_be_scored_fails_the_run() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let r = reference(dir.path());
    let out = dir.path().join("noref");
    let res = run(bin()
        .args([
            "analyze",
            "--clock",
            "pts",
            "--start-time",
            "2026-11-21T12:00:00Z",
        ])
        .args(["--live", path_str(&r), "--reference"])
        .arg(dir.path().join("missing.mp4"))
        .args(["--out", path_str(&out)]));
    assert_eq!(res.status.code(), Some(1), "{}", res.stderr);
    assert!(
        res.stderr.contains("quality was not scored"),
        "{}",
        res.stderr
    );
    let s = summary_json(&out);
    assert!(s["vmaf_disabled"].is_string(), "{s}");
    assert_eq!(
        stream(&s, "live1")["frames_received"],
        90,
        "latency still measured"
    );
}
