//! The port policy: which ports `claim` hands out by itself, in which order, and why any other
//! port is not handed out. `check` reports the same reasons.

pub mod iana;
#[cfg(test)]
mod props;

use std::sync::OnceLock;

use serde::Serialize;

use crate::error::{Error, NoRoom, Seeker, Unusable};
use crate::model::types::{PortRange, Proto};
use crate::os::probe::{self, Probe};
use crate::os::ranges::OsPorts;
use crate::store::config::Config;
use crate::store::registry::{HeldSet, Holder, Registry};
use iana::IanaStatus;

/// Why a port is not handed out automatically. Everything a reason says lives in
/// `Reason::spec`: its code (part of the JSON contract), its description and, for a reason
/// the OS gives, its phrase in `check`'s "os" line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reason {
    /// A devport claim holds it.
    Claimed,
    /// A live devport lease holds it.
    Leased,
    /// A socket is bound to it now.
    InUse,
    /// Binding it failed for another reason than "in use".
    BindFailed,
    /// IANA assigns it to a service.
    IanaAssigned,
    /// IANA reserves it.
    IanaReserved,
    /// A development tool uses it by default.
    DevToolDefault,
    /// Browsers refuse to connect to it.
    BrowserBlocked,
    /// Inside the OS ephemeral range.
    OsEphemeral,
    /// Reserved by the OS (Linux `ip_local_reserved_ports`).
    OsReserved,
    /// Excluded by the OS (Windows excluded port ranges).
    OsExcluded,
    /// Below the first port this user may bind.
    Privileged,
    /// Outside the configured range.
    OutsideRange,
    /// Listed under `avoid` in the config.
    Avoided,
}

/// What a [`Reason`] says: its stable code, a phrase for "port P is ...", and for a reason
/// the OS gives, what `check` shows on its "os" line, from this machine's settings.
struct Spec {
    code: &'static str,
    description: &'static str,
    os: Option<fn(&OsPorts) -> String>,
}

impl Reason {
    /// The one place a reason is described: adding a reason means a variant and a row here.
    fn spec(self) -> Spec {
        let plain = |code, description| Spec {
            code,
            description,
            os: None,
        };
        match self {
            Reason::Claimed => plain("claimed", "claimed by devport"),
            Reason::Leased => plain("leased", "leased by devport"),
            Reason::InUse => plain("in-use", "in use"),
            Reason::BindFailed => plain("bind-failed", "refused by the OS when bound"),
            Reason::IanaAssigned => plain("iana-assigned", "assigned by IANA"),
            Reason::IanaReserved => plain("iana-reserved", "reserved by IANA"),
            Reason::DevToolDefault => plain("dev-tool-default", "a development tool's default"),
            Reason::BrowserBlocked => plain("browser-blocked", "blocked by browsers"),
            Reason::OsEphemeral => Spec {
                code: "os-ephemeral",
                description: "inside the OS ephemeral range",
                os: Some(|os| {
                    format!(
                        "ephemeral range {} (the OS picks outgoing ports here)",
                        os.ephemeral
                    )
                }),
            },
            Reason::OsReserved => Spec {
                code: "os-reserved",
                description: "reserved by the OS",
                os: Some(|_| "reserved (ip_local_reserved_ports)".into()),
            },
            Reason::OsExcluded => Spec {
                code: "os-excluded",
                description: "excluded by the OS",
                os: Some(|_| "excluded port range".into()),
            },
            Reason::Privileged => Spec {
                code: "privileged",
                description: "privileged (below the first port this user may bind)",
                os: Some(|os| {
                    format!(
                        "privileged: below {}, only root may bind it",
                        os.unprivileged_start
                    )
                }),
            },
            Reason::OutsideRange => plain("outside-range", "outside the configured range"),
            Reason::Avoided => plain("avoided", "listed under avoid in the config"),
        }
    }

