//! Acting on what listens on ports: who serves a port ([`serving`], for `wait`) and stopping
//! it ([`victims`] and [`stop`], for `kill`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result, StopRefusal};
use crate::ports::sockets::{self, Socket};
use crate::process;
use crate::project::Project;
use crate::registry::Store;
use crate::types::{PortRange, Proto, Transport};

/// What `kill` and `wait` act on: a port number, or a service of the current project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A port, as typed.
    Port(u16),
    /// A service name of the current project.
    Service(String),
}

impl Target {
    /// Reads the `PORT|SERVICE` argument: all digits is a port, anything else a service name.
    pub fn parse(arg: &str) -> Result<Target> {
        if !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_digit()) {
            return crate::input::parse_port(arg).map(Target::Port);
        }
        crate::input::validate_service(arg)?;
        Ok(Target::Service(arg.to_string()))
    }

    /// The ports and protocols the target stands for: a port with `proto`, or the claim of the
    /// service in `project` with the claim's protocols (`None` while it holds no claim). The
    /// registry is read only for a service, so a port can be acted on whatever state it is in.
    pub fn ports(
        &self,
        store: &Store,
        project: &Project,
        proto: Proto,
    ) -> Result<Option<(PortRange, Proto)>> {
        match self {
            Target::Port(port) => Ok(Some((PortRange::single(*port), proto))),
            Target::Service(service) => Ok(store
                .read()?
                .find(project.path.as_deref(), service)
                .map(|c| (c.ports(), c.proto))),
        }
    }

    /// How the target reads in a message: `port 8080` or `service web`.
    pub fn describe(&self) -> String {
        match self {
            Target::Port(port) => format!("port {port}"),
            Target::Service(service) => format!("service {service}"),
        }
    }
}

/// The live sockets on `ports` for `proto` (listening TCP, bound UDP) in `live`, without
/// owners.
pub fn on(live: &[Socket], ports: PortRange, proto: Proto) -> Vec<Socket> {
    live.iter()
        .filter(|s| ports.contains(s.port) && proto.covers(s.proto))
        .cloned()
        .collect()
}

/// The sockets that serve every port of `ports` for every protocol of `proto`, one per port and
/// protocol, with owners: a TCP port counts once a connection to it is accepted, a UDP port
/// once it is bound. With `owned_in`, only a socket whose process (or an ancestor) works inside
/// that folder counts (audit's `ok` rule; an owner that cannot be seen does not count). `Err`
/// says, in words, why the ports are not served yet.
pub fn serving(
    ports: PortRange,
    proto: Proto,
    owned_in: Option<&Path>,
) -> Result<Vec<Socket>, String> {
    let mut live = on(&sockets::list(), ports, proto);
    // A port nothing is bound to is known from the socket list alone: owners (a scan of every
    // process) are looked up only once every port is bound, so `wait` can check often.
    for port in ports.iter() {
        for &p in proto.transports() {
            if !live.iter().any(|s| s.port == port && s.proto == p) {
                return Err(format!("nothing listens on {p} port {port}"));
            }
        }
    }
    if owned_in.is_some() {
        sockets::resolve_owners(&mut live);
        crate::container::annotate(&mut live);
    }
    let mut found = Vec::new();
    for port in ports.iter() {
        for &p in proto.transports() {
            let candidates: Vec<&Socket> = live
                .iter()
                .filter(|s| s.port == port && s.proto == p)
                .collect();
            let mut reason = String::new();
            let chosen = candidates.into_iter().find(|s| {
                if let Some(dir) = owned_in
                    && let Some(why) = container_not_owned(s, dir)
                {
                    reason = format!("{p} port {port} {why}");
                    return false;
                }
                if let Some(dir) = owned_in.filter(|_| s.container.is_none()) {
                    match s.pid.map(|pid| (pid, process::works_in(pid, dir))) {
                        Some((_, Some(true))) => {}
                        Some((pid, Some(false))) => {
                            reason = format!(
                                "{p} port {port} is served by pid {pid}, which does not work in {}",
                                dir.display()
                            );
                            return false;
                        }
                        Some((pid, None)) => {
                            reason = format!(
                                "{p} port {port} is served by pid {pid}, whose folder devport cannot see, so it cannot tell whether it works in {}",
                                dir.display()
                            );
                            return false;
                        }
                        None => {
                            reason = format!(
                                "{p} port {port} is served by a process devport cannot see, so it cannot tell whether it works in {}",
                                dir.display()
                            );
                            return false;
                        }
                    }
                }
                if p == Transport::Tcp && !accepts(s) {
                    reason = format!("{p} port {port} is bound but does not accept connections yet");
                    return false;
                }
                true
            });
            match chosen {
                Some(s) => found.push(s.clone()),
                None => return Err(reason),
            }
        }
    }
    if owned_in.is_none() {
        sockets::resolve_owners(&mut found);
        crate::container::annotate(&mut found);
    }
    Ok(found)
}

