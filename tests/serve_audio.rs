//! `streamscope serve` and sound: an upload's own sound in the master and the ladder (5.1
//! folded to stereo with its centre audible), and uploads that are sound without pictures (an
//! AAC ladder, DASH + HLS audio, a waveform poster).

mod common;

use std::path::Path;
use std::time::Duration;

use common::serve::*;
use common::*;

/// Per-channel RMS levels (dBFS) of a file's audio track `track`, by ffmpeg's astats.
fn channel_rms(file: &Path, track: usize) -> Vec<f64> {
    let out = ffmpeg_cmd()
        .args(["-v", "info", "-i"])
        .arg(file)
        .args(["-map", &format!("0:a:{track}"), "-af"])
        .arg("astats=measure_overall=none:measure_perchannel=RMS_level")
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    log.lines()
        .filter_map(|l| l.split("RMS level dB: ").nth(1)?.trim().parse().ok())
        .collect()
}

#[test]
fn an_uploads_own_sound_reaches_the_ladder_with_its_centre_channel_audible() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    // 5.1 with a tone in the centre channel only: ffmpeg's default fold-down keeps it, a
    // fold-down that forgot the centre would be silent.
    let clip = lavfi_clip(
        &dir.path().join("surround.mp4"),
        "testsrc2=size=320x180:rate=30",
        "3",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:sample_rate=48000",
            "-filter_complex",
            "[1:a]pan=5.1|FC=c0[a]",
            "-map",
            "0:v",
            "-map",
            "[a]",
            "-t",
            "3",
            "-c:a",
            "aac",
            "-preset",
            "ultrafast",
        ],
    );
    let centre = channel_rms(&clip, 0);
    assert_eq!(centre.len(), 6, "{centre:?}");
    let ladder = dir.path().join("ladder.toml");
    std::fs::write(
        &ladder,
        "[[format]]\nname = \"180p\"\nheight = 180\nvideo_kbps = 250\n",
    )
    .unwrap();
    let s = serve(dir.path(), &["--ladder", path_str(&ladder)]);
    let (code, a) = upload(&s.url, &clip);
    assert_eq!(code, 201, "{a}");
    assert_eq!(a["probe"]["audio"]["channels"], 6, "{a}");
    let id = a["id"].as_str().unwrap();
    let a = settle(&s.url, id, Duration::from_secs(120));
    assert_eq!(a["status"], "ready", "{a}");
    let folder = dir.path().join(format!("data/assets/{id}"));
    // The master: the beeps first (what analyze and vmaf read), the upload's sound second.
    let master = ffprobe(&folder.join("reference.mp4"), &["-select_streams", "a"]);
    let tracks: Vec<_> = master["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["channels"].as_u64().unwrap())
        .collect();
    assert_eq!(tracks, [1, 2], "{master}");
    // The rendition: the upload's sound, the centre in both channels, equally.
    let r = &a["renditions"][0];
    assert_eq!(r["audio_channels"], 2, "{r}");
    let levels = channel_rms(&folder.join("r/180p.mp4"), 0);
    assert_eq!(levels.len(), 2, "{levels:?}");
    for l in &levels {
        // The tone is -21 dBFS RMS in the centre; folded at -3 dB into each side.
        assert!((-30.0..-15.0).contains(l), "{levels:?} (centre {centre:?})");
    }
    assert!((levels[0] - levels[1]).abs() < 0.5, "{levels:?}");
    // The master's sound track is what the rendition carries; the beeps (0.5 peak, 10 % of
    // each second: -19 dBFS) are not.
    let sound = channel_rms(&folder.join("reference.mp4"), 1);
    assert!(
        sound.iter().all(|s| (s - levels[0]).abs() < 1.0),
        "master {sound:?} vs rendition {levels:?}"
    );
    let beeps = channel_rms(&folder.join("reference.mp4"), 0);
    assert!(
        (beeps[0] - levels[0]).abs() > 3.0,
        "beeps {beeps:?} vs sound {levels:?}"
    );
}

#[test]
fn a_sound_without_pictures_becomes_an_aac_ladder_with_hls_dash_and_a_waveform() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    let song = dir.path().join("song.m4a");
    run_ok(
        ffmpeg_cmd()
            .args([
                "-f",
                "lavfi",
                "-i",
                "sine=f=330:sample_rate=44100",
                "-t",
                "5",
            ])
            .args(["-ac", "2", "-c:a", "aac", "-b:a", "160k"])
            .arg(&song),
    );
    let s = serve(dir.path(), &[]);
    let (code, a) = upload(&s.url, &song);
    assert_eq!(code, 201, "{a}");
    assert!(a["probe"]["video"].is_null(), "{a}");
    let id = a["id"].as_str().unwrap();
    let a = settle(&s.url, id, Duration::from_secs(60));
    assert_eq!(a["status"], "ready", "{a}");
    assert!(
        a.get("stream_id").is_none(),
        "no code without pictures: {a}"
    );
    // Rungs up to the source's ~160 kbit/s: 128k and 64k, stereo AAC, no picture fields.
    let r = a["renditions"].as_array().unwrap();
    let names: Vec<&str> = r.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["aac-128k", "aac-64k"], "{a}");
    for r in r {
        assert_eq!(r["audio_codec"], "aac", "{r}");
        assert_eq!(r["audio_channels"], 2, "{r}");
        assert!(
            r.get("width").is_none() && r.get("video_codec").is_none(),
            "{r}"
        );
    }
    let base = &s.url;
    let hls = std::process::Command::new("curl")
        .args(["-sS", &format!("{base}{}", a["hls"].as_str().unwrap())])
        .output()
        .unwrap();
    let hls = String::from_utf8_lossy(&hls.stdout);
    assert_eq!(hls.matches("#EXT-X-STREAM-INF:").count(), 2, "{hls}");
    assert!(hls.contains("CODECS=\"mp4a.40.2\""), "{hls}");
    let mpd = std::process::Command::new("curl")
        .args(["-sS", &format!("{base}{}", a["dash"].as_str().unwrap())])
        .output()
        .unwrap();
    let mpd = String::from_utf8_lossy(&mpd.stdout);
    assert!(
        mpd.contains("contentType=\"audio\"") && !mpd.contains("contentType=\"video\""),
        "{mpd}"
    );
    // The waveform poster, served as a JPEG.
    let folder = dir.path().join(format!("data/assets/{id}"));
    let poster = ffprobe(&folder.join("thumbs/poster.jpg"), &[]);
    assert_eq!(poster["streams"][0]["width"], 1280, "{poster}");
    assert_eq!(poster["streams"][0]["height"], 240, "{poster}");
    let h = head(&format!("{base}{}", a["poster"].as_str().unwrap()));
    assert!(h.contains("content-type: image/jpeg"), "{h}");
    // The master: the sound in stereo, 48 kHz, as long as the upload.
    let m = ffprobe(&folder.join("reference.mp4"), &[]);
    let st = &m["streams"][0];
    assert_eq!(
        (&st["codec_type"], &st["channels"], &st["sample_rate"]),
        (&"audio".into(), &2.into(), &"48000".into()),
        "{m}"
    );
    let d: f64 = m["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((d - 5.0).abs() < 0.1, "{d}");
}
