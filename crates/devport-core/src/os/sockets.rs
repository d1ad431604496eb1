//! Live sockets: every listening TCP socket and every bound, unconnected UDP socket (the set
//! `ss -ltnu` shows), IPv4 and IPv6, with the owning process and user when they can be seen.
//!
//! On Linux sockets are enumerated through netlink `sock_diag`, falling back to
//! `/proc/net/{tcp,tcp6,udp,udp6}`; owners are found by mapping socket inodes through
//! `/proc/*/fd`, only for the sockets asked about. On Windows the system's socket tables
//! (`GetExtendedTcpTable` / `GetExtendedUdpTable`, IPv4 and IPv6) give each socket's owner pid,
//! and one process snapshot names the owners asked about. On macOS the kernel's socket lists
//! (the `pcblist_n` sysctls `netstat` reads, parsed in `ports::pcblist`) give every socket with
//! its uid and, where recorded, its pid; `proc_name` names the owners. On other Unix systems the
//! `listeners` crate supplies sockets and owners (only those whose owner it can see). A socket whose owner cannot be seen is kept with what is known (its uid, or
//! nothing), never dropped.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::model::types::Transport;
use serde::Serialize;

/// One live socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Socket {
    /// TCP or UDP.
    pub proto: Transport,
    /// The local address it is bound to.
    pub address: IpAddr,
    /// The local port.
    pub port: u16,
    /// The owning process, if visible: the first (lowest pid) of [`Socket::holders`].
    pub pid: Option<u32>,
    /// The owning process's name, if visible.
    pub process: Option<String>,
    /// The user id that opened the socket, if known.
    pub uid: Option<u32>,
    /// That user's name, if known.
    pub user: Option<String>,
    /// Every visible process holding the socket, lowest pid first: more than one when a
    /// socket is shared (a parent that passed it to a child, socket activation). Empty when
    /// no holder is visible.
    pub holders: Vec<Holder>,
    /// Where the port is forwarded to, when the owner is a container forwarder such as
    /// `docker-proxy` (filled in by [`crate::os::container::annotate`]); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// The socket inode (Linux), used to find the owner.
    #[serde(skip)]
    pub inode: u64,
}

/// A process holding a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// Its pid.
    pub pid: u32,
    /// Its command name, if visible.
    pub process: Option<String>,
    /// The user id it runs as (its real user id), if visible.
    pub uid: Option<u32>,
    /// That user's name, if known.
    pub user: Option<String>,
}

impl Holder {
    /// `pid 123 (node)`, or `pid 123`. Unescaped: show it through `output::clean`.
    pub fn label(&self) -> String {
        match &self.process {
            Some(name) => format!("pid {} ({name})", self.pid),
            None => format!("pid {}", self.pid),
        }
    }
}

/// Where a forwarded port leads: the container's address, and its name when the Docker Engine
/// told it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    /// The container's IP address (`172.17.0.2`).
    pub ip: IpAddr,
    /// The port inside the container.
    pub port: u16,
    /// The container's name (`shop-db-1`), when the Docker Engine answered; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The folder `docker compose` was run from for this container (its
    /// `com.docker.compose.project.working_dir` label), when the Docker Engine told it.
    #[serde(skip)]
    pub working_dir: Option<std::path::PathBuf>,
    /// The pid of the trusted forwarder that holds the socket, when its holders are visible:
    /// only that process is judged by the container; every other holder as any process.
    #[serde(skip)]
    pub forwarder: Option<u32>,
}

impl fmt::Display for Container {
    /// `container 172.17.0.2:5432 (shop-db-1)`. The name is the engine's, unescaped: show it
    /// through `output::clean` or a table cell.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "container {}", SocketAddr::new(self.ip, self.port))?;
        if let Some(name) = &self.name {
            write!(f, " ({name})")?;
        }
        Ok(())
    }
}

/// Every listening TCP and bound UDP socket, owners not yet resolved (see [`resolve_owners`]).
pub fn list() -> Vec<Socket> {
    let mut sockets = platform::list();
    sockets.sort_by_key(|s| (s.port, s.proto, s.address));
    sockets.dedup_by(|a, b| {
        a.port == b.port && a.proto == b.proto && a.address == b.address && a.inode == b.inode
    });
    sockets
}

/// The sockets on `port`, with owners.
pub fn on_port(all: &[Socket], port: u16) -> Vec<Socket> {
    on_ports(all, |p| p == port)
}

/// The sockets on the ports `wanted` accepts, with owners (found in one pass over the
/// processes, however many ports).
pub fn on_ports(all: &[Socket], wanted: impl Fn(u16) -> bool) -> Vec<Socket> {
    let mut found: Vec<Socket> = all.iter().filter(|s| wanted(s.port)).cloned().collect();
    resolve_owners(&mut found);
    found
}