/// Why a port a container forwarder holds does not count as served from `dir` (audit's rule:
/// the folder `docker compose` ran from decides), or `None` when it does or no container is
/// involved.
fn container_not_owned(s: &Socket, dir: &Path) -> Option<String> {
    let c = s.container.as_ref()?;
    match &c.working_dir {
        Some(_) if !crate::check::owner_elsewhere(s, dir) => None,
        Some(w) => Some(format!(
            "is forwarded to {c}, started by docker compose in {}, not in {}",
            w.display(),
            dir.display()
        )),
        None => Some(format!(
            "is forwarded to {c}, and devport cannot tell which folder started it (the Docker Engine did not say), so it cannot tell whether it belongs to {}",
            dir.display()
        )),
    }
}

/// Whether a TCP connection to the socket is accepted (a wildcard address is reached through
/// loopback of its family). The connection is closed at once.
fn accepts(s: &Socket) -> bool {
    let ip = match s.address {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        a => a,
    };
    TcpStream::connect_timeout(&SocketAddr::new(ip, s.port), Duration::from_millis(500)).is_ok()
}

/// A process `kill` stops (or, with `--dry-run`, would stop).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Victim {
    /// Its pid.
    pub pid: u32,
    /// Its command name, where visible.
    pub process: Option<String>,
    /// The user id it runs as.
    pub uid: Option<u32>,
    /// The user name it runs as.
    pub user: Option<String>,
    /// Its current folder, where visible.
    pub folder: Option<PathBuf>,
    /// The ports it holds among those asked about.
    pub ports: Vec<u16>,
    /// Its start time, so a pid reused meanwhile is never signalled.
    #[serde(skip)]
    pub start: Option<u64>,
}

