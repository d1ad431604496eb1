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
    std::os::unix::fs::OpenOptionsExt::mode(
        &mut options,
        crate::fsutil::private_mode(crate::fsutil::parent_dir(path)),
    );
    let mut file = options
        .open(path)
        .map_err(|e| Error::io("cannot open registry lock", path, e))?;
    share_with_group(&file, path);
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

/// In a group-shared folder the lock file must be group-writable whatever the umask was; only
/// its owner can change that, and for anyone else it is already so.
#[cfg(unix)]
fn share_with_group(file: &File, path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = crate::fsutil::private_mode(crate::fsutil::parent_dir(path));
    if file
        .metadata()
        .is_ok_and(|m| m.permissions().mode() & 0o777 != mode)
    {
        let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
    }
}

#[cfg(not(unix))]
fn share_with_group(_file: &File, _path: &Path) {}

/// Who holds the lock: on Linux the kernel's own record (`/proc/locks`), which is right even
/// for a holder that is not devport; else the pid the last devport holder wrote into the file.
fn holder(file: &mut File) -> String {
    let pid = kernel_holder(file).or_else(|| {
        let mut text = String::new();
        let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
        text.trim().parse::<u32>().ok()
    });
    match pid {
        Some(pid) => match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
            Ok(name) => format!("pid {pid} ({})", name.trim_end()),
            Err(_) => format!("pid {pid}"),
        },
        None => "another process".to_string(),
    }
}

#[cfg(target_os = "linux")]
fn kernel_holder(file: &File) -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let inode = file.metadata().ok()?.ino();
    parse_proc_locks(&std::fs::read_to_string("/proc/locks").ok()?, inode)
}

#[cfg(not(target_os = "linux"))]
fn kernel_holder(_file: &File) -> Option<u32> {
    None
}

/// The pid holding a `FLOCK` on `inode`, from `/proc/locks` text
/// (`1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`).
#[cfg(any(target_os = "linux", test))]
fn parse_proc_locks(text: &str, inode: u64) -> Option<u32> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (kind, pid, dev) = (f.get(1)?, f.get(4)?, f.get(5)?);
        let ino: u64 = dev.rsplit(':').next()?.parse().ok()?;
        (*kind == "FLOCK" && ino == inode)
            .then(|| pid.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn proc_locks() {
        let text = "1: POSIX  ADVISORY  WRITE 99 08:01:777 0 EOF\n2: FLOCK  ADVISORY  WRITE 1234 fd:01:777 0 EOF\n";
        assert_eq!(super::parse_proc_locks(text, 777), Some(1234));
        assert_eq!(super::parse_proc_locks(text, 778), None);
    }
}
