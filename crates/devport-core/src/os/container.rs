//! The container end of a port Docker forwards: read from `docker-proxy`'s own arguments, and
//! named by the Docker Engine when its socket answers.
//!
//! With Docker's userland proxy (the default), every published port is a listening socket owned
//! by a `docker-proxy` process started as
//! `docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 5432 -container-ip 172.17.0.2
//! -container-port 5432` (rootless Docker runs `rootlesskit-docker-proxy` with the same flags).
//! Those flags are Go `flag` flags: `-name value`, `-name=value`, `--name value` and
//! `--name=value` all mean the same, and the last one given wins.
//!
//! Not recognised, on purpose: Podman's `rootlessport` gets its port map as JSON on stdin (its
//! arguments say nothing), `conmon`'s arguments name a container but not a forwarding, Docker
//! with `userland-proxy: false` forwards in the kernel (no process owns the port), rootless
//! Docker's host-side socket belongs to `rootlesskit` (no per-port arguments), and Docker
//! Desktop on macOS forwards through `com.docker.backend` / vpnkit, whose arguments name no
//! container either. Those sockets are shown with their owner as before.
//!
//! Nothing here runs on the claim path: [`annotate`] is called by `check`, `audit`,
//! `list --live`, `doctor`, `kill` and `wait` only.

use std::net::IpAddr;

use serde::Deserialize;

use crate::model::types::Transport;
pub use crate::os::sockets::Container;
use crate::os::sockets::Socket;

/// Command names (`/proc/PID/comm`, at most 15 bytes) of the forwarders whose arguments carry
/// the container end: Docker's `docker-proxy` and rootless Docker's `rootlesskit-docker-proxy`
/// (cut to `rootlesskit-doc` by the kernel).
const FORWARDERS: [&str; 2] = ["docker-proxy", "rootlesskit-doc"];

/// Whether a process so named forwards to a container and says where in its arguments.
pub fn is_forwarder(process_name: &str) -> bool {
    FORWARDERS.contains(&process_name)
}

/// Whether a process so named is a container engine's port forwarder whose arguments do not
/// say where it forwards (Podman's `rootlessport` and `conmon`, rootless Docker's
/// `rootlesskit`), so devport cannot read its mapping. Stopping one would break the
/// container's ports and leave the container running, so `kill` refuses them by name. (A
/// `docker-proxy` says where in its arguments: it is a container's only when they name the
/// socket, see [`annotate`], and otherwise an ordinary process.)
pub fn is_opaque_forwarder(process_name: &str) -> bool {
    ["rootlessport", "rootlesskit", "conmon"].contains(&process_name)
}

/// What a forwarder's arguments say: where it listens on the host, and where it forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarding {
    /// `tcp` or `udp` (`-proto`, `tcp` when not given); `None` for any other protocol.
    pub proto: Option<Transport>,
    /// The host address it listens on (`-host-ip`), when given and valid.
    pub host_ip: Option<IpAddr>,
    /// The host port it listens on (`-host-port`), when given and valid.
    pub host_port: Option<u16>,
    /// The container's address (`-container-ip`).
    pub container_ip: IpAddr,
    /// The port inside the container (`-container-port`).
    pub container_port: u16,
}

impl Forwarding {
    /// Whether this is the forwarding that listens on `socket`: same protocol and host port,
    /// and the same host address when the arguments give one.
    pub fn listens_on(&self, socket: &Socket) -> bool {
        self.proto == Some(socket.proto)
            && self.host_port == Some(socket.port)
            && self.host_ip.is_none_or(|ip| ip == socket.address)
    }
}

/// The file names the forwarders' programs have in their arguments (`argv[0]`, or a script's
/// path after its interpreter).
const PROGRAMS: [&str; 2] = ["docker-proxy", "rootlesskit-docker-proxy"];

