//! Claiming a run folder for one run: created if missing, locked against a second writer (a
//! second `analyze --out` into it would overwrite the first's rows), and refused when it
//! already holds a run (its files would mix with the new ones). The lock is the operating
//! system's (`flock`), so a crashed run leaves nothing to clean up.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::Error;

/// The files a run writes; any of them present means the folder holds a run.
pub const RUN_FILES: [&str; 5] = [
    "frames.csv",
    "summary.json",
    "events.csv",
    "report.html",
    "index.json",
];

/// Held while a run writes its folder; dropping it releases the folder.
#[derive(Debug)]
pub struct Claim {
    _lock: File,
    pub dir: PathBuf,
}

/// Claim `dir` for a new run.
pub fn claim(dir: &Path) -> Result<Claim, Error> {
    let io = |what: String| move |source| Error::Io { what, source };
    std::fs::create_dir_all(dir).map_err(io(format!(
        "cannot create the run folder {}",
        dir.display()
    )))?;
    let path = dir.join(".streamscope.lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(format!("cannot create {}", path.display())))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Error::Busy {
                dir: dir.display().to_string(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(io(format!("cannot lock {}", path.display()))(e));
        }
    }
    let held: Vec<&str> = RUN_FILES
        .into_iter()
        .filter(|f| dir.join(f).exists())
        .collect();
    if !held.is_empty() {
        return Err(Error::HoldsRun {
            dir: dir.display().to_string(),
            files: held.join(", "),
        });
    }
    Ok(Claim {
        _lock: lock,
        dir: dir.to_owned(),
    })
}

/// A folder under `reports/` named for now, made unique if a run of the same second has it.
pub fn fresh_dir(prefix: &str) -> PathBuf {
    let base = crate::default_out_dir(prefix);
    (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                PathBuf::from(format!("{}-{n}", base.display()))
            }
        })
        .find(|d| !d.exists())
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_writer_and_never_over_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let first = claim(&run).unwrap();
        let e = claim(&run).unwrap_err().to_string();
        assert!(e.contains("another streamscope run"), "{e}");
        drop(first);
        let again = claim(&run).unwrap();
        std::fs::write(run.join("frames.csv"), "x").unwrap();
        drop(again);
        let e = claim(&run).unwrap_err().to_string();
        assert!(
            e.contains("already holds a run") && e.contains("frames.csv"),
            "{e}"
        );
    }
}
