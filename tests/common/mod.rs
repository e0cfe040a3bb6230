//! Helpers shared by the end-to-end tests: tool checks, running the binary with a timeout,
//! decoding frames and timecodes through real ffmpeg, ffprobe as JSON.
#![allow(dead_code)]

pub mod browser;
pub mod nginx;
pub mod postgres;
pub mod s3;
pub mod serve;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use analyzer::{GrayFrame, QrMiss, decode_timecode};
use generator::Timecode;
use serde_json::Value;

/// Every file under `dir`, recursively (none when `dir` is missing).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(files_under(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// `found`, or why the test does without `what`: missing, it fails the test under CI=true and
/// skips it elsewhere (for tools found by path rather than run by name, as `require` does).
pub fn required(found: Option<PathBuf>, what: &str) -> Option<PathBuf> {
    if found.is_none() {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "{what} is required under CI=true but is not installed (scripts/setup.sh installs it)"
        );
        eprintln!("SKIPPED: {what} not installed (required when CI=true)");
    }
    found
}

/// A tool `scripts/setup.sh` installed in its Python venv (`$STREAMSCOPE_VENV`, else
/// `~/.cache/streamscope/venv`), through `required`.
pub fn venv_tool(name: &str) -> Option<PathBuf> {
    let venv = std::env::var_os("STREAMSCOPE_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/streamscope/venv"))
        });
    let exe = venv
        .map(|v| v.join("bin").join(name))
        .filter(|p| p.is_file());
    required(exe, name)
}

/// Shaka Packager as `scripts/setup.sh` installs it (`$STREAMSCOPE_PACKAGER`, else
/// `~/.cache/streamscope/bin/packager`, else `packager` on PATH), through `required`.
pub fn packager() -> Option<PathBuf> {
    let home =
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/streamscope/bin/packager"));
    let found = std::env::var_os("STREAMSCOPE_PACKAGER")
        .map(PathBuf::from)
        .into_iter()
        .chain(home)
        .find(|p| p.is_file())
        .or_else(|| generator::process::locate("packager", None).ok());
    required(found, "Shaka Packager")
}

/// True when the tool runs. Missing tools fail the test under CI=true and skip it elsewhere.
pub fn require(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg(match tool {
            "nginx" | "chronyd" => "-v",
            "curl" | "python3" => "--version",
            "faketime" => "--version",
            _ => "-version",
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{tool} is required under CI=true but is not installed");
        }
        eprintln!("SKIPPED: {tool} not installed (it is required when CI=true)");
    }
    ok
}

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_streamscope"))
}

pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

fn read_all(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// Send SIGINT to process `pid`, as a terminal's Ctrl-C would.
pub fn interrupt(pid: u32) {
    let sent = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(sent, "kill -INT {pid}");
}

/// Wait for a spawned child (stdout/stderr piped), killing it after `limit`.
pub fn wait_with_timeout(mut child: Child, limit: Duration) -> Run {
    let out = read_all(child.stdout.take().expect("piped stdout"));
    let err = read_all(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "command did not finish within {limit:?}; stderr: {}",
                err.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Run a command to completion (2 min limit) capturing its output.
pub fn run(cmd: &mut Command) -> Run {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_with_timeout(child, Duration::from_secs(120))
}

/// ffmpeg, quiet (`-v error`), without stdin, overwriting outputs; add the rest.
pub fn ffmpeg_cmd() -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-v", "error", "-nostdin", "-y"]);
    c
}

/// A plain H.264 clip (no timecode) of ffmpeg's lavfi `source` for `seconds`, with `extra`
/// output options; its path.
pub fn lavfi_clip(out: &Path, source: &str, seconds: &str, extra: &[&str]) -> PathBuf {
    run_ok(
        ffmpeg_cmd()
            .args(["-f", "lavfi", "-i", source, "-t", seconds])
            .args(extra)
            .args(["-c:v", "libx264", "-pix_fmt", "yuv420p"])
            .arg(out),
    );
    out.to_path_buf()
}

/// Run `cmd` (2 min limit); it must succeed.
pub fn run_ok(cmd: &mut Command) -> Run {
    let r = run(cmd);
    assert!(r.status.success(), "{cmd:?} failed: {}", r.stderr);
    r
}

/// `streamscope ARGS…`, which must succeed.
pub fn streamscope_ok(args: &[&str]) -> Run {
    let r = run(bin().args(args));
    assert!(
        r.status.success(),
        "streamscope {args:?} failed: {}",
        r.stderr
    );
    r
}

/// Every frame's luma plane of `file`, decoded by ffmpeg (`extractplanes=y` keeps the values
/// untouched; `-pix_fmt gray` would rescale them).
pub fn luma_frames(file: &Path, width: usize, height: usize) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(file)
        .args([
            "-map",
            "0:v:0",
            "-vf",
            "extractplanes=y",
            "-f",
            "rawvideo",
            "pipe:1",
        ])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg decode failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len() % (width * height), 0, "partial frame");
    out.stdout
        .chunks(width * height)
        .map(<[u8]>::to_vec)
        .collect()
}

/// The timecode of every frame of `file`, in decode order.
pub fn timecodes(file: &Path, width: usize, height: usize) -> Vec<Result<Timecode, QrMiss>> {
    luma_frames(file, width, height)
        .iter()
        .map(|f| decode_timecode(GrayFrame::new(width, height, f).unwrap()))
        .collect()
}

