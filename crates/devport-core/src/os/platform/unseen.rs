//! The process facts that only Linux shows (`/proc`): elsewhere they are not seen.

use std::path::PathBuf;

use crate::os::process::ShortLived;

/// The arguments of process `pid`: not read on this platform.
pub fn cmdline(_pid: u32) -> Option<Vec<String>> {
    None
}

/// Every process id: not listed on this platform.
pub fn pids() -> Vec<u32> {
    Vec::new()
}

/// Whether process `pid` is likely to exit as soon as devport does: not seen on this platform.
pub fn short_lived(_pid: u32) -> Option<ShortLived> {
    None
}

/// The folder of process `pid`: not visible on this platform.
pub fn folder(_pid: u32) -> Option<(u32, PathBuf)> {
    None
}

/// The current folder of process `pid`: not visible on this platform.
pub fn current_dir(_pid: u32) -> Option<PathBuf> {
    None
}

/// The command name of process `pid`: not seen on this platform.
// Windows names its processes (windows.rs).
#[cfg(unix)]
pub fn name(_pid: u32) -> Option<String> {
    None
}