    /// The stable code, as in JSON.
    pub fn code(self) -> &'static str {
        self.spec().code
    }

    /// A short phrase for "port P is ...", for warnings and reports.
    pub fn description(self) -> &'static str {
        self.spec().description
    }

    /// Whether an explicit preference (`--prefer`, `prefer` in devport.toml) overrides it: the
    /// soft rules that only keep devport's own picks off ports other software may expect (IANA's
    /// tables, development tools' defaults, the configured range). Every other reason holds
    /// against a preference too.
    pub fn yields_to_prefer(self) -> bool {
        matches!(
            self,
            Reason::IanaAssigned
                | Reason::IanaReserved
                | Reason::DevToolDefault
                | Reason::OutsideRange
        )
    }

    /// Whether the reason comes from the OS (reported under "os" by `check`).
    pub fn is_os(self) -> bool {
        self.spec().os.is_some()
    }

    #[doc(hidden)]
    /// What `check` says of an OS reason on this machine (`os`); the code for any other.
    pub fn os_phrase(self, os: &OsPorts) -> String {
        let spec = self.spec();
        spec.os
            .map_or_else(|| spec.code.to_string(), |phrase| phrase(os))
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// The rules in force: configuration plus what the OS keeps.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The range new ports come from.
    pub range: PortRange,
    /// Ports the config says to avoid.
    pub avoid: Vec<PortRange>,
    /// Whether IANA-assigned or reserved ports may be handed out.
    pub allow_assigned: bool,
    /// The OS's ranges, read when a rule first needs them (see [`Policy::os`]).
    os: OnceLock<OsPorts>,
}

impl Policy {
    /// The policy of `config`, with these OS ranges (tests give their own).
    #[cfg(test)]
    pub fn new(config: &Config, os: OsPorts) -> Policy {
        let policy = Policy::lazy(config);
        let _ = policy.os.set(os);
        policy
    }

    /// The policy of `config` on this machine. The OS's ranges are read only when a rule needs
    /// them: the claim of an existing service, the hot path of every setup script, never does.
    pub fn of_this_machine(config: &Config) -> Policy {
        Policy::lazy(config)
    }

    /// Whether the OS's ranges have been read (or given).
    #[cfg(test)]
    pub fn os_known(&self) -> bool {
        self.os.get().is_some()
    }

    fn lazy(config: &Config) -> Policy {
        Policy {
            range: config.range,
            avoid: config.avoid.clone(),
            allow_assigned: config.allow_assigned,
            os: OnceLock::new(),
        }
    }

    /// The OS's ranges (ephemeral, reserved or excluded, unprivileged start), read from the OS
    /// on first use unless given to [`Policy::new`].
    pub fn os(&self) -> &OsPorts {
        self.os.get_or_init(OsPorts::read)
    }

    /// The reasons that follow from the port number alone (range, OS, IANA, dev tools,
    /// browsers), cheapest first. Registry and bind checks are separate.
    pub fn static_reasons(&self, port: u16) -> Vec<Reason> {
        let mut reasons = self.os_reasons(port);
        if !self.range.contains(port) {
            reasons.push(Reason::OutsideRange);
        }
        if self.avoid.iter().any(|r| r.contains(port)) {
            reasons.push(Reason::Avoided);
        }
        if !self.allow_assigned {
            match iana::taken(port) {
                Some(IanaStatus::Assigned) => reasons.push(Reason::IanaAssigned),
                Some(_) => reasons.push(Reason::IanaReserved),
                None => {}
            }
        }
        if !iana::dev_tools(port).is_empty() {
            reasons.push(Reason::DevToolDefault);
        }
        if iana::browser_blocked(port) {
            reasons.push(Reason::BrowserBlocked);
        }
        reasons
    }

    /// The OS's reasons against `port`.
    pub fn os_reasons(&self, port: u16) -> Vec<Reason> {
        let os = self.os();
        let mut reasons = Vec::new();
        if os.ephemeral.contains(port) {
            reasons.push(Reason::OsEphemeral);
        }
        if os.reserved.iter().any(|r| r.contains(port)) {
            reasons.push(Reason::OsReserved);
        }
        if os.excluded.iter().any(|r| r.contains(port)) {
            reasons.push(Reason::OsExcluded);
        }
        if port < os.unprivileged_start && !os.privileged_ok {
            reasons.push(Reason::Privileged);
        }
        reasons
    }

    /// Whether the port passes every static rule.
    fn statically_usable(&self, port: u16) -> bool {
        self.static_reasons(port).is_empty()
    }

    /// The first port to try for `project/service`: a stable FNV-1a hash mapped onto the
    /// configured range (not onto the filtered pool, whose shape differs between machines).
    pub fn start(&self, project: &str, service: &str) -> u16 {
        hashed_port(self.range, &format!("{project}/{service}"))
    }