/// The last value of each flag in `names` in `argv` (program name first), read as Go's `flag`
/// package reads them: `-name value`, `-name=value`, `--name value`, `--name=value`; the flags
/// end at the first argument that is not one (or `-`), and after `--`. A script run through its
/// interpreter (`python3 /path/docker-proxy -proto …`) has its path skipped as the program.
/// `None` for a flag Go would refuse (`---name`, `-=value`): such a process would not run.
fn flag_values<'a, S: AsRef<str>, const N: usize>(
    argv: &'a [S],
    names: [&str; N],
) -> Option<[Option<&'a str>; N]> {
    let program = |at: usize| {
        argv.get(at)
            .map(AsRef::as_ref)
            .and_then(|a: &str| a.rsplit('/').next())
            .is_some_and(|name| PROGRAMS.contains(&name))
    };
    let skip = if !program(0) && program(1) { 2 } else { 1 };
    let mut values = [None; N];
    let mut rest = argv.iter().skip(skip).map(AsRef::as_ref);
    while let Some(arg) = rest.next() {
        if arg == "--" {
            break;
        }
        let Some(flag) = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .filter(|_| arg != "-")
        else {
            break;
        };
        if flag.is_empty() || flag.starts_with(['-', '=']) {
            return None;
        }
        let (key, inline) = match flag.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (flag, None),
        };
        if let Some(at) = names.iter().position(|&n| n == key) {
            // The last value given wins, as with Go's flag package.
            values[at] = inline.or_else(|| rest.next());
        }
    }
    Some(values)
}

