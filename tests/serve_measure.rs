//! Measurement jobs end to end: `POST /api/v1/measurements` on live MPEG-TS over UDP (ffmpeg
//! sending timecoded clips in real time), measured by `serve`'s workers through the analyzer;
//! the run folder stored and served, the verdict on the webhook, a location-pinned measurement
//! run only by a `streamscope worker` with that label, a comparison of the two, bad requests
//! refused, deletion.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::browser::Browser;
use common::serve::*;
use common::*;

/// Where the analyzer listens for a stream sent to `port`.
fn udp(port: u16) -> String {
    format!("udp://127.0.0.1:{port}?fifo_size=100000&overrun_nonfatal=1")
}

/// Wait until the measurement runs (its ffmpeg readers then listen within a moment).
fn running(url: &str, id: &str) {
    let started = Instant::now();
    loop {
        let (_, m) = curl(&[&format!("{url}/api/v1/measurements/{id}")]);
        if m["status"] == "running" {
            std::thread::sleep(Duration::from_millis(1500));
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never running: {m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Poll the measurement until it finished (or `limit` passes); its last JSON.
fn finished(url: &str, id: &str, limit: Duration) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let (_, m) = curl(&[&format!("{url}/api/v1/measurements/{id}")]);
        let status = m["status"].as_str().unwrap_or("");
        if ["done", "error", "interrupted"].contains(&status) || started.elapsed() > limit {
            return m;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn post(url: &str, body: &str) -> (u16, serde_json::Value) {
    curl(&["-d", body, &format!("{url}/api/v1/measurements")])
}

/// POST `body`, which must be queued (202); the measurement's id.
fn queue(url: &str, body: &str) -> String {
    let (code, q) = post(url, body);
    assert_eq!(code, 202, "{q}");
    assert_eq!(q["status"], "queued", "{q}");
    q["id"].as_str().unwrap().to_owned()
}

fn live_stream<'a>(m: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    stream(&m["summary"], name)
}

#[test]
fn measurements_run_on_workers_store_their_runs_and_compare() {
    if !require("ffmpeg") || !require("curl") || !require("chromium") {
        return;
    }
    let dir = tmp();
    let clip = generated_clip(dir.path(), "clip.mp4", &[]);
    let lossy = impair(
        &clip,
        "select='not(between(n,30,39))'",
        "18",
        &dir.path().join("dropped.mp4"),
    );
    let (hook, got) = receiver(0);
    let log = dir.path().join("serve.log");
    // Two measurements at a time: the one that cannot read its stream runs beside the first.
    let s = serve_logged(dir.path(), &["--webhook", &hook, "--workers", "2"], &log);

    // Refused before anything is queued, each with its reason.
    for (body, says) in [
        (
            r#"{"live":[{"name":"a","url":"file:///etc/passwd"}],"duration":5}"#,
            "file:// is not read here",
        ),
        (
            r#"{"live":[{"name":"a","url":"/etc/passwd"}],"duration":5}"#,
            "not a URL",
        ),
        (
            r#"{"live":[{"name":"a","url":"udp://127.0.0.1:9"}],"duration":"3 weeks"}"#,
            "from 1s to 24h",
        ),
        ("not json", "a measurement request"),
    ] {
        let (code, e) = post(&s.url, body);
        assert_eq!(code, 400, "{body}: {e}");
        assert!(e["error"].as_str().unwrap().contains(says), "{body}: {e}");
    }
    let (code, e) = post(
        &s.url,
        r#"{"live":[{"name":"a","url":"udp://127.0.0.1:9"}],"duration":5,
            "reference_asset":"0123456789abcdef0123456789abcdef"}"#,
    );
    assert_eq!(code, 404, "{e}");

    // Two providers (one lost frames 30-39) against the control, judged by fail_if.
    let ports = [free_port(true), free_port(true), free_port(true)];
    let body = format!(
        r#"{{"live":[{{"name":"good","url":"{}"}},{{"name":"lossy","url":"{}"}}],
            "control":"{}","duration":"6s","fail_if":"dropped>5"}}"#,
        udp(ports[0]),
        udp(ports[1]),
        udp(ports[2])
    );
    let first = queue(&s.url, &body);
    // One whose stream never comes.
    let gone = queue(
        &s.url,
        &format!(
            r#"{{"live":[{{"name":"gone","url":"{}"}}],"duration":5}}"#,
            udp(free_port(true))
        ),
    );
    // One pinned to a location no running server has.
    let pinned_port = free_port(true);
    let pinned = format!(
        r#"{{"live":[{{"name":"good","url":"{}"}}],"duration":"6s","location":"eu-west-1"}}"#,
        udp(pinned_port)
    );
    let second = queue(&s.url, &pinned);

    running(&s.url, &first);
    let senders = [
        send_udp(&clip, ports[0], None),
        send_udp(&lossy, ports[1], None),
        send_udp(&clip, ports[2], None),
    ];
    let m = finished(&s.url, &first, Duration::from_secs(60));
    for mut c in senders {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert_eq!(m["status"], "done", "{m}");
    assert_eq!(m["verdict"], "failed", "{m}");
    assert_eq!(live_stream(&m, "good")["dropped"], 0, "{m}");
    assert_eq!(live_stream(&m, "lossy")["dropped"], 10, "{m}");
    let failures: Vec<&str> = m["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(failures, ["lossy: dropped>5 (actual 10)"], "{m}");
    assert!(
        m["summary"]["command"]
            .as_str()
            .unwrap()
            .starts_with("streamscope analyze --live 'good=udp://127.0.0.1:"),
        "{m}"
    );
    // The run folder, served with its types; the report runs no script.
    let report = m["report"].as_str().unwrap();
    assert_eq!(report, format!("/files/{first}/run/report.html"));
    let h = head(&format!("{}{report}", s.url));
    assert!(h.starts_with("http/1.1 200"), "{h}");
    assert_eq!(header(&h, "content-type"), Some("text/html; charset=utf-8"));
    assert!(
        header(&h, "content-security-policy").is_some_and(|c| c.contains("default-src 'none'")),
        "{h}"
    );
    let h = head(&format!("{}/files/{first}/run/frames.csv", s.url));
    assert_eq!(
        header(&h, "content-type"),
        Some("text/csv; charset=utf-8"),
        "{h}"
    );
    let (_, summary) = curl(&[&format!("{}/files/{first}/run/summary.json", s.url)]);
    assert_eq!(summary, m["summary"]);

    // The stream that never came: an error naming it, the verdict failed.
    let m3 = finished(&s.url, &gone, Duration::from_secs(60));
    assert_eq!(m3["status"], "error", "{m3}");
    assert_eq!(m3["verdict"], "failed", "{m3}");
    assert!(m3["error"].as_str().unwrap().starts_with("gone: "), "{m3}");
    // Each verdict reached the webhook.
    let hooks = wait_for(&got, 2);
    let events: Vec<serde_json::Value> = hooks
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    for id in [&first, &gone] {
        assert!(
            events.iter().any(
                |e| e["event"] == "measurement.failed" && e["measurement"]["id"] == id.as_str()
            ),
            "{events:?}"
        );
    }

    // The pinned one waited for a worker with its label…
    let (_, m2) = curl(&[&format!("{}/api/v1/measurements/{second}", s.url)]);
    assert_eq!(m2["status"], "queued", "{m2}");
    // …which a worker on the same database and storage has (measurements only).
    let mut w = worker(
        dir.path(),
        &[
            "--location",
            "eu-west-1",
            "--jobs",
            "measure",
            "--webhook",
            &hook,
        ],
    );
    running(&s.url, &second);
    let mut sender = send_udp(&clip, pinned_port, None);
    let m2 = finished(&s.url, &second, Duration::from_secs(60));
    let _ = sender.kill();
    let _ = sender.wait();
    assert_eq!(m2["status"], "done", "{m2}");
    assert_eq!(m2["verdict"], "passed", "{m2}");
    assert!(
        m2["worker"]
            .as_str()
            .unwrap()
            .starts_with("measure@eu-west-1-"),
        "{m2}"
    );
    // SIGTERM: the idle worker stops cleanly.
    assert!(sigterm(&mut w).success());
    let hooks = wait_for(&got, 3);
    assert!(
        hooks[2].1.contains("\"measurement.passed\""),
        "{}",
        hooks[2].1
    );

    // The two side by side, each labelled by where it ran.
    let (code, list) = curl(&[&format!("{}/api/v1/measurements", s.url)]);
    assert_eq!(code, 200);
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    let (code, cmp) = curl(&[&format!(
        "{}/api/v1/measurements/compare?ids={first},{second}",
        s.url
    )]);
    assert_eq!(code, 200, "{cmp}");
    let text = cmp.to_string();
    assert!(
        text.contains(&format!("any-{}/lossy", &first[..8])),
        "{text}"
    );
    assert!(
        text.contains(&format!("eu-west-1-{}/good", &second[..8])),
        "{text}"
    );
    let page = Command::new("curl")
        .args([
            "-sS",
            &format!("{}/measurements/compare?ids={first}&ids={second}", s.url),
        ])
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&page.stdout);
    assert!(page.contains("<svg"), "no plots in the comparison: {page}");
    let (code, e) = curl(&[&format!(
        "{}/api/v1/measurements/compare?ids={first}",
        s.url
    )]);
    assert_eq!(code, 400, "{e}");

    // The page, in Chromium: the three runs, the failed one's report link; ticking the two
    // finished ones and pressing Compare opens their comparison.
    let mut b = Browser::open(&format!("{}/measurements", s.url));
    b.wait_until(
        "document.querySelectorAll('#runs tbody tr').length === 3",
        Duration::from_secs(20),
        "document.body.innerText",
    );
    let row = |id: &str| format!("document.querySelector('#runs tr[data-id=\"{id}\"]')");
    let text = b.eval(&format!("{}.innerText", row(&first)));
    assert!(text.as_str().unwrap().contains("failed"), "{text}");
    let link = b.eval(&format!(
        "{}.querySelector('a').getAttribute('href')",
        row(&first)
    ));
    assert_eq!(link, report);
    assert_eq!(
        b.eval(&format!("{}.querySelector('input').disabled", row(&gone))),
        false,
        "an errored run with a summary compares too"
    );
    assert_eq!(
        b.eval("document.getElementById('compare-button').disabled"),
        true
    );
    for id in [&first, &second] {
        b.eval(&format!("{}.querySelector('input').click()", row(id)));
    }
    b.eval("document.getElementById('compare-button').click()");
    b.wait_until(
        "location.pathname === '/measurements/compare' && document.querySelectorAll('svg').length > 0",
        Duration::from_secs(30),
        "document.body.innerText.slice(0, 300)",
    );
    let body = b.eval("document.body.innerText");
    assert!(
        body.as_str()
            .unwrap()
            .contains(&format!("eu-west-1-{}/good", &second[..8])),
        "{body}"
    );
    drop(b);

    // Deleted: the row and the stored run.
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "DELETE",
        ])
        .arg(format!("{}/api/v1/measurements/{first}", s.url))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "204");
    assert!(head(&format!("{}{report}", s.url)).starts_with("http/1.1 404"));
    let (code, _) = curl(&[&format!("{}/api/v1/measurements/{first}", s.url)]);
    assert_eq!(code, 404);
}

