//! The operating system: files written safely, well-known folders, processes and their
//! owners, the OS's own port ranges, bind probes, live sockets and container engines. The
//! platform-specific code of the library lives here.

pub mod container;
pub mod fsutil;
#[cfg(target_os = "macos")]
mod macos;
pub mod paths;
pub mod platform;
pub mod probe;
pub mod process;
pub mod ranges;
pub mod sockets;
// The macOS socket-list parser: used on macOS, unit-tested everywhere.
#[cfg(any(target_os = "macos", test))]
mod pcblist;
#[cfg(windows)]
mod winapi;
