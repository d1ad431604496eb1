//! The macOS kernel's socket lists, as `netstat` reads them: the bytes of the sysctls
//! `net.inet.tcp.pcblist_n` and `net.inet.udp.pcblist_n` (IPv4 and IPv6 in one list), parsed
//! here as a pure function so the parser is tested on every platform. The sysctl call itself is
//! in `macos.rs`.
//!
//! Layout (XNU `bsd/sys/socketvar.h`, `bsd/netinet/in_pcb.h`, `bsd/netinet/tcp_var.h`, all
//! `#pragma pack(4)`; read as Apple's `netstat` does in `inet.c`): a `struct xinpgen` header
//! (`xig_len: u32, xig_count: u32, xig_gen: u64, xig_sogen: u64`, 24 bytes), then for each
//! socket a run of records, each starting with `(len: u32, kind: u32)` and padded to a multiple
//! of 8 bytes: `xsocket_n` (kind 0x01), `xsockbuf_n` for receive and send (0x02, 0x04),
//! `xsockstat_n` (0x08), `xinpcb_n` (0x10) and, for TCP, `xtcpcb_n` (0x20). A trailing
//! `xinpgen` (a record no longer than 24 bytes) ends the list. Numbers are in the host's byte
//! order (little-endian on every Mac: x86-64 and arm64), ports and addresses in network order.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::sockets::Socket;
use crate::model::types::Transport;

/// `sizeof(struct xinpgen)`: a record this short ends the list.
const XINPGEN_LEN: usize = 24;

/// Record kinds (`XSO_*` in `sys/socketvar.h`).
const XSO_SOCKET: u32 = 0x01;
const XSO_RCVBUF: u32 = 0x02;
const XSO_SNDBUF: u32 = 0x04;
const XSO_STATS: u32 = 0x08;
const XSO_INPCB: u32 = 0x10;
const XSO_TCPCB: u32 = 0x20;

/// Offsets in `struct xsocket_n`.
mod xsocket {
    pub const PROTOCOL: usize = 36;
    pub const UID: usize = 64;
    pub const LAST_PID: usize = 68;
    /// Bytes needed to read the fields above.
    pub const MIN_LEN: usize = 72;
}

/// Offsets in `struct xinpcb_n`.
mod xinpcb {
    pub const FPORT: usize = 16;
    pub const LPORT: usize = 18;
    pub const GENCNT: usize = 28;
    pub const VFLAG: usize = 44;
    /// `inp_dependladdr`: an `in6_addr`, or an `in_addr_4in6` whose last 4 bytes are the
    /// IPv4 address.
    pub const LADDR: usize = 64;
    pub const MIN_LEN: usize = 80;
    /// `inp_vflag` bits.
    pub const INP_IPV4: u8 = 0x1;
    pub const INP_IPV6: u8 = 0x2;
}

