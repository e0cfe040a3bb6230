//! A real S3 endpoint for the tests: moto's server (PyPI, installed by `scripts/setup.sh` in
//! its own venv) on 127.0.0.1 and a free port, stopped by PID; a bucket made in it; objects
//! listed, read and their headers taken straight from it, signed as any S3 client signs
//! (curl's `--aws-sigv4`: a private bucket answers anonymous reads with 403).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// moto's `moto_server`, from the venv `scripts/setup.sh` makes.
pub fn moto_server() -> Option<PathBuf> {
    super::venv_tool("moto_server")
}

/// A running moto server, killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The credentials and region `serve` reads (moto takes any).
pub const AWS_ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "streamscope-test"),
    ("AWS_SECRET_ACCESS_KEY", "streamscope-test-secret"),
    ("AWS_REGION", "us-east-1"),
];

impl Moto {
    /// Start moto on a free port and make `bucket` in it.
    pub fn start(exe: &std::path::Path, bucket: &str) -> Moto {
        let port = super::free_port(false);
        let child = Command::new(exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let made = Command::new("curl")
            .args(["-sSf", "-X", "PUT", &format!("{}/{bucket}", moto.endpoint)])
            .output()
            .unwrap();
        assert!(made.status.success(), "making bucket {bucket}: {made:?}");
        moto
    }

    /// curl with the test credentials, signing for S3.
    fn curl(&self) -> Command {
        let mut c = Command::new("curl");
        c.args(["-sSf", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
            .arg(format!("{}:{}", AWS_ENV[0].1, AWS_ENV[1].1));
        c
    }

    /// Every key under `prefix` in `bucket`, with its size.
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<(String, u64)> {
        let out = self
            .curl()
            .args(["-G", &format!("{}/{bucket}", self.endpoint)])
            .args(["--data-urlencode", "list-type=2"])
            .args(["--data-urlencode", &format!("prefix={prefix}")])
            .args(["--data-urlencode", "max-keys=1000"])
            .output()
            .unwrap();
        assert!(out.status.success(), "listing {bucket}: {out:?}");
        let xml = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!xml.contains("<IsTruncated>true"), "more than 1000 keys");
        xml.split("<Contents>")
            .skip(1)
            .map(|c| {
                let field = |name: &str| {
                    let open = format!("<{name}>");
                    let from = c.find(&open).unwrap() + open.len();
                    c[from..from + c[from..].find('<').unwrap()].to_owned()
                };
                (field("Key"), field("Size").parse().unwrap())
            })
            .collect()
    }

    /// The response headers of a HEAD of `key`, names lower-cased.
    pub fn head(&self, bucket: &str, key: &str) -> String {
        let out = self
            .curl()
            .args(["-I", &format!("{}/{bucket}/{key}", self.endpoint)])
            .output()
            .unwrap();
        assert!(out.status.success(), "HEAD {key}: {out:?}");
        String::from_utf8_lossy(&out.stdout).to_lowercase()
    }

    /// The object's bytes.
    pub fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let out = self
            .curl()
            .arg(format!("{}/{bucket}/{key}", self.endpoint))
            .output()
            .unwrap();
        assert!(out.status.success(), "GET {key}: {out:?}");
        out.stdout
    }
}
