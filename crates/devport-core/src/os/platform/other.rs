//! The process facts of Unix systems other than Linux and macOS, read from `ps`; they show no
//! process's arguments or folder.

pub use super::unix::{current_uid, parent_pid};
pub use super::unseen::{cmdline, current_dir, folder, name, pids, short_lived};

/// The start time of process `pid` on other Unix systems: `ps -o lstart=` text, hashed with a
/// stable hash (FNV-1a), so the value recorded in the registry means the same after an upgrade.
pub fn start_time(pid: u32) -> Option<u64> {
    let out = std::process::Command::new("ps")
        .args(["-o", "lstart=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let text = text.trim();
    if !out.status.success() || text.is_empty() {
        return None;
    }
    Some(crate::model::types::fnv1a(text.as_bytes()))
}

/// When process `pid` started by the wall clock: not read on these systems (`ps -o lstart=`
/// is local text in a format that varies).
pub fn started(_pid: u32) -> Option<jiff::Timestamp> {
    None
}

/// The user id that owns process `pid`, from `ps -o uid=`.
pub fn uid(pid: u32) -> Option<u32> {
    let out = std::process::Command::new("ps")
        .args(["-o", "uid=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}