#[test]
fn a_stopped_server_keeps_what_its_measurement_measured() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    let clip = generated_clip(dir.path(), "clip.mp4", &[]);
    let mut s = serve(dir.path(), &[]);
    let port = free_port(true);
    let id = queue(
        &s.url,
        &format!(
            r#"{{"live":[{{"name":"cdn","url":"{}"}}],"duration":"1m"}}"#,
            udp(port)
        ),
    );
    running(&s.url, &id);
    let mut sender = send_udp(&clip, port, None);
    let _ = sender.wait();
    // SIGTERM 55 s before the measurement's end: the server stops within its 10 s…
    assert!(sigterm(&mut s).success());
    // …and the measurement says so, with the 3 s it measured stored.
    let s = serve(dir.path(), &["--workers", "0"]);
    let (_, m) = curl(&[&format!("{}/api/v1/measurements/{id}", s.url)]);
    assert_eq!(m["status"], "interrupted", "{m}");
    assert_eq!(m["verdict"], "failed", "{m}");
    assert!(m["error"].as_str().unwrap().contains("interrupted"), "{m}");
    let cdn = live_stream(&m, "cdn");
    assert!(cdn["frames_received"].as_u64().unwrap() >= 80, "{cdn}");
    assert_eq!(cdn["dropped"], 0, "{cdn}");
    let h = head(&format!("{}{}", s.url, m["report"].as_str().unwrap()));
    assert!(h.starts_with("http/1.1 200"), "{h}");
}