/// Fills in the holders (every visible process holding each socket), pid, process and user
/// names where they can be seen.
pub fn resolve_owners(sockets: &mut [Socket]) {
    platform::resolve_owners(sockets);
    let mut names = std::collections::HashMap::new();
    let mut name_of = |uid: u32| names.entry(uid).or_insert_with(|| user_name(uid)).clone();
    for s in sockets.iter_mut() {
        if s.user.is_none() {
            s.user = s.uid.and_then(&mut name_of);
        }
        if s.holders.is_empty()
            && let Some(pid) = s.pid
        {
            s.holders.push(Holder {
                pid,
                process: s.process.clone(),
                uid: None,
                user: None,
            });
        }
        for h in &mut s.holders {
            h.uid = h.uid.or_else(|| crate::os::process::uid(h.pid));
            h.user = h.uid.and_then(&mut name_of);
        }
    }
}

#[cfg(unix)]
fn user_name(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

#[cfg(not(unix))]
fn user_name(_uid: u32) -> Option<String> {
    None
}

/// Parses one of `/proc/net/{tcp,tcp6,udp,udp6}`: TCP rows in LISTEN (`0A`) and UDP rows
/// that are unconnected (`07`, shown by `ss` as UNCONN).
#[cfg(any(target_os = "linux", test))]
pub fn parse_proc_net(text: &str, proto: Transport) -> Vec<Socket> {
    let wanted = if proto == Transport::Tcp { "0A" } else { "07" };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != wanted {
                return None;
            }
            let (addr, port) = f[1].split_once(':')?;
            let port = u16::from_str_radix(port, 16).ok().filter(|&p| p != 0)?;
            Some(Socket {
                proto,
                address: parse_proc_addr(addr)?,
                port,
                pid: None,
                process: None,
                uid: f[7].parse().ok(),
                user: None,
                holders: Vec::new(),
                container: None,
                inode: f[9].parse().ok()?,
            })
        })
        .collect()
}

/// A `/proc/net` address: 8 hex digits (IPv4) or 32 (IPv6), each 32-bit word in the host's
/// byte order.
#[cfg(any(target_os = "linux", test))]
fn parse_proc_addr(hex: &str) -> Option<IpAddr> {
    let words: Option<Vec<u32>> = (0..hex.len() / 8)
        .map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect();
    let bytes: Vec<u8> = words?.into_iter().flat_map(u32::to_ne_bytes).collect();
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

/// Parses a Windows socket table as `GetExtendedTcpTable` (`TCP_TABLE_OWNER_PID_LISTENER`) or
/// `GetExtendedUdpTable` (`UDP_TABLE_OWNER_PID`) fill it in: a row count, then fixed-size rows
/// of little-endian numbers, addresses and ports in network byte order. An owner pid of 0 (no
/// process, as Wine reports every socket) is "owner not visible". Truncated input yields the
/// rows that are whole.
#[cfg(any(windows, test))]
pub fn parse_windows_table(bytes: &[u8], proto: Transport, ipv6: bool) -> Vec<Socket> {
    // MIB_TCP_STATE_LISTEN
    const LISTEN: u32 = 2;
    // Offsets of (local address, local port, owner pid, state) in each row, and its size.
    let (addr_at, port_at, pid_at, state_at, row_len) = match (proto, ipv6) {
        (Transport::Tcp, false) => (4, 8, 20, Some(0), 24),
        (Transport::Tcp, true) => (0, 20, 52, Some(48), 56),
        (_, false) => (0, 4, 8, None, 12),
        (_, true) => (0, 20, 24, None, 28),
    };
    let word = |row: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(row.get(at..at + 4)?.try_into().ok()?))
    };
    let count = word(bytes, 0).unwrap_or(0) as usize;
    bytes
        .get(4..)
        .unwrap_or_default()
        .chunks_exact(row_len)
        .take(count)
        .filter_map(|row| {
            if state_at.is_some_and(|at| word(row, at) != Some(LISTEN)) {
                return None;
            }
            let address = if ipv6 {
                IpAddr::from(<[u8; 16]>::try_from(row.get(addr_at..addr_at + 16)?).ok()?)
            } else {
                IpAddr::from(<[u8; 4]>::try_from(row.get(addr_at..addr_at + 4)?).ok()?)
            };
            let port = u16::from_be_bytes(row.get(port_at..port_at + 2)?.try_into().ok()?);
            (port != 0).then(|| Socket {
                proto,
                address,
                port,
                pid: word(row, pid_at).filter(|&pid| pid != 0),
                process: None,
                uid: None,
                user: None,
                holders: Vec::new(),
                container: None,
                inode: 0,
            })
        })
        .collect()
}

