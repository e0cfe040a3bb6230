//! `POST /api/v1/assets/{id}/encrypt`: CENC progressive MP4s (ffmpeg) that decrypt to the
//! clear rendition's frames, DASH + HLS with `cenc` and `cbcs` (Shaka Packager) that play with
//! ClearKey in headless Chromium (and fail with a sentence under a wrong key), `analyze` and
//! `vmaf` with `--decryption-key`, and the key nowhere in logs, JSON, audit or run folders.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::browser::Browser;
use common::serve::*;
use common::*;
use serde_json::Value;

const KEY: &str = "3a5f9c27e1d84b60a2c7f10e95b3d468";
const KID: &str = "c0ffee00112233445566778899aabbcc";
const LADDER: &str = "[[format]]\nname = \"360p\"\nheight = 360\nvideo_kbps = 900\n\n\
                      [[format]]\nname = \"240p\"\nheight = 240\nvideo_kbps = 400\n";

fn encrypt(url: &str, id: &str, body: &str) -> (u16, Value) {
    // As a person types it: curl -d sends a form type; the body is read as JSON anyway.
    curl(&[
        "-X",
        "POST",
        "--data",
        body,
        &format!("{url}/api/v1/assets/{id}/encrypt"),
    ])
}

/// Poll until the asset's encryption is no longer processing; the asset.
fn encrypted(url: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let (_, a) = curl(&[&format!("{url}/api/v1/assets/{id}")]);
        let status = a["encrypted"]["status"].as_str().unwrap_or("");
        if a["status"] == "ready" && status != "processing" {
            return a;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{a}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn download(url: &str, to: &Path) {
    let ok = std::process::Command::new("curl")
        .args(["-sSf", "-o", path_str(to), url])
        .status()
        .unwrap();
    assert!(ok.success(), "GET {url}");
}

fn fetch_text(url: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-sSf", url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Wait for the asset page to show its Encrypted section.
fn shows_encrypted(b: &mut Browser) {
    b.wait_until(
        "document.getElementById('encrypted') && !document.getElementById('encrypted').hidden",
        Duration::from_secs(30),
        "document.getElementById('status').textContent",
    );
}

/// Play the asset page's encrypted `format` with `key`; the final state and status text.
fn play(b: &mut Browser, format: &str, key: &str) -> (String, String) {
    b.eval(&format!(
        "document.getElementById('enc-key').value = '{key}'; \
         document.getElementById('enc-format').value = '{format}'; \
         document.getElementById('enc-video').dataset.state = ''; \
         document.getElementById('enc-play').click(); true"
    ));
    let state = b.wait_until(
        "['playing', 'error'].includes(document.getElementById('enc-video').dataset.state) \
         && document.getElementById('enc-video').dataset.state",
        Duration::from_secs(40),
        "document.getElementById('enc-status').textContent",
    );
    let text = b.eval("document.getElementById('enc-status').textContent");
    (
        state.as_str().unwrap().to_owned(),
        text.as_str().unwrap().to_owned(),
    )
}

#[test]
fn an_asset_encrypted_decrypts_frame_for_frame_plays_with_clearkey_and_never_leaks_its_key() {
    if !require("ffmpeg") || !require("curl") || !require("chromium") {
        return;
    }
    let Some(packager) = packager() else { return };
    let dir = tmp();
    let clip = talk_clip(dir.path(), &[]);
    let ladder = dir.path().join("ladder.toml");
    std::fs::write(&ladder, LADDER).unwrap();
    // At debug level: every command line is logged, so a key in one would show.
    let start = |packager: &str, log: &Path| {
        serve_logged(
            dir.path(),
            &["-v", "--ladder", path_str(&ladder), "--packager", packager],
            log,
        )
    };
    let log = dir.path().join("serve.log");
    let s = start(path_str(&packager), &log);
    let (code, a) = upload(&s.url, &clip);
    assert_eq!(code, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    let a = settle(&s.url, &id, Duration::from_secs(90));
    assert_eq!(a["status"], "ready", "{a}");

    // Refusals: a malformed key (the answer does not echo the body), an unknown scheme.
    let (code, e) = encrypt(
        &s.url,
        &id,
        &format!(r#"{{"key":"{KEY}00","kid":"{KID}"}}"#),
    );
    assert_eq!(code, 400, "{e}");
    assert_eq!(e["error"], "key must be 32 hex digits (16 bytes)");
    let (code, e) = encrypt(&s.url, &id, &format!(r#"{{"key":"{KEY}","scheme":"aes"}}"#));
    assert_eq!(code, 400, "{e}");
    assert!(!e.to_string().contains(KEY), "{e}");

    // cenc with the client's key and KID.
    let (code, r) = encrypt(&s.url, &id, &format!(r#"{{"key":"{KEY}","kid":"{KID}"}}"#));
    assert_eq!(code, 202, "{r}");
    assert_eq!(
        (r["key"].as_str(), r["kid"].as_str()),
        (Some(KEY), Some(KID))
    );
    assert_eq!(r["scheme"], "cenc");
    let a = encrypted(&s.url, &id);
    let enc = &a["encrypted"];
    assert_eq!(enc["status"], "ready", "{a}");
    assert_eq!(enc["kid"], KID);
    assert!(
        !a.to_string().contains(KEY),
        "the asset's JSON holds the key: {a}"
    );

    // Progressive MP4s: encrypted (undecodable without the key), the clear frames with it.
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let names: Vec<&str> = enc["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["360p", "240p"]);
    let clear = work.join("clear.mp4");
    let locked = work.join("locked.mp4");
    download(&format!("{}/files/{id}/r/360p.mp4", s.url), &clear);
    let enc_dir = format!("{}/files/{id}/enc/{KID}/stream", s.url);
    download(
        &format!("{}{}", s.url, enc["renditions"][0]["url"].as_str().unwrap()),
        &locked,
    );
    let h = head(&format!(
        "{}{}",
        s.url,
        enc["renditions"][0]["url"].as_str().unwrap()
    ));
    assert!(h.contains("content-type: video/mp4"), "{h}");
    let opened = work.join("opened.mp4");
    run_ok(ffmpeg_cmd().args([
        "-decryption_key",
        KEY,
        "-i",
        path_str(&locked),
        "-map",
        "0",
        "-c",
        "copy",
        path_str(&opened),
    ]));
    let want = timecodes(&clear, 640, 360);
    assert_eq!(want.len(), 90);
    assert!(want.iter().all(Result::is_ok), "the clear rendition reads");
    assert_eq!(
        timecodes(&opened, 640, 360),
        want,
        "decrypted = clear, frame for frame"
    );
    let blind = ffmpeg_cmd()
        .args(["-i", path_str(&locked), "-f", "null", "-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&blind.stderr);
    assert!(
        !blind.status.success() || stderr.contains("Invalid data") || stderr.contains("error"),
        "decoding without the key must fail: {stderr}"
    );

    // analyze and vmaf measure the encrypted file with --decryption-key.
    let run = work.join("run");
    let out = bin()
        .args([
            "-v",
            "analyze",
            "--live",
            &format!("enc={}", path_str(&locked)),
            "--clock",
            "pts",
            "--start-time",
            "2026-01-01T00:00:00Z",
            "--out",
            path_str(&run),
            "--decryption-key",
            KEY,
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    let summary = summary_json(&run);
    let st = stream(&summary, "enc");
    assert_eq!(st["frames_received"], 90, "{st}\n{said}");
    assert_eq!(st["unreadable"], 0, "{st}");
    assert!(!said.contains(KEY), "analyze logged the key: {said}");
    let v = work.join("vmaf");
    let out = bin()
        .args([
            "-v",
            "vmaf",
            "--reference",
            path_str(&clear),
            "--distorted",
            path_str(&locked),
            "--decryption-key",
            KEY,
            "--out",
            path_str(&v),
        ])
        .output()
        .unwrap();
    let vsaid = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{vsaid}");
    let vs = summary_json(&v);
    assert!(!vsaid.contains(KEY), "vmaf logged the key: {vsaid}");
    let vtext = vs.to_string();
    assert!(vtext.contains("vmaf"), "{vtext}");
    for f in files_under(&run).into_iter().chain(files_under(&v)) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(KEY),
            "{} holds the key",
            f.display()
        );
    }

    // DASH and HLS: signalled for a player, typed and cached like the clear ones.
    let mpd = fetch_text(&format!("{}{}", s.url, enc["dash"].as_str().unwrap()));
    assert!(mpd.contains(r#"value="cenc""#), "{mpd}");
    assert!(
        mpd.contains("cenc:default_KID=\"c0ffee00-1122-3344-5566-778899aabbcc\""),
        "{mpd}"
    );
    assert!(
        mpd.contains("urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b")
            && mpd.contains("<cenc:pssh>"),
        "{mpd}"
    );
    let media = fetch_text(&format!("{enc_dir}/360p.m3u8"));
    assert!(
        media.contains("#EXT-X-KEY:METHOD=SAMPLE-AES-CTR"),
        "{media}"
    );
    let master = fetch_text(&format!("{}{}", s.url, enc["hls"].as_str().unwrap()));
    assert!(
        master.contains("360p.m3u8") && master.contains("240p.m3u8"),
        "{master}"
    );
    let h = head(&format!("{enc_dir}/360p-1.m4s"));
    assert!(h.contains("200") && h.contains("immutable"), "{h}");

    // The page plays them with the key, and says why not with another.
    let mut b = Browser::open(&format!("{}/assets/{id}", s.url));
    shows_encrypted(&mut b);
    for format in ["dash", "hls"] {
        let (state, text) = play(&mut b, format, KEY);
        assert_eq!(state, "playing", "{format}: {text}");
        let t0 = b
            .eval("document.getElementById('enc-video').currentTime")
            .as_f64()
            .unwrap();
        b.wait_until(
            &format!("document.getElementById('enc-video').currentTime > {t0} + 0.5"),
            Duration::from_secs(20),
            "document.getElementById('enc-video').currentTime",
        );
    }
    let wrong = "00000000000000000000000000000001";
    let (state, text) = play(&mut b, "dash", wrong);
    assert_eq!(state, "error", "{text}");
    assert!(
        text.contains("the key does not decrypt this stream"),
        "{text}"
    );

    // cbcs with a key the server makes: returned once, plays, HLS says SAMPLE-AES.
    let (code, r) = encrypt(&s.url, &id, r#"{"scheme":"cbcs"}"#);
    assert_eq!(code, 202, "{r}");
    let made = r["key"].as_str().unwrap().to_owned();
    assert_eq!(made.len(), 32);
    assert_ne!(r["kid"], KID);
    let a = encrypted(&s.url, &id);
    assert_eq!(a["encrypted"]["status"], "ready", "{a}");
    assert_eq!(a["encrypted"]["scheme"], "cbcs");
    let media = fetch_text(&format!(
        "{}/files/{id}/enc/{}/stream/360p.m3u8",
        s.url,
        r["kid"].as_str().unwrap()
    ));
    assert!(media.contains("#EXT-X-KEY:METHOD=SAMPLE-AES,"), "{media}");
    let (gone, _) = curl(&[&format!("{enc_dir}/360p.m3u8")]);
    assert_eq!(gone, 404, "the first encryption's files are gone");
    b.navigate(&format!("{}/assets/{id}", s.url));
    shows_encrypted(&mut b);
    for format in ["dash", "hls"] {
        let (state, text) = play(&mut b, format, &made);
        assert_eq!(state, "playing", "cbcs {format}: {text}");
    }
    drop(b);

    // A packager that fails: the asset stays ready, `encrypted` says why, naming the command
    // with the key hidden.
    drop(s);
    let logged = std::fs::read_to_string(&log).unwrap();
    let s = start("/bin/false", &dir.path().join("serve2.log"));
    let (code, r) = encrypt(&s.url, &id, &format!(r#"{{"key":"{KEY}","kid":"{KID}"}}"#));
    assert_eq!(code, 202, "{r}");
    let a = encrypted(&s.url, &id);
    assert_eq!(a["status"], "ready", "{a}");
    let why = a["encrypted"]["error"].as_str().unwrap();
    assert!(
        why.starts_with("packaging encrypted DASH and HLS: `/bin/false "),
        "{why}"
    );
    assert!(why.contains("key=[key]") && !why.contains(KEY), "{why}");
    let (code, _) = curl(&[&format!("{}/files/{id}/r/360p.mp4", s.url)]);
    assert_eq!(code, 200, "the clear outputs are untouched");

    // Nowhere: the servers' logs (debug, with every command line), the audit log, the files.
    let (_, audit) = curl(&[&format!("{}/api/v1/audit", s.url)]);
    assert!(audit.to_string().contains("encrypt"), "{audit}");
    drop(s);
    let logged = logged + &std::fs::read_to_string(dir.path().join("serve2.log")).unwrap();
    assert!(
        logged.contains("spawning ffmpeg"),
        "the log is at debug level"
    );
    assert!(
        logged.contains("encryption_key '[key]'"),
        "commands shown with the key hidden"
    );
    for secret in [KEY, made.as_str()] {
        assert!(!logged.contains(secret), "the server logged a key");
        assert!(
            !audit.to_string().contains(secret),
            "the audit log holds a key"
        );
        let db = std::fs::read(dir.path().join("db.sqlite")).unwrap();
        assert!(
            !String::from_utf8_lossy(&db).contains(secret),
            "the database holds a key"
        );
    }
}
