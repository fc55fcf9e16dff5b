//! The state directory lock: one `wacme` run that changes a state directory
//! at a time.
//!
//! `<state>/lock` is held with an exclusive advisory lock (`flock` on Unix)
//! for as long as the [`StateLock`] lives; the operating system releases it
//! when the process ends, however it ends, so a crash never leaves a stale
//! lock. A second run waits up to a bound, then fails with [`LockError::Busy`]
//! naming the holder (whose pid is written into the file).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The file name of the lock inside the state directory.
pub const LOCK_FILE: &str = "lock";

/// A held lock on a state directory.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    path: PathBuf,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another wacme run ({holder}) is using the state directory {state}; waited {waited:?}. \
         Wait for it to finish, raise --lock-wait, or use another --state-dir"
    )]
    Busy {
        state: PathBuf,
        holder: String,
        waited: Duration,
    },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl StateLock {
    /// Takes the lock of `state_dir` (created if missing), waiting up to
    /// `wait` for another run to release it.
    pub fn acquire(state_dir: &Path, wait: Duration) -> Result<StateLock, LockError> {
        crate::fsx::create_private_dir(state_dir).map_err(|source| LockError::Io {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = state_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let started = Instant::now();
        let mut announced = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if started.elapsed() >= wait {
                        return Err(LockError::Busy {
                            state: state_dir.to_path_buf(),
                            holder: holder(&mut file),
                            waited: wait,
                        });
                    }
                    if !announced {
                        tracing::warn!(
                            "waiting for another wacme run ({}) to release {}",
                            holder(&mut file),
                            state_dir.display()
                        );
                        announced = true;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        // Record who holds it, for the message another run prints.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = writeln!(file, "pid {}", std::process::id());
        let _ = file.flush();
        Ok(StateLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "pid unknown".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_waits_then_fails_and_succeeds_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path(), Duration::ZERO).unwrap();
        let started = Instant::now();
        let err = StateLock::acquire(dir.path(), Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(300));
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(matches!(err, LockError::Busy { .. }));
        drop(first);
        StateLock::acquire(dir.path(), Duration::ZERO).unwrap();
    }
}