    /// The first block of `count` consecutive ports, walking forward from `start` and wrapping
    /// at the end of the range, that is usable for `proto`: every static rule holds, nothing
    /// in the registry covers it, and the bind probe finds it free.
    pub fn find_free(&self, start: u16, count: u16, proto: Proto, held: &HeldSet) -> Option<u16> {
        let last_start = u32::from(self.range.hi()).checked_sub(u32::from(count) - 1)?;
        if last_start < u32::from(self.range.lo()) {
            return None;
        }
        let span = last_start - u32::from(self.range.lo()) + 1;
        let first = u32::from(start.clamp(self.range.lo(), u16::try_from(last_start).ok()?))
            - u32::from(self.range.lo());
        (0..span)
            .map(|i| self.range.lo() + u16::try_from((first + i) % span).unwrap_or(0))
            .find(|&p| self.block_usable(p, count, proto, held))
    }

    /// Whether `count` ports from `port` on are all usable for a new claim: inside 65535, every
    /// static rule holds, nothing in `held` covers them, and a bind probe finds them free.
    pub fn block_usable(&self, port: u16, count: u16, proto: Proto, held: &HeldSet) -> bool {
        let Some(block) = PortRange::block(port, count.max(1)) else {
            return false;
        };
        block.iter().all(|q| self.statically_usable(q))
            && !held.any(block)
            && probe::probe_block(block, proto).is_none()
    }

    /// The first hard rule (one a preference does not override, see
    /// [`Reason::yields_to_prefer`]) that `port` breaks by its number alone. A port below the
    /// first unprivileged one is refused even to root: only an exact `--port` asks for it.
    pub fn hard_reason(&self, port: u16) -> Option<Reason> {
        if port < self.os().unprivileged_start {
            return Some(Reason::Privileged);
        }
        self.static_reasons(port)
            .into_iter()
            .find(|r| !r.yields_to_prefer())
    }

    /// Why `count` ports from `port` may not go to a request that prefers them, with the port
    /// that breaks the rule, the most telling first: a claim or lease in `held`, a socket
    /// bound there now (a bind probe for `proto`), a hard rule, the OS refusing the bind.
    /// `None` when the block may be given.
    pub fn refuse_preferred(
        &self,
        port: u16,
        count: u16,
        proto: Proto,
        held: &HeldSet,
    ) -> Option<(u16, Reason)> {
        let Some(block) = PortRange::block(port, count.max(1)) else {
            return Some((port, Reason::OutsideRange));
        };
        if let Some(q) = block.iter().find(|&q| held.contains(q)) {
            return Some((q, Reason::Claimed));
        }
        let probed = probe::probe_block(block, proto);
        if let Some((q, Probe::InUse { .. })) = probed {
            return Some((q, Reason::InUse));
        }
        if let Some((q, reason)) = block
            .iter()
            .find_map(|q| self.hard_reason(q).map(|r| (q, r)))
        {
            return Some((q, reason));
        }
        match probed? {
            (_, Probe::Free) => None,
            (q, Probe::InUse { .. }) => Some((q, Reason::InUse)),
            (q, Probe::Denied { .. }) => Some((q, Reason::BindFailed)),
        }
    }
}

impl Policy {
    /// The longest run of consecutive ports in the range that pass every static rule and, when
    /// `held` is given, that nothing in it covers.
    pub fn longest_run(&self, held: Option<&HeldSet>) -> u32 {
        let (mut best, mut run) = (0, 0);
        for port in self.range.iter() {
            if self.statically_usable(port) && held.is_none_or(|h| !h.contains(port)) {
                run += 1;
                best = best.max(run);
            } else {
                run = 0;
            }
        }
        best
    }

    /// Why the range has no port that may be handed out at all (`None` when it has one): it
    /// lies inside the OS ephemeral range, or every port there breaks a rule.
    pub fn empty_pool(&self) -> Option<Unusable> {
        let range = self.range;
        if self.longest_run(None) > 0 {
            return None;
        }
        let ephemeral = self.os().ephemeral;
        Some(
            if ephemeral.contains(range.lo()) && ephemeral.contains(range.hi()) {
                Unusable::Ephemeral(ephemeral)
            } else {
                Unusable::RuledOut
            },
        )
    }

