//! The operating system behind one interface: [`PlatformInterface`], implemented once per OS
//! family by [`Platform`] (`unix.rs`, `windows.rs`), and the process facts that
//! [`crate::os::process`] re-exports, one file per OS (`linux.rs`, `macos.rs`, `other.rs` for
//! the other Unix systems, `windows.rs`; `unseen.rs` says "not seen" for what only Linux
//! shows). The layers above call these and never test the OS themselves.

use std::fs::{File, Metadata, OpenOptions};
use std::path::Path;

use crate::os::sockets::Socket;

#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "macos")]
pub mod macos;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "macos"))))]
pub mod other;
#[cfg(unix)]
pub mod unix;
#[cfg(not(target_os = "linux"))]
pub mod unseen;
#[cfg(windows)]
pub mod windows;

// The process facts of this OS, for `crate::os::process` (every file has the same functions).
#[cfg(target_os = "linux")]
pub use linux as this;
#[cfg(target_os = "macos")]
pub use macos as this;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "macos"))))]
pub use other as this;
#[cfg(windows)]
pub use windows as this;

/// The operating system this build runs on (see [`PlatformInterface`]).
pub struct Platform;

/// What the library asks of the operating system, besides the process and socket facts of
/// [`crate::os::process`] and [`crate::os::sockets`]. Where an OS has no such fact (Unix modes
/// and owners on Windows) the answer is `None`, and the check that needs it passes.
pub trait PlatformInterface {
    /// What the forced stop is called in messages: `SIGKILL`, on Windows `TerminateProcess`.
    const FORCED_STOP: &'static str;

    /// Whether a process is pinned by its start time ([`crate::os::process::Pinned`]), so that
    /// failing to pin it means its start time cannot be read (Unix); else it is pinned by an
    /// open handle, which may be refused (Windows).
    const PINS_BY_START_TIME: bool;

    /// What the system's own process `pid` is, which devport never stops: pid 1 on Unix,
    /// System (pid 4) and the idle process (pid 0) on Windows.
    fn system_process(pid: u32) -> Option<&'static str>;

    /// Whether process `pid` holds the socket `s` now (asked once the process is pinned).
    /// Linux: its descriptors include the socket's inode. Elsewhere: a fresh socket list still
    /// gives the socket (same protocol, address and port) to that pid.
    fn holds(pid: u32, s: &Socket) -> bool;

    /// The permission bits of a file (`mode & 0o7777`); `None` where files have no Unix mode.
    fn mode(meta: &Metadata) -> Option<u32>;

    /// The user id that owns a file; `None` where files have no Unix owner.
    fn owner(meta: &Metadata) -> Option<u32>;

    /// How many names (hard links) a file has; `None` where that is not known.
    fn links(meta: &Metadata) -> Option<u64>;

    /// Why this user may not write in (and, with `search`, enter) the folder `dir`, tested
    /// without writing anything; `None` where it may, or where access rights are not Unix modes
    /// (the write itself will say).
    fn unwritable(dir: &Path, search: bool) -> Option<std::io::Error>;

    /// Sets the options of the registry lock: `create` makes a new file with mode `mode`;
    /// `existing` opens one without following a symlink (refused) and without hanging on a
    /// FIFO (then refused as not a file).
    fn lock_options(create: &mut OpenOptions, existing: &mut OpenOptions, mode: u32);

    /// The pid holding the lock on `file` by the kernel's own record (Linux: `/proc/locks`),
    /// which is right even for a holder that is not devport; `None` where there is no record.
    fn lock_holder(file: &File) -> Option<u32>;

    /// The pid a devport wrote into the lock file with its name (when it can be read), or
    /// `None` when it names nobody. Windows has no record of who holds a lock, and the pid in the file may be
    /// a devport that has since finished (or a new process that reused its pid), so there only
    /// a running `devport.exe` is named.
    fn describe_lock_holder(pid: u32) -> Option<(u32, Option<String>)>;
}

/// Whether process `pid` holds a socket like `s` by a fresh socket list (same protocol, address
/// and port): [`PlatformInterface::holds`] where descriptors cannot be read.
#[cfg_attr(
    target_os = "linux",
    allow(dead_code, reason = "Linux reads descriptors")
)]
fn listed_holder(pid: u32, s: &Socket) -> bool {
    let mut now: Vec<Socket> = crate::os::sockets::list()
        .into_iter()
        .filter(|n| n.port == s.port && n.proto == s.proto)
        .collect();
    crate::os::sockets::resolve_owners(&mut now);
    now.iter().any(|n| {
        n.proto == s.proto && n.address == s.address && n.holders.iter().any(|h| h.pid == pid)
    })
}
