//! The whole story of a port (`check`) and of every live socket (`audit`).

use jiff::Timestamp;
use serde::Serialize;

use crate::model::types::{PortRange, Proto};
use crate::ops::owner::{self, Running, Verdict, Why};
use crate::os::sockets::{self, Socket};
use crate::policy::iana::{self, IanaProto, IanaStatus};
use crate::policy::{self, Policy, Reason};
use crate::store::registry::{Claim, Holder, LeaseRecord, Registry};

/// Everything devport knows about one port. Serialized as the `check --json` contract.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct PortReport {
    /// The port.
    pub port: u16,
    /// Whether `claim` would hand it out by itself.
    pub usable: bool,
    /// Every reason it would not.
    pub reasons: Vec<Reason>,
    #[doc(hidden)]
    /// RFC 6335 range: `system`, `user` or `dynamic`.
    pub range: Rfc6335Range,
    #[doc(hidden)]
    /// IANA assignments and reservations on it.
    pub iana: Vec<IanaEntry>,
    /// Development tools that use it by default.
    pub dev_tools: Vec<&'static str>,
    /// Whether browsers refuse to connect to it.
    pub browser_blocked: bool,
    /// What the OS keeps it for.
    pub os: Vec<Reason>,
    #[doc(hidden)]
    /// Live sockets on it, with owners.
    pub sockets: Vec<Socket>,
    /// The devport claim holding it.
    pub claim: Option<Claim>,
    /// The name of the claim's checkout among its project's (see
    /// [`crate::project::checkout_names`]; `main` for the main one); `None` when no project's
    /// claim holds the port.
    pub checkout: Option<String>,
    /// The live devport lease holding it.
    pub lease: Option<LeaseRecord>,
    #[doc(hidden)]
    /// Whether the live sockets are the claim's project's (`None` when the port is not
    /// claimed or nothing listens): filled in by [`PortReport::judge`].
    pub finding: Option<Finding>,
    #[doc(hidden)]
    /// The claim's project's own server, when every live socket is the project's: filled in
    /// by [`PortReport::judge`].
    pub running: Option<Running>,
    #[doc(hidden)]
    /// Why not, when they are not or devport cannot tell.
    #[serde(skip)]
    pub why: Option<Why>,
    #[doc(hidden)]
    /// IANA rows that once named it (de-registered, removed...): notes only.
    #[serde(skip)]
    pub history: Vec<&'static iana::IanaRow>,
}

/// One IANA assignment or reservation.
#[derive(Debug, Clone, Serialize)]
pub struct IanaEntry {
    /// Service name (`null` for a reservation).
    pub service: Option<&'static str>,
    /// Protocol.
    pub proto: IanaProto,
    /// IANA's description.
    pub description: &'static str,
    /// Registration date, when IANA gives one.
    pub registered: Option<&'static str>,
    /// `assigned` or `reserved`.
    pub status: IanaStatus,
}

/// The three ranges RFC 6335 divides port numbers into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rfc6335Range {
    /// 0-1023: the system (well-known) ports.
    System,
    /// 1024-49151: the user (registered) ports.
    User,
    /// 49152-65535: the dynamic (private) ports, never assigned.
    Dynamic,
}

impl Rfc6335Range {
    /// The range holding `port`.
    pub fn of(port: u16) -> Rfc6335Range {
        match port {
            0..=1023 => Rfc6335Range::System,
            1024..=49151 => Rfc6335Range::User,
            _ => Rfc6335Range::Dynamic,
        }
    }

    /// RFC 6335's name for it, as in JSON: `system`, `user` or `dynamic`.
    pub fn name(self) -> &'static str {
        match self {
            Rfc6335Range::System => "system",
            Rfc6335Range::User => "user",
            Rfc6335Range::Dynamic => "dynamic",
        }
    }

    /// Its ports.
    pub fn ports(self) -> PortRange {
        let (lo, hi) = match self {
            Rfc6335Range::System => (0, 1023),
            Rfc6335Range::User => (1024, 49151),
            Rfc6335Range::Dynamic => (49152, 65535),
        };
        PortRange::new(lo, hi).unwrap_or(PortRange::single(lo))
    }
}

