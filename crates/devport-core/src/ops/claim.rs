//! Claims: get-or-create a project's port for a service, move it, release it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};

use crate::error::{Error, Result, Seeker};
use crate::model::input::{check_count, validate_service};
use crate::model::types::{PortRange, Proto, Transport};
use crate::os::probe::{self, Probe};
use crate::os::sockets::{self, Socket};
use crate::policy::{Policy, Reason};
use crate::project::{Project, ServiceSpec};
use crate::store::registry::{Claim, Holder, PortBlock, Registry, Store};

/// How often `last_used` is refreshed by a claim of an existing service.
const REFRESH_AFTER: SignedDuration = SignedDuration::from_hours(24);

/// How the port of a new claim is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PortChoice {
    /// The policy picks.
    #[default]
    Auto,
    /// Exactly this port (`--port`): taken when no other claim or lease holds it and nothing is
    /// bound to it; every other rule only warns.
    Exact(u16),
    /// This port if the policy accepts it, else the policy's pick (`--prefer`).
    Prefer(u16),
}

impl PortChoice {
    /// From the `--port` / `--prefer` pair (or `port` / `prefer` in `devport.toml`): an exact
    /// port wins over a preference.
    pub fn from_options(port: Option<u16>, prefer: Option<u16>) -> PortChoice {
        match (port, prefer) {
            (Some(p), _) => PortChoice::Exact(p),
            (None, Some(p)) => PortChoice::Prefer(p),
            (None, None) => PortChoice::Auto,
        }
    }
}

/// What to claim: a service of a project, built with [`ClaimRequest::new`] and refined with
/// its setters.
///
/// ```
/// # let project = devport_core::Project::global();
/// use devport_core::{ClaimRequest, PortChoice, Proto};
/// let request = ClaimRequest::new(&project, "db")
///     .count(2)
///     .proto(Proto::Both)
///     .choice(PortChoice::Exact(25432));
/// # let _ = request;
/// ```
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    /// The project that owns the claim.
    pub project: &'a Project,
    /// The service name.
    pub service: &'a str,
    /// How to choose the port.
    pub choice: PortChoice,
    /// How many consecutive ports.
    pub count: u16,
    /// Protocols.
    pub proto: Proto,
    /// Give an existing claim a new port under the current policy (`--move`).
    pub relocate: bool,
    /// The service's table in devport.toml when the request applies it (`up`, `exec`), so
    /// messages name what the user wrote. With it, `choice` and `reserved` are made by
    /// [`crate::ops::checkout::manifest_choice`] on the registry as the claim finds it, under
    /// the registry's lock when it writes: which checkout takes a pinned port is decided on
    /// the claims as they are, never on an older read.
    pub manifest: Option<&'a ServiceSpec>,
    /// Ports the policy's pick for a new claim leaves alone: the manifest's port, which
    /// belongs to the main checkout, for another checkout (see [`crate::ops::checkout`]).
    pub reserved: Option<PortRange>,
}

impl<'a> ClaimRequest<'a> {
    /// One TCP port for `service` of `project`, chosen by the policy: what `devport claim
    /// SERVICE` asks for. The service name is checked when the claim is made.
    pub fn new(project: &'a Project, service: &'a str) -> Self {
        ClaimRequest {
            project,
            service,
            choice: PortChoice::Auto,
            count: 1,
            proto: Proto::Tcp,
            relocate: false,
            manifest: None,
            reserved: None,
        }
    }

    /// How the port of a new claim is chosen (`--port`, `--prefer`).
    #[must_use]
    pub fn choice(self, choice: PortChoice) -> Self {
        ClaimRequest { choice, ..self }
    }

    /// How many consecutive ports (`--count`; 1 to 1000).
    #[must_use]
    pub fn count(self, count: u16) -> Self {
        ClaimRequest { count, ..self }
    }

    /// Which protocols the ports must be free for (`--proto`).
    #[must_use]
    pub fn proto(self, proto: Proto) -> Self {
        ClaimRequest { proto, ..self }
    }

    /// Whether an existing claim gets a new port under the current policy (`--move`).
    #[must_use]
    pub fn relocate(self, relocate: bool) -> Self {
        ClaimRequest { relocate, ..self }
    }

    /// This request with its port chosen by its manifest table on `reg` (see
    /// [`ClaimRequest::manifest`]); itself when it has none.
    fn decided(&self, reg: &Registry) -> Result<ClaimRequest<'a>> {
        let Some(spec) = self.manifest else {
            return Ok(self.clone());
        };
        let (choice, reserved, _) =
            crate::ops::checkout::manifest_choice(self.project, reg, self.service, spec)?;
        Ok(ClaimRequest {
            choice,
            reserved,
            ..self.clone()
        })
    }

    /// How the user asked for the port, for messages: `--port` or `port` in devport.toml.
    fn asked_by(&self) -> String {
        let (option, key) = match self.choice {
            PortChoice::Prefer(_) => ("--prefer", "prefer"),
            _ => ("--port", "port"),
        };
        if self.manifest.is_some() {
            format!("`{key}` in {}", crate::project::MANIFEST)
        } else {
            option.to_string()
        }
    }
}

/// What became of a preferred port (`--prefer`, or `prefer` in devport.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Preferred {
    /// The port asked for.
    pub port: u16,
    /// Whether the claim is on it.
    pub honoured: bool,
    /// The rule that kept a new (or moved) claim off it; `None` when it was honoured, or when
    /// an existing claim was handed back where it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<Reason>,
}