    /// Why no block of `count` ports was found for `what`, in the user's words, with the fix that applies: a range with no usable port at all (such as
    /// one inside the OS ephemeral range), a block larger than the range can hold, ports held
    /// by claims and leases (only then is `gc` advice), or ports busy now.
    pub fn no_room(&self, count: u16, held: &HeldSet, what: Seeker) -> Error {
        let why = match (self.empty_pool(), self.longest_run(None)) {
            (Some(unusable), _) => NoRoom::EmptyRange(unusable),
            (None, longest) if longest < u32::from(count) => NoRoom::TooLong { longest },
            _ if self.longest_run(Some(held)) < u32::from(count) => NoRoom::Held,
            _ => NoRoom::Busy,
        };
        Error::NoFreePort {
            range: self.range,
            count,
            what,
            why,
        }
    }
}

/// Every reason against `port` now: static rules, the registry and a bind probe for `proto`.
pub fn all_reasons(
    policy: &Policy,
    reg: &Registry,
    port: u16,
    proto: Proto,
    now: jiff::Timestamp,
) -> Vec<Reason> {
    let mut reasons = policy.static_reasons(port);
    match reg.holder(PortRange::single(port), now) {
        Some(Holder::Claim(_)) => reasons.push(Reason::Claimed),
        Some(Holder::Lease(_)) => reasons.push(Reason::Leased),
        None => {}
    }
    match probe::probe(port, proto) {
        Probe::Free => {}
        Probe::InUse { .. } => reasons.push(Reason::InUse),
        Probe::Denied { .. } if port < policy.os().unprivileged_start => {
            if !reasons.contains(&Reason::Privileged) {
                reasons.push(Reason::Privileged);
            }
        }
        Probe::Denied { .. } => reasons.push(Reason::BindFailed),
    }
    reasons.sort();
    reasons.dedup();
    reasons
}

