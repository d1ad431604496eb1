//! Claims: get-or-create a project's port for a service, move it, release it.

use jiff::{SignedDuration, Timestamp};

use crate::error::{Error, Result};
use crate::policy::Policy;
use crate::ports::probe::{self, Probe};
use crate::project::Project;
use crate::registry::{Claim, Holder, Registry, Store};
use crate::types::{PortRange, Proto, validate_service};

/// The most ports one claim may hold.
pub const MAX_COUNT: u16 = 1000;

/// How often `last_used` is refreshed by a claim of an existing service.
const REFRESH_AFTER: SignedDuration = SignedDuration::from_hours(24);

/// How the port of a new claim is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

/// What to claim.
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
}

/// The result of a claim.
#[derive(Debug, Clone)]
pub struct ClaimOutcome {
    /// The claim as stored.
    pub claim: Claim,
    /// Whether it was created (or moved) by this call.
    pub new: bool,
    /// Rules an exact `--port` breaks, for the user to read.
    pub warnings: Vec<String>,
}

/// Checks a block size.
pub fn check_count(count: u16) -> Result<()> {
    if (1..=MAX_COUNT).contains(&count) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid count {count}: a claim holds 1 to {MAX_COUNT} consecutive ports"
        )))
    }
}

/// The registry is JSON text, so a project folder must have a UTF-8 path to be recorded: one
/// that has not is refused before anything is read or written.
fn check_path(project: &Project) -> Result<()> {
    match project.path.as_deref() {
        Some(path) if path.to_str().is_none() => Err(Error::Usage(format!(
            "the project folder {} has a name that is not valid UTF-8, which the registry cannot record; rename the folder, or claim with --global",
            path.display()
        ))),
        _ => Ok(()),
    }
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
    validate_service(req.service)?;
    check_count(req.count)?;
    check_path(req.project)?;
    if !req.relocate
        && let Some(existing) = store.find(req.project.path.as_deref(), req.service)?
    {
        check_matches(&existing, req)?;
        if now.duration_since(existing.last_used) < REFRESH_AFTER {
            return Ok(ClaimOutcome {
                claim: existing,
                new: false,
                warnings: Vec::new(),
            });
        }
    }
    store.update(now, |reg| claim_locked(reg, policy, req, now))
}