impl Preferred {
    /// For a claim handed back or made on `port` for `req`, when `req` prefers a port.
    fn of(req: &ClaimRequest<'_>, port: u16, because: Option<Reason>) -> Option<Preferred> {
        match req.choice {
            PortChoice::Prefer(p) => Some(Preferred {
                port: p,
                honoured: p == port,
                because: because.filter(|_| p != port),
            }),
            _ => None,
        }
    }
}

/// The result of a claim.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClaimOutcome {
    /// The claim as stored.
    pub claim: Claim,
    /// Whether it was created (or moved) by this call.
    pub new: bool,
    /// For the user to read: rules an exact `--port` breaks, the rule that kept a new claim
    /// off its preferred port, or a preferred port an existing claim is not on (with the
    /// command that moves it).
    pub warnings: Vec<String>,
    /// What became of the preferred port, when one was asked for.
    pub prefer: Option<Preferred>,
}

/// Get-or-create. A claim that exists and matches the request is returned after a plain read
/// (the file is rewritten at most once a day, to refresh `last_used`); anything else goes
/// through one locked [`Store::update`].
pub fn claim(
    store: &Store,
    policy: &Policy,
    req: &ClaimRequest<'_>,
    now: Timestamp,
) -> Result<ClaimOutcome> {
    check_request(req)?;
    // A manifest's request is decided on the whole registry (see `ClaimRequest::manifest`).
    if req.manifest.is_some() {
        return claim_in(store, store.read()?, policy, req, now).map(|(outcome, _)| outcome);
    }
    if !req.relocate
        && let Some(existing) = store.find(req.project.path.as_deref(), req.service)?
        && let Some(outcome) = kept(&existing, req, policy, now)?
    {
        return Ok(outcome);
    }
    store.update(now, |reg| claim_locked(reg, policy, req, now))
}

/// [`claim`] against `reg`, the registry as the caller already read it, so a command that
/// needs the other claims too reads the file once: returns the outcome and the registry as it
/// is after the claim (`reg` itself when nothing was written).
pub fn claim_in(
    store: &Store,
    reg: Registry,
    policy: &Policy,
    req: &ClaimRequest<'_>,
    now: Timestamp,
) -> Result<(ClaimOutcome, Registry)> {
    check_request(req)?;
    if !req.relocate
        && let Some(existing) = reg.find(req.project.path.as_deref(), req.service)
        && let Some(outcome) = kept(existing, &req.decided(&reg)?, policy, now)?
    {
        return Ok((outcome, reg));
    }
    store.update(now, |reg| {
        let outcome = claim_locked(reg, policy, req, now)?;
        Ok((outcome, reg.clone()))
    })
}

/// The checks of a request made before the registry is read: the service name, the block size
/// and a project folder the registry can store.
fn check_request(req: &ClaimRequest<'_>) -> Result<()> {
    validate_service(req.service)?;
    check_count(req.count)?;
    if let Some(path) = &req.project.path {
        crate::project::check_utf8(path)?;
    }
    Ok(())
}

/// An existing claim handed back as it is, unlocked and unwritten (see [`fresh`]); a claim of
/// another shape refuses the request.
fn kept(
    existing: &Claim,
    req: &ClaimRequest<'_>,
    policy: &Policy,
    now: Timestamp,
) -> Result<Option<ClaimOutcome>> {
    check_matches(existing, req)?;
    Ok(fresh(existing, req, policy, now))
}

/// `existing` as the answer to `req` without a write: it has the request's shape, its
/// `last_used` is fresh and its project's name unchanged. `None` when it must go through the
/// locked write (a renamed project's claims all take the new name there).
fn fresh(
    existing: &Claim,
    req: &ClaimRequest<'_>,
    policy: &Policy,
    now: Timestamp,
) -> Option<ClaimOutcome> {
    (differs(existing, req).is_none()
        && existing.project == req.project.name
        && now.duration_since(existing.last_used) < REFRESH_AFTER)
        .then(|| ClaimOutcome {
            warnings: kept_warnings(existing, req, policy),
            prefer: Preferred::of(req, existing.block.port, None),
            claim: existing.clone(),
            new: false,
        })
}

/// A request of [`claim_all`] that cannot be granted.
#[derive(Debug)]
pub struct Refusal {
    /// Its place in the batch.
    pub index: usize,
    /// Why it cannot be granted.
    pub error: Error,
    /// Whether the service already has a claim (of another shape, or on a port the request
    /// cannot have): a move would apply the request.
    pub claimed: bool,
}

/// What [`claim_all`] did.
#[derive(Debug)]
pub enum Batch {
    /// Every request was granted.
    Claimed {
        /// The outcome of each request, in order.
        outcomes: Vec<ClaimOutcome>,
        /// The registry as it is after the batch.
        registry: Registry,
    },
    /// These requests cannot be granted, so nothing was claimed and nothing was written.
    Refused(Vec<Refusal>),
}