impl Serialize for Rfc6335Range {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Reports on `port`. `live` is the machine's socket list with owners already resolved for
/// the ports reported on ([`sockets::on_ports`], one pass over the processes however many
/// ports are asked about). A port is probed for TCP and UDP, and any
/// live socket on it makes it `in-use` even where a bind would succeed. Container ends are not
/// filled in here: [`crate::os::container::annotate`] the reports' sockets together, so the Docker
/// Engine is asked once however many ports.
pub fn report(
    policy: &Policy,
    reg: &Registry,
    live: &[Socket],
    port: u16,
    now: Timestamp,
) -> PortReport {
    let mut reasons = policy::all_reasons(policy, reg, port, Proto::Both, now);
    let socks: Vec<Socket> = live.iter().filter(|s| s.port == port).cloned().collect();
    if !socks.is_empty() && !reasons.contains(&Reason::InUse) {
        reasons.push(Reason::InUse);
        reasons.sort();
    }
    let rows = iana::lookup(port);
    let (claim, lease) = match reg.holder(PortRange::single(port), now) {
        Some(Holder::Claim(c)) => (Some(c.clone()), None),
        Some(Holder::Lease(l)) => (None, Some(l.clone())),
        None => (None, None),
    };
    PortReport {
        port,
        usable: reasons.is_empty(),
        os: reasons.iter().copied().filter(|r| r.is_os()).collect(),
        reasons,
        range: Rfc6335Range::of(port),
        iana: rows
            .iter()
            .filter(|r| matches!(r.status, IanaStatus::Assigned | IanaStatus::Reserved))
            .map(|r| IanaEntry {
                service: Some(r.service()).filter(|s| !s.is_empty()),
                proto: r.proto,
                description: r.description(),
                registered: Some(r.registered()).filter(|s| !s.is_empty()),
                status: r.status,
            })
            .collect(),
        history: rows
            .into_iter()
            .filter(|r| r.status == IanaStatus::Historical)
            .collect(),
        dev_tools: iana::dev_tools(port),
        browser_blocked: iana::browser_blocked(port),
        sockets: socks,
        checkout: claim.as_ref().and_then(|c| checkout_of(reg, c)),
        claim,
        lease,
        finding: None,
        running: None,
        why: None,
    }
}

/// The name of `claim`'s checkout among the checkouts of its project in `reg`.
fn checkout_of(reg: &Registry, claim: &Claim) -> Option<String> {
    let path = claim.project_path.as_deref()?;
    crate::project::claim_checkouts(
        reg.claims.iter().filter(|c| c.project == claim.project),
        |c| c.project.clone(),
    )
    .remove(path)
}

impl PortReport {
    #[doc(hidden)]
    /// Judges the live sockets against the claim's project, as `audit` does (see
    /// [`claimed_finding`]): a conflict if any socket is one, with the reason of the first;
    /// call it once the sockets' container ends are annotated.
    pub fn judge(&mut self) {
        let Some(claim) = &self.claim else {
            return;
        };
        self.running = Running::of(&self.sockets, claim.project_path.as_deref());
        let mut judged: Vec<(Finding, Option<Why>)> = self
            .sockets
            .iter()
            .map(|s| claimed_finding(s, claim))
            .collect();
        let worst = judged
            .iter()
            .position(|(f, _)| *f == Finding::Conflict)
            .or_else(|| judged.iter().position(|(_, why)| why.is_some()))
            .or_else(|| (!judged.is_empty()).then_some(0));
        if let Some(at) = worst {
            let (finding, why) = judged.swap_remove(at);
            self.finding = Some(finding);
            self.why = why;
        }
    }
}

/// What `audit` concludes about a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finding {
    /// Claimed, and held by processes of this user working in the claiming project's folder
    /// (see [`crate::ops::owner::judge`]), or by what devport cannot see well enough to contradict.
    Ok,
    /// Claimed by one project, held by another user's process or by one working elsewhere.
    Conflict,
    /// Not claimed, but IANA-assigned or a dev-tool default: probably what it seems.
    Known,
    /// Not claimed and not assigned: worth a look.
    Unknown,
}

