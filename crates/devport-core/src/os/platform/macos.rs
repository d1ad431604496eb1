//! macOS's process facts (from `proc_pidinfo`, see `os/macos.rs`); it shows no process's
//! arguments or folder.

pub use super::unix::{current_uid, parent_pid};
pub use super::unseen::{cmdline, current_dir, folder, name, pids, short_lived};

/// The start time of process `pid` (macOS: microseconds since the Unix epoch, from
/// `proc_pidinfo`), or `None` if it is not running or cannot be seen. No process is spawned.
pub fn start_time(pid: u32) -> Option<u64> {
    crate::os::macos::bsd_info(pid).map(|(start, _)| start)
}

/// When process `pid` started by the wall clock (macOS: `proc_pidinfo`'s start), or `None`.
pub fn started(pid: u32) -> Option<jiff::Timestamp> {
    jiff::Timestamp::from_microsecond(i64::try_from(start_time(pid)?).ok()?).ok()
}

/// The user id that owns process `pid` (macOS: from `proc_pidinfo`).
pub fn uid(pid: u32) -> Option<u32> {
    crate::os::macos::bsd_info(pid).map(|(_, uid)| uid)
}