/// A port number in an argument: 1 to 65535, in plain decimal. Go's `flag` reads an integer
/// with a base prefix (`0x`, `0o`, `0b`), a leading `0` as octal, a sign or `_` differently
/// from what it looks like, and Docker never writes one: such a value is not understood.
fn port_number(text: &str) -> Option<u16> {
    (!text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// The forwarding in a forwarder's arguments (`argv`, program name first): `-container-ip` and
/// `-container-port`, with `-proto`, `-host-ip` and `-host-port` when given (see
/// [`flag_values`] for the forms). `None` unless the container end is present and valid — the
/// IP parses as an IPv4 or IPv6 address and the port is 1 to 65535 in plain decimal — and
/// the arguments are ones Go's `flag` accepts, so no raw argument is ever shown.
pub fn parse_forwarder_args<S: AsRef<str>>(argv: &[S]) -> Option<Forwarding> {
    let [proto, host_ip, host_port, container_ip, container_port] = flag_values(
        argv,
        [
            "proto",
            "host-ip",
            "host-port",
            "container-ip",
            "container-port",
        ],
    )?;
    Some(Forwarding {
        proto: match proto.unwrap_or("tcp") {
            "tcp" => Some(Transport::Tcp),
            "udp" => Some(Transport::Udp),
            _ => None,
        },
        host_ip: host_ip.and_then(|ip| ip.parse().ok()),
        host_port: host_port.and_then(port_number),
        container_ip: container_ip?.parse().ok()?,
        container_port: container_port.and_then(port_number)?,
    })
}

/// The forwardings of every forwarder process this user can see the arguments of (Linux: any,
/// as `/proc/PID/comm` and `cmdline` are readable by all unless `/proc` is mounted `hidepid`)
/// and that may speak for a socket (see [`crate::ops::owner::trusted_forwarder`]), each with the
/// user id the process runs as.
fn visible_forwardings() -> Vec<(u32, Forwarding)> {
    crate::os::process::pids()
        .into_iter()
        .filter(|&pid| crate::os::process::name(pid).is_some_and(|n| is_forwarder(&n)))
        .filter_map(trusted_forwarding)
        .collect()
}

/// The user process `pid` runs as and the forwarding it performs, if it runs as root or as
/// the user running devport and its arguments say where it forwards.
fn trusted_forwarding(pid: u32) -> Option<(u32, Forwarding)> {
    let uid =
        crate::os::process::uid(pid).filter(|&uid| crate::ops::owner::trusted_forwarder(uid))?;
    Some((
        uid,
        parse_forwarder_args(&crate::os::process::cmdline(pid)?)?,
    ))
}

/// Adds the container end to every socket a trusted forwarder holds, and, if any was found,
/// the container names the Docker Engine gives (one query, bounded in time and size, never
/// required). A forwarder is trusted only when it is named like one (see [`is_forwarder`]),
/// runs as root or as the user running devport ([`crate::ops::owner::trusted_forwarder`]), runs as
/// the user who opened the socket, and its own arguments say it listens on that socket: any
/// user can name a process `docker-proxy` and give it any arguments. A socket whose holders are
/// visible is a container's when one of them is such a forwarder (recorded as
/// [`Container::forwarder`]: the others are judged as any process, see
/// [`crate::ops::owner::judge`]); a socket whose holders are
/// not visible (root's `docker-proxy`, seen by another user) when such a forwarder says in its
/// arguments that it listens there. Other sockets are left as they are.
pub fn annotate<'a>(sockets: impl IntoIterator<Item = &'a mut Socket>) {
    let mut forwarded: Vec<&'a mut Socket> = Vec::new();
    let mut unowned: Option<Vec<(u32, Forwarding)>> = None;
    for s in sockets {
        let speaks_for =
            |uid: u32, f: &Forwarding| s.uid.is_none_or(|u| u == uid) && f.listens_on(s);
        let found = if s.holders.is_empty() {
            unowned
                .get_or_insert_with(visible_forwardings)
                .iter()
                .find(|(uid, f)| s.uid.is_some() && speaks_for(*uid, f))
                .map(|(_, f)| (None, f.clone()))
        } else {
            s.holders
                .iter()
                .filter(|h| h.process.as_deref().is_some_and(is_forwarder))
                .find_map(|h| {
                    let (uid, f) = trusted_forwarding(h.pid)?;
                    speaks_for(uid, &f).then_some((Some(h.pid), f))
                })
        };
        if let Some((forwarder, f)) = found {
            s.container = Some(Container {
                ip: f.container_ip,
                port: f.container_port,
                name: None,
                working_dir: None,
                forwarder,
            });
            forwarded.push(s);
        }
    }
    if forwarded.is_empty() {
        return;
    }
    let Some(listed) = engine::containers() else {
        return;
    };
    for s in forwarded {
        let host_port = s.port;
        if let Some(c) = s.container.as_mut()
            && let Some(found) = find(&listed, c, host_port)
        {
            c.name = found.name();
            c.working_dir = found
                .labels
                .get(COMPOSE_WORKING_DIR)
                .filter(|d| !d.is_empty())
                .map(std::path::PathBuf::from);
        }
    }
}

/// One entry of the Docker Engine's `GET /containers/json`, the fields devport reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EngineContainer {
    /// `["/shop-db-1"]`.
    #[serde(rename = "Names")]
    pub names: Vec<String>,
    /// Published ports.
    #[serde(rename = "Ports")]
    pub ports: Vec<EnginePort>,
    /// Networks, with the container's address on each.
    #[serde(rename = "NetworkSettings")]
    pub network: EngineNetworks,
    /// Labels (`com.docker.compose.project.working_dir`, ...).
    #[serde(rename = "Labels")]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The label `docker compose` gives each container: the folder it was run from.
const COMPOSE_WORKING_DIR: &str = "com.docker.compose.project.working_dir";

impl EngineContainer {
    /// Its first name without the leading `/` Docker puts there; an empty name is no name.
    pub fn name(&self) -> Option<String> {
        let name = self.names.first()?;
        let name = name.strip_prefix('/').unwrap_or(name);
        (!name.is_empty()).then(|| name.to_string())
    }
}

/// A published port in [`EngineContainer`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EnginePort {
    /// The port inside the container.
    #[serde(rename = "PrivatePort")]
    pub private: u16,
    /// The port on the host, when published.
    #[serde(rename = "PublicPort")]
    pub public: Option<u16>,
}

/// `NetworkSettings` in [`EngineContainer`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EngineNetworks {
    /// Each network the container is on, by network name.
    #[serde(rename = "Networks")]
    pub networks: std::collections::BTreeMap<String, EngineNetwork>,
}