impl Finding {
    /// Its name, as in JSON: `ok`, `conflict`, `known` or `unknown`.
    pub fn code(self) -> &'static str {
        match self {
            Finding::Ok => "ok",
            Finding::Conflict => "conflict",
            Finding::Known => "known",
            Finding::Unknown => "unknown",
        }
    }
}

/// One `audit` row: a socket plus what devport knows.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    /// The socket, with owner.
    #[serde(flatten)]
    pub socket: Socket,
    /// The claim covering its port.
    pub claim: Option<Claim>,
    /// The first IANA service name on its port.
    pub iana_service: Option<&'static str>,
    /// The verdict.
    pub finding: Finding,
}

/// Classifies every live socket. A claimed port is `ok` when its socket is the claiming
/// project's and `conflict` when it is another user's or works elsewhere (see
/// [`claimed_finding`]). Sockets a container forwarder owns carry the container end (see
/// [`crate::os::container`]).
pub fn audit(reg: &Registry, mut live: Vec<Socket>) -> Vec<AuditRow> {
    sockets::resolve_owners(&mut live);
    crate::os::container::annotate(&mut live);
    live.into_iter()
        .map(|socket| {
            let claim = reg
                .claims
                .iter()
                .find(|c| c.ports().contains(socket.port))
                .cloned();
            let rows = iana::lookup(socket.port);
            let iana_service = rows
                .iter()
                .find(|r| r.status == IanaStatus::Assigned)
                .map(|r| r.service());
            let finding = match &claim {
                Some(c) => claimed_finding(&socket, c).0,
                None if iana_service.is_some() || !iana::dev_tools(socket.port).is_empty() => {
                    Finding::Known
                }
                None => Finding::Unknown,
            };
            AuditRow {
                socket,
                claim,
                iana_service,
                finding,
            }
        })
        .collect()
}

