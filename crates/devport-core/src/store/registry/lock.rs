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
    #[cfg(unix)]
    {
        use nix::fcntl::OFlag;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mode = crate::os::fsutil::private_mode(crate::os::fsutil::parent_dir(path));
        create.mode(mode);
        // O_NOFOLLOW: a symlink is refused (ELOOP), not followed; O_NONBLOCK: a FIFO put there
        // cannot hang the open (fstat then refuses it).
        existing.custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).bits());
    }
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
    #[cfg(unix)]
    if std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
        return Err(Error::Insecure {
            path: path.to_path_buf(),
            message: format!(
                "registry lock {} has {} hard links, so writing to it would change another file; remove it (devport makes a new lock file)",
                path.display(),
                std::os::unix::fs::MetadataExt::nlink(&meta)
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
    let pid = kernel_holder(file).or_else(|| {
        let mut text = String::new();
        let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
        text.trim().parse::<u32>().ok()
    });
    pid.and_then(describe)
}

/// A holder pid with its name, when it can be read.
#[cfg(unix)]
#[allow(clippy::unnecessary_wraps)] // the same shape as the Windows form
fn describe(pid: u32) -> Option<(u32, Option<String>)> {
    Some((pid, crate::os::process::name(pid)))
}

/// A holder pid with its name when that pid is a running devport. Windows has no record of
/// who holds a lock, and the pid in the file may be a devport that has since finished (or a
/// new process that reused its pid), so any other pid names nobody.
#[cfg(windows)]
fn describe(pid: u32) -> Option<(u32, Option<String>)> {
    let name = crate::os::process::name(pid)?;
    name.eq_ignore_ascii_case("devport.exe")
        .then(|| (pid, Some(name)))
}

#[cfg(target_os = "linux")]
fn kernel_holder(file: &File) -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = file.metadata().ok()?;
    let dev = meta.dev();
    let id = FileId {
        major: nix::sys::stat::major(dev),
        minor: nix::sys::stat::minor(dev),
        inode: meta.ino(),
    };
    parse_proc_locks(&std::fs::read_to_string("/proc/locks").ok()?, id)
}

/// A file as `/proc/locks` names it: device major and minor, and inode.
#[cfg(any(target_os = "linux", test))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    major: u64,
    minor: u64,
    inode: u64,
}

#[cfg(not(target_os = "linux"))]
fn kernel_holder(_file: &File) -> Option<u32> {
    None
}

/// The pid holding a `FLOCK` on the file `id`, from `/proc/locks` text
/// (`1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`: major and minor in hex, inode in
/// decimal). Inodes repeat across file systems, so the device must match too.
#[cfg(any(target_os = "linux", test))]
fn parse_proc_locks(text: &str, id: FileId) -> Option<u32> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (kind, pid, file) = (f.get(1)?, f.get(4)?, f.get(5)?);
        let mut parts = file.split(':');
        let major = u64::from_str_radix(parts.next()?, 16).ok()?;
        let minor = u64::from_str_radix(parts.next()?, 16).ok()?;
        let inode: u64 = parts.next()?.parse().ok()?;
        (*kind == "FLOCK"
            && FileId {
                major,
                minor,
                inode,
            } == id)
            .then(|| pid.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::{FileId, acquire, parse_proc_locks};
    use crate::error::Error;

    #[test]
    fn proc_locks_match_device_and_inode() {
        let text = "1: POSIX  ADVISORY  WRITE 99 fd:01:777 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 55 08:01:777 0 EOF\n\
                    3: FLOCK  ADVISORY  WRITE 1234 fd:01:777 0 EOF\n";
        let id = |major, minor, inode| FileId {
            major,
            minor,
            inode,
        };
        // The same inode on another device (08:01) is another file.
        assert_eq!(parse_proc_locks(text, id(0xfd, 1, 777)), Some(1234));
        assert_eq!(parse_proc_locks(text, id(8, 1, 777)), Some(55));
        assert_eq!(parse_proc_locks(text, id(0xfd, 2, 777)), None);
        assert_eq!(parse_proc_locks(text, id(0xfd, 1, 778)), None);
    }

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
