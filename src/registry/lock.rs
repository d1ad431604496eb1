//! The registry lock: an exclusive `flock` on a sidecar file that is never replaced.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Holds the registry lock until dropped (closing the file releases the `flock`).
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
}

/// Takes the exclusive lock on `path`, waiting at most `timeout`. On success the caller's pid is
/// written into the file, so a process that times out can name the holder.
pub fn acquire(path: &Path, timeout: Duration) -> Result<LockGuard> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| Error::io("cannot open registry lock", path, e))?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                let waited = start.elapsed();
                if waited >= timeout {
                    return Err(Error::LockTimeout {
                        path: path.to_path_buf(),
                        holder: holder(&mut file),
                        seconds: waited.as_secs_f64(),
                    });
                }
                std::thread::sleep(pause.min(timeout.saturating_sub(waited)));
                pause = (pause * 2).min(Duration::from_millis(25));
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("cannot lock", path, e)),
        }
    }
    // Best effort: the pid only serves the timeout message of another process.
    let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| {
        write!(file, "{}", std::process::id())?;
        file.flush()
    });
    Ok(LockGuard { _file: file })
}

fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
    match text.trim().parse::<u32>() {
        Ok(pid) => format!("pid {pid}"),
        Err(_) => "another process".to_string(),
    }
}
