//! [`PlatformInterface`] and the process facts on Windows: no Unix modes, owners, users or
//! signals.

use std::fs::{File, Metadata, OpenOptions};
use std::path::Path;

use super::{Platform, PlatformInterface};
use crate::os::sockets::Socket;

pub use super::unseen::{cmdline, current_dir, folder, pids, short_lived};

impl PlatformInterface for Platform {
    const FORCED_STOP: &'static str = "TerminateProcess";
    const PINS_BY_START_TIME: bool = false;

    fn system_process(pid: u32) -> Option<&'static str> {
        matches!(pid, 0 | 4).then_some("the Windows System process")
    }

    fn holds(pid: u32, s: &Socket) -> bool {
        super::listed_holder(pid, s)
    }

    fn mode(_meta: &Metadata) -> Option<u32> {
        None
    }

    fn owner(_meta: &Metadata) -> Option<u32> {
        None
    }

    fn links(_meta: &Metadata) -> Option<u64> {
        None
    }

    fn unwritable(_dir: &Path, _search: bool) -> Option<std::io::Error> {
        None
    }

    fn lock_options(_create: &mut OpenOptions, _existing: &mut OpenOptions, _mode: u32) {}

    fn lock_holder(_file: &File) -> Option<u32> {
        None
    }

    fn describe_lock_holder(pid: u32) -> Option<(u32, Option<String>)> {
        let name = crate::os::process::name(pid)?;
        let devport = name.eq_ignore_ascii_case("devport.exe");
        devport.then_some((pid, Some(name)))
    }
}

/// The start time of process `pid` (Windows: its creation time in 100 ns units since 1601,
/// from `GetProcessTimes`), or `None` if it is not running or cannot be opened.
pub fn start_time(pid: u32) -> Option<u64> {
    crate::os::winapi::process_creation_time(pid)
}

/// When process `pid` started by the wall clock (its creation time, in 100 ns units since
/// 1601-01-01), or `None`.
pub fn started(pid: u32) -> Option<jiff::Timestamp> {
    /// Seconds from 1601-01-01 to 1970-01-01.
    const EPOCH_1601: i64 = 11_644_473_600;
    let ticks = start_time(pid)?;
    let seconds = i64::try_from(ticks / 10_000_000).ok()? - EPOCH_1601;
    let nanos = i32::try_from(ticks % 10_000_000).ok()? * 100;
    jiff::Timestamp::new(seconds, nanos).ok()
}

/// The pid of this process's parent (Windows: from a Toolhelp process snapshot; `None` when
/// there is none).
pub fn parent_pid() -> Option<u32> {
    let me = std::process::id();
    crate::os::winapi::processes()
        .into_iter()
        .find(|p| p.pid == me)
        .map(|p| p.parent)
        // 0: no Windows parent (Wine started from a Unix shell).
        .filter(|&parent| parent != 0)
}

/// The executable name of process `pid` (`devport.exe`), if it is running.
pub fn name(pid: u32) -> Option<String> {
    crate::os::winapi::processes()
        .into_iter()
        .find(|p| p.pid == pid)
        .map(|p| p.name)
}

/// The user id that owns process `pid`: Windows has no Unix users.
pub fn uid(_pid: u32) -> Option<u32> {
    None
}

/// The effective user id of this process: Windows has no Unix users.
pub fn current_uid() -> Option<u32> {
    None
}
