//! Clock sync for real: chrony serving time on 127.0.0.1 (`chronyd -x`: it never touches this
//! machine's clock), one analyzer with its wall clock shifted by `faketime`, one without: the
//! shifted one measures the shift and its corrected absolute latency is the unshifted one's.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The shift given to the analyzer's clock (µs): it reads 3 s ahead of the true time.
const SHIFT_US: i64 = 3_000_000;

/// chronyd serving its own (the system's) clock at stratum 8 on a free port, killed on drop.
struct Chrony {
    port: u16,
    child: Child,
}

impl Drop for Chrony {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chrony(dir: &Path) -> Chrony {
    let port = free_port(true);
    let conf = dir.join("chrony.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 8\ncmdport 0\n\
             user root\npidfile {d}/chronyd.pid\ndriftfile {d}/drift\n",
            d = dir.display()
        ),
    )
    .unwrap();
    // -x: never control the system clock; -d: foreground (killed by PID); -U: no root check.
    let child = Command::new("chronyd")
        .args(["-x", "-d", "-U", "-f"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chronyd");
    let c = Chrony { port, child };
    // Ready when it answers.
    let server: clocksync::Server = format!("127.0.0.1:{port}").parse().unwrap();
    let now = || chrono::Utc::now().timestamp_micros();
    let deadline = Instant::now() + Duration::from_secs(10);
    while clocksync::measure(std::slice::from_ref(&server), 1, &now).is_err() {
        assert!(
            Instant::now() < deadline,
            "chronyd did not answer on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    c
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn udp(port: u16) -> String {
    format!("udp://127.0.0.1:{port}?fifo_size=100000&overrun_nonfatal=1")
}

fn p50(s: &Value) -> f64 {
    stream(s, "live1")["latency_ms"]["p50"]
        .as_f64()
        .unwrap_or_else(|| panic!("{s}"))
}

#[test]
fn a_shifted_clock_is_measured_and_its_latency_corrected() {
    if !require("ffmpeg") || !require("chronyd") || !require("faketime") {
        return;
    }
    let dir = tmp();
    let ntp = chrony(dir.path());
    let server = format!("127.0.0.1:{}", ntp.port);
    let (a, b) = (free_port(true), free_port(true));
    let (plain, shifted) = (dir.path().join("plain"), dir.path().join("shifted"));
    let sync_file = dir.path().join("publisher-sync.json");
    let analyze = |out: &Path, port: u16| {
        let mut c = bin();
        c.args(["analyze", "--live", &udp(port), "--duration", "7s", "--out"])
            .arg(out);
        c
    };
    let unshifted = spawn(&mut analyze(&plain, a));
    // The same analyzer under faketime: every clock read of it and its ffmpeg is 3 s ahead
    // (the monotonic clock is left alone).
    let mut cmd = Command::new("faketime");
    cmd.env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .args(["-f", &format!("+{}s", SHIFT_US / 1_000_000)])
        .arg(env!("CARGO_BIN_EXE_streamscope"))
        .args(["analyze", "--live", &udp(b), "--duration", "7s", "--out"])
        .arg(&shifted)
        .args(["--ntp", &server, "--publisher-sync"])
        .arg(&sync_file);
    let shifted_run = spawn(&mut cmd);
    std::thread::sleep(Duration::from_millis(1000));
    // One encode to both analyzers, its capture clock synced to the same server.
    let publisher = run(bin()
        .args([
            "publish",
            "--size",
            "640x360",
            "--gop",
            "1s",
            "--duration",
            "4s",
        ])
        .args(["--ntp", &server, "--sync-out"])
        .arg(&sync_file)
        .args(["--to", &format!("udp://127.0.0.1:{a}?pkt_size=1316")])
        .args(["--to", &format!("udp://127.0.0.1:{b}?pkt_size=1316")]));
    assert!(publisher.status.success(), "{}", publisher.stderr);
    let r1 = wait_with_timeout(unshifted, Duration::from_secs(40));
    let r2 = wait_with_timeout(shifted_run, Duration::from_secs(40));
    assert!(r1.status.success(), "{}", r1.stderr);
    assert!(r2.status.success(), "{}", r2.stderr);
    let (s1, s2) = (summary_json(&plain), summary_json(&shifted));

    // The shifted analyzer measured its shift within 2 ms.
    let sync = &s2["clock_sync"];
    let analyzer = &sync["analyzer"]["latest"];
    let offset = analyzer["offset_us"].as_i64().unwrap();
    assert!(
        (offset + SHIFT_US).abs() <= 2_000,
        "offset {offset} µs: {sync}"
    );
    assert_eq!(analyzer["server"], server.as_str());
    assert_eq!(analyzer["samples"], 8);
    let u_analyzer = analyzer["uncertainty_us"].as_i64().unwrap();
    assert!(u_analyzer > 0 && u_analyzer < 2_000, "{sync}");
    // The publisher's sync came through its file; together they bound absolute latency.
    let publisher = &sync["publisher"]["latest"];
    assert!(
        publisher["offset_us"].as_i64().unwrap().abs() < 2_000,
        "{sync}"
    );
    let bound_ms = sync["latency_uncertainty_ms"].as_f64().unwrap();
    let u_publisher = publisher["uncertainty_us"].as_i64().unwrap();
    assert_eq!(bound_ms, (u_analyzer + u_publisher) as f64 / 1e3, "{sync}");
    assert!(
        sync["note"].as_str().unwrap().starts_with(&format!(
            "absolute latency ± {bound_ms:.3} ms: analyzer synced to {server}"
        )),
        "{sync}"
    );

    // Corrected, the shifted analyzer's latency is the unshifted one's: within the stated
    // bound plus what two analyzers on two cores differ by anyway (each stamps its own
    // packets at its own demuxer; 5 ms). Uncorrected it would be 3 s off.
    let (l1, l2) = (p50(&s1), p50(&s2));
    eprintln!(
        "measured offset {offset} µs (shift {}), bound ± {bound_ms} ms; latency p50 unshifted \
         {l1} ms, shifted and corrected {l2} ms",
        -SHIFT_US
    );
    assert!(
        (l1 - l2).abs() <= bound_ms + 5.0,
        "unshifted p50 {l1} ms, shifted and corrected {l2} ms, bound ± {bound_ms} ms"
    );
    // The unshifted run says what its absolute latency assumes.
    assert_eq!(s1["clock_sync"]["latency_uncertainty_ms"], Value::Null);
    assert_eq!(
        s1["clock_sync"]["note"],
        "absolute latency assumes synced clocks: analyzer not synced, publisher not synced \
         (publish --ntp --sync-out FILE, then analyze --publisher-sync FILE)"
    );
    // report.html states the bound.
    let page = std::fs::read_to_string(shifted.join("report.html")).unwrap();
    assert!(
        page.contains(&format!("latency p50 ms ± {bound_ms:.3}")),
        "summary header"
    );
    assert!(page.contains("analyzer synced to"), "clock sync row");
}

#[test]
fn an_unreachable_server_is_a_warning_and_the_run_goes_on_unsynced() {
    if !require("ffmpeg") {
        return;
    }
    let dir = tmp();
    let clip = generated_clip(dir.path(), "c.mp4", &[]);
    // A bound UDP socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = format!("127.0.0.1:{}", silent.local_addr().unwrap().port());
    let out = dir.path().join("run");
    let r = run(bin()
        .args([
            "analyze",
            "--live",
            path_str(&clip),
            "--ntp",
            &server,
            "--out",
        ])
        .arg(&out));
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("clock sync failed"), "{}", r.stderr);
    assert!(r.stderr.contains(&server), "{}", r.stderr);
    let s = summary_json(&out);
    let sync = &s["clock_sync"];
    assert_eq!(sync["analyzer"]["failures"], 1, "{sync}");
    assert_eq!(sync["analyzer"]["latest"], Value::Null, "{sync}");
    assert!(
        sync["note"]
            .as_str()
            .unwrap()
            .contains("analyzer not synced (no NTP server answered: 127.0.0.1:"),
        "{sync}"
    );
    assert!(stream(&s, "live1")["frames_received"].as_u64().unwrap() > 0);
}

#[test]
fn ntp_is_refused_where_it_means_nothing() {
    let r = run(bin().args(["analyze", "--live", "x.mp4", "--ntp", "host:0"]));
    assert_eq!(r.status.code(), Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("HOST[:PORT]"), "{}", r.stderr);
    let r = run(bin().args([
        "analyze",
        "--live",
        "x.mp4",
        "--ntp",
        "127.0.0.1",
        "--clock",
        "pts",
        "--start-time",
        "2026-01-01T00:00:00Z",
    ]));
    assert_eq!(r.status.code(), Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--clock pts"), "{}", r.stderr);
}