/// Claims every request or none (`devport up`). Each request is checked (service name, block
/// size, the shape of its existing claim, an exact port free, room in the pool) against the
/// registry as the requests before it left it, inside one locked [`Store::update`] that
/// writes only when every request is granted. When every claim exists in `reg` (the registry
/// as the caller read it), matches and is fresh, nothing is locked, read again or written.
///
/// In a batch, `relocate` applies a changed request: a claim moves only when it differs from
/// its request (another exact port, block size or protocols, or a preferred port it is not on
/// that is usable now); an unchanged claim keeps its port.
pub fn claim_all(
    store: &Store,
    reg: Registry,
    policy: &Policy,
    reqs: &[ClaimRequest<'_>],
    now: Timestamp,
) -> Result<Batch> {
    for req in reqs {
        if let Some(path) = &req.project.path {
            crate::project::check_utf8(path)?;
        }
    }
    let kept: Option<Vec<ClaimOutcome>> = reqs
        .iter()
        .map(|req| {
            let existing = reg.find(req.project.path.as_deref(), req.service)?;
            let req = req.decided(&reg).ok()?;
            let moves = req.relocate && ignored_prefer(existing, &req, policy).is_some();
            fresh(existing, &req, policy, now).filter(|_| !moves)
        })
        .collect();
    if let Some(outcomes) = kept {
        return Ok(Batch::Claimed {
            outcomes,
            registry: reg,
        });
    }
    let mut refused = Vec::new();
    let result = store.update_with(now, |reg| {
        let mut trial = reg.clone();
        let mut outcomes = Vec::with_capacity(reqs.len());
        for (index, req) in reqs.iter().enumerate() {
            match claim_one(&mut trial, policy, req, now) {
                Ok(outcome) => outcomes.push(outcome),
                Err(error) => refused.push(Refusal {
                    index,
                    error,
                    claimed: reg.find(req.project.path.as_deref(), req.service).is_some(),
                }),
            }
        }
        if refused.is_empty() {
            *reg = trial;
            Ok((outcomes, reg.clone()))
        } else {
            Err(Stop::Refused)
        }
    });
    match result {
        Ok((outcomes, registry)) => Ok(Batch::Claimed { outcomes, registry }),
        Err(Stop::Refused) => Ok(Batch::Refused(refused)),
        Err(Stop::Failed(e)) => Err(e),
    }
}

/// Why [`claim_all`]'s transaction stopped without writing.
enum Stop {
    /// A request was refused: the refusals are returned.
    Refused,
    /// Reading or writing the registry failed.
    Failed(Error),
}
impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

/// One request of a batch, against the registry the batch is building.
fn claim_one(
    reg: &mut Registry,
    policy: &Policy,
    req: &ClaimRequest<'_>,
    now: Timestamp,
) -> Result<ClaimOutcome> {
    validate_service(req.service)?;
    check_count(req.count)?;
    let req = &req.decided(reg)?;
    // With `relocate`, a claim of another shape moves; one off its preferred port moves
    // there only if that port is free now, else it stays and says why.
    let (relocate, taken) = match reg.find(req.project.path.as_deref(), req.service) {
        Some(existing) if req.relocate => {
            if differs(existing, req).is_some() {
                (true, None)
            } else {
                match ignored_prefer(existing, req, policy).map(|p| {
                    (
                        p,
                        policy.refuse_preferred(p, req.count, req.proto, &reg.held()),
                    )
                }) {
                    Some((_, None)) => (true, None),
                    Some((p, Some((_, reason)))) => (false, Some((p, reason))),
                    None => (false, None),
                }
            }
        }
        _ => (false, None),
    };
    let mut outcome = claim_locked(
        reg,
        policy,
        &ClaimRequest {
            relocate,
            ..req.clone()
        },
        now,
    )?;
    if let Some((p, reason)) = taken {
        outcome.warnings = vec![format!(
            "{} stays on {}: the preferred port {p} is {} now ('devport check {p}' shows more)",
            outcome.claim.label(),
            outcome.claim.ports(),
            reason.description()
        )];
        outcome.prefer = Preferred::of(req, outcome.claim.block.port, Some(reason));
    }
    Ok(outcome)
}

/// Gives every claim of `project`'s folder the project's current name (claims are keyed by
/// folder, so a renamed project never shows under two names) and its checkout's name, which
/// they keep from then on (see [`crate::project::checkout_names`]); returns that name (`None`
/// for global claims).
fn name_folder(reg: &mut Registry, project: &crate::project::Project) -> Option<String> {
    let path = project.path.as_deref();
    for claim in reg
        .claims
        .iter_mut()
        .filter(|c| c.project_path.as_deref() == path && c.project != project.name)
    {
        claim.project.clone_from(&project.name);
    }
    let checkout = path.map(|_| project.checkout_name(reg));
    for claim in reg
        .claims
        .iter_mut()
        .filter(|c| c.project_path.as_deref() == path && c.checkout.is_none())
    {
        claim.checkout.clone_from(&checkout);
    }
    checkout
}

fn claim_locked(
    reg: &mut Registry,
    policy: &Policy,
    req: &ClaimRequest<'_>,
    now: Timestamp,
) -> Result<ClaimOutcome> {
    // Decided here, under the lock: two checkouts that claim a pinned port at once end as if
    // one had run after the other.
    let req = &req.decided(reg)?;
    let path = req.project.path.as_deref();
    let checkout = name_folder(reg, req.project);
    let index = reg
        .claims
        .iter()
        .position(|c| c.project_path.as_deref() == path && c.service == req.service);
    if let Some(i) = index
        && !req.relocate
    {
        let existing = &mut reg.claims[i];
        check_matches(existing, req)?;
        existing.last_used = now;
        return Ok(ClaimOutcome {
            warnings: kept_warnings(existing, req, policy),
            prefer: Preferred::of(req, existing.block.port, None),
            claim: existing.clone(),
            new: false,
        });
    }
    // A new service must not take another claim's variable (`api.v2` after `api-v2`), or
    // `env` would fail on this project later.
    if index.is_none() {
        if req.manifest.is_none() && req.choice == PortChoice::Auto {
            crate::ops::checkout::refuse_strict(req.project, reg, req.service)?;
        }
        crate::env::names::check_new_claim(
            reg.claims
                .iter()
                .filter(|c| c.project_path.as_deref() == path)
                .map(|c| (c.service.as_str(), c.block.count)),
            req.service,
            req.count,
            &req.project.env_names(),
        )?;
    }
    // Moving: the old claim is dropped in this same locked write, so it neither blocks the
    // new pick nor survives it. It is kept out of the candidates, so the port really moves.
    let old = index.map(|i| reg.claims.remove(i));
    let mut held = reg.held();
    if let Some(old) = &old {
        old.ports().iter().for_each(|p| held.insert(p));
    }
    if let Some(reserved) = req.reserved {
        reserved.iter().for_each(|p| held.insert(p));
    }
    // A preferred port is given unless a hard rule keeps it (see `Reason::yields_to_prefer`).
    let refused = match req.choice {
        PortChoice::Prefer(p) => policy.refuse_preferred(p, req.count, req.proto, &held),
        _ => None,
    };
    let (port, warnings) = match req.choice {
        PortChoice::Exact(port) => (
            exact(reg, req, port, now)?,
            exact_warnings(policy, req, port),
        ),
        PortChoice::Prefer(port) if refused.is_none() => (port, Vec::new()),
        PortChoice::Auto | PortChoice::Prefer(_) => {
            let start = policy.start(&req.project.name, req.service);
            let port = policy
                .find_free(start, req.count, req.proto, &held)
                .ok_or_else(|| {
                    policy.no_room(
                        req.count,
                        &held,
                        Seeker::Service {
                            project: req.project.name.clone(),
                            service: req.service.to_string(),
                        },
                    )
                })?;
            let warnings = refused
                .map(|(q, reason)| prefer_refused(reg, req, port, q, reason, now))
                .into_iter()
                .collect();
            (port, warnings)
        }
    };
    let claim = Claim {
        project: req.project.name.clone(),
        project_path: req.project.path.clone(),
        service: req.service.to_string(),
        block: PortBlock {
            port,
            count: req.count,
            proto: req.proto,
        },
        created: old.as_ref().map_or(now, |o| o.created),
        last_used: now,
        // A port a person named is theirs to keep: asked for exactly, or preferred and given.
        pinned: match req.choice {
            PortChoice::Exact(_) => true,
            PortChoice::Prefer(p) => p == port,
            PortChoice::Auto => false,
        },
        checkout,
        // A moved claim keeps the keys a newer devport may have added to it.
        extra: old.map(|o| o.extra).unwrap_or_default(),
    };
    reg.claims.push(claim.clone());
    Ok(ClaimOutcome {
        prefer: Preferred::of(req, claim.block.port, refused.map(|(_, reason)| reason)),
        claim,
        new: true,
        warnings,
    })
}

/// An existing claim answers a request only if it was asked for the same shape.
fn check_matches(existing: &Claim, req: &ClaimRequest<'_>) -> Result<()> {
    match differs(existing, req) {
        Some(wanted) => Err(Error::ClaimDiffers {
            project: existing.project.clone(),
            service: existing.service.clone(),
            ports: existing.ports(),
            proto: existing.block.proto,
            wanted,
            command: move_command(req, None),
        }),
        None => Ok(()),
    }
}

/// What of the request's shape (exact port, block size, protocols) the existing claim lacks.
fn differs(existing: &Claim, req: &ClaimRequest<'_>) -> Option<Wanted> {
    match req.choice {
        PortChoice::Exact(p) if p != existing.block.port => Some(Wanted::Port(p)),
        _ if req.count != existing.block.count => Some(Wanted::Count(req.count)),
        _ if req.proto != existing.block.proto => Some(Wanted::Proto(req.proto)),
        _ => None,
    }
}

/// What a request asked for that the service's existing claim lacks ([`Error::ClaimDiffers`]);
/// its `Display` is the words of the message ("port 3000", "2 port(s)", "protocol udp").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wanted {
    /// Exactly this port ([`PortChoice::Exact`]).
    Port(u16),
    /// A block of this many ports.
    Count(u16),
    /// These protocols.
    Proto(Proto),
}

