//! nginx with the RTMP module (RTMP in, HLS out) started by a test on free ports in a temp
//! folder, and children killed when the test ends.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, path_str};

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
