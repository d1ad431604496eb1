//! The registry lock: an exclusive `flock` on a sidecar file that is never replaced.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::os::platform::{Platform, PlatformInterface as _};

/// Holds the registry lock until dropped (closing the file releases the `flock`).
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
}

/// Takes the exclusive lock on `path`, waiting at most `timeout`. On success the caller's pid is
/// written over the start of the file, so a process that times out can name the holder.
///
/// The lock file is treated as a file devport may not own: it is opened without following a
/// symlink (a link there is refused, never followed, and a dangling one creates nothing), never
/// truncated, must be a regular file, and only a file this call created gets its mode set.
pub fn acquire(path: &Path, timeout: Duration) -> Result<LockGuard> {
    let mut file = open(path)?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                let waited = start.elapsed();
                if waited >= timeout {
                    let (pid, name) = holder(&mut file).unzip();
                    return Err(Error::LockTimeout {
                        path: path.to_path_buf(),
                        pid,
                        name: name.flatten(),
                        seconds: waited.as_secs_f64(),
                    });
                }
                std::thread::sleep(pause.min(timeout.saturating_sub(waited)));
                pause = (pause * 2).min(Duration::from_millis(25));
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::io("cannot lock the registry lock", path, e));
            }
        }
    }
    // Best effort: the pid only serves the timeout message of another process. A fixed width
    // overwrites any earlier pid without truncating the file.
    let _ = file
        .rewind()
        .and_then(|()| writeln!(file, "{:<10}", std::process::id()))
        .and_then(|()| file.flush());
    Ok(LockGuard { _file: file })
}

/// Opens (creating if needed) the lock file by the rules of [`acquire`].
fn open(path: &Path) -> Result<File> {
    let fail = |e| Error::io("cannot open registry lock", path, e);
    let mut create = OpenOptions::new();
    create.read(true).write(true).create_new(true);
    let mut existing = OpenOptions::new();
    existing.read(true).write(true);
    Platform::lock_options(
        &mut create,
        &mut existing,
        crate::os::fsutil::private_mode(crate::os::fsutil::parent_dir(path)),
    );
    // Decided before the file exists: a new lock in a group-shared folder gets its group.
    let new_mode = crate::os::fsutil::registry_mode(path);
    let file = match create.open(path) {
        Ok(file) => {
            // Best effort, as the mode was before: the flock works whatever the mode.
            let _ = crate::os::fsutil::apply_mode(&file, new_mode);
            file
        }
        // create_new never follows a link: a dangling one is "exists" and creates nothing.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            existing.open(path).map_err(|e| {
                if is_symlink(path) {
                    Error::Insecure {
                        path: path.to_path_buf(),
                        message: format!(
                            "registry lock {} is a symbolic link; devport never follows a link for its lock, so remove the link (devport makes a new lock file)",
                            path.display()
                        ),
                    }
                } else {
                    fail(e)
                }
            })?
        }
        Err(e) => return Err(fail(e)),
    };
    let meta = file.metadata().map_err(fail)?;
    if !meta.is_file() {
        return Err(Error::NotAFile {
            what: "registry lock",
            path: path.to_path_buf(),
            kind: if meta.is_dir() {
                "a folder"
            } else {
                "a special file"
            },
        });
    }
    // A hard link would make the pid written into the lock land in another file.
    if let Some(links) = Platform::links(&meta).filter(|&n| n > 1) {
        return Err(Error::Insecure {
            path: path.to_path_buf(),
            message: format!(
                "registry lock {} has {links} hard links, so writing to it would change another file; remove it (devport makes a new lock file)",
                path.display(),
            ),
        });
    }
    Ok(file)
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Who holds the lock (pid and name): on Linux the kernel's own record (`/proc/locks`), which
/// is right even for a holder that is not devport; else the pid the last devport holder wrote
/// into the file.
fn holder(file: &mut File) -> Option<(u32, Option<String>)> {
    let pid = Platform::lock_holder(file).or_else(|| {
        let mut text = String::new();
        let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
        text.trim().parse::<u32>().ok()
    });
    pid.and_then(Platform::describe_lock_holder)
}

#[cfg(test)]
mod tests {
    use super::acquire;
    use crate::error::Error;

    #[test]
    fn a_timeout_names_the_holder_as_data() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("registry.lock");
        let _held = acquire(&path, std::time::Duration::ZERO).expect("first lock");
        let err = acquire(&path, std::time::Duration::ZERO).expect_err("second lock");
        // This process wrote its pid into the file (and Linux's /proc/locks names it too);
        // Windows names only a running devport.exe, which a test is not.
        let me = (!cfg!(windows)).then(std::process::id);
        match &err {
            Error::LockTimeout { pid, .. } => assert_eq!(*pid, me, "{err}"),
            other => panic!("not a lock timeout: {other:?}"),
        }
        let named = me.map_or("an unknown process".to_string(), |p| format!("pid {p}"));
        assert!(
            err.to_string().contains(&format!("is held by {named}")),
            "{err}"
        );
    }
}
