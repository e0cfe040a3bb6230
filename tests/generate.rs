//! End-to-end tests of `streamscope generate` with the real ffmpeg: timecodes read back from
//! every frame, container properties, HLS, beeps, --source, and the error messages.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// 2026-11-21T12:00:00Z in µs since the Unix epoch.
const START_US: u64 = 1_795_262_400_000_000;

#[test]
fn every_frame_carries_its_exact_timecode() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let out = join(&dir, "clip.mp4");
    let r = streamscope_ok(&[
        "generate",
        "--out",
        path_str(&out),
        "--duration",
        "3s",
        "--fps",
        "30",
        "--size",
        "640x360",
        "--stream-id",
        "7",
        "--start-time",
        "2026-11-21T12:00:00Z",
    ]);
    assert!(r.stdout.contains("90 frames"), "{}", r.stdout);
    let tcs = timecodes(&out, 640, 360);
    assert_eq!(tcs.len(), 90, "frame count");
    for (n, tc) in tcs.iter().enumerate() {
        let tc = tc.as_ref().unwrap_or_else(|e| panic!("frame {n}: {e}"));
        let n = n as u64;
        assert_eq!(tc.frame, n);
        assert_eq!(tc.stream_id, 7);
        // start + n/30 s, rounded to the nearest µs.
        assert_eq!(
            tc.capture_us,
            START_US + (n * 1_000_000 + 15) / 30,
            "frame {n}"
        );
    }
}

#[test]
fn ntsc_rate_timecodes_are_exact() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let out = join(&dir, "ntsc.mp4");
    streamscope_ok(&[
        "generate",
        "--out",
        path_str(&out),
        "--duration",
        "1s",
        "--fps",
        "30000/1001",
        "--size",
        "320x240",
        "--no-audio",
        "--start-time",
        "2026-11-21T12:00:00Z",
    ]);
    let tcs = timecodes(&out, 320, 240);
    // 1 s at 29.97 fps holds frames starting at 0 … 0.967 s: 30 frames.
    assert_eq!(tcs.len(), 30);
    for (n, tc) in tcs.iter().enumerate() {
        let tc = tc.as_ref().unwrap_or_else(|e| panic!("frame {n}: {e}"));
        let n = n as u64;
        assert_eq!(tc.frame, n);
        // n × 1001/30000 s = n × 100100/3 µs, rounded to nearest.
        assert_eq!(tc.capture_us, START_US + (n * 100_100 + 1) / 3, "frame {n}");
    }
    let probe = ffprobe(&out, &[]);
    assert_eq!(probe["streams"][0]["r_frame_rate"], "30000/1001");
}

#[test]
fn output_is_browser_playable_h264_aac_faststart_and_hls() {
    if !require("ffmpeg") || !require("ffprobe") {
        return;
    }
    let dir = tmp();
    let out = join(&dir, "clip.mp4");
    let hls = join(&dir, "hls");
    streamscope_ok(&[
        "generate",
        "--out",
        path_str(&out),
        "--duration",
        "3s",
        "--size",
        "640x360",
        "--gop",
        "1s",
        "--hls",
        path_str(&hls),
        "--bitrate",
        "800k",
    ]);
    let probe = ffprobe(&out, &[]);
    let streams = probe["streams"].as_array().unwrap();
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .expect("video stream");
    let audio = streams
        .iter()
        .find(|s| s["codec_type"] == "audio")
        .expect("audio stream");
    assert_eq!(video["codec_name"], "h264");
    assert_eq!(video["profile"], "High");
    assert_eq!(video["pix_fmt"], "yuv420p");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert_eq!(audio["codec_name"], "aac");
    assert_eq!(audio["sample_rate"], "48000");
    let boxes = mp4_top_level_boxes(&out);
    let moov = boxes.iter().position(|b| b == "moov").expect("moov box");
    let mdat = boxes.iter().position(|b| b == "mdat").expect("mdat box");
    assert!(
        moov < mdat,
        "moov must precede mdat (+faststart): {boxes:?}"
    );

    // HLS: readable by ffmpeg, all 90 frames, one 1 s segment per GOP, each starting on a
    // keyframe.
    let playlist = hls.join("index.m3u8");
    let text = std::fs::read_to_string(&playlist).unwrap();
    assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
    let segments: Vec<_> = text.lines().filter(|l| l.ends_with(".ts")).collect();
    assert_eq!(segments.len(), 3, "{text}");
    let tcs = timecodes(&playlist, 640, 360);
    assert_eq!(tcs.len(), 90);
    assert!(
        tcs.iter()
            .enumerate()
            .all(|(n, t)| t.as_ref().is_ok_and(|t| t.frame == n as u64))
    );
    for seg in segments {
        let p = ffprobe(
            &hls.join(seg),
            &[
                "-select_streams",
                "v:0",
                "-show_frames",
                "-read_intervals",
                "%+#1",
                "-show_entries",
                "frame=key_frame",
            ],
        );
        assert_eq!(
            p["frames"][0]["key_frame"], 1,
            "{seg} does not start on a keyframe"
        );
    }
}