/// The processes behind `socks` (with owners resolved), one per pid. Refuses, naming the first
/// reason, when any of them may not be stopped: a socket whose process cannot be seen, pid 1,
/// or another user's process unless devport runs as root. Nothing is signalled here.
pub fn victims(socks: &[Socket]) -> Result<Vec<Victim>> {
    let me = process::current_uid();
    let mut out: Vec<Victim> = Vec::new();
    for s in socks {
        let Some(pid) = s.pid else {
            let whose = s
                .user
                .clone()
                .or_else(|| s.uid.map(|u| format!("uid {u}")))
                .map_or_else(String::new, |u| format!(" of user {u}"));
            return Err(Error::StopRefused {
                why: StopRefusal::Unseen,
                port: Some(s.port),
                pid: None,
                message: format!(
                    "{} port {} is held by a process{whose} that devport cannot see; nothing was stopped; run devport as that user to stop it",
                    s.proto, s.port
                ),
            });
        };
        if let Some(v) = out.iter_mut().find(|v| v.pid == pid) {
            if !v.ports.contains(&s.port) {
                v.ports.push(s.port);
            }
            continue;
        }
        let name = s.process.clone().or_else(|| process::name(pid));
        let label = name
            .as_ref()
            .map_or_else(|| format!("pid {pid}"), |n| format!("pid {pid} ({n})"));
        if let Some(what) = system_process(pid) {
            return Err(Error::StopRefused {
                why: StopRefusal::SystemProcess,
                port: Some(s.port),
                pid: Some(pid),
                message: format!(
                    "{} port {} is held by {label}, {what}; devport never stops pid {pid}; nothing was stopped",
                    s.proto, s.port
                ),
            });
        }
        #[cfg(windows)]
        may_terminate(pid, &label, s)?;
        if let Some(proxy) = name
            .as_deref()
            .filter(|n| crate::container::is_engine_process(n))
        {
            return Err(Error::StopRefused {
                why: StopRefusal::ContainerForwarder,
                port: Some(s.port),
                pid: Some(pid),
                message: format!(
                    "{} port {} is forwarded to a container by {label}; stopping {proxy} would break the engine's port forwarding, not stop the container; stop the container instead ('docker ps' or 'podman ps' shows which); nothing was stopped",
                    s.proto, s.port
                ),
            });
        }
        let start = process::start_time(pid);
        #[cfg(not(windows))]
        if start.is_none() {
            return Err(Error::StopRefused {
                why: StopRefusal::UnknownStart,
                port: Some(s.port),
                pid: Some(pid),
                message: format!(
                    "{} port {} is held by {label}, whose start time devport cannot read, so it cannot make sure it signals that very process and not one that took its pid; nothing was stopped",
                    s.proto, s.port
                ),
            });
        }
        let uid = process::uid(pid).or(s.uid);
        // The socket's user is the process's unless the socket was handed over.
        let user = s.user.clone().filter(|_| uid == s.uid);
        if let (Some(me), Some(owner)) = (me, uid)
            && me != 0
            && me != owner
        {
            let whose = user.clone().unwrap_or_else(|| format!("uid {owner}"));
            return Err(Error::StopRefused {
                why: StopRefusal::OtherUser,
                port: Some(s.port),
                pid: Some(pid),
                message: format!(
                    "{} port {} is held by {label} of user {whose}, not yours; devport stops only your own processes (or any, run as root); nothing was stopped",
                    s.proto, s.port
                ),
            });
        }
        out.push(Victim {
            pid,
            process: name,
            uid,
            user,
            folder: process::current_dir(pid),
            ports: vec![s.port],
            start,
        });
    }
    Ok(out)
}

/// What the system's own process `pid` is, which devport never stops: pid 1 on Unix, System
/// (pid 4) and the idle process (pid 0) on Windows.
fn system_process(pid: u32) -> Option<&'static str> {
    match pid {
        1 if cfg!(unix) => Some("the system's first process"),
        0 | 4 if cfg!(windows) => Some("the Windows System process"),
        _ => None,
    }
}

/// Refuses, in words, a process that devport cannot open to end it (Windows: another user's
/// process, a service or a protected process). One that has exited meanwhile is not refused: it
/// is skipped when stopping.
#[cfg(windows)]
fn may_terminate(pid: u32, label: &str, s: &Socket) -> Result<()> {
    match crate::winapi::Terminable::open(pid) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(Error::StopRefused {
            why: StopRefusal::NotPermitted,
            port: Some(s.port),
            pid: Some(pid),
            message: format!(
                "{} port {} is held by {label}, which devport may not end (another user's process, a service or a protected process); nothing was stopped; run devport as that user, or from an elevated prompt, to stop it",
                s.proto, s.port
            ),
        }),
        Err(e) => Err(Error::StopRefused {
            why: StopRefusal::Failed,
            port: Some(s.port),
            pid: Some(pid),
            message: format!(
                "{} port {} is held by {label}, which devport cannot open: {e}; nothing was stopped",
                s.proto, s.port
            ),
        }),
    }
}

/// What the forced stop is called in messages: `SIGKILL`, or on Windows `TerminateProcess`.
pub const FORCED_STOP: &str = if cfg!(windows) {
    "TerminateProcess"
} else {
    "SIGKILL"
};

/// How [`stop`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stopped {
    /// Whether nothing listens on the ports any more.
    pub port_free: bool,
    /// Whether SIGKILL was sent.
    pub forced: bool,
}

