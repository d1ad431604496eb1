//! The whole story of a port (`check`) and of every live socket (`audit`).

use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;

use crate::policy::{self, Policy, Reason};
use crate::ports::iana::{self, IanaProto, IanaStatus};
use crate::ports::sockets::{self, Socket};
use crate::process;
use crate::registry::{Claim, Holder, LeaseRecord, Registry};
use crate::types::{PortRange, Proto};

/// Everything devport knows about one port. Serialized as the `check --json` contract.
#[derive(Debug, Clone, Serialize)]
pub struct PortReport {
    /// The port.
    pub port: u16,
    /// Whether `claim` would hand it out by itself.
    pub usable: bool,
    /// Every reason it would not.
    pub reasons: Vec<Reason>,
    /// RFC 6335 range: `system`, `user` or `dynamic`.
    pub range: Rfc6335Range,
    /// IANA assignments and reservations on it.
    pub iana: Vec<IanaEntry>,
    /// Development tools that use it by default.
    pub dev_tools: Vec<&'static str>,
    /// Whether browsers refuse to connect to it.
    pub browser_blocked: bool,
    /// What the OS keeps it for.
    pub os: Vec<Reason>,
    /// Live sockets on it, with owners.
    pub sockets: Vec<Socket>,
    /// The devport claim holding it.
    pub claim: Option<Claim>,
    /// The live devport lease holding it.
    pub lease: Option<LeaseRecord>,
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

/// Reports on `port`. `live` is the machine's socket list ([`sockets::list`]); owners are
/// resolved here for the sockets on this port only. A port is probed for TCP and UDP, and any
/// live socket on it makes it `in-use` even where a bind would succeed.
pub fn report(
    policy: &Policy,
    reg: &Registry,
    live: &[Socket],
    port: u16,
    now: Timestamp,
) -> PortReport {
    let mut reasons = policy::all_reasons(policy, reg, port, Proto::Both, now);
    let socks = sockets::on_port(live, port);
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
        claim,
        lease,
    }
}

/// What `audit` concludes about a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finding {
    /// Claimed, and bound by a process working in the claiming project's folder (or by a
    /// process whose owner cannot be seen, which devport cannot contradict).
    Ok,
    /// Claimed by one project, bound by a process working elsewhere.
    Conflict,
    /// Not claimed, but IANA-assigned or a dev-tool default: probably what it seems.
    Known,
    /// Not claimed and not assigned: worth a look.
    Unknown,
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

/// Classifies every live socket. A claimed port is `ok` when its owner (or an ancestor of the
/// owner) has its current folder inside the claiming project's folder — the way a dev server
/// started from the project runs — and `conflict` when the owner is seen working elsewhere.
pub fn audit(reg: &Registry, mut live: Vec<Socket>) -> Vec<AuditRow> {
    sockets::resolve_owners(&mut live);
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
                Some(c) => match (socket.pid, &c.project_path) {
                    (Some(pid), Some(dir)) if owner_elsewhere(pid, dir) => Finding::Conflict,
                    _ => Finding::Ok,
                },
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

fn owner_elsewhere(pid: u32, dir: &Path) -> bool {
    process::works_in(pid, dir) == Some(false)
}

#[cfg(test)]
mod tests {
    use super::Rfc6335Range as R;

    #[test]
    fn rfc6335_ranges_cover_every_port_once() {
        for (port, range) in [
            (0, R::System),
            (1023, R::System),
            (1024, R::User),
            (49151, R::User),
            (49152, R::Dynamic),
            (65535, R::Dynamic),
        ] {
            assert_eq!(R::of(port), range, "{port}");
        }
        for port in 0..=u16::MAX {
            assert!(R::of(port).ports().contains(port), "{port}");
        }
        let names: Vec<String> = [R::System, R::User, R::Dynamic]
            .iter()
            .filter_map(|r| serde_json::to_string(r).ok())
            .collect();
        assert_eq!(names, ["\"system\"", "\"user\"", "\"dynamic\""]);
    }
}
