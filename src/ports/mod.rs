//! Knowledge about ports: the compiled-in tables, the OS's own ranges, bind probes and live
//! sockets.

pub mod iana;
pub mod os;
pub mod probe;
pub mod sockets;