/// What a socket on `claim`'s port is, by [`owner::judge`] against the claim's project: `ok`
/// when it is the project's, `conflict` when it is not, and `ok` with the reason when devport
/// cannot tell (it cannot contradict the claim).
pub fn claimed_finding(socket: &Socket, claim: &Claim) -> (Finding, Option<Why>) {
    match owner::judge(socket, claim.project_path.as_deref()) {
        Verdict::Owned => (Finding::Ok, None),
        Verdict::Unknown(why) => (Finding::Ok, Some(why)),
        Verdict::Foreign(why) => (Finding::Conflict, Some(why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::claim::tests::{Fixture, t0};
    use crate::policy::iana::{dev_tools, lookup};

    /// A port in the user range that no IANA assignment and no dev tool names, found in the
    /// tables.
    fn unnamed_port() -> u16 {
        (1024..49152)
            .find(|&p| {
                !lookup(p).iter().any(|r| r.status == IanaStatus::Assigned)
                    && dev_tools(p).is_empty()
            })
            .expect("an unnamed port")
    }

    fn socket(port: u16) -> Socket {
        Socket {
            proto: crate::model::types::Transport::Tcp,
            address: std::net::Ipv4Addr::LOCALHOST.into(),
            port,
            pid: None,
            process: None,
            uid: None,
            user: None,
            holders: Vec::new(),
            inode: 0,
            container: None,
        }
    }

    #[test]
    fn a_claimed_port_names_its_claim_and_only_that_reason() {
        let f = Fixture::new();
        let web = f.claim("web", t0());
        let reg = f.store.read().expect("read");
        let report = report(&f.policy, &reg, &[], web.block.port, t0());
        assert_eq!(report.reasons, [Reason::Claimed]);
        assert!(!report.usable);
        assert_eq!(
            report.claim.as_ref().map(|c| c.service.as_str()),
            Some("web")
        );
        assert!(report.lease.is_none());
        assert_eq!(report.range, Rfc6335Range::User);
    }

    #[test]
    fn a_live_socket_makes_a_port_in_use() {
        let f = Fixture::new();
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let reg = f.store.read().expect("read");
        let report = report(
            &f.policy,
            &reg,
            &sockets::on_port(&sockets::list(), port),
            port,
            t0(),
        );
        assert!(report.reasons.contains(&Reason::InUse), "{report:?}");
        assert!(!report.usable);
        assert!(
            report
                .sockets
                .iter()
                .any(|s| s.port == port && s.proto == crate::model::types::Transport::Tcp),
            "{:?}",
            report.sockets
        );
        drop(listener);
    }

    #[test]
    fn the_tables_give_iana_dev_tool_and_browser_facts() {
        let f = Fixture::new();
        let reg = f.store.read().expect("read");
        let r = report(&f.policy, &reg, &[], 2276, t0());
        assert!(r.reasons.contains(&Reason::IanaAssigned));
        assert_eq!(r.iana[0].service, Some("ibridge-mgmt"));
        assert_eq!(r.iana[0].registered, Some("2004-12"));
        let r = report(&f.policy, &reg, &[], 5173, t0());
        assert!(r.reasons.contains(&Reason::DevToolDefault));
        assert!(
            r.dev_tools.iter().any(|t| t.contains("Vite")),
            "{:?}",
            r.dev_tools
        );
        let r = report(&f.policy, &reg, &[], 6667, t0());
        assert!(r.browser_blocked && r.reasons.contains(&Reason::BrowserBlocked));
        let r = report(&f.policy, &reg, &[], 80, t0());
        assert_eq!(r.range, Rfc6335Range::System);
    }

    #[test]
    fn audit_tells_claimed_known_and_unknown_sockets_apart() {
        let f = Fixture::new();
        let web = f.claim("web", t0());
        let reg = f.store.read().expect("read");
        let unnamed = unnamed_port();
        let rows = audit(
            &reg,
            vec![
                socket(web.block.port),
                socket(2276),
                socket(5173),
                socket(unnamed),
            ],
        );
        let findings: Vec<(u16, Finding)> =
            rows.iter().map(|r| (r.socket.port, r.finding)).collect();
        assert_eq!(
            findings,
            [
                // Its owner cannot be seen: devport cannot contradict the claim.
                (web.block.port, Finding::Ok),
                (2276, Finding::Known),
                (5173, Finding::Known),
                (unnamed, Finding::Unknown),
            ]
        );
        assert_eq!(
            rows[0].claim.as_ref().map(|c| c.block.port),
            Some(web.block.port)
        );
        assert_eq!(rows[1].iana_service, Some("ibridge-mgmt"));
    }

    // Whether a process works inside a project is read from /proc (Linux only).
    #[cfg(target_os = "linux")]
    #[test]
    fn audit_flags_a_claimed_port_bound_by_a_process_working_elsewhere() {
        let f = Fixture::new();
        let web = f.claim("web", t0());
        let reg = f.store.read().expect("read");
        // This test process works in the crate folder, not in the fixture's project folder.
        let mine = Socket {
            uid: crate::os::process::current_uid(),
            pid: Some(std::process::id()),
            ..socket(web.block.port)
        };
        assert_eq!(audit(&reg, vec![mine])[0].finding, Finding::Conflict);
    }

    #[test]
    fn rfc6335_ranges_cover_every_port_once() {
        for (port, range) in [
            (0, Rfc6335Range::System),
            (1023, Rfc6335Range::System),
            (1024, Rfc6335Range::User),
            (49151, Rfc6335Range::User),
            (49152, Rfc6335Range::Dynamic),
            (65535, Rfc6335Range::Dynamic),
        ] {
            assert_eq!(Rfc6335Range::of(port), range, "{port}");
        }
        for port in 0..=u16::MAX {
            assert!(Rfc6335Range::of(port).ports().contains(port), "{port}");
        }
        let names: Vec<String> = [
            Rfc6335Range::System,
            Rfc6335Range::User,
            Rfc6335Range::Dynamic,
        ]
        .iter()
        .filter_map(|r| serde_json::to_string(r).ok())
        .collect();
        assert_eq!(names, ["\"system\"", "\"user\"", "\"dynamic\""]);
    }
}