#[cfg(target_os = "linux")]
mod platform {
    #[allow(unused_imports)]
    use crate::model::types::Transport;
    use std::collections::HashMap;

    use netlink_packet_core::{
        NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    };
    use netlink_packet_sock_diag::SockDiagMessage;
    use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
    use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
    use netlink_sys::protocols::NETLINK_SOCK_DIAG;
    use netlink_sys::{Socket as NlSocket, SocketAddr};

    use super::{Holder, Socket, parse_proc_net};

    pub fn list() -> Vec<Socket> {
        netlink_list().unwrap_or_else(proc_list)
    }

    fn proc_list() -> Vec<Socket> {
        [
            ("tcp", Transport::Tcp),
            ("tcp6", Transport::Tcp),
            ("udp", Transport::Udp),
            ("udp6", Transport::Udp),
        ]
        .iter()
        .flat_map(|&(file, proto)| {
            parse_proc_net(
                &std::fs::read_to_string(format!("/proc/net/{file}")).unwrap_or_default(),
                proto,
            )
        })
        .collect()
    }

    /// All four dumps over one netlink socket; `None` if netlink is not available.
    fn netlink_list() -> Option<Vec<Socket>> {
        let mut socket = NlSocket::new(NETLINK_SOCK_DIAG).ok()?;
        socket.bind_auto().ok()?;
        socket.connect(&SocketAddr::new(0, 0)).ok()?;
        let mut out = Vec::new();
        for family in [AF_INET, AF_INET6] {
            dump(
                &socket,
                family,
                IPPROTO_TCP,
                StateFlags::LISTEN,
                Transport::Tcp,
                &mut out,
            )?;
            dump(
                &socket,
                family,
                IPPROTO_UDP,
                StateFlags::CLOSE,
                Transport::Udp,
                &mut out,
            )?;
        }
        Some(out)
    }

