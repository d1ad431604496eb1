//! [`PlatformInterface`] on Unix systems (Linux, macOS and the others), and the process facts
//! every Unix system gives alike.

use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use super::{Platform, PlatformInterface};
use crate::os::sockets::Socket;

impl PlatformInterface for Platform {
    const FORCED_STOP: &'static str = "SIGKILL";
    const PINS_BY_START_TIME: bool = true;

    fn system_process(pid: u32) -> Option<&'static str> {
        (pid == 1).then_some("the system's first process")
    }

    fn holds(pid: u32, s: &Socket) -> bool {
        #[cfg(target_os = "linux")]
        {
            crate::os::process::holds_socket(pid, s.inode)
        }
        #[cfg(not(target_os = "linux"))]
        {
            super::listed_holder(pid, s)
        }
    }

    fn mode(meta: &Metadata) -> Option<u32> {
        Some(meta.permissions().mode() & 0o7777)
    }

    fn owner(meta: &Metadata) -> Option<u32> {
        Some(meta.uid())
    }

    fn links(meta: &Metadata) -> Option<u64> {
        Some(meta.nlink())
    }

    fn unwritable(dir: &Path, search: bool) -> Option<std::io::Error> {
        use nix::unistd::AccessFlags;
        let flags = if search {
            AccessFlags::W_OK | AccessFlags::X_OK
        } else {
            AccessFlags::W_OK
        };
        nix::unistd::access(dir, flags)
            .err()
            .map(std::io::Error::from)
    }

    fn lock_options(create: &mut OpenOptions, existing: &mut OpenOptions, mode: u32) {
        use nix::fcntl::OFlag;
        create.mode(mode);
        // O_NOFOLLOW: a symlink is refused (ELOOP), not followed; O_NONBLOCK: a FIFO put there
        // cannot hang the open (fstat then refuses it).
        existing.custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).bits());
    }

    fn lock_holder(file: &File) -> Option<u32> {
        #[cfg(target_os = "linux")]
        {
            super::linux::lock_holder(file)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = file;
            None
        }
    }

    fn describe_lock_holder(pid: u32) -> Option<(u32, Option<String>)> {
        Some((pid, crate::os::process::name(pid)))
    }
}

/// The pid of this process's parent.
#[allow(
    clippy::unnecessary_wraps,
    reason = "the Windows version may find no parent"
)]
pub fn parent_pid() -> Option<u32> {
    Some(std::os::unix::process::parent_id())
}

/// The effective user id of this process.
#[allow(
    clippy::unnecessary_wraps,
    reason = "the same signature as on Windows, which has no Unix users"
)]
pub fn current_uid() -> Option<u32> {
    Some(nix::unistd::geteuid().as_raw())
}