impl std::fmt::Display for Wanted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wanted::Port(port) => write!(f, "port {port}"),
            Wanted::Count(count) => write!(f, "{count} port(s)"),
            Wanted::Proto(proto) => write!(f, "protocol {proto}"),
        }
    }
}

/// The preferred port an existing claim is not on although no hard rule keeps it, so a new
/// claim would have taken it if free: the request asks for something the claim ignores.
/// A preferred port no claim could get (an ephemeral or privileged one) is not one.
fn ignored_prefer(existing: &Claim, req: &ClaimRequest<'_>, policy: &Policy) -> Option<u16> {
    match req.choice {
        PortChoice::Prefer(p)
            if p != existing.block.port
                && PortRange::block(p, req.count)
                    .is_some_and(|b| b.iter().all(|q| policy.hard_reason(q).is_none())) =>
        {
            Some(p)
        }
        _ => None,
    }
}

/// The one line that says why a new claim did not get its preferred port: the rule, who holds
/// it (a claim, a lease, a listening process) where devport can tell, and the port taken.
fn prefer_refused(
    reg: &Registry,
    req: &ClaimRequest<'_>,
    port: u16,
    refused: u16,
    reason: Reason,
    now: Timestamp,
) -> String {
    let PortChoice::Prefer(asked) = req.choice else {
        return String::new();
    };
    let who = match reason {
        Reason::Claimed => match reg.holder(PortRange::single(refused), now) {
            Some(Holder::Claim(c)) => format!(" ({})", c.label()),
            Some(Holder::Lease(l)) => format!(" (leased by pid {})", l.pid),
            None => String::new(),
        },
        Reason::InUse => listener(refused, Transport::Tcp)
            .or_else(|| listener(refused, Transport::Udp))
            .map(|l| format!(": {l}"))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let at = if refused == asked {
        String::new()
    } else {
        format!(" (port {refused} of the block)")
    };
    let why = if PortRange::block(asked, req.count).is_none() {
        format!("a block of {} ports from it runs past 65535", req.count)
    } else {
        format!("it is {}{who}{at}", reason.description())
    };
    format!(
        "{}/{}: the preferred port {asked} ({}) was not used: {why}; claimed {port} instead",
        req.project.name,
        req.service,
        req.asked_by(),
    )
}

/// What an existing claim that is handed back ignores of the request: a preferred port it is
/// not on (`--prefer` only steers a new claim).
fn kept_warnings(existing: &Claim, req: &ClaimRequest<'_>, policy: &Policy) -> Vec<String> {
    ignored_prefer(existing, req, policy)
        .map(|p| {
            format!(
                "{} already holds {}, so the preferred port {p} was not used; run '{}' to move it (to {p} when that port is free, else to another free port)",
                existing.label(),
                existing.ports(),
                move_command(req, None)
            )
        })
        .into_iter()
        .collect()
}

/// The command that gives the claim of `req` the request's shape: `devport claim SERVICE`
/// with the request's options (and `range`, when one was asked for) and `--move`.
pub fn move_command(req: &ClaimRequest<'_>, range: Option<PortRange>) -> String {
    let mut words = vec!["devport".to_string()];
    if req.project.path.is_none() {
        words.push("--global".into());
    }
    words.extend(["claim".to_string(), req.service.to_string()]);
    match req.choice {
        PortChoice::Exact(p) => words.push(format!("--port {p}")),
        PortChoice::Prefer(p) => words.push(format!("--prefer {p}")),
        PortChoice::Auto => {}
    }
    if req.count != 1 {
        words.push(format!("--count {}", req.count));
    }
    if req.proto != Proto::Tcp {
        words.push(format!("--proto {}", req.proto));
    }
    if let Some(range) = range {
        words.push(format!("--range {range}"));
    }
    words.push("--move".into());
    words.join(" ")
}

/// Whether the claim `holder` may be another clone of the project that asks with `req` (see
/// [`Error::PortClaimed`]): the request applies the manifest, which has no `name`, and the
/// holder is another project whose folder has a `devport.toml` (only looked at) and whose name
/// a manifest could take.
fn maybe_clone(req: &ClaimRequest<'_>, holder: &Claim) -> bool {
    let unnamed = req
        .project
        .manifest
        .as_ref()
        .is_some_and(|m| m.name.is_none());
    req.manifest.is_some()
        && unnamed
        && holder.project != req.project.name
        && crate::model::input::service_name_problem(&holder.project, "name", "empty name")
            .is_none()
        && holder.project_path.as_deref().is_some_and(|folder| {
            std::fs::symlink_metadata(folder.join(crate::project::MANIFEST))
                .is_ok_and(|m| m.is_file())
        })
}

/// Takes exactly `port` (and the block after it) if no claim or lease holds it and nothing is
/// bound to it.
fn exact(reg: &Registry, req: &ClaimRequest<'_>, port: u16, now: Timestamp) -> Result<u16> {
    let block = PortRange::block(port, req.count).ok_or_else(|| {
        Error::invalid(
            crate::error::Input::Port,
            format!(
                "a block of {} ports from {port} runs past 65535; pick a lower port",
                req.count
            ),
        )
    })?;
    match reg.holder(block, now) {
        Some(Holder::Claim(c)) => {
            return Err(Error::PortClaimed {
                ports: c.ports(),
                project: c.project.clone(),
                project_path: c.project_path.clone(),
                service: c.service.clone(),
                maybe_clone: maybe_clone(req, c),
            });
        }
        Some(Holder::Lease(l)) => {
            return Err(Error::PortLeased {
                ports: l.ports(),
                pid: l.pid,
            });
        }
        None => {}
    }
    match probe::probe_block(block, req.proto) {
        None | Some((_, Probe::Free)) => Ok(port),
        Some((port, Probe::InUse { proto, .. })) => Err(Error::PortInUse {
            port,
            proto: proto.into(),
            listener: listener(port, proto),
        }),
        Some((port, Probe::Denied { proto, addr, error })) => Err(Error::PortUnbindable {
            port,
            proto: proto.into(),
            addr,
            reason: error.clone(),
        }),
    }
}

/// Who listens on `port` for `proto`: `pid 123 (node) listens on tcp 127.0.0.1:5432`, or the
/// address alone when the owner cannot be seen. Looked up only once a bind probe found the
/// port busy, so a free port costs no socket listing.
fn listener(port: u16, proto: Transport) -> Option<String> {
    let found: Vec<String> = sockets::on_port(&sockets::list(), port)
        .iter()
        .filter(|s| s.proto == proto)
        .map(|s| {
            let at = std::net::SocketAddr::new(s.address, s.port);
            match (s.pid, &s.process) {
                (Some(pid), Some(name)) => format!("pid {pid} ({name}) listens on {proto} {at}"),
                (Some(pid), None) => format!("pid {pid} listens on {proto} {at}"),
                _ => format!("something listens on {proto} {at} (owner not visible)"),
            }
        })
        .collect();
    (!found.is_empty()).then(|| found.join(", and "))
}

fn exact_warnings(policy: &Policy, req: &ClaimRequest<'_>, port: u16) -> Vec<String> {
    PortRange::block(port, req.count)
        .into_iter()
        .flat_map(PortRange::iter)
        .flat_map(|p| {
            policy.static_reasons(p).into_iter().map(move |r| {
                format!(
                    "port {p} is {}; claimed anyway because {} asks for it",
                    r.description(),
                    req.asked_by()
                )
            })
        })
        .collect()
}

/// A port of a claim that something listens on, and who (see [`Busy::find`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Busy {
    /// The claim's service.
    pub service: String,
    /// The port of its block in use: the first one a squatter holds, else the first one.
    pub port: u16,
    /// The sockets on that port of the claim's protocols.
    pub holders: Vec<Socket>,
    /// Where each process holding them works, by pid, when it can be read.
    pub folders: BTreeMap<u32, PathBuf>,
    /// The project's own server, when every socket on the port is its own (by
    /// [`crate::ops::owner::judge`]): no squatter, nothing to move.
    pub running: Option<crate::ops::owner::Running>,
}

