//! No ffmpeg outlives streamscope, however streamscope ends (a panic, `exit`, SIGKILL): every
//! ffmpeg runs in a process group of its own (so a terminal's Ctrl-C reaches streamscope
//! first), and a small watchdog process — `sh`, started once, in its own group — holds the list
//! of those groups. streamscope keeps the watchdog's stdin open; the kernel closes it when
//! streamscope dies, whatever the cause, and the watchdog then kills every group still listed.

use std::io::Write;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use std::os::unix::process::CommandExt;

/// Reads `+PGID` (watch) and `-PGID` (release) lines; at the end of its input (streamscope is
/// gone) kills every group still watched. (Debian's `sh` is dash: `kill -9 -PGID`, no `--`.)
const WATCHDOG: &str = r#"set -f
groups=" "
while IFS= read -r line; do
  case "$line" in
    +*) groups="$groups${line#+} " ;;
    -*) groups=$(printf '%s' "$groups" | sed "s/ ${line#-} / /") ;;
  esac
done
for g in $groups; do kill -9 "-$g" 2>/dev/null; done
"#;

fn watchdog() -> &'static Mutex<Option<ChildStdin>> {
    static WATCHDOG_STDIN: OnceLock<Mutex<Option<ChildStdin>>> = OnceLock::new();
    WATCHDOG_STDIN.get_or_init(|| {
        let child = Command::new("sh")
            .args(["-c", WATCHDOG])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        match child {
            // The child handle is dropped, not waited for: the watchdog lives as long as
            // streamscope and ends with it.
            Ok(mut c) => Mutex::new(c.stdin.take()),
            Err(e) => {
                tracing::warn!("no watchdog for ffmpeg processes (sh: {e}): a killed streamscope may leave them running");
                Mutex::new(None)
            }
        }
    })
}

fn tell(line: &str) {
    if let Ok(mut stdin) = watchdog().lock()
        && let Some(s) = stdin.as_mut()
        && writeln!(s, "{line}").and_then(|()| s.flush()).is_err()
    {
        *stdin = None;
    }
}

/// Kill process group `pgid` if streamscope dies before `release`.
pub fn watch(pgid: u32) {
    tell(&format!("+{pgid}"));
}

/// Group `pgid` has ended (or was killed and reaped): forget it.
pub fn release(pgid: u32) {
    tell(&format!("-{pgid}"));
}