/// One network in [`EngineNetworks`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EngineNetwork {
    /// The container's IPv4 address on it.
    #[serde(rename = "IPAddress")]
    pub ipv4: String,
    /// The container's IPv6 address on it.
    #[serde(rename = "GlobalIPv6Address")]
    pub ipv6: String,
}

/// Parses the body of `GET /containers/json`; `None` when it is not that JSON.
#[cfg(any(unix, test))]
pub fn parse_containers(body: &[u8]) -> Option<Vec<EngineContainer>> {
    serde_json::from_slice(body).ok()
}

/// The container `c` is (reached through host port `host_port`) among those listed: the one
/// with `c.ip` on one of its networks, else the one publishing `host_port` to `c.port`.
pub fn find<'a>(
    listed: &'a [EngineContainer],
    c: &Container,
    host_port: u16,
) -> Option<&'a EngineContainer> {
    let by_ip = listed.iter().find(|e| {
        e.network.networks.values().any(|n| {
            [&n.ipv4, &n.ipv6]
                .into_iter()
                .any(|a| a.parse::<IpAddr>().is_ok_and(|a| a == c.ip))
        })
    });
    let by_port = || {
        listed.iter().find(|e| {
            e.ports
                .iter()
                .any(|p| p.public == Some(host_port) && p.private == c.port)
        })
    };
    by_ip.or_else(by_port)
}

/// The answer of an HTTP/1.0 exchange: the body when the status is 200, else `None`.
#[cfg(any(unix, test))]
pub fn http_body(response: &[u8]) -> Option<&[u8]> {
    let end = memchr::memmem::find(response, b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..end]).ok()?;
    let status = head.lines().next()?;
    let mut words = status.split_ascii_whitespace();
    let version = words.next()?;
    (version.starts_with("HTTP/1.") && words.next() == Some("200")).then(|| &response[end + 4..])
}

/// Talking to the Docker Engine.
mod engine {
    use super::EngineContainer;

    /// The most time a query may take, connect and read together.
    #[cfg(unix)]
    const TIMEOUT: std::time::Duration = std::time::Duration::from_millis(300);

    /// The most bytes read from the engine: a few thousand containers.
    #[cfg(unix)]
    const MAX_RESPONSE: u64 = 4 * 1024 * 1024;

    /// Where the engine listens: `DOCKER_HOST` when it is `unix://PATH`, else
    /// `/var/run/docker.sock`. Any other `DOCKER_HOST` (`tcp://`, `ssh://`, `npipe://`) means
    /// no query: devport does not reach over the network for a name.
    #[cfg(unix)]
    fn socket_path() -> Option<std::path::PathBuf> {
        match std::env::var_os("DOCKER_HOST") {
            Some(host) if !host.is_empty() => {
                let host = host.to_str()?;
                host.strip_prefix("unix://").map(std::path::PathBuf::from)
            }
            _ => Some("/var/run/docker.sock".into()),
        }
    }

