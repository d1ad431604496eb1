//! [`PlatformInterface`] on Windows: no Unix modes, owners or signals.

use std::fs::{File, Metadata, OpenOptions};
use std::path::Path;

use super::{Platform, PlatformInterface};
use crate::os::sockets::Socket;

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

    fn describe_lock_holder(pid: u32) -> Option<String> {
        let name = crate::os::process::name(pid)?;
        name.eq_ignore_ascii_case("devport.exe")
            .then(|| format!("pid {pid} ({name})"))
    }
}