/// Offsets in `struct xtcpcb_n`: `t_state` follows `t_segq: u64`, `t_dupacks: i32` and
/// `t_timer: [i32; TCPT_NTIMERS_EXT = 4]`.
mod xtcpcb {
    pub const STATE: usize = 36;
    pub const MIN_LEN: usize = 40;
    /// `TCPS_LISTEN` in `netinet/tcp_fsm.h`.
    pub const LISTEN: u32 = 1;
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn port_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

/// `ROUNDUP64` of `netstat`'s `inet.c`: records are padded to 8 bytes (0 counts as 8).
fn roundup64(len: usize) -> usize {
    len.max(1).div_ceil(8) * 8
}

/// The listening TCP sockets (`proto` `"tcp"`, from `tcp.pcblist_n`) or the bound, unconnected
/// UDP sockets (`"udp"`, from `udp.pcblist_n`) in `bytes`, IPv4 and IPv6. Every such socket is
/// kept: its uid (`so_uid`) is always known, its pid (`so_last_pid`) when the kernel recorded
/// one. Records freed while the list was copied (a generation newer than the header's) are
/// skipped, as `netstat` does; truncated or malformed input yields the sockets that are whole.
pub fn parse(bytes: &[u8], proto: Transport) -> Vec<Socket> {
    let tcp = proto == Transport::Tcp;
    let (protocol, all) = if tcp {
        (
            6,
            XSO_SOCKET | XSO_RCVBUF | XSO_SNDBUF | XSO_STATS | XSO_INPCB | XSO_TCPCB,
        )
    } else {
        (
            17,
            XSO_SOCKET | XSO_RCVBUF | XSO_SNDBUF | XSO_STATS | XSO_INPCB,
        )
    };
    let mut out = Vec::new();
    if bytes.len() <= XINPGEN_LEN {
        return out;
    }
    let (Some(header_len), Some(generation)) = (u32_at(bytes, 0), u64_at(bytes, 8)) else {
        return out;
    };
    let mut next = roundup64(header_len as usize);
    let (mut which, mut so, mut inp, mut tp) = (0u32, &[][..], &[][..], &[][..]);
    while let (Some(len), Some(kind)) = (u32_at(bytes, next), u32_at(bytes, next + 4)) {
        let len = len as usize;
        if len <= XINPGEN_LEN {
            break;
        }
        let Some(record) = next.checked_add(len).and_then(|end| bytes.get(next..end)) else {
            break;
        };
        next += roundup64(len);
        if which & kind == 0 {
            which |= kind;
            match kind {
                XSO_SOCKET => so = record,
                XSO_INPCB => inp = record,
                XSO_TCPCB => tp = record,
                _ => {}
            }
        }
        if which != all {
            continue;
        }
        which = 0;
        if let Some(socket) = socket(so, inp, tcp.then_some(tp), protocol, generation, proto) {
            out.push(socket);
        }
    }
    out
}

/// The socket that one complete run of records describes, if it is one that is asked for.
fn socket(
    so: &[u8],
    inp: &[u8],
    tp: Option<&[u8]>,
    protocol: u32,
    generation: u64,
    proto: Transport,
) -> Option<Socket> {
    if so.len() < xsocket::MIN_LEN || inp.len() < xinpcb::MIN_LEN {
        return None;
    }
    if u32_at(so, xsocket::PROTOCOL)? != protocol || u64_at(inp, xinpcb::GENCNT)? > generation {
        return None;
    }
    match tp {
        Some(tp) => {
            if tp.len() < xtcpcb::MIN_LEN || u32_at(tp, xtcpcb::STATE)? != xtcpcb::LISTEN {
                return None;
            }
        }
        // UDP: bound and not connected.
        None => {
            if port_at(inp, xinpcb::FPORT)? != 0 {
                return None;
            }
        }
    }
    let port = port_at(inp, xinpcb::LPORT).filter(|&p| p != 0)?;
    let vflag = *inp.get(xinpcb::VFLAG)?;
    let laddr = inp.get(xinpcb::LADDR..xinpcb::LADDR + 16)?;
    let address = if vflag & xinpcb::INP_IPV6 != 0 {
        IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(laddr).ok()?))
    } else if vflag & xinpcb::INP_IPV4 != 0 {
        IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(&laddr[12..]).ok()?))
    } else {
        return None;
    };
    let pid = u32_at(so, xsocket::LAST_PID)?;
    Some(Socket {
        proto,
        address,
        port,
        // A pid_t: 0 (no process recorded) and negative values are no owner.
        pid: (pid != 0 && pid.cast_signed() > 0).then_some(pid),
        process: None,
        uid: u32_at(so, xsocket::UID),
        user: None,
        holders: Vec::new(),
        inode: 0,
        container: None,
    })
}