    /// Every running container, from `GET /containers/json`; `None` when the engine does not
    /// answer in time, answers something else, or is not one devport trusts: the path must be
    /// a Unix socket owned by root or by this user (the Docker socket is root's; rootless
    /// Docker's is the user's), so another user cannot put names in devport's output.
    ///
    /// The request is a hand-written HTTP/1.0 `GET` over `std`'s `UnixStream`: HTTP/1.0 makes
    /// the engine send a plain body and close the connection, so reading to the end is the
    /// whole protocol, and no HTTP client crate (with its async runtime) is needed for one
    /// read-only request. The exchange runs on its own thread and is abandoned after
    /// [`TIMEOUT`], so even a socket that accepts and never answers, or never accepts, cannot
    /// hold the command up.
    #[cfg(unix)]
    pub fn containers() -> Option<Vec<EngineContainer>> {
        use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
        let path = socket_path()?;
        let meta = std::fs::metadata(&path).ok()?;
        let me = crate::os::process::current_uid();
        if !meta.file_type().is_socket() || !(meta.uid() == 0 || Some(meta.uid()) == me) {
            return None;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(query(&path));
        });
        rx.recv_timeout(TIMEOUT).ok().flatten()
    }

    #[cfg(unix)]
    fn query(path: &std::path::Path) -> Option<Vec<EngineContainer>> {
        use std::io::{Read as _, Write as _};
        let mut stream = std::os::unix::net::UnixStream::connect(path).ok()?;
        // The thread is abandoned at the deadline; these let it end soon after, too.
        stream.set_read_timeout(Some(TIMEOUT)).ok()?;
        stream.set_write_timeout(Some(TIMEOUT)).ok()?;
        stream
            .write_all(b"GET /containers/json HTTP/1.0\r\nHost: docker\r\n\r\n")
            .ok()?;
        let mut response = Vec::new();
        stream
            .take(MAX_RESPONSE + 1)
            .read_to_end(&mut response)
            .ok()?;
        if response.len() as u64 > MAX_RESPONSE {
            return None;
        }
        super::parse_containers(super::http_body(&response)?)
    }

    /// No Unix sockets here: no names.
    #[cfg(not(unix))]
    pub fn containers() -> Option<Vec<EngineContainer>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Option<(IpAddr, u16)> {
        parse_forwarder_args(args).map(|f| (f.container_ip, f.container_port))
    }

    #[test]
    fn every_flag_form_go_accepts() {
        let ip: IpAddr = [172, 17, 0, 2].into();
        for argv in [
            &[
                "docker-proxy",
                "-container-ip",
                "172.17.0.2",
                "-container-port",
                "5432",
            ][..],
            &[
                "docker-proxy",
                "--container-ip",
                "172.17.0.2",
                "--container-port",
                "5432",
            ],
            &[
                "docker-proxy",
                "-container-ip=172.17.0.2",
                "--container-port=5432",
            ],
            // The full shape docker runs, in its own order.
            &[
                "/usr/bin/docker-proxy",
                "-proto",
                "tcp",
                "-host-ip",
                "0.0.0.0",
                "-host-port",
                "5432",
                "-container-ip",
                "172.17.0.2",
                "-container-port",
                "5432",
                "-use-listen-fd",
            ],
            // A script run through its interpreter: the script's path comes first.
            &[
                "python3",
                "/tmp/x/docker-proxy",
                "-container-ip",
                "172.17.0.2",
                "-container-port",
                "5432",
            ],
            // The last value wins.
            &[
                "docker-proxy",
                "-container-port",
                "1",
                "-container-ip",
                "172.17.0.2",
                "-container-port=5432",
            ],
        ] {
            assert_eq!(parse(argv), Some((ip, 5432)), "{argv:?}");
        }
        assert_eq!(
            parse(&[
                "rootlesskit-docker-proxy",
                "-container-ip",
                "fd00::2",
                "-container-port",
                "80"
            ]),
            Some(("fd00::2".parse().unwrap_or(ip), 80))
        );
    }

    #[test]
    fn anything_invalid_is_no_container() {
        for argv in [
            &[][..],
            &["docker-proxy"],
            &["docker-proxy", "-container-ip", "172.17.0.2"],
            &["docker-proxy", "-container-port", "5432"],
            &[
                "docker-proxy",
                "-container-ip",
                "172.17.0.2",
                "-container-port",
            ],
            &[
                "docker-proxy",
                "-container-ip",
                "172.17.0.2",
                "-container-port",
                "0",
            ],
            &[
                "docker-proxy",
                "-container-ip",
                "172.17.0.2",
                "-container-port",
                "65536",
            ],
            &[
                "docker-proxy",
                "-container-ip",
                "172.17.0.2",
                "-container-port",
                "-1",
            ],
            &[
                "docker-proxy",
                "-container-ip",
                "172.17.0.2",
                "-container-port",
                "54x",
            ],
            &[
                "docker-proxy",
                "-container-ip",
                "evil\x1b[2J",
                "-container-port",
                "5432",
            ],
            &[
                "docker-proxy",
                "-container-ip",
                "172.17.0.256",
                "-container-port",
                "5432",
            ],
            &[
                "docker-proxy",
                "-container-ip",
                "",
                "-container-port",
                "5432",
            ],
            // The program name is not an argument, and `--` ends the flags.
            &["-container-ip=1.2.3.4", "-container-port=5"],
            &[
                "docker-proxy",
                "--",
                "-container-ip=1.2.3.4",
                "-container-port=5",
            ],
        ] {
            assert_eq!(parse(argv), None, "{argv:?}");
        }
    }

    /// Red team 2, finding 5: read as Go's `flag` reads them. The flags end at the first
    /// argument that is not one (`docker-proxy stop -proto …` forwards nothing), a flag Go
    /// refuses makes the whole line unreadable, and a port Go would read in another base
    /// (`014708` is octal to Go) or with a sign or `_` is not understood.
    #[test]
    fn arguments_are_read_as_go_reads_them() {
        let tail = ["-container-ip", "172.17.0.2", "-container-port", "5432"];
        let with = |head: &[&'static str]| -> Vec<&'static str> {
            head.iter().chain(tail.iter()).copied().collect()
        };
        for head in [
            &["docker-proxy", "stop"][..],
            &["docker-proxy", "-"],
            &["docker-proxy", "---proto", "tcp"],
            &["docker-proxy", "-=tcp"],
            &["docker-proxy", "--"],
            &["python3", "/tmp/x/docker-proxy", "script-arg"],
        ] {
            assert_eq!(parse(&with(head)), None, "{head:?}");
        }
        // Flags Go would also read, an unknown boolean among them, are still read.
        assert!(parse(&with(&["docker-proxy", "-use-listen-fd"])).is_some());
        for port in [
            "014708", "0x1f4", "0o17", "0b1", "+80", "1_000", "٣", " 80", "080",
        ] {
            let argv = [
                "docker-proxy",
                "-container-ip",
                "172.17.0.2",
                "-container-port",
                port,
            ];
            assert_eq!(parse(&argv), None, "{port:?}");
            let host = [
                "docker-proxy",
                "-host-port",
                port,
                "-container-ip",
                "172.17.0.2",
                "-container-port",
                "80",
            ];
            assert_eq!(
                parse_forwarder_args(&host).map(|f| f.host_port),
                Some(None),
                "{port:?}"
            );
        }
        assert_eq!(port_number("14708"), Some(14708));
        assert_eq!(port_number("65535"), Some(65535));
        assert_eq!(port_number("65536"), None);
        assert_eq!(port_number(""), None);
    }

    #[test]
    fn the_host_end_finds_an_unowned_socket() {
        let argv = [
            "docker-proxy",
            "-proto",
            "tcp",
            "-host-ip",
            "127.0.0.1",
            "-host-port",
            "15432",
            "-container-ip",
            "172.17.0.2",
            "-container-port",
            "5432",
        ];
        let f = parse_forwarder_args(&argv).unwrap_or_else(|| panic!("{argv:?}"));
        let socket = |proto, address: [u8; 4], port| Socket {
            proto,
            address: address.into(),
            port,
            pid: None,
            process: None,
            uid: Some(0),
            user: None,
            holders: Vec::new(),
            container: None,
            inode: 0,
        };
        assert!(f.listens_on(&socket(Transport::Tcp, [127, 0, 0, 1], 15432)));
        assert!(!f.listens_on(&socket(Transport::Udp, [127, 0, 0, 1], 15432)));
        assert!(!f.listens_on(&socket(Transport::Tcp, [127, 0, 0, 2], 15432)));
        assert!(!f.listens_on(&socket(Transport::Tcp, [127, 0, 0, 1], 15433)));
        // No host address given: the port decides. An unknown protocol or a bad port: nothing.
        let bare = parse_forwarder_args(&argv[..3].iter().chain(&argv[5..]).collect::<Vec<_>>());
        assert!(
            bare.is_some_and(|f| f.host_ip.is_none()
                && f.listens_on(&socket(Transport::Tcp, [0, 0, 0, 0], 15432)))
        );
        let mut sctp = argv;
        sctp[2] = "sctp";
        assert!(
            parse_forwarder_args(&sctp).is_some_and(|f| f.proto.is_none()
                && !f.listens_on(&socket(Transport::Tcp, [127, 0, 0, 1], 15432)))
        );
        let mut bad = argv;
        bad[6] = "99999";
        assert!(parse_forwarder_args(&bad).is_some_and(|f| f.host_port.is_none()));
    }

    #[test]
    fn forwarders_by_command_name() {
        assert!(is_forwarder("docker-proxy") && is_forwarder("rootlesskit-doc"));
        for other in [
            "rootlessport",
            "conmon",
            "rootlesskit",
            "docker-proxy2",
            "node",
        ] {
            assert!(!is_forwarder(other), "{other}");
        }
        for opaque in ["rootlessport", "conmon", "rootlesskit"] {
            assert!(is_opaque_forwarder(opaque), "{opaque}");
        }
        for readable in FORWARDERS {
            assert!(!is_opaque_forwarder(readable), "{readable}");
        }
    }

    #[test]
    fn shown_and_serialized() {
        let mut c = Container {
            ip: [172, 17, 0, 2].into(),
            port: 5432,
            name: None,
            working_dir: Some("/not/shown".into()),
            forwarder: Some(7),
        };
        assert_eq!(c.to_string(), "container 172.17.0.2:5432");
        assert_eq!(
            serde_json::to_value(&c).ok(),
            Some(serde_json::json!({"ip": "172.17.0.2", "port": 5432}))
        );
        c.name = Some("shop-db-1".into());
        c.ip = "fd00::2".parse().unwrap_or(c.ip);
        assert_eq!(c.to_string(), "container [fd00::2]:5432 (shop-db-1)");
    }

    const LISTED: &str = r#"[
        {"Id": "a", "Names": ["/other"], "Ports": [{"PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
         "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.3", "GlobalIPv6Address": ""}}}},
        {"Id": "b", "Names": ["/shop-db-1", "/alias"], "Ports": [{"PrivatePort": 5432, "PublicPort": 15432, "Type": "tcp"}],
         "NetworkSettings": {"Networks": {"shop_default": {"IPAddress": "172.18.0.2"}}}},
        {"Id": "c", "Names": ["/"], "NetworkSettings": {"Networks": {"n": {"IPAddress": "10.0.0.9"}}}}
    ]"#;

    #[test]
    fn names_by_address_then_by_published_port() {
        let listed = parse_containers(LISTED.as_bytes()).unwrap_or_default();
        assert_eq!(listed.len(), 3);
        let c = |ip: [u8; 4], port| Container {
            ip: ip.into(),
            port,
            name: None,
            working_dir: None,
            forwarder: None,
        };
        let name_for = |c: &Container, host_port| find(&listed, c, host_port)?.name();
        assert_eq!(
            name_for(&c([172, 18, 0, 2], 5432), 1).as_deref(),
            Some("shop-db-1")
        );
        // An address no network has: the published port decides.
        assert_eq!(
            name_for(&c([10, 9, 9, 9], 80), 8080).as_deref(),
            Some("other")
        );
        assert_eq!(name_for(&c([10, 9, 9, 9], 81), 8080), None);
        // An empty name is no name.
        assert_eq!(name_for(&c([10, 0, 0, 9], 1), 1), None);
        for garbage in [&b""[..], b"{}", b"[1]", b"not json", b"[{\"Names\": 5}]"] {
            assert!(parse_containers(garbage).is_none(), "{garbage:?}");
        }
    }

    #[test]
    fn http_bodies_only_from_a_200() {
        assert_eq!(
            http_body(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[]"),
            Some(&b"[]"[..])
        );
        assert_eq!(http_body(b"HTTP/1.1 200 OK\r\n\r\n"), Some(&b""[..]));
        for bad in [
            &b"HTTP/1.0 404 Not Found\r\n\r\n[]"[..],
            b"HTTP/1.0 200 OK\r\n",
            b"garbage\r\n\r\n[]",
            b"",
            b"HTTP/2 200\r\n\r\n[]",
        ] {
            assert_eq!(http_body(bad), None, "{bad:?}");
        }
    }
}