/// Sends SIGTERM to each victim, waits up to `timeout` for `ports` (for `proto`) to be free,
/// then, with `force`, sends SIGKILL to those still running and waits a little more. A victim
/// whose pid now belongs to another process is not signalled.
#[cfg(not(windows))]
pub fn stop(
    victims: &[Victim],
    ports: PortRange,
    proto: Proto,
    timeout: Duration,
    force: bool,
) -> Result<Stopped> {
    send(victims, false)?;
    let mut stopped = Stopped {
        port_free: free_within(ports, proto, timeout),
        forced: false,
    };
    if !stopped.port_free && force {
        send(victims, true)?;
        stopped.forced = true;
        stopped.port_free = free_within(ports, proto, Duration::from_secs(2));
    }
    Ok(stopped)
}

#[cfg(not(windows))]
fn send(victims: &[Victim], force: bool) -> Result<()> {
    for v in victims.iter().filter(|v| process::is_alive(v.pid, v.start)) {
        process::signal(v.pid, force).map_err(|e| Error::StopRefused {
            why: StopRefusal::Failed,
            port: None,
            pid: Some(v.pid),
            message: format!("cannot signal pid {}: {e}; nothing more was stopped", v.pid),
        })?;
    }
    Ok(())
}

/// Windows has no SIGTERM that a console program can be sent from another console, so a
/// process can only be ended at once (`TerminateProcess`, no cleanup of its own): that happens
/// only with `force`; without it nothing is done and the refusal says to add `--force`. Each
/// victim is opened first and ended only if its creation time is still the one recorded (the
/// open handle keeps the pid from being reused meanwhile); then this waits up to `timeout`
/// for them to exit and for `ports` to be free.
#[cfg(windows)]
pub fn stop(
    victims: &[Victim],
    ports: PortRange,
    proto: Proto,
    timeout: Duration,
    force: bool,
) -> Result<Stopped> {
    if !force {
        return Err(Error::StopRefused {
            why: StopRefusal::NeedsForce,
            port: None,
            pid: None,
            message: "Windows has no SIGTERM: a process can only be ended at once, without its own cleanup (TerminateProcess), and devport does that only with --force; nothing was stopped; run again with --force"
                .to_string(),
        });
    }
    let deadline = crate::types::deadline(Instant::now(), timeout);
    let mut ended = Vec::new();
    for v in victims {
        if let Some(handle) = terminate(v)? {
            ended.push(handle);
        }
    }
    for handle in &ended {
        handle.wait(deadline.saturating_duration_since(Instant::now()));
    }
    Ok(Stopped {
        port_free: free_within(
            ports,
            proto,
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_secs(1)),
        ),
        forced: true,
    })
}

/// Ends `victim` with `TerminateProcess` if it is still the process that was found (same pid
/// and creation time), returning its handle to wait on; `None` when it has exited or its pid
/// now belongs to another process (which is left alone).
#[cfg(windows)]
pub fn terminate(victim: &Victim) -> Result<Option<crate::winapi::Terminable>> {
    let refused = |e: std::io::Error| Error::StopRefused {
        why: StopRefusal::Failed,
        port: None,
        pid: Some(victim.pid),
        message: format!(
            "cannot end pid {}: {e}; nothing more was stopped",
            victim.pid
        ),
    };
    let Some(handle) = crate::winapi::Terminable::open(victim.pid).map_err(refused)? else {
        return Ok(None);
    };
    match (handle.running_since(), victim.start) {
        (Some(now), Some(then)) if now == then => {
            // Exit code 1, as `taskkill /f` leaves.
            handle.terminate(1).map_err(refused)?;
            Ok(Some(handle))
        }
        _ => Ok(None),
    }
}