#[test]
fn beeps_start_at_every_whole_second() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let out = join(&dir, "beep.mp4");
    streamscope_ok(&[
        "generate",
        "--out",
        path_str(&out),
        "--duration",
        "3s",
        "--size",
        "320x240",
    ]);
    let pcm = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(&out)
        .args([
            "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar", "48000", "pipe:1",
        ])
        .output()
        .unwrap()
        .stdout;
    let samples: Vec<i32> = pcm
        .chunks_exact(2)
        .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))
        .collect();
    assert!(
        samples.len() >= 3 * 48_000 - 1024,
        "{} samples",
        samples.len()
    );
    for k in 0..3usize {
        let second = &samples[k * 48_000..((k + 1) * 48_000).min(samples.len())];
        let onset = second
            .iter()
            .position(|s| s.abs() > 3_000)
            .expect("a beep in every second");
        // AAC smears the onset slightly; it must start within 2 ms of the whole second.
        assert!(onset <= 96, "second {k}: beep starts {onset} samples late");
        let loud_end = second.iter().rposition(|s| s.abs() > 3_000).unwrap();
        assert!(
            (4_000..=5_400).contains(&loud_end),
            "second {k}: beep ends at sample {loud_end}"
        );
        let quiet = &second[6_000..second.len().min(47_000)];
        assert!(
            quiet.iter().all(|s| s.abs() < 600),
            "second {k}: noise between beeps"
        );
    }
}

#[test]
fn source_video_is_fitted_and_looped_under_the_code() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let src = join(&dir, "source 4x3.mp4");
    // A 1 s, 4:3 clip at 25 fps: generate must scale, pad and loop it to 2 s at 30 fps.
    run_ok(
        ffmpeg_cmd()
            .args([
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x240:rate=25:duration=1",
            ])
            .args(["-c:v", "libx264", "-pix_fmt", "yuv420p"])
            .arg(&src),
    );
    let out = join(&dir, "out.mp4");
    streamscope_ok(&[
        "generate",
        "--out",
        path_str(&out),
        "--duration",
        "2s",
        "--size",
        "640x360",
        "--source",
        path_str(&src),
        "--qr-corner",
        "bottom-left",
    ]);
    let frames = luma_frames(&out, 640, 360);
    assert_eq!(frames.len(), 60);
    for (n, f) in frames.iter().enumerate() {
        let tc = analyzer::decode_timecode(analyzer::GrayFrame::new(640, 360, f).unwrap())
            .unwrap_or_else(|e| panic!("frame {n}: {e}"));
        assert_eq!(tc.frame, n as u64);
        // 4:3 in 16:9 → 480 px wide, 80 px black bars; the right bar is untouched by the code.
        let bar = (0..360).map(|y| u32::from(f[y * 640 + 600])).sum::<u32>() / 360;
        assert!(bar < 24, "frame {n}: right bar luma {bar}, expected black");
        let picture = (0..360).map(|y| u32::from(f[y * 640 + 320])).sum::<u32>() / 360;
        assert!(picture > 40, "frame {n}: picture column luma {picture}");
    }
}

fn fails_with(args: &[&str], code: i32, needle: &str) -> Run {
    let r = run(bin().args(args));
    assert_eq!(r.status.code(), Some(code), "stderr: {}", r.stderr);
    assert!(
        r.stderr.contains(needle),
        "expected {needle:?} in stderr:\n{}",
        r.stderr
    );
    r
}

