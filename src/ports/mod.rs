//! Knowledge about ports: the compiled-in tables, the OS's own ranges, bind probes and live
//! sockets.

pub mod iana;
pub mod os;
// The macOS socket-list parser: used on macOS, unit-tested everywhere.
#[cfg(any(target_os = "macos", test))]
mod pcblist;
pub mod probe;
pub mod sockets;