fn claim_locked(
    reg: &mut Registry,
    policy: &Policy,
    req: &ClaimRequest<'_>,
    now: Timestamp,
) -> Result<ClaimOutcome> {
    let path = req.project.path.as_deref();
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
        existing.project.clone_from(&req.project.name);
        return Ok(ClaimOutcome {
            claim: existing.clone(),
            new: false,
            warnings: Vec::new(),
        });
    }
    // A new service must not take another claim's variable (`api.v2` after `api-v2`), or
    // `env` would fail on this project later.
    if index.is_none() {
        crate::envfile::check_new_claim(
            reg.claims
                .iter()
                .filter(|c| c.project_path.as_deref() == path)
                .map(|c| (c.service.as_str(), c.count)),
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
    let (port, warnings) = match req.choice {
        PortChoice::Exact(port) => (
            exact(reg, req, port, now)?,
            exact_warnings(policy, req, port),
        ),
        PortChoice::Prefer(port) if policy.block_usable(port, req.count, req.proto, &held) => {
            (port, Vec::new())
        }
        PortChoice::Auto | PortChoice::Prefer(_) => {
            let start = policy.start(&req.project.name, req.service);
            let port = policy
                .find_free(start, req.count, req.proto, &held)
                .ok_or_else(|| {
                    policy.no_room(
                        req.count,
                        &held,
                        &format!("{}/{}", req.project.name, req.service),
                    )
                })?;
            (port, Vec::new())
        }
    };
    let claim = Claim {
        project: req.project.name.clone(),
        project_path: req.project.path.clone(),
        service: req.service.to_string(),
        port,
        count: req.count,
        proto: req.proto,
        created: old.as_ref().map_or(now, |o| o.created),
        last_used: now,
        pinned: matches!(req.choice, PortChoice::Exact(_)),
        // A moved claim keeps the keys a newer devport may have added to it.
        extra: old.map(|o| o.extra).unwrap_or_default(),
    };
    reg.claims.push(claim.clone());
    Ok(ClaimOutcome {
        claim,
        new: true,
        warnings,
    })
}

/// An existing claim answers a request only if it was asked for the same shape.
fn check_matches(existing: &Claim, req: &ClaimRequest<'_>) -> Result<()> {
    let differs = match req.choice {
        PortChoice::Exact(p) if p != existing.port => Some(format!("port {p}")),
        _ if req.count != existing.count => Some(format!("{} port(s)", req.count)),
        _ if req.proto != existing.proto => Some(format!("protocol {}", req.proto)),
        _ => None,
    };
    match differs {
        Some(what) => Err(Error::Refused(format!(
            "{} already holds {} ({} port(s), {}); to get {what} instead run 'devport claim {} --move' with the new options",
            existing.label(),
            existing.ports(),
            existing.count,
            existing.proto,
            existing.service
        ))),
        None => Ok(()),
    }
}

/// Takes exactly `port` (and the block after it) if no claim or lease holds it and nothing is
/// bound to it.
fn exact(reg: &Registry, req: &ClaimRequest<'_>, port: u16, now: Timestamp) -> Result<u16> {
    let block = PortRange::new(
        port,
        port.checked_add(req.count - 1).ok_or_else(|| {
            Error::Usage(format!(
                "a block of {} ports from {port} runs past 65535; pick a lower port",
                req.count
            ))
        })?,
    )
    .unwrap_or(PortRange::single(port));
    match reg.holder(block, now) {
        Some(Holder::Claim(c)) => {
            let where_ = c.project_path.as_ref().map_or_else(
                || "with --global".to_string(),
                |p| format!("in {}", p.display()),
            );
            return Err(Error::Refused(format!(
                "port {} is claimed by {}; run 'devport release {}' {where_} or pick another port",
                c.ports(),
                c.label(),
                c.service
            )));
        }
        Some(Holder::Lease(l)) => {
            return Err(Error::Refused(format!(
                "port {} is leased by pid {} until it exits; pick another port",
                l.ports(),
                l.pid
            )));
        }
        None => {}
    }
    match probe::probe_block(block, req.proto) {
        None | Some((_, Probe::Free)) => Ok(port),
        Some((p, Probe::InUse { proto, addr })) => Err(Error::Refused(format!(
            "port {p} is in use ({proto} on {addr}); stop what listens there or pick another port ('devport check {p}' shows who)"
        ))),
        Some((p, Probe::Denied { proto, addr, error })) => Err(Error::Refused(format!(
            "port {p} cannot be bound ({proto} on {addr}: {error}); pick another port"
        ))),
    }
}

fn exact_warnings(policy: &Policy, req: &ClaimRequest<'_>, port: u16) -> Vec<String> {
    crate::registry::block(port, req.count)
        .iter()
        .flat_map(|p| {
            policy.static_reasons(p).into_iter().map(move |r| {
                format!(
                    "port {p} is {}; claimed anyway because --port asks for it",
                    describe(r)
                )
            })
        })
        .collect()
}

/// A short phrase for a reason, for warnings and reports.
pub fn describe(reason: crate::policy::Reason) -> &'static str {
    use crate::policy::Reason as R;
    match reason {
        R::Claimed => "claimed by devport",
        R::Leased => "leased by devport",
        R::InUse => "in use",
        R::BindFailed => "refused by the OS when bound",
        R::IanaAssigned => "assigned by IANA",
        R::IanaReserved => "reserved by IANA",
        R::DevToolDefault => "a development tool's default",
        R::BrowserBlocked => "blocked by browsers",
        R::OsEphemeral => "inside the OS ephemeral range",
        R::OsReserved => "reserved by the OS",
        R::OsExcluded => "excluded by the OS",
        R::Privileged => "privileged (below the first port this user may bind)",
        R::OutsideRange => "outside the configured range",
        R::Avoided => "listed under avoid in the config",
    }
}

/// What `release` should remove.
#[derive(Debug, Clone)]
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
