//! A real PostgreSQL for the tests (Debian's `postgresql-15`): `initdb` in a temp folder and
//! `postgres` on 127.0.0.1 and a free port (optionally TLS only, with openssl's certificate), run as the `postgres` user when the tests run as
//! root (PostgreSQL refuses root), stopped by PID on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian puts PostgreSQL's server programs (`/usr/lib/postgresql/N/bin`), newest first;
/// else `postgres` on PATH.
pub fn bindir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("postgres").is_file() && b.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop().or_else(|| {
        let out = Command::new("sh")
            .args(["-c", "command -v postgres"])
            .output()
            .ok()?;
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        p.parent().map(Path::to_path_buf)
    })
}

/// A running PostgreSQL, killed on drop.
pub struct Postgres {
    child: Child,
    _dir: tempfile::TempDir,
    /// `postgres://streamscope@127.0.0.1:PORT/postgres` (trust authentication, local only).
    pub url: String,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGTERM: a "smart" shutdown would wait for clients; SIGINT is the fast one.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program` as the `postgres` user when root (setpriv execs it: its PID is the server's).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--reset-env",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    /// initdb a fresh cluster and start it on a free port.
    pub fn start(bin: &Path) -> Postgres {
        Self::start_with(bin, false)
    }

    /// As `start`, but TLS only: a self-signed certificate (openssl) and a `pg_hba.conf` that
    /// refuses every connection not over TLS.
    pub fn start_tls(bin: &Path) -> Postgres {
        Self::start_with(bin, true)
    }

    fn start_with(bin: &Path, tls: bool) -> Postgres {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown to postgres (is the postgres user there?)");
        }
        let out = as_postgres(&bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args([
                "-U",
                "streamscope",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut settings = vec!["-c", "fsync=off", "-c", "max_connections=200"];
        if tls {
            let ok = Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                ])
                .args(["-subj", "/CN=127.0.0.1", "-keyout"])
                .arg(data.join("server.key"))
                .arg("-out")
                .arg(data.join("server.crt"))
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success();
            assert!(ok, "openssl made no certificate");
            std::fs::write(
                data.join("pg_hba.conf"),
                "hostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
            )
            .unwrap();
            if is_root() {
                let ok = Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(data.join("server.key"))
                    .arg(data.join("server.crt"))
                    .arg(data.join("pg_hba.conf"))
                    .status()
                    .unwrap()
                    .success();
                assert!(ok);
            }
            let ok = Command::new("chmod")
                .arg("600")
                .arg(data.join("server.key"))
                .status()
                .unwrap()
                .success();
            assert!(ok);
            settings.extend(["-c", "ssl=on"]);
        }
        let port = super::free_port(false);
        let log = std::fs::File::create(dir.path().join("postgres.log")).unwrap();
        let child = as_postgres(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-k"])
            .arg(dir.path())
            .args(&settings)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let pg = Postgres {
            child,
            url: format!("postgres://streamscope@127.0.0.1:{port}/postgres"),
            _dir: dir,
        };
        let started = Instant::now();
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return pg;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "postgres did not start: {}",
                std::fs::read_to_string(pg._dir.path().join("postgres.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