/// Whether nothing listens on `ports` for `proto`, checked until `timeout` passes.
fn free_within(ports: PortRange, proto: Proto, timeout: Duration) -> bool {
    let deadline = crate::types::deadline(Instant::now(), timeout);
    loop {
        if on(&sockets::list(), ports, proto).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_ports_or_service_names() {
        assert_eq!(Target::parse("8080").ok(), Some(Target::Port(8080)));
        assert_eq!(
            Target::parse("web").ok(),
            Some(Target::Service("web".into()))
        );
        assert_eq!(
            Target::parse("web-2").ok(),
            Some(Target::Service("web-2".into()))
        );
        for bad in ["0", "70000", "", "-x", "a b", "é"] {
            let e = Target::parse(bad).map(|_| ()).unwrap_err();
            assert!(matches!(e, Error::InvalidInput { .. }), "{bad:?}: {e:?}");
        }
    }

    #[test]
    fn pid_1_unseen_owners_and_container_proxies_are_refused() {
        let sock = |pid| Socket {
            proto: Transport::Tcp,
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 4242,
            pid,
            process: None,
            uid: Some(0),
            user: Some("root".into()),
            container: None,
            inode: 0,
        };
        // Each refusal is a variant a caller can match, with the port and the process.
        let refusal = |s: Socket| match victims(&[s]) {
            Err(e @ Error::StopRefused { .. }) => e,
            other => panic!("not a StopRefused: {other:?}"),
        };
        let system = if cfg!(windows) { 4 } else { 1 };
        let e = refusal(sock(Some(system)));
        assert!(
            matches!(e, Error::StopRefused { why: StopRefusal::SystemProcess, port: Some(4242), pid: Some(p), .. } if p == system),
            "{e:?}"
        );
        assert!(
            e.to_string().contains(&format!("never stops pid {system}")),
            "{e}"
        );
        let e = refusal(sock(None));
        assert!(
            matches!(
                e,
                Error::StopRefused {
                    why: StopRefusal::Unseen,
                    pid: None,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("cannot see") && e.to_string().contains("user root"),
            "{e}"
        );
        let proxy = Socket {
            process: Some("docker-proxy".into()),
            ..sock(Some(std::process::id()))
        };
        let e = refusal(proxy);
        assert!(
            matches!(
                e,
                Error::StopRefused {
                    why: StopRefusal::ContainerForwarder,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = e.to_string();
        assert!(
            e.contains("forwarded to a container") && e.contains("stop the container"),
            "{e}"
        );
        // This test process itself is a process kill could stop.
        let me = victims(&[sock(Some(std::process::id()))]).unwrap_or_default();
        assert_eq!(me.len(), 1);
        assert_eq!(me[0].ports, [4242]);
    }

    /// A `cmd /c pause` child waiting on a pipe nobody writes to, ended on drop.
    #[cfg(windows)]
    struct Pause(std::process::Child);

    #[cfg(windows)]
    impl Drop for Pause {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[cfg(windows)]
    #[test]
    fn windows_ends_only_the_process_found_and_only_with_force() {
        let mut child = Pause(
            std::process::Command::new("cmd")
                .args(["/c", "pause"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn cmd /c pause"),
        );
        let pid = child.0.id();
        let start = process::start_time(pid);
        assert!(start.is_some());
        let victim = |start| Victim {
            pid,
            process: None,
            uid: None,
            user: None,
            folder: None,
            ports: vec![],
            start,
        };
        let running = |child: &mut Pause| child.0.try_wait().expect("try_wait").is_none();
        // Without --force: refused, nothing ended.
        let free = PortRange::single(1);
        let e = stop(&[victim(start)], free, Proto::Tcp, Duration::ZERO, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("run again with --force"), "{e}");
        assert!(running(&mut child));
        // Another creation time: the pid now names another process, which is left alone.
        let other = terminate(&victim(start.map(|s| s + 1))).expect("open");
        assert!(other.is_none());
        assert!(running(&mut child));
        // The process that was found: ended, and its handle says so.
        let handle = terminate(&victim(start)).expect("open").expect("ended");
        assert!(handle.wait(Duration::from_secs(10)));
        assert_eq!(child.0.wait().expect("wait").code(), Some(1));
        // Gone: nothing to end.
        assert!(terminate(&victim(start)).expect("open").is_none());
    }
}
