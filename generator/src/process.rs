//! Spawning ffmpeg: locating the binary, draining stderr on its own thread, killing the child
//! on drop, and turning a failed run into an error that names the command and its last words.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use ffmpeg_sidecar::child::FfmpegChild;
use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};
use ffmpeg_sidecar::log_parser::FfmpegLogParser;

use crate::Error;

/// Lines of stderr kept for error messages.
const TAIL_LINES: usize = 12;

/// A failed ffmpeg run: the command, how it ended and the tail of what it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfmpegFailure {
    pub command: String,
    pub status: String,
    pub stderr_tail: Vec<String>,
}

impl std::fmt::Display for FfmpegFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ffmpeg {}: {}", self.status, self.command)?;
        if self.stderr_tail.is_empty() {
            write!(f, "\n  (it printed nothing on stderr)")
        } else {
            write!(f, "\n  last lines of its stderr:")?;
            for line in &self.stderr_tail {
                write!(f, "\n  | {line}")?;
            }
            Ok(())
        }
    }
}

/// Find `name` (ffmpeg, ffprobe) : an explicit path if given, else on `PATH`.
pub fn locate(name: &str, explicit: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(Error::ToolMissing {
                tool: name.to_owned(),
                hint: format!("at {} (no such file)", p.display()),
            })
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::ToolMissing {
            tool: name.to_owned(),
            // Debian's ffmpeg package ships both ffmpeg and ffprobe.
            hint: "on PATH — install it: apt-get install ffmpeg".to_owned(),
        })
}