impl Busy {
    /// Probes the ports of a claim that already existed (a new one was just probed free by the
    /// claim itself): a bind probe for each port, and the socket list is read only when a probe
    /// finds a port taken, so the usual path stays fast. The port reported is the first whose
    /// sockets are not all the project folder `dir`'s own server ([`Busy::running`]), so that
    /// a squatter on a later port of a block is not hidden by the project's own server on an
    /// earlier one; when every taken port is its own, the first.
    pub fn find(outcome: &ClaimOutcome, dir: Option<&Path>) -> Option<Busy> {
        if outcome.new {
            return None;
        }
        let claim = &outcome.claim;
        let taken: Vec<u16> = claim
            .ports()
            .iter()
            .filter(|&p| matches!(probe::probe(p, claim.block.proto), Probe::InUse { .. }))
            .collect();
        let list = (!taken.is_empty()).then(sockets::list)?;
        let mut found = taken.into_iter().map(|port| {
            let holders: Vec<Socket> = sockets::on_port(&list, port)
                .into_iter()
                .filter(|s| claim.block.proto.covers(s.proto))
                .collect();
            let folders = holders
                .iter()
                .flat_map(|s| s.pid.into_iter().chain(s.holders.iter().map(|h| h.pid)))
                .filter_map(|pid| Some((pid, crate::os::process::current_dir(pid)?)))
                .collect();
            Busy {
                service: claim.service.clone(),
                port,
                running: crate::ops::owner::Running::of(&holders, dir),
                holders,
                folders,
            }
        });
        let first = found.next()?;
        if first.running.is_none() {
            return Some(first);
        }
        Some(found.find(|b| b.running.is_none()).unwrap_or(first))
    }
}

