//! Bind probes: the judge of whether a port is free right now.
//!
//! A port is probed by binding it, for each protocol asked for, on `0.0.0.0`, `127.0.0.1`,
//! `[::]` and `[::1]`, and closing the socket at once. An address the host does not have (no
//! IPv6) is skipped; a refusal that is not "address in use" is reported as such, not as busy.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};

use crate::model::types::{PortRange, Proto, Transport};

/// The result of probing one port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Every bind succeeded.
    Free,
    /// Something is bound: the first protocol and address that said "address in use".
    InUse {
        /// The transport whose bind failed.
        proto: Transport,
        /// The address that was taken.
        addr: IpAddr,
    },
    /// The OS refused the bind for another reason (privileged port, excluded range).
    Denied {
        /// The transport whose bind failed.
        proto: Transport,
        /// The address that was refused.
        addr: IpAddr,
        /// The OS error text.
        error: String,
    },
}

const ADDRS: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

/// Probes one port for the protocols in `proto`.
pub fn probe(port: u16, proto: Proto) -> Probe {
    for &kind in proto.transports() {
        for addr in ADDRS {
            let sa = SocketAddr::new(addr, port);
            let result = match kind {
                Transport::Tcp => TcpListener::bind(sa).map(drop),
                Transport::Udp => UdpSocket::bind(sa).map(drop),
            };
            match result {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AddrInUse => {
                    return Probe::InUse { proto: kind, addr };
                }
                // No such address family or address on this host (e.g. no IPv6): nothing to probe.
                Err(e)
                    if e.kind() == ErrorKind::AddrNotAvailable
                        || e.kind() == ErrorKind::Unsupported => {}
                Err(e) if is_no_family(&e) => {}
                Err(e) => {
                    return Probe::Denied {
                        proto: kind,
                        addr,
                        error: e.to_string(),
                    };
                }
            }
        }
    }
    Probe::Free
}

/// Probes every port of `ports`; returns the first that is not free, with its result.
pub fn probe_block(ports: PortRange, proto: Proto) -> Option<(u16, Probe)> {
    ports
        .iter()
        .map(|p| (p, probe(p, proto)))
        .find(|(_, r)| *r != Probe::Free)
}

fn is_no_family(e: &std::io::Error) -> bool {
    // EAFNOSUPPORT (97 on Linux, 47 on macOS) and WSAEAFNOSUPPORT (10047).
    matches!(e.raw_os_error(), Some(97 | 47 | 10047))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_loopback_listeners() {
        let tcp = TcpListener::bind("127.0.0.1:0").ok();
        let port = tcp
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map_or(0, |a| a.port());
        assert!(matches!(
            probe(port, Proto::Tcp),
            Probe::InUse {
                proto: Transport::Tcp,
                ..
            }
        ));
        let udp = UdpSocket::bind("127.0.0.1:0").ok();
        let uport = udp
            .as_ref()
            .and_then(|s| s.local_addr().ok())
            .map_or(0, |a| a.port());
        assert!(matches!(
            probe(uport, Proto::Udp),
            Probe::InUse {
                proto: Transport::Udp,
                ..
            }
        ));
        assert!(matches!(probe(uport, Proto::Both), Probe::InUse { .. }));
    }
}