    fn dump(
        socket: &NlSocket,
        family: u8,
        protocol: u8,
        states: StateFlags,
        proto: Transport,
        out: &mut Vec<Socket>,
    ) -> Option<()> {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let socket_id = if family == AF_INET {
            SocketId::new_v4()
        } else {
            SocketId::new_v6()
        };
        let mut packet = NetlinkMessage::new(
            header,
            SockDiagMessage::InetRequest(InetRequest {
                family,
                protocol,
                extensions: ExtensionFlags::empty(),
                states,
                socket_id,
            })
            .into(),
        );
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        socket.send(&buf, 0).ok()?;
        let mut recv = Vec::with_capacity(1 << 16);
        loop {
            recv.clear();
            let size = socket.recv(&mut recv, 0).ok()?;
            let mut offset = 0;
            while offset < size {
                let msg =
                    NetlinkMessage::<SockDiagMessage>::deserialize(&recv[offset..size]).ok()?;
                match msg.payload {
                    NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => {
                        let h = &r.header;
                        if h.socket_id.source_port != 0 {
                            out.push(Socket {
                                proto,
                                address: h.socket_id.source_address,
                                port: h.socket_id.source_port,
                                pid: None,
                                process: None,
                                uid: Some(h.uid),
                                user: None,
                                holders: Vec::new(),
                                container: None,
                                inode: u64::from(h.inode),
                            });
                        }
                    }
                    NetlinkPayload::Done(_) => return Some(()),
                    NetlinkPayload::Error(_) => return None,
                    _ => {}
                }
                let len = msg.header.length as usize;
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }

    /// Maps socket inodes to every pid holding them by reading all `/proc/*/fd` links (a
    /// socket may be shared, so the scan does not stop at the first holder). Processes of
    /// other users are skipped unless devport runs as root (their holders stay unknown).
    pub fn resolve_owners(sockets: &mut [Socket]) {
        let mut wanted: HashMap<u64, Vec<u32>> = sockets
            .iter()
            .filter(|s| s.inode != 0)
            .map(|s| (s.inode, Vec::new()))
            .collect();
        if wanted.is_empty() {
            return;
        }
        for pid in crate::os::process::pids() {
            let Some(targets) = crate::os::process::fd_targets(pid) else {
                continue;
            };
            for target in targets {
                let Some(inode) = crate::os::process::socket_inode(&target) else {
                    continue;
                };
                if let Some(pids) = wanted.get_mut(&inode)
                    && pids.last() != Some(&pid)
                {
                    pids.push(pid);
                }
            }
        }
        for s in sockets.iter_mut() {
            let Some(pids) = wanted.get_mut(&s.inode) else {
                continue;
            };
            pids.sort_unstable();
            pids.dedup();
            s.holders = pids
                .iter()
                .map(|&pid| Holder {
                    pid,
                    process: crate::os::process::name(pid),
                    uid: None,
                    user: None,
                })
                .collect();
            if let Some(first) = s.holders.first() {
                s.pid = Some(first.pid);
                s.process.clone_from(&first.process);
            }
        }
    }
}

#[cfg(windows)]
mod platform {
    #[allow(unused_imports)]
    use crate::model::types::Transport;
    use std::collections::HashMap;

    use windows_sys::Win32::Networking::WinSock::{AF_INET, AF_INET6};

    use super::{Socket, parse_windows_table};
    use crate::os::winapi::{Table, socket_table};

    pub fn list() -> Vec<Socket> {
        let mut out = Vec::new();
        for (table, proto) in [
            (Table::TcpListeners, Transport::Tcp),
            (Table::Udp, Transport::Udp),
        ] {
            for (family, ipv6) in [(AF_INET, false), (AF_INET6, true)] {
                if let Some(bytes) = socket_table(table, family) {
                    out.extend(parse_windows_table(&bytes, proto, ipv6));
                }
            }
        }
        out
    }

    /// Names the owners from one process snapshot. A pid the snapshot does not list keeps its
    /// number without a name.
    pub fn resolve_owners(sockets: &mut [Socket]) {
        if sockets.iter().all(|s| s.pid.is_none()) {
            return;
        }
        let names: HashMap<u32, String> = crate::os::winapi::processes()
            .into_iter()
            .map(|p| (p.pid, p.name))
            .collect();
        for s in sockets.iter_mut() {
            s.process = s.pid.and_then(|pid| names.get(&pid).cloned());
        }
    }
}

#[cfg(target_os = "macos")]
mod platform {
    use super::Socket;
    #[allow(unused_imports)]
    use crate::model::types::Transport;
    use crate::os::pcblist;

    /// The kernel's socket lists, as `netstat` reads them: every listener of every user, with
    /// its uid, and its pid where the kernel recorded one.
    pub fn list() -> Vec<Socket> {
        [
            (c"net.inet.tcp.pcblist_n", Transport::Tcp),
            (c"net.inet.udp.pcblist_n", Transport::Udp),
        ]
        .into_iter()
        .filter_map(|(name, proto)| {
            crate::os::macos::sysctl_bytes(name).map(|bytes| pcblist::parse(&bytes, proto))
        })
        .flatten()
        .collect()
    }

    /// Names the owners from `proc_name`; a process that cannot be seen keeps its pid without
    /// a name, and one running as another user than the socket's is not its owner
    /// ([`pcblist::owner_pid`]).
    pub fn resolve_owners(sockets: &mut [Socket]) {
        for s in sockets.iter_mut() {
            let process_uid = s
                .pid
                .and_then(crate::os::macos::bsd_info)
                .map(|(_, uid)| uid);
            s.pid = pcblist::owner_pid(s.pid, s.uid, process_uid);
            s.process = s.pid.and_then(crate::os::macos::process_name);
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod platform {
    use super::Socket;
    #[allow(unused_imports)]
    use crate::model::types::Transport;

    /// The `listeners` crate, which lists only sockets whose owner it can see.
    pub fn list() -> Vec<Socket> {
        let Ok(all) = listeners::get_all() else {
            return Vec::new();
        };
        all.into_iter()
            .filter_map(|l| {
                let proto = match (l.protocol, l.state) {
                    (listeners::Protocol::TCP, listeners::SocketState::Listen) => Transport::Tcp,
                    (listeners::Protocol::UDP, s) if s != listeners::SocketState::Established => {
                        Transport::Udp
                    }
                    _ => return None,
                };
                (l.socket.port() != 0).then(|| Socket {
                    proto,
                    address: l.socket.ip(),
                    port: l.socket.port(),
                    pid: Some(l.process.pid),
                    process: Some(l.process.name),
                    uid: None,
                    user: None,
                    holders: Vec::new(),
                    container: None,
                    inode: 0,
                })
            })
            .collect()
    }

    /// `listeners` reports owners with the sockets already.
    pub fn resolve_owners(_sockets: &mut [Socket]) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_rows() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F91 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 12346 1\n";
        let rows = parse_proc_net(tcp, Transport::Tcp);
        assert_eq!(rows.len(), 1);
        if cfg!(target_endian = "little") {
            assert_eq!(rows[0].address, IpAddr::from([127, 0, 0, 1]));
        }
        assert_eq!(
            (rows[0].port, rows[0].uid, rows[0].inode),
            (8080, Some(1000), 12345)
        );
        let tcp6 = "header\n   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1\n";
        let rows = parse_proc_net(tcp6, Transport::Tcp);
        if cfg!(target_endian = "little") {
            assert_eq!(
                rows[0].address,
                "::1".parse::<IpAddr>().unwrap_or(IpAddr::from([0; 4]))
            );
        }
    }

    /// A table as Windows lays it out: the row count, then the rows.
    fn table(rows: &[Vec<u8>]) -> Vec<u8> {
        let mut bytes = u32::try_from(rows.len())
            .unwrap_or(0)
            .to_le_bytes()
            .to_vec();
        for row in rows {
            bytes.extend(row);
        }
        bytes
    }

    fn le(n: u32) -> [u8; 4] {
        n.to_le_bytes()
    }

    /// A port as the tables hold it: network byte order in the low bytes of a `u32`.
    fn net_port(port: u16) -> [u8; 4] {
        let [hi, lo] = port.to_be_bytes();
        [hi, lo, 0, 0]
    }

    #[test]
    fn windows_tables() {
        // MIB_TCPROW_OWNER_PID: state, local addr, local port, remote addr, remote port, pid.
        let tcp4 = |state: u32, addr: [u8; 4], port: u16, pid: u32| {
            [le(state), addr, net_port(port), [0; 4], [0; 4], le(pid)].concat()
        };
        let rows = parse_windows_table(
            &table(&[
                tcp4(2, [127, 0, 0, 1], 8080, 4321),
                tcp4(5, [127, 0, 0, 1], 8081, 4321), // established: not a listener
                tcp4(2, [0, 0, 0, 0], 445, 0),       // owner not visible (Wine: all of them)
            ]),
            Transport::Tcp,
            false,
        );
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(
            (rows[0].address, rows[0].port, rows[0].pid),
            (IpAddr::from([127, 0, 0, 1]), 8080, Some(4321))
        );
        assert_eq!((rows[1].port, rows[1].pid), (445, None));

        // MIB_TCP6ROW_OWNER_PID: addr, scope, port, remote addr, scope, port, state, pid.
        let mut loopback = [0u8; 16];
        loopback[15] = 1;
        let tcp6 = [
            &loopback[..],
            &le(0),
            &net_port(50_000),
            &[0; 16],
            &le(0),
            &le(0),
            &le(2),
            &le(77),
        ]
        .concat();
        let rows = parse_windows_table(&table(&[tcp6]), Transport::Tcp, true);
        assert_eq!(
            (rows[0].address, rows[0].port, rows[0].pid),
            (
                "::1".parse::<IpAddr>().ok().unwrap_or(IpAddr::from([0; 4])),
                50_000,
                Some(77)
            )
        );

        // MIB_UDPROW_OWNER_PID and MIB_UDP6ROW_OWNER_PID: no state, every row is kept.
        let udp4 = [[127, 0, 0, 1], net_port(5353), le(9)].concat();
        let udp6 = [&loopback[..], &le(0), &net_port(5354), &le(0)].concat();
        let v4 = parse_windows_table(&table(&[udp4]), Transport::Udp, false);
        let v6 = parse_windows_table(&table(&[udp6]), Transport::Udp, true);
        assert_eq!(
            (v4[0].port, v4[0].pid, v4[0].proto),
            (5353, Some(9), Transport::Udp)
        );
        assert_eq!((v6[0].port, v6[0].pid), (5354, None));

        // A count larger than the rows present, and garbage, yield only whole rows.
        let mut short = table(&[[[127, 0, 0, 1], net_port(1), le(1)].concat()]);
        short[0] = 9;
        assert_eq!(parse_windows_table(&short, Transport::Udp, false).len(), 1);
        assert!(parse_windows_table(&[1, 2], Transport::Tcp, true).is_empty());
    }

    /// This process's listener on an OS-picked loopback port, and what the socket list says
    /// about that port.
    fn own_listener() -> (std::net::TcpListener, Vec<Socket>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().map_or(0, |a| a.port());
        let found = on_port(&list(), port);
        (listener, found)
    }

    #[test]
    fn finds_own_listener() {
        let (_listener, found) = own_listener();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].proto, Transport::Tcp);
        assert_eq!(found[0].address, IpAddr::from([127, 0, 0, 1]));
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Wine: the socket tables report owner pid 0 for every socket"
    )]
    fn finds_own_listeners_owner() {
        let (_listener, found) = own_listener();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pid, Some(std::process::id()));
    }
}