/// The owner pid to show for a socket whose kernel record names `pid` (`so_last_pid`, the
/// last process that used it) and user `socket_uid`, given the uid of the process now running
/// with that pid (`None`: none runs, or it cannot be seen). A running process of another user
/// is not taken for the owner: the pid may have been reused since (or the owner dropped its
/// privileges after binding), and `kill` must never act on the wrong process.
pub fn owner_pid(
    pid: Option<u32>,
    socket_uid: Option<u32>,
    process_uid: Option<u32>,
) -> Option<u32> {
    match (process_uid, socket_uid) {
        (Some(now), Some(then)) if now != then => None,
        _ => pid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One socket as the kernel writes it.
    struct Pcb {
        protocol: u32,
        uid: u32,
        pid: i32,
        vflag: u8,
        laddr: [u8; 16],
        lport: u16,
        fport: u16,
        gencnt: u64,
        tcp_state: Option<u32>,
    }

    impl Pcb {
        fn tcp(laddr: IpAddr, lport: u16, pid: i32, state: u32) -> Pcb {
            let (vflag, laddr) = addr(laddr);
            Pcb {
                protocol: 6,
                uid: 501,
                pid,
                vflag,
                laddr,
                lport,
                fport: 0,
                gencnt: 5,
                tcp_state: Some(state),
            }
        }

        fn udp(laddr: IpAddr, lport: u16, fport: u16) -> Pcb {
            let (vflag, laddr) = addr(laddr);
            Pcb {
                protocol: 17,
                uid: 0,
                pid: 0,
                vflag,
                laddr,
                lport,
                fport,
                gencnt: 5,
                tcp_state: None,
            }
        }
    }

    fn addr(ip: IpAddr) -> (u8, [u8; 16]) {
        match ip {
            IpAddr::V4(v4) => {
                let mut bytes = [0; 16];
                bytes[12..].copy_from_slice(&v4.octets());
                (xinpcb::INP_IPV4, bytes)
            }
            IpAddr::V6(v6) => (xinpcb::INP_IPV6, v6.octets()),
        }
    }

    fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
        buf[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// A record of `len` bytes (as the structure's size) of `kind`, padded to 8 bytes.
    fn record(len: u32, kind: u32, fill: impl FnOnce(&mut [u8])) -> Vec<u8> {
        let mut rec = vec![0u8; roundup64(len as usize)];
        put(&mut rec, 0, &len.to_le_bytes());
        put(&mut rec, 4, &kind.to_le_bytes());
        fill(&mut rec);
        rec
    }

    /// `xinpgen` with generation 10.
    fn xinpgen(count: u32) -> Vec<u8> {
        let mut rec = vec![0u8; XINPGEN_LEN];
        put(&mut rec, 0, &24u32.to_le_bytes());
        put(&mut rec, 4, &count.to_le_bytes());
        put(&mut rec, 8, &10u64.to_le_bytes());
        rec
    }

    /// The run of records for `pcb`, in the kernel's order.
    fn run(pcb: &Pcb) -> Vec<u8> {
        // sizeof: xsocket_n 104, xsockbuf_n 32, xsockstat_n 136, xinpcb_n 104, xtcpcb_n 260.
        let mut out = record(104, XSO_SOCKET, |r| {
            put(r, xsocket::PROTOCOL, &pcb.protocol.to_le_bytes());
            put(r, 40, &2i32.to_le_bytes()); // xso_family: not used
            put(r, xsocket::UID, &pcb.uid.to_le_bytes());
            put(r, xsocket::LAST_PID, &pcb.pid.to_le_bytes());
        });
        out.extend(record(32, XSO_RCVBUF, |_| {}));
        out.extend(record(32, XSO_SNDBUF, |_| {}));
        out.extend(record(136, XSO_STATS, |_| {}));
        out.extend(record(104, XSO_INPCB, |r| {
            put(r, xinpcb::FPORT, &pcb.fport.to_be_bytes());
            put(r, xinpcb::LPORT, &pcb.lport.to_be_bytes());
            put(r, xinpcb::GENCNT, &pcb.gencnt.to_le_bytes());
            r[xinpcb::VFLAG] = pcb.vflag;
            put(r, xinpcb::LADDR, &pcb.laddr);
        }));
        if let Some(state) = pcb.tcp_state {
            out.extend(record(260, XSO_TCPCB, |r| {
                put(r, xtcpcb::STATE, &state.to_le_bytes());
            }));
        }
        out
    }

    fn list(pcbs: &[Pcb]) -> Vec<u8> {
        let mut out = xinpgen(u32::try_from(pcbs.len()).unwrap_or(0));
        for pcb in pcbs {
            out.extend(run(pcb));
        }
        out.extend(xinpgen(0));
        out
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    /// The C structures, field by field as XNU declares them under `#pragma pack(4)`: the
    /// offsets used above follow from them (a check of the arithmetic, not of the kernel).
    #[allow(dead_code, clippy::struct_field_names)]
    mod c {
        #[repr(C, packed(4))]
        pub struct XsocketN {
            pub xso_len: u32,
            pub xso_kind: u32,
            pub xso_so: u64,
            pub so_type: i16,
            pub so_options: u32,
            pub so_linger: i16,
            pub so_state: i16,
            pub so_pcb: u64,
            pub xso_protocol: i32,
            pub xso_family: i32,
            pub so_qlen: i16,
            pub so_incqlen: i16,
            pub so_qlimit: i16,
            pub so_timeo: i16,
            pub so_error: u16,
            pub so_pgid: i32,
            pub so_oobmark: u32,
            pub so_uid: u32,
            pub so_last_pid: i32,
            pub so_e_pid: i32,
            pub so_gencnt: u64,
            pub so_flags: u32,
            pub so_flags1: u32,
            pub so_usecount: i32,
            pub so_retaincnt: i32,
            pub xso_filter_flags: u32,
        }

        #[repr(C, packed(4))]
        pub struct Depend6 {
            pub inp6_hlim: u8,
            pub inp6_cksum: i32,
            pub inp6_ifindex: u16,
            pub inp6_hops: i16,
        }

        #[repr(C, packed(4))]
        pub struct XinpcbN {
            pub xi_len: u32,
            pub xi_kind: u32,
            pub xi_inpp: u64,
            pub inp_fport: u16,
            pub inp_lport: u16,
            pub inp_ppcb: u64,
            pub inp_gencnt: u64,
            pub inp_flags: i32,
            pub inp_flow: u32,
            pub inp_vflag: u8,
            pub inp_ip_ttl: u8,
            pub inp_ip_p: u8,
            /// Unions of `in_addr_4in6` and `in6_addr`: 16 bytes, 4-byte aligned.
            pub inp_dependfaddr: [u32; 4],
            pub inp_dependladdr: [u32; 4],
            pub inp4_ip_tos: u8,
            pub inp_depend6: Depend6,
            pub inp_flowhash: u32,
            pub inp_flags2: u32,
        }

        /// The start of `xtcpcb_n`, up to `t_state`.
        #[repr(C, packed(4))]
        pub struct XtcpcbN {
            pub xt_len: u32,
            pub xt_kind: u32,
            pub t_segq: u64,
            pub t_dupacks: i32,
            pub t_timer: [i32; 4],
            pub t_state: i32,
        }
    }

    #[test]
    fn offsets_follow_from_the_c_declarations() {
        use std::mem::{offset_of, size_of};
        assert_eq!(offset_of!(c::XsocketN, xso_protocol), xsocket::PROTOCOL);
        assert_eq!(offset_of!(c::XsocketN, so_uid), xsocket::UID);
        assert_eq!(offset_of!(c::XsocketN, so_last_pid), xsocket::LAST_PID);
        assert_eq!(size_of::<c::XsocketN>(), 104);
        assert_eq!(offset_of!(c::XinpcbN, inp_fport), xinpcb::FPORT);
        assert_eq!(offset_of!(c::XinpcbN, inp_lport), xinpcb::LPORT);
        assert_eq!(offset_of!(c::XinpcbN, inp_gencnt), xinpcb::GENCNT);
        assert_eq!(offset_of!(c::XinpcbN, inp_vflag), xinpcb::VFLAG);
        assert_eq!(offset_of!(c::XinpcbN, inp_dependladdr), xinpcb::LADDR);
        assert_eq!(size_of::<c::XinpcbN>(), 104);
        assert_eq!(offset_of!(c::XtcpcbN, t_state), xtcpcb::STATE);
    }

    #[test]
    fn tcp_listeners_of_every_user_ipv4_and_ipv6() {
        let bytes = list(&[
            Pcb::tcp(ip("127.0.0.1"), 8080, 4242, xtcpcb::LISTEN),
            Pcb::tcp(ip("127.0.0.1"), 8081, 4242, 4), // established: not a listener
            Pcb::tcp(ip("::1"), 3000, 0, xtcpcb::LISTEN), // no pid recorded
            Pcb {
                uid: 0,
                ..Pcb::tcp(ip("0.0.0.0"), 22, -1, xtcpcb::LISTEN)
            },
            Pcb {
                gencnt: 11, // freed while the list was copied
                ..Pcb::tcp(ip("127.0.0.1"), 9, 1, xtcpcb::LISTEN)
            },
            Pcb {
                protocol: 17, // not TCP
                ..Pcb::tcp(ip("127.0.0.1"), 10, 1, xtcpcb::LISTEN)
            },
        ]);
        let got: Vec<_> = parse(&bytes, Transport::Tcp)
            .into_iter()
            .map(|s| (s.proto, s.address, s.port, s.pid, s.uid))
            .collect();
        assert_eq!(
            got,
            [
                (Transport::Tcp, ip("127.0.0.1"), 8080, Some(4242), Some(501)),
                (Transport::Tcp, ip("::1"), 3000, None, Some(501)),
                (Transport::Tcp, ip("0.0.0.0"), 22, None, Some(0)),
            ]
        );
    }

    #[test]
    fn udp_sockets_bound_and_unconnected() {
        let bytes = list(&[
            Pcb::udp(ip("0.0.0.0"), 5353, 0),
            Pcb::udp(ip("127.0.0.1"), 5354, 53), // connected
            Pcb::udp(ip("::"), 5355, 0),
            Pcb::udp(ip("127.0.0.1"), 0, 0), // not bound
        ]);
        let got: Vec<_> = parse(&bytes, Transport::Udp)
            .into_iter()
            .map(|s| (s.proto, s.address, s.port))
            .collect();
        assert_eq!(
            got,
            [
                (Transport::Udp, ip("0.0.0.0"), 5353),
                (Transport::Udp, ip("::"), 5355)
            ]
        );
        // A UDP list read as TCP finds nothing (no TCP records, other protocol).
        assert!(parse(&bytes, Transport::Tcp).is_empty());
    }

    #[test]
    fn a_pid_now_running_as_another_user_is_not_the_owner() {
        assert_eq!(owner_pid(Some(42), Some(501), Some(501)), Some(42));
        assert_eq!(owner_pid(Some(42), Some(501), None), Some(42));
        assert_eq!(owner_pid(Some(42), Some(0), Some(501)), None);
        assert_eq!(owner_pid(None, Some(0), Some(0)), None);
    }

    #[test]
    fn a_dual_stack_socket_is_read_as_ipv6() {
        let mut pcb = Pcb::tcp(ip("::"), 4000, 7, xtcpcb::LISTEN);
        pcb.vflag = xinpcb::INP_IPV4 | xinpcb::INP_IPV6;
        let got = parse(&list(&[pcb]), Transport::Tcp);
        assert_eq!((got[0].address, got[0].port), (ip("::"), 4000));
    }

    #[test]
    fn truncated_and_garbage_input_yields_whole_sockets_only() {
        let bytes = list(&[
            Pcb::tcp(ip("127.0.0.1"), 1111, 1, xtcpcb::LISTEN),
            Pcb::tcp(ip("127.0.0.1"), 2222, 1, xtcpcb::LISTEN),
        ]);
        assert_eq!(parse(&bytes, Transport::Tcp).len(), 2);
        // Cut anywhere: never a panic, never a socket from half a run.
        for cut in 0..bytes.len() {
            let got = parse(&bytes[..cut], Transport::Tcp);
            assert!(got.len() <= 2, "{cut}");
            assert!(got.iter().all(|s| [1111, 2222].contains(&s.port)), "{cut}");
        }
        // A record claiming a huge length, an empty list, noise.
        let mut huge = bytes.clone();
        put(&mut huge, 24, &u32::MAX.to_le_bytes());
        assert!(parse(&huge, Transport::Tcp).is_empty());
        assert!(parse(&list(&[]), Transport::Tcp).is_empty());
        assert!(parse(&[0xff; 300], Transport::Udp).is_empty());
    }
}