/// The first line of `program -version` up to its copyright (`ffmpeg version 5.1.8-0+deb12u1`),
/// for run metadata; `None` when it cannot be run.
pub fn version_line(program: &Path) -> Option<String> {
    let out = std::process::Command::new(program)
        .arg("-version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next()?.trim();
    let line = line.split(" Copyright").next().unwrap_or(line).trim();
    (!line.is_empty()).then(|| line.to_owned())
}

/// Quote an argv for display so it can be pasted into a shell, content keys hidden: the value
/// after `-encryption_key` / `-decryption_key` (ffmpeg) and every `key=` of a packager's key
/// spec become `[key]`, so no log line or error message ever carries one.
pub fn shell_line<I, S>(program: &Path, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let args = redact_keys(&args);
    let quote = |s: &str| {
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@%".contains(c))
        {
            s.to_owned()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    std::iter::once(quote(&program.to_string_lossy()))
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The options whose value is a content key: ffmpeg's, and streamscope's own (its command
/// line is recorded in run folders).
const KEY_OPTIONS: [&str; 3] = ["-encryption_key", "-decryption_key", "--decryption-key"];

/// `args` with every content key replaced by `[key]` (see `shell_line`).
pub fn redact_keys(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut secret_next = false;
    for a in args {
        if secret_next {
            out.push("[key]".to_owned());
        } else if a.starts_with("--decryption-key=") {
            out.push("--decryption-key=[key]".to_owned());
        } else {
            // A packager key spec: `label=…:key_id=…:key=…` (also `--keys=…`).
            let parts: Vec<String> = a
                .split(':')
                .map(|part| match part.split_once("key=") {
                    Some((before, _)) if before.is_empty() || before.ends_with('=') => {
                        format!("{before}key=[key]")
                    }
                    _ => part.to_owned(),
                })
                .collect();
            out.push(parts.join(":"));
        }
        secret_next = KEY_OPTIONS.contains(&a.as_str());
    }
    out
}

/// Called on the stderr thread with every event ffmpeg's log yields (stream info, log lines).
/// Returns true when it consumed the event: a line of data the caller asked ffmpeg for
/// (per-frame or per-packet lines), kept out of the stderr tail that error messages quote.
pub type EventHook = Box<dyn FnMut(&FfmpegEvent) -> bool + Send>;

/// A running ffmpeg. Killed (and reaped) on drop unless `finish` was called.
pub struct FfmpegProcess {
    child: FfmpegChild,
    /// Its process id, which is also its process group's (watched by `reaper`).
    pid: u32,
    command: String,
    tail: Arc<Mutex<Tail>>,
    drain: Option<JoinHandle<()>>,
    finished: bool,
}

impl FfmpegProcess {
    /// Start `ffmpeg argv…` with piped stdin/stdout/stderr in its own process group, so a
    /// terminal's Ctrl-C reaches streamscope, which then ends its children in order.
    pub fn spawn(ffmpeg: &Path, argv: &[String]) -> Result<Self, Error> {
        Self::spawn_with_hook(ffmpeg, argv, None)
    }

    /// `spawn`, passing every stderr event to `hook` as well.
    pub fn spawn_with_hook(
        ffmpeg: &Path,
        argv: &[String],
        hook: Option<EventHook>,
    ) -> Result<Self, Error> {
        let mut cmd = FfmpegCommand::new_with_path(ffmpeg);
        cmd.args(argv);
        cmd.as_inner_mut().process_group(0).stdin(Stdio::piped());
        let command = shell_line(ffmpeg, cmd.as_inner().get_args());
        tracing::debug!(%command, "spawning ffmpeg");
        let mut child = cmd.spawn().map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::ToolMissing {
                    tool: "ffmpeg".into(),
                    hint: format!(
                        "at {} — install it: apt-get install ffmpeg",
                        ffmpeg.display()
                    ),
                }
            } else {
                Error::Spawn {
                    command: command.clone(),
                    source,
                }
            }
        })?;
        let pid = child.as_inner().id();
        crate::reaper::watch(pid);
        let tail = Arc::new(Mutex::new(Tail::default()));
        let drain = child.take_stderr().map(|stderr| {
            let tail = Arc::clone(&tail);
            std::thread::Builder::new()
                .name("ffmpeg-stderr".into())
                .spawn(move || drain_stderr(stderr, &tail, hook))
                .expect("spawning a thread")
        });
        Ok(Self {
            child,
            pid,
            command,
            tail,
            drain,
            finished: false,
        })
    }

    /// The command line, quoted for a shell.
    pub fn command(&self) -> &str {
        &self.command
    }

    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.take_stdin()
    }

    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.take_stdout()
    }

    /// Whether ffmpeg has exited (its status is kept for `finish`).
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.as_inner_mut().try_wait(), Ok(None))
    }

    /// Kill ffmpeg (e.g. to unblock a reader at a deadline); `finish` then reports it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }

    /// Wait for ffmpeg to exit; a non-zero exit becomes `Error::Ffmpeg` with its stderr tail.
    pub fn finish(mut self) -> Result<(), Error> {
        self.finished = true;
        let status = self.child.wait().map_err(|source| Error::Spawn {
            command: self.command.clone(),
            source,
        })?;
        crate::reaper::release(self.pid);
        if let Some(h) = self.drain.take() {
            let _ = h.join();
        }
        if status.success() {
            Ok(())
        } else {
            Err(Error::Ffmpeg {
                stage: "running ffmpeg",
                failure: self.failure(&status.to_string()),
            })
        }
    }

    /// `finish`, unless `cancel` turns true first: then ffmpeg is killed and the error says
    /// `why` (checked every 100 ms).
    pub fn finish_unless(mut self, cancel: &AtomicBool, why: &str) -> Result<(), Error> {
        loop {
            match self.child.as_inner_mut().try_wait() {
                Ok(Some(_)) | Err(_) => return self.finish(),
                Ok(None) if cancel.load(Ordering::Relaxed) => {
                    return Err(Error::Ffmpeg {
                        stage: "cancelled",
                        failure: self.kill_with(why),
                    });
                }
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(100)),
            }
        }
    }

    /// Kill ffmpeg now and describe why, with what it printed so far (for "stopped early").
    pub fn kill_with(mut self, why: &str) -> FfmpegFailure {
        self.finished = true;
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::reaper::release(self.pid);
        if let Some(h) = self.drain.take() {
            let _ = h.join();
        }
        self.failure(why)
    }

    fn failure(&self, status: &str) -> FfmpegFailure {
        let tail = self.tail.lock().map(|t| t.lines()).unwrap_or_default();
        FfmpegFailure {
            command: self.command.clone(),
            status: status.to_owned(),
            stderr_tail: tail,
        }
    }
}

