//! What the live tests share: nginx with the RTMP module (RTMP in, HLS out) started on free
//! ports in a temp folder, children killed when the test ends, one timing test at a time, and
//! `analyze` started in the background.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{bin, free_port, path_str, require, tmp};

/// A child process killed when the test ends, whatever happens.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn spawn(cmd: &mut Command) -> Running {
    Running(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// nginx with the RTMP module, on free ports, in a temp folder.
pub struct Nginx {
    pub rtmp: u16,
    pub http: u16,
    _process: Running,
}

pub fn nginx(dir: &Path) -> Nginx {
    nginx_on(dir, free_port(false), free_port(false))
}

/// nginx on the given ports (a test that must start it after a client is already trying).
pub fn nginx_on(dir: &Path, rtmp: u16, http: u16) -> Nginx {
    for d in ["hls", "tmp", "files"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let conf = include_str!("../fixtures/nginx-rtmp.conf")
        .replace("@DIR@", path_str(dir))
        .replace("@RTMP_PORT@", &rtmp.to_string())
        .replace("@HTTP_PORT@", &http.to_string());
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let process = spawn(
        Command::new("nginx")
            .args(["-p", path_str(dir), "-c"])
            .arg(&path)
            .args(["-e", path_str(&dir.join("error.log"))]),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", rtmp)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not start: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Nginx {
        rtmp,
        http,
        _process: process,
    }
}

/// These tests measure time on a 2-core machine: one at a time, so they do not skew each other.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The serial lock, a temp folder and nginx in it; None when ffmpeg or nginx is missing
/// (outside CI, where `require` fails the test instead).
pub fn with_nginx() -> Option<(std::sync::MutexGuard<'static, ()>, tempfile::TempDir, Nginx)> {
    let serial = serial();
    if !require("ffmpeg") || !require("nginx") {
        return None;
    }
    let dir = tmp();
    let n = nginx(dir.path());
    Some((serial, dir, n))
}

/// `streamscope analyze --out OUT ARGS…`, started in the background.
pub fn start_analyze(out: &Path, args: &[&str]) -> Child {
    bin()
        .args(["analyze", "--out", path_str(out)])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}