/// `ffprobe -show_streams -show_format` as JSON.
pub fn ffprobe(target: &Path, extra: &[&str]) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .args(extra)
        .arg(target)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}

/// Names of the top-level MP4 boxes in file order.
pub fn mp4_top_level_boxes(file: &Path) -> Vec<String> {
    let data = std::fs::read(file).expect("read mp4");
    let mut boxes = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= data.len() {
        let size = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as u64;
        let name = String::from_utf8_lossy(&data[pos + 4..pos + 8]).into_owned();
        let size = match size {
            1 => u64::from_be_bytes(data[pos + 8..pos + 16].try_into().unwrap()),
            0 => (data.len() - pos) as u64,
            s => s,
        };
        boxes.push(name);
        pos += size as usize;
    }
    boxes
}

/// `streamscope generate` of a 3 s, 640x360, 30 fps clip without audio (x264 ultrafast) into
/// `dir/name`, with `extra` arguments.
pub fn generated_clip(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut args = vec![
        "generate",
        "--out",
        path_str(&out),
        "--duration",
        "3s",
        "--size",
        "640x360",
        "--no-audio",
        "--preset",
        "ultrafast",
    ];
    args.extend(extra);
    streamscope_ok(&args);
    out
}

/// A 2 s MPEG-TS stream starting at `start`: second 1 at 1280x720, second 2 as a 640x360
/// rendition (as an ABR player switching down would deliver), in `dir/switch.ts`.
pub fn resolution_switch(dir: &Path, start: &str) -> PathBuf {
    let hd = dir.join("hd.mp4");
    streamscope_ok(&[
        "generate",
        "--out",
        path_str(&hd),
        "--duration",
        "2s",
        "--size",
        "1280x720",
        "--no-audio",
        "--start-time",
        start,
        "--preset",
        "ultrafast",
        "--gop",
        "1s",
    ]);
    let first = dir.join("a.ts");
    let second = dir.join("b.ts");
    let encode = ["-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts"];
    run_ok(
        ffmpeg_cmd()
            .arg("-i")
            .arg(&hd)
            .args(["-t", "1"])
            .args(encode)
            .arg(&first),
    );
    run_ok(
        ffmpeg_cmd()
            .args(["-ss", "1", "-i"])
            .arg(&hd)
            .args(["-vf", "scale=640:360", "-output_ts_offset", "1"])
            .args(encode)
            .arg(&second),
    );
    let joined = dir.join("switch.ts");
    let mut bytes = std::fs::read(&first).unwrap();
    bytes.extend(std::fs::read(&second).unwrap());
    std::fs::write(&joined, bytes).unwrap();
    joined
}

/// The code area of a default 640x360 clip: (x, y, w, h).
pub fn code_area() -> (u32, u32, u32, u32) {
    let size = generator::PictureSize {
        width: 640,
        height: 360,
    };
    let b = generator::overlay::Layout::new(size, &generator::Placement::default())
        .unwrap()
        .qr_box;
    (b.x, b.y, b.w, b.h)
}

/// The summary entry of stream `name`.
pub fn stream<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {summary}"))
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

pub fn join(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// A run's `summary.json`.
pub fn summary_json(out: &Path) -> serde_json::Value {
    let path = out.join("summary.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A port free on 127.0.0.1 right now (UDP or TCP).
pub fn free_port(udp: bool) -> u16 {
    if udp {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    } else {
        let s = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    }
}

/// Re-encode `src` through an ffmpeg video filter at x264 `crf` (timestamps passed through
/// untouched): clips with known drops, repeats or delays.
pub fn impair(src: &Path, filter: &str, crf: &str, out: &Path) -> PathBuf {
    run_ok(
        ffmpeg_cmd()
            .arg("-i")
            .arg(src)
            .args(["-vf", filter, "-fps_mode", "passthrough"])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-crf", crf])
            .arg(out),
    );
    out.to_path_buf()
}

/// A tmpfs of `kib` KiB mounted on a fresh folder, unmounted when dropped: a disk that fills
/// up for real. None (skipped) where mounting is not allowed, but under CI=true.
pub struct SmallDisk(pub tempfile::TempDir);

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

pub fn small_disk(kib: u32) -> Option<SmallDisk> {
    let dir = tmp();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
        .arg(dir.path())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "mounting a tmpfs (a disk that fills up) is required under CI=true"
        );
        eprintln!("SKIPPED: cannot mount a tmpfs here");
        return None;
    }
    Some(SmallDisk(dir))
}

/// Send `clip` once over UDP in real time (for at most `secs` seconds when given).
pub fn send_udp(clip: &Path, port: u16, secs: Option<&str>) -> std::process::Child {
    let mut c = Command::new("ffmpeg");
    c.args(["-v", "error", "-nostdin", "-re", "-i"]).arg(clip);
    if let Some(t) = secs {
        c.args(["-t", t]);
    }
    c.args([
        "-c",
        "copy",
        "-f",
        "mpegts",
        "-muxdelay",
        "0",
        "-muxpreload",
        "0",
    ])
    .arg(format!("udp://127.0.0.1:{port}?pkt_size=1316"))
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap()
}