#[test]
fn a_killed_servers_measurement_is_run_again_by_another_once() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    let clip = generated_clip(dir.path(), "clip.mp4", &[]);
    let (hook, got) = receiver(0);
    let mut s = serve(dir.path(), &["--webhook", &hook]);
    let port = free_port(true);
    let id = queue(
        &s.url,
        &format!(
            r#"{{"live":[{{"name":"cdn","url":"{}"}}],"duration":"5s"}}"#,
            udp(port)
        ),
    );
    running(&s.url, &id);
    let (_, m) = curl(&[&format!("{}/api/v1/measurements/{id}", s.url)]);
    let dead = m["worker"].as_str().unwrap().to_owned();
    // SIGKILL: no goodbye; its ffmpeg readers die with it (the UDP port is free again).
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let s = serve(dir.path(), &["--webhook", &hook]);
    let started = Instant::now();
    loop {
        let (_, m) = curl(&[&format!("{}/api/v1/measurements/{id}", s.url)]);
        if m["worker"] != dead.as_str() && m["status"] == "running" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not taken over: {m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let mut sender = send_udp(&clip, port, None);
    let m = finished(&s.url, &id, Duration::from_secs(60));
    let _ = sender.wait();
    assert_eq!(m["status"], "done", "{m}");
    assert_ne!(m["worker"], dead.as_str());
    assert!(
        live_stream(&m, "cdn")["frames_received"].as_u64().unwrap() >= 80,
        "{m}"
    );
    // Finished once: one verdict, however long we wait for a second.
    std::thread::sleep(Duration::from_secs(3));
    let hooks = got.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert!(
        hooks[0].1.contains("\"measurement.passed\""),
        "{}",
        hooks[0].1
    );
}

#[test]
fn a_measurement_scores_quality_against_a_reference_asset() {
    if !require("ffmpeg") || !require("curl") {
        return;
    }
    let dir = tmp();
    let ladder = dir.path().join("ladder.toml");
    std::fs::write(
        &ladder,
        "[[format]]\nname = \"180p\"\nheight = 180\nvideo_kbps = 250\n",
    )
    .unwrap();
    let s = serve(dir.path(), &["--ladder", path_str(&ladder)]);
    // The user's content becomes a timecoded master and a 180p rendition…
    let (code, a) = upload(&s.url, &talk_clip(dir.path(), &["-ac", "1"]));
    assert_eq!(code, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    let a = settle(&s.url, &id, Duration::from_secs(120));
    assert_eq!(a["status"], "ready", "{a}");
    let rendition = dir.path().join("180p.mp4");
    let got = Command::new("curl")
        .args(["-sSf", "-o"])
        .arg(&rendition)
        .arg(format!("{}/files/{id}/r/180p.mp4", s.url))
        .status()
        .unwrap();
    assert!(got.success());
    // …which a provider sends live; the measurement scores it against the master.
    let port = free_port(true);
    let body = format!(
        r#"{{"live":[{{"name":"cdn","url":"{}"}}],"duration":"6s","reference_asset":"{id}"}}"#,
        udp(port)
    );
    let mid = queue(&s.url, &body);
    running(&s.url, &mid);
    let mut sender = send_udp(&rendition, port, None);
    let m = finished(&s.url, &mid, Duration::from_secs(90));
    let _ = sender.wait();
    assert_eq!(m["status"], "done", "{m}");
    let cdn = live_stream(&m, "cdn");
    let vmaf = cdn["vmaf"]["mean"]
        .as_f64()
        .unwrap_or_else(|| panic!("no VMAF: {cdn}"));
    // 180p at 250 kbit/s upscaled against a 360p master: scored, and far from perfect.
    assert!(vmaf > 5.0 && vmaf < 95.0, "{cdn}");
    assert!(
        m["summary"]["command"]
            .as_str()
            .unwrap()
            .contains("--reference "),
        "{m}"
    );
    // Not ready (or not there): refused before queueing.
    let (code, e) = post(
        &s.url,
        &body.replace(&id, "0123456789abcdef0123456789abcdef"),
    );
    assert_eq!(code, 404, "{e}");
}