impl Drop for FfmpegProcess {
    fn drop(&mut self) {
        if !self.finished {
            tracing::debug!(command = %self.command, "killing ffmpeg");
            let _ = self.child.kill();
            let _ = self.child.wait();
            crate::reaper::release(self.pid);
        }
    }
}

/// Read ffmpeg's stderr to the end, logging it at debug level and keeping the last lines that
/// are not progress updates.
fn drain_stderr(
    stderr: std::process::ChildStderr,
    tail: &Mutex<Tail>,
    mut hook: Option<EventHook>,
) {
    let mut parser = FfmpegLogParser::new(stderr);
    let mut errors_in_a_row = 0;
    loop {
        let event = parser.parse_next_event();
        // The parser also fails on single odd lines; keep draining (a stalled stderr pipe
        // blocks ffmpeg) and give up only when reading itself keeps failing.
        if event.is_err() {
            errors_in_a_row += 1;
            if errors_in_a_row > 100 {
                break;
            }
            continue;
        }
        errors_in_a_row = 0;
        if let (Some(hook), Ok(e)) = (hook.as_mut(), &event)
            && hook(e)
        {
            continue;
        }
        let (line, error) = match event {
            Ok(FfmpegEvent::LogEOF) => break,
            Err(_) => continue,
            Ok(FfmpegEvent::Progress(_)) => continue,
            Ok(FfmpegEvent::Log(level, line)) => {
                let error = matches!(level, LogLevel::Error | LogLevel::Fatal);
                if error {
                    tracing::debug!(target: "ffmpeg", "{line}");
                } else {
                    tracing::trace!(target: "ffmpeg", "{line}");
                }
                (line, error)
            }
            // What ffmpeg printed, never Rust's debug form of the parsed event.
            Ok(other) => match raw_line(&other) {
                Some(l) => (l.to_owned(), false),
                None => continue,
            },
        };
        let line = strip_level(&line);
        if line.is_empty() {
            continue;
        }
        if let Ok(mut t) = tail.lock() {
            t.push(&line, error);
        }
    }
}

/// The last `TAIL_LINES` lines ffmpeg printed, its error lines kept over the others: the
/// reason ("No space left on device") is often followed by a dozen lines of encoder
/// statistics.
#[derive(Debug, Default)]
struct Tail(VecDeque<(bool, String)>);

impl Tail {
    fn push(&mut self, line: &str, error: bool) {
        if self.0.len() == TAIL_LINES {
            let oldest_plain = self.0.iter().position(|(e, _)| !e).unwrap_or(0);
            self.0.remove(oldest_plain);
        }
        self.0.push_back((error, line.to_owned()));
    }

    fn lines(&self) -> Vec<String> {
        self.0.iter().map(|(_, l)| l.clone()).collect()
    }
}

/// The line ffmpeg printed behind a parsed event.
fn raw_line(e: &FfmpegEvent) -> Option<&str> {
    Some(match e {
        FfmpegEvent::ParsedVersion(v) => &v.raw_log_message,
        FfmpegEvent::ParsedConfiguration(c) => &c.raw_log_message,
        FfmpegEvent::ParsedInput(i) => &i.raw_log_message,
        FfmpegEvent::ParsedOutput(o) => &o.raw_log_message,
        FfmpegEvent::ParsedDuration(d) => &d.raw_log_message,
        FfmpegEvent::ParsedInputStream(s) | FfmpegEvent::ParsedOutputStream(s) => {
            &s.raw_log_message
        }
        FfmpegEvent::ParsedStreamMapping(m) => m,
        FfmpegEvent::Error(e) => e,
        _ => return None,
    })
}

