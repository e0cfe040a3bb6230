//! `streamscope serve` for the end-to-end tests: the binary on a free port (stopped by PID),
//! curl against it, polling an asset, response headers, keyframes, and a webhook receiver.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::bin;

/// A running `serve`, killed on drop.
pub struct Serve {
    pub child: Child,
    pub url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `serve` on a free port with the database and storage in `dir`; returns once it
/// printed where it listens.
pub fn serve(dir: &Path, extra: &[&str]) -> Serve {
    let db = format!("sqlite://{}", dir.join("db.sqlite").display());
    let storage = dir.join("data").display().to_string();
    let mut args = vec!["--database", &db, "--storage", &storage];
    args.extend_from_slice(extra);
    serve_with(&args)
}

/// Start `serve --listen 127.0.0.1:0 ARGS…`; returns once it printed where it listens.
pub fn serve_with(args: &[&str]) -> Serve {
    serve_env(args, &[])
}

/// `serve_with` with these environment variables set.
pub fn serve_env(args: &[&str], env: &[(&str, &str)]) -> Serve {
    spawn_serve(args, env, Stdio::inherit())
}

/// `serve` (as `serve` does it) with its log (stderr) written to `log`.
pub fn serve_logged(dir: &Path, extra: &[&str], log: &Path) -> Serve {
    let db = format!("sqlite://{}", dir.join("db.sqlite").display());
    let storage = dir.join("data").display().to_string();
    let mut args = vec!["--database", &db, "--storage", &storage];
    args.extend_from_slice(extra);
    spawn_serve(&args, &[], std::fs::File::create(log).unwrap().into())
}

/// `streamscope COMMAND ARGS…` with `env` and its log to `stderr`, and the first line it
/// prints (when it is ready).
fn spawn_ready(command: &[&str], env: &[(&str, &str)], stderr: Stdio) -> (Child, String) {
    let mut child = bin()
        .args(command)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

fn spawn_serve(args: &[&str], env: &[(&str, &str)], stderr: Stdio) -> Serve {
    let mut command = vec!["serve", "--listen", "127.0.0.1:0"];
    command.extend_from_slice(args);
    let (child, line) = spawn_ready(&command, env, stderr);
    let url = line
        .trim()
        .strip_prefix("serving on ")
        .unwrap_or_else(|| panic!("serve said {line:?}"))
        .to_owned();
    Serve { child, url }
}

/// `streamscope worker` on the database and storage of `serve(dir, …)`; returns once it said
/// it started (`url` is empty: a worker serves nothing).
pub fn worker(dir: &Path, extra: &[&str]) -> Serve {
    let db = format!("sqlite://{}", dir.join("db.sqlite").display());
    let storage = dir.join("data").display().to_string();
    let mut args = vec!["--database", &db, "--storage", &storage];
    args.extend_from_slice(extra);
    worker_with(&args, &[], Stdio::inherit())
}

/// `streamscope worker ARGS…` with these environment variables and its log to `stderr`;
/// returns once it said it started.
pub fn worker_with(args: &[&str], env: &[(&str, &str)], stderr: Stdio) -> Serve {
    let mut command = vec!["worker"];
    command.extend_from_slice(args);
    let (child, line) = spawn_ready(&command, env, stderr);
    assert!(line.starts_with("worker: "), "worker said {line:?}");
    Serve {
        child,
        url: String::new(),
    }
}

/// Poll the asset until its status is `status`; panics after `limit`.
pub fn wait_status(url: &str, id: &str, status: &str, limit: Duration) {
    let started = std::time::Instant::now();
    loop {
        let (_, a) = curl(&[&format!("{url}/api/v1/assets/{id}")]);
        if a["status"] == status {
            return;
        }
        assert!(started.elapsed() < limit, "never {status}: {a}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A user's upload: `dir/talk.mp4`, 3 s of 640x360 testsrc2 at 30 fps with a 440 Hz tone, AAC,
/// x264 ultrafast; `extra` output options after those.
pub fn talk_clip(dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:sample_rate=48000",
        "-t",
        "3",
        "-c:a",
        "aac",
        "-preset",
        "ultrafast",
    ];
    args.extend_from_slice(extra);
    super::lavfi_clip(
        &dir.join("talk.mp4"),
        "testsrc2=size=640x360:rate=30",
        "3",
        &args,
    )
}

/// `curl -F file=@FILE URL/api/v1/assets`: the status and the answer.
pub fn upload(url: &str, file: &Path) -> (u16, serde_json::Value) {
    curl(&[
        "-F",
        &format!("file=@{}", file.display()),
        &format!("{url}/api/v1/assets"),
    ])
}

pub fn curl(args: &[&str]) -> (u16, serde_json::Value) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, code) = text.rsplit_once('\n').unwrap();
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

pub fn sigterm(s: &mut Serve) -> std::process::ExitStatus {
    let pid = s.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    for _ in 0..100 {
        if let Some(status) = s.child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("serve did not stop within 10 s of SIGTERM");
}

/// Poll the asset until it is `ready` or `failed` (or `limit` passes); its last JSON.
pub fn settle(url: &str, id: &str, limit: Duration) -> serde_json::Value {
    let started = std::time::Instant::now();
    loop {
        let (_, a) = curl(&[&format!("{url}/api/v1/assets/{id}")]);
        let status = a["status"].as_str().unwrap_or("");
        if status == "ready" || status == "failed" || started.elapsed() > limit {
            return a;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The response headers of `url`, lower-cased names.
pub fn head(url: &str) -> String {
    let out = Command::new("curl").args(["-sSI", url]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_lowercase()
}

/// Keyframe times of a file's video (ffprobe, keyframes only).
pub fn keyframes(file: &Path) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-skip_frame",
            "nokey",
        ])
        .args(["-show_entries", "frame=pts_time", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_end_matches(',').to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// A request the webhook receiver got: (headers lower-cased, body).
pub type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook receiver on a free port that answers 500 to the first `fail` requests and 200
/// after; returns its URL and what it received.
pub fn receiver(fail: usize) -> (String, Received) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Received = Arc::default();
    let seen = got.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line.to_lowercase());
            }
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let n = {
                let mut g = seen.lock().unwrap();
                g.push((head, String::from_utf8(body).unwrap()));
                g.len()
            };
            let status = if n <= fail {
                "500 Internal Server Error"
            } else {
                "204 No Content"
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, got)
}

pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

/// The receiver's requests once it has `n` (or after 30 s).
pub fn wait_for(got: &Received, n: usize) -> Vec<(String, String)> {
    for _ in 0..300 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    got.lock().unwrap().clone()
}

pub fn hmac_hex(secret: &str, body: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}