/// What `release` should remove.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ReleaseTarget<'a> {
    /// These services of the project.
    Services(&'a Project, &'a [String]),
    /// Whatever claim covers this port, in any project.
    Port(u16),
    /// Every claim of the project.
    All(&'a Project),
}

/// Removes claims; returns the removed ones (none is not an error).
pub fn release(store: &Store, target: &ReleaseTarget<'_>, now: Timestamp) -> Result<Vec<Claim>> {
    if let ReleaseTarget::Services(_, services) = target {
        services.iter().try_for_each(|s| validate_service(s))?;
    }
    store.update(now, |reg| {
        let (removed, kept) =
            std::mem::take(&mut reg.claims)
                .into_iter()
                .partition(|c| match target {
                    ReleaseTarget::Services(p, services) => {
                        c.project_path == p.path && services.contains(&c.service)
                    }
                    ReleaseTarget::Port(port) => c.ports().contains(*port),
                    ReleaseTarget::All(p) => c.project_path == p.path,
                });
        reg.claims = kept;
        Ok(removed)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Config;
    use crate::os::ranges::OsPorts;

    /// A temporary registry, the default policy and a project folder, for the in-process
    /// tests of claim, lease, gc, check and doctor. Everything goes away on drop.
    pub struct Fixture {
        _dir: tempfile::TempDir,
        pub store: Store,
        pub policy: Policy,
        pub project: Project,
    }

    impl Fixture {
        pub fn new() -> Fixture {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = Store::new(
                dir.path().join("state/registry.json"),
                Config::default().lock_timeout,
            );
            let project = project(dir.path());
            Fixture {
                _dir: dir,
                store,
                policy: Policy::new(&Config::default(), OsPorts::read()),
                project,
            }
        }

        /// Claims `service` (one TCP port, the policy's pick) at `now`.
        pub fn claim(&self, service: &str, now: Timestamp) -> Claim {
            claim(
                &self.store,
                &self.policy,
                &request(&self.project, service),
                now,
            )
            .expect("claim")
            .claim
        }
    }

    /// Claims `service` and binds its port on 127.0.0.1; if something else took the port
    /// meanwhile, the claim moves to a new port and the bind is retried. For the tests that
    /// read from /proc whether the binding process works in the project.
    #[cfg(target_os = "linux")]
    pub fn claim_and_bind(f: &Fixture, service: &str) -> (u16, std::net::TcpListener) {
        let mut req = request(&f.project, service);
        (0..20)
            .find_map(|_| {
                let port = claim(&f.store, &f.policy, &req, t0())
                    .expect("claim")
                    .claim
                    .block
                    .port;
                req.relocate = true;
                std::net::TcpListener::bind(("127.0.0.1", port))
                    .ok()
                    .map(|l| (port, l))
            })
            .expect("no claimed port could be bound in 20 attempts")
    }

    /// A fixed instant, so tests move the clock instead of sleeping.
    pub fn t0() -> Timestamp {
        Timestamp::from_second(1_800_000_000).expect("timestamp")
    }

    fn project(dir: &std::path::Path) -> Project {
        Project {
            name: "batch".into(),
            path: Some(dir.to_path_buf()),
            manifest: None,
            checkout: crate::project::Checkout::Main,
        }
    }

    pub fn request<'a>(project: &'a Project, service: &'a str) -> ClaimRequest<'a> {
        ClaimRequest::new(project, service)
    }

    #[test]
    fn another_shape_is_refused_with_what_was_wanted_as_data_and_the_same_words() {
        let f = Fixture::new();
        let held = f.claim("web", t0());
        let other = held.block.port.wrapping_add(1);
        for (req, wanted, words) in [
            (
                ClaimRequest {
                    choice: PortChoice::Exact(other),
                    ..request(&f.project, "web")
                },
                Wanted::Port(other),
                format!("to get port {other} instead"),
            ),
            (
                ClaimRequest {
                    count: 2,
                    ..request(&f.project, "web")
                },
                Wanted::Count(2),
                "to get 2 port(s) instead".to_string(),
            ),
            (
                ClaimRequest {
                    proto: Proto::Udp,
                    ..request(&f.project, "web")
                },
                Wanted::Proto(Proto::Udp),
                "to get protocol udp instead".to_string(),
            ),
        ] {
            let err = claim(&f.store, &f.policy, &req, t0()).expect_err("another shape");
            assert!(
                matches!(&err, Error::ClaimDiffers { wanted: w, .. } if *w == wanted),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(
                text.starts_with(&format!(
                    "batch/web already holds {} (1 port(s), tcp); {words} run 'devport claim web ",
                    held.block.port
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn a_batch_claims_all_or_nothing() {
        let Fixture {
            store,
            policy,
            project,
            ..
        } = Fixture::new();
        let now = t0();
        let bad = [
            request(&project, "api"),
            request(&project, "no way"),
            request(&project, "web"),
            ClaimRequest {
                count: 0,
                ..request(&project, "grpc")
            },
        ];
        let read = || store.read().expect("read");
        match claim_all(&store, read(), &policy, &bad, now) {
            Ok(Batch::Refused(refused)) => {
                let failed: Vec<(usize, bool)> =
                    refused.iter().map(|r| (r.index, r.claimed)).collect();
                assert_eq!(failed, [(1, false), (3, false)]);
            }
            other => panic!("not refused: {other:?}"),
        }
        assert!(!store.path().exists(), "a refused batch wrote the registry");

        let good = [request(&project, "api"), request(&project, "web")];
        let Ok(Batch::Claimed {
            outcomes: first,
            registry,
        }) = claim_all(&store, read(), &policy, &good, now)
        else {
            panic!("not claimed");
        };
        assert!(first.iter().all(|o| o.new));
        assert_ne!(first[0].claim.block.port, first[1].claim.block.port);
        // The registry handed back holds what was written (in the order of the claims made).
        let by_port = |mut claims: Vec<Claim>| {
            claims.sort_by_key(|c| c.block.port);
            claims
        };
        assert_eq!(registry.claims.len(), 2);
        assert_eq!(by_port(registry.claims), by_port(read().claims));
        let Ok(Batch::Claimed {
            outcomes: again, ..
        }) = claim_all(&store, read(), &policy, &good, now)
        else {
            panic!("not claimed");
        };
        assert!(again.iter().all(|o| !o.new));
        assert_eq!(
            again.iter().map(|o| o.claim.block.port).collect::<Vec<_>>(),
            first.iter().map(|o| o.claim.block.port).collect::<Vec<_>>()
        );
        // A claimed service asked for another shape is refused, and said to be claimed.
        let other = [ClaimRequest {
            count: 2,
            ..request(&project, "web")
        }];
        let Ok(Batch::Refused(refused)) = claim_all(&store, read(), &policy, &other, now) else {
            panic!("not refused");
        };
        assert!(refused[0].claimed, "{refused:?}");
    }

    /// `claim_in` answers an existing, fresh claim from the registry it is given, without
    /// reading or writing the file; a new claim is written and the registry returned is the
    /// one written.
    #[test]
    fn claim_in_uses_the_registry_it_is_given() {
        let f = Fixture::new();
        let web = f.claim("web", t0());
        let bytes = std::fs::read(f.store.path()).expect("registry");
        let reg = f.store.read().expect("read");
        // The file goes: an answer now can only come from `reg`.
        std::fs::remove_file(f.store.path()).expect("remove");
        let (kept, after) = claim_in(
            &f.store,
            reg.clone(),
            &f.policy,
            &request(&f.project, "web"),
            t0(),
        )
        .expect("claim_in");
        assert_eq!((kept.new, kept.claim.block.port), (false, web.block.port));
        assert_eq!(after, reg);
        assert!(
            !f.store.path().exists(),
            "an existing claim wrote the registry"
        );

        std::fs::write(f.store.path(), &bytes).expect("restore");
        let (new, after) = claim_in(&f.store, reg, &f.policy, &request(&f.project, "api"), t0())
            .expect("claim_in");
        assert!(new.new);
        let mut written = f.store.read().expect("read").claims;
        let mut after_claims = after.claims.clone();
        written.sort_by_key(|c| c.block.port);
        after_claims.sort_by_key(|c| c.block.port);
        assert_eq!(after_claims, written);
        assert!(after.find(f.project.path.as_deref(), "api").is_some());
    }

    #[test]
    fn the_move_command_repeats_the_request() {
        let dir = tempfile::tempdir().expect("temp dir");
        let project = project(dir.path());
        let req = ClaimRequest {
            choice: PortChoice::Prefer(3001),
            count: 3,
            proto: Proto::Both,
            ..request(&project, "grpc")
        };
        assert_eq!(
            move_command(&req, PortRange::new(20000, 20999)),
            "devport claim grpc --prefer 3001 --count 3 --proto both --range 20000-20999 --move"
        );
        let global = Project::global();
        assert_eq!(
            move_command(&request(&global, "db"), None),
            "devport --global claim db --move"
        );
    }

    #[test]
    fn a_claim_is_stable_per_service_and_distinct_between_services() {
        let f = Fixture::new();
        let web = f.claim("web", t0());
        assert_eq!(f.claim("web", t0()).block.port, web.block.port);
        let db = f.claim("db", t0());
        assert_ne!(db.block.port, web.block.port);
        assert!(f.policy.range.contains(web.block.port) && f.policy.range.contains(db.block.port));
        // A project in another folder gets a claim of its own.
        let other = tempfile::tempdir().expect("temp dir");
        let elsewhere = project(other.path());
        let out = claim(&f.store, &f.policy, &request(&elsewhere, "web"), t0()).expect("claim");
        assert!(out.new);
        assert_ne!(out.claim.block.port, web.block.port);
        assert_eq!(f.store.read().expect("read").claims.len(), 3);
    }

    #[test]
    fn last_used_is_refreshed_once_a_day_not_at_every_claim() {
        let f = Fixture::new();
        f.claim("web", t0());
        let bytes = || std::fs::read(f.store.path()).expect("read");
        let before = bytes();
        let hour_later = t0() + SignedDuration::from_hours(1);
        assert_eq!(f.claim("web", hour_later).last_used, t0());
        assert_eq!(bytes(), before, "a fresh claim rewrote the registry");
        let two_days_later = t0() + SignedDuration::from_hours(48);
        assert_eq!(f.claim("web", two_days_later).last_used, two_days_later);
        let stored = f.store.read().expect("read");
        assert_eq!(stored.claims[0].last_used, two_days_later);
        assert_eq!(stored.claims[0].created, t0());
    }

    #[test]
    fn the_probe_passes_over_a_bound_port() {
        // The port a service of this project name gets in an empty registry, held by a
        // listener; if something else took it meanwhile, another service name, so another port.
        let (service, first, held) = (0..20)
            .find_map(|i| {
                let service = format!("probed{i}");
                let first = Fixture::new().claim(&service, t0()).block.port;
                let held = std::net::TcpListener::bind(("127.0.0.1", first)).ok()?;
                Some((service, first, held))
            })
            .expect("no port could be held in 20 attempts");
        let got = Fixture::new().claim(&service, t0());
        assert_ne!(got.block.port, first);
        drop(held);
    }

    #[test]
    fn an_exact_port_is_refused_when_claimed_or_bound_and_nothing_is_written() {
        let f = Fixture::new();
        let web = f.claim("web", t0());
        let before = std::fs::read(f.store.path()).expect("read");
        let exact = |service, port| {
            let req = ClaimRequest {
                choice: PortChoice::Exact(port),
                ..request(&f.project, service)
            };
            claim(&f.store, &f.policy, &req, t0())
        };
        let err = exact("api", web.block.port).expect_err("a claimed port was given twice");
        assert!(err.to_string().contains("claimed by"), "{err}");
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let busy = listener.local_addr().expect("addr").port();
        let err = exact("api", busy).expect_err("a bound port was given");
        assert!(err.to_string().contains("in use"), "{err}");
        assert_eq!(std::fs::read(f.store.path()).expect("read"), before);
        drop(listener);
    }

    #[test]
    fn bad_requests_are_refused_before_the_registry_is_touched() {
        let f = Fixture::new();
        for req in [
            request(&f.project, "no way"),
            ClaimRequest {
                count: 0,
                ..request(&f.project, "web")
            },
            ClaimRequest {
                count: crate::model::types::MAX_COUNT + 1,
                ..request(&f.project, "web")
            },
        ] {
            assert!(claim(&f.store, &f.policy, &req, t0()).is_err(), "{req:?}");
        }
        assert!(
            !f.store.path().exists(),
            "a refused claim wrote the registry"
        );
    }

    #[test]
    fn release_removes_by_service_by_port_and_all() {
        let f = Fixture::new();
        let web = f.claim("web", t0());
        f.claim("db", t0());
        f.claim("cache", t0());
        let services = ["db".to_string()];
        let removed = release(
            &f.store,
            &ReleaseTarget::Services(&f.project, &services),
            t0(),
        )
        .expect("release");
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].service, "db");
        let removed =
            release(&f.store, &ReleaseTarget::Port(web.block.port), t0()).expect("release");
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].service, "web");
        assert!(
            release(&f.store, &ReleaseTarget::Port(web.block.port), t0())
                .expect("release")
                .is_empty(),
            "releasing nothing is not an error"
        );
        let removed = release(&f.store, &ReleaseTarget::All(&f.project), t0()).expect("release");
        assert_eq!(removed.len(), 1);
        assert!(f.store.read().expect("read").claims.is_empty());
    }

    #[test]
    fn relocate_moves_to_a_new_port_and_keeps_one_claim() {
        let f = Fixture::new();
        let old = f.claim("web", t0());
        let req = ClaimRequest {
            relocate: true,
            ..request(&f.project, "web")
        };
        let moved = claim(&f.store, &f.policy, &req, t0()).expect("move");
        assert!(moved.new);
        assert_ne!(moved.claim.block.port, old.block.port);
        let stored = f.store.read().expect("read");
        assert_eq!(stored.claims.len(), 1);
        assert_eq!(stored.claims[0].block.port, moved.claim.block.port);
    }

    /// The claim of an existing service, the hot path of every setup script, never reads the
    /// OS's port ranges; a new claim does.
    #[test]
    fn an_existing_claim_does_not_read_the_os_ranges() {
        let f = Fixture::new();
        f.claim("web", t0());
        let lazy = Policy::of_this_machine(&Config::default());
        claim(&f.store, &lazy, &request(&f.project, "web"), t0()).expect("existing");
        assert!(!lazy.os_known());
        claim(&f.store, &lazy, &request(&f.project, "api"), t0()).expect("new");
        assert!(lazy.os_known());
    }
}