/// `[error] No such file` → `error: No such file`; `[info] x` → `x`.
fn strip_level(line: &str) -> String {
    let line = line.trim();
    for (tag, prefix) in [
        ("[info] ", ""),
        ("[warning] ", "warning: "),
        ("[error] ", "error: "),
        ("[fatal] ", "fatal: "),
    ] {
        if let Some(rest) = line.strip_prefix(tag) {
            return format!("{prefix}{rest}");
        }
    }
    line.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_keys_never_reach_a_command_line() {
        let key = "00112233445566778899aabbccddeeff";
        let line = shell_line(
            Path::new("ffmpeg"),
            [
                "-decryption_key",
                key,
                "-i",
                "in.mp4",
                "-encryption_key",
                key,
                "-encryption_kid",
                "0123",
                "out.mp4",
            ],
        );
        assert_eq!(
            line,
            "ffmpeg -decryption_key '[key]' -i in.mp4 -encryption_key '[key]' \
             -encryption_kid 0123 out.mp4"
        );
        let line = shell_line(
            Path::new("packager"),
            [
                "--keys",
                &format!("label=:key_id=0123:key={key}"),
                "http://h/p?key=1",
            ],
        );
        assert_eq!(
            line,
            "packager --keys 'label=:key_id=0123:key=[key]' 'http://h/p?key=1'"
        );
        let line = shell_line(
            Path::new("streamscope"),
            [
                "analyze",
                "--decryption-key",
                key,
                &format!("--decryption-key={key}"),
            ],
        );
        assert_eq!(
            line,
            "streamscope analyze --decryption-key '[key]' '--decryption-key=[key]'"
        );
    }

    #[test]
    fn shell_line_quotes_what_needs_it() {
        let line = shell_line(
            Path::new("/usr/bin/ffmpeg"),
            ["-i", "file:my clip.mp4", "-vf", "pad=2:2:(ow-iw)/2", "it's"],
        );
        assert_eq!(
            line,
            r"/usr/bin/ffmpeg -i 'file:my clip.mp4' -vf 'pad=2:2:(ow-iw)/2' 'it'\''s'"
        );
    }

    #[test]
    fn the_tail_keeps_the_error_lines_over_later_chatter() {
        let mut t = Tail::default();
        t.push("Input #0", false);
        t.push(
            "av_interleaved_write_frame(): No space left on device",
            true,
        );
        for i in 0..30 {
            t.push(&format!("[libx264] stats {i}"), false);
        }
        let lines = t.lines();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(
            lines[0],
            "av_interleaved_write_frame(): No space left on device"
        );
        assert_eq!(lines[TAIL_LINES - 1], "[libx264] stats 29");
        assert!(!lines.iter().any(|l| l == "Input #0"));
    }

    #[test]
    fn failure_names_command_and_tail() {
        let f = FfmpegFailure {
            command: "ffmpeg -i x".into(),
            status: "exit status: 1".into(),
            stderr_tail: vec!["error: x: No such file or directory".into()],
        };
        assert_eq!(
            f.to_string(),
            "ffmpeg exit status: 1: ffmpeg -i x\n  last lines of its stderr:\n  | error: x: No such file or directory"
        );
    }

    #[test]
    fn levels_are_stripped_for_people() {
        assert_eq!(strip_level("[error] boom"), "error: boom");
        assert_eq!(strip_level("[info] Stream #0"), "Stream #0");
        assert_eq!(strip_level("plain"), "plain");
    }

    #[test]
    fn explicit_missing_binary_is_named() {
        let e = locate("ffmpeg", Some(Path::new("/nonexistent/ffmpeg"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ffmpeg"), "{e}");
    }
}