/// The port of `range` that `key` hashes to (64-bit FNV-1a, stable across builds and
/// machines): where a search for a free port starts.
pub fn hashed_port(range: PortRange, key: &str) -> u16 {
    let offset = crate::model::types::fnv1a(key.as_bytes()) % u64::from(range.len());
    range.lo() + u16::try_from(offset).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        let os = OsPorts {
            ephemeral: PortRange::new(32768, 60999).expect("lo <= hi"),
            reserved: vec![PortRange::single(10500)],
            excluded: vec![],
            unprivileged_start: 1024,
            privileged_ok: false,
            unread: Vec::new(),
        };
        Policy::new(&Config::default(), os)
    }

    #[test]
    fn fnv_known_values() {
        assert_eq!(crate::model::types::fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(crate::model::types::fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    /// Every reason, in declaration order.
    const ALL: [Reason; 14] = [
        Reason::Claimed,
        Reason::Leased,
        Reason::InUse,
        Reason::BindFailed,
        Reason::IanaAssigned,
        Reason::IanaReserved,
        Reason::DevToolDefault,
        Reason::BrowserBlocked,
        Reason::OsEphemeral,
        Reason::OsReserved,
        Reason::OsExcluded,
        Reason::Privileged,
        Reason::OutsideRange,
        Reason::Avoided,
    ];

    #[test]
    fn every_reason_has_its_own_kebab_case_code_and_a_description() {
        let mut codes: Vec<&str> = ALL.iter().map(|r| r.code()).collect();
        for (reason, code) in ALL.iter().zip(&codes) {
            assert_eq!(
                serde_json::to_string(reason).ok(),
                Some(format!("\"{code}\""))
            );
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{code}"
            );
            assert!(!reason.description().is_empty(), "{code}");
        }
        assert_eq!(ALL.windows(2).filter(|w| w[0] >= w[1]).count(), 0);
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        let os = policy().os().clone();
        assert_eq!(
            Reason::OsEphemeral.os_phrase(&os),
            "ephemeral range 32768-60999 (the OS picks outgoing ports here)"
        );
        assert_eq!(Reason::Avoided.os_phrase(&os), "avoided");
        let from_os: Vec<Reason> = ALL.into_iter().filter(|r| r.is_os()).collect();
        assert_eq!(
            from_os,
            [
                Reason::OsEphemeral,
                Reason::OsReserved,
                Reason::OsExcluded,
                Reason::Privileged
            ]
        );
    }

    #[test]
    fn start_is_stable_and_in_range() {
        let p = policy();
        let a = p.start("shop", "web");
        assert_eq!(a, p.start("shop", "web"));
        assert!(p.range.contains(a));
        assert_ne!(a, p.start("shop", "db"));
    }

    #[test]
    fn static_rules() {
        let p = policy();
        assert_eq!(
            p.static_reasons(2276),
            [Reason::OutsideRange, Reason::IanaAssigned]
        );
        assert!(p.static_reasons(80).contains(&Reason::Privileged));
        assert!(p.static_reasons(5173).contains(&Reason::DevToolDefault));
        assert!(p.static_reasons(6667).contains(&Reason::BrowserBlocked));
        assert!(p.static_reasons(40000).contains(&Reason::OsEphemeral));
        assert!(p.static_reasons(10500).contains(&Reason::OsReserved));
    }

    #[test]
    fn a_preference_overrides_only_the_soft_rules() {
        let p = policy();
        let soft: Vec<Reason> = ALL.into_iter().filter(|r| r.yields_to_prefer()).collect();
        assert_eq!(
            soft,
            [
                Reason::IanaAssigned,
                Reason::IanaReserved,
                Reason::DevToolDefault,
                Reason::OutsideRange
            ]
        );
        assert_eq!(p.hard_reason(5173), None);
        assert_eq!(p.hard_reason(2276), None);
        assert_eq!(p.hard_reason(80), Some(Reason::Privileged));
        assert_eq!(p.hard_reason(6667), Some(Reason::BrowserBlocked));
        assert_eq!(p.hard_reason(40000), Some(Reason::OsEphemeral));
        assert_eq!(p.hard_reason(10500), Some(Reason::OsReserved));
        let mut held = HeldSet::default();
        held.insert(5174);
        assert_eq!(
            p.refuse_preferred(5173, 2, Proto::Tcp, &held),
            Some((5174, Reason::Claimed))
        );
        assert_eq!(
            p.refuse_preferred(65535, 2, Proto::Tcp, &held),
            Some((65535, Reason::OutsideRange))
        );
    }

    #[test]
    fn no_room_says_why() {
        let mut p = policy();
        let held = HeldSet::default();
        let text =
            |p: &Policy, count, held: &HeldSet| p.no_room(count, held, Seeker::Lease).to_string();
        // A block the range cannot hold names the largest one, and does not advise gc.
        let largest = p.longest_run(None);
        let too_many = u16::try_from(largest + 1).expect("a run shorter than the range");
        let e = text(&p, too_many, &held);
        assert!(
            e.contains(&format!("longest run of usable ports there is {largest}")),
            "{e}"
        );
        assert!(!e.contains("gc"), "{e}");
        // A range inside the ephemeral range has no usable port at all.
        p.range = PortRange::new(40000, 50000).expect("lo <= hi");
        assert!(
            matches!(
                p.no_room(1, &held, Seeker::Lease),
                Error::NoFreePort { why: NoRoom::EmptyRange(Unusable::Ephemeral(e)), .. }
                    if e == p.os().ephemeral
            ),
            "{:?}",
            p.no_room(1, &held, Seeker::Lease)
        );
        let e = text(&p, 1, &held);
        assert!(
            e.contains("inside the OS ephemeral range 32768-60999"),
            "{e}"
        );
        // Claims in the way: gc advice.
        p.range = PortRange::new(20000, 20010).expect("lo <= hi");
        let mut full = HeldSet::default();
        p.range.iter().for_each(|q| full.insert(q));
        let e = text(&p, 1, &full);
        assert!(e.contains("devport gc"), "{e}");
    }

    #[test]
    fn find_free_skips_held_and_walks_forward() {
        let p = policy();
        let start = p
            .range
            .iter()
            .find(|&q| p.statically_usable(q))
            .unwrap_or(p.range.lo());
        let mut held = HeldSet::default();
        held.insert(start);
        let got = p.find_free(start, 1, Proto::Tcp, &held);
        assert!(got.is_some_and(|g| g > start && p.statically_usable(g)));
        // A block never runs past the end of the range, and wraps to the start instead.
        let got = p.find_free(p.range.hi(), 3, Proto::Tcp, &HeldSet::default());
        assert!(got.is_some_and(|g| g + 2 <= p.range.hi()));
    }
}