#[test]
fn missing_ffmpeg_says_how_to_install_it() {
    let dir = tmp();
    let out = join(&dir, "x.mp4");
    let r = run(bin()
        .args(["generate", "--out", path_str(&out), "--duration", "1s"])
        .env("PATH", dir.path())
        .env_remove("STREAMSCOPE_FFMPEG"));
    assert_eq!(r.status.code(), Some(1));
    assert!(
        r.stderr
            .contains("ffmpeg not found on PATH — install it: apt-get install ffmpeg"),
        "{}",
        r.stderr
    );
}

#[test]
fn invalid_arguments_are_usage_errors_with_reasons() {
    let dir = tmp();
    let out = join(&dir, "x.mp4");
    let o = path_str(&out);
    let cases: [(&[&str], i32, &str); 12] = [
        (&["--size", "641x360"], 2, "must be even"),
        (&["--size", "huge"], 2, "expected WIDTHxHEIGHT"),
        (&["--fps", "fast"], 2, "invalid frame rate"),
        (&["--fps", "500"], 2, "between 1 and 240 fps"),
        (&["--duration", "0s"], 2, "greater than zero"),
        (&["--duration", "soon"], 2, "invalid duration"),
        (&["--pattern", "nope"], 2, "unknown pattern"),
        (
            &["--crf", "20", "--bitrate", "1M"],
            2,
            "cannot be used with",
        ),
        (&["--stream-id", "100"], 2, "100"),
        (&["--size", "128x96"], 2, "too small for the timecode"),
        // Narrow and tall: the width is what is missing, and the message says so.
        (&["--size", "200x4320"], 2, "use a smaller --qr-size"),
        (&["--qr-margin", "0.45"], 2, "between 0 and 0.4"),
    ];
    for (extra, code, needle) in cases {
        let mut args = vec!["generate", "--out", o];
        args.extend(extra);
        fails_with(&args, code, needle);
    }
    assert!(!out.exists(), "nothing is written for invalid arguments");
}

#[test]
fn unreadable_source_and_unwritable_output_are_named() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let out = join(&dir, "x.mp4");
    let o = path_str(&out);
    fails_with(
        &["generate", "--out", o, "--source", "/nonexistent/in.mp4"],
        1,
        "cannot read --source /nonexistent/in.mp4",
    );
    fails_with(
        &["generate", "--out", "/nonexistent/dir/x.mp4"],
        1,
        "cannot write --out /nonexistent/dir/x.mp4",
    );
    fails_with(
        &["generate", "--out", path_str(dir.path())],
        1,
        "it is a directory",
    );

    // A file ffmpeg cannot decode: the error names the stage, the command and ffmpeg's words.
    let junk = join(&dir, "junk.mp4");
    std::fs::write(&junk, b"this is not a video").unwrap();
    let r = fails_with(
        &[
            "generate",
            "--out",
            o,
            "--duration",
            "1s",
            "--source",
            path_str(&junk),
        ],
        1,
        "decoding the content failed",
    );
    assert!(
        r.stderr.contains("-stream_loop -1 -i"),
        "command missing: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("Invalid data found"),
        "ffmpeg's reason missing: {}",
        r.stderr
    );
}

#[test]
fn ctrl_c_leaves_a_complete_shorter_file() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let out = join(&dir, "long.mp4");
    let child = bin()
        .args([
            "generate",
            "--out",
            path_str(&out),
            "--duration",
            "60s",
            "--size",
            "640x360",
            "--preset",
            "ultrafast",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let it encode for a while, then interrupt as a terminal would.
    std::thread::sleep(Duration::from_millis(1500));
    interrupt(child.id());
    let r = wait_with_timeout(child, Duration::from_secs(60));
    assert_eq!(r.status.code(), Some(130), "{}", r.stderr);
    let frames: u64 = r
        .stderr
        .split("holds the first ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no frame count in: {}", r.stderr));
    assert!(frames > 0 && frames < 1800, "{frames} frames");
    let tcs = timecodes(&out, 640, 360);
    assert_eq!(
        tcs.len() as u64,
        frames,
        "the file holds exactly the frames reported"
    );
    assert!(
        tcs.iter()
            .enumerate()
            .all(|(n, t)| t.as_ref().is_ok_and(|t| t.frame == n as u64))
    );
}
