//! `up`: claim every service of a project's manifest, all or none, and the variables they give.

use std::path::PathBuf;

use jiff::Timestamp;

use crate::error::{Error, Result};
use crate::ops::checkout::{self, Yielded};
use crate::ops::claim::{self, Batch, ClaimOutcome, ClaimRequest, PortChoice};
use crate::policy::Policy;
use crate::project::{MANIFEST, Project};
use crate::store::registry::{Claim, Registry, Store};
use crate::store::trust::{self, Withheld};

/// What [`up`] did.
#[derive(Debug)]
pub enum Up {
    /// Every service of the manifest is claimed.
    Claimed(UpReport),
    /// Some services cannot be claimed, so nothing was claimed and nothing was written.
    Refused(UpRefused),
}

/// A successful [`up`].
#[derive(Debug)]
#[non_exhaustive]
pub struct UpReport {
    /// What an untrusted manifest may not export, left out of `vars`.
    pub withheld: Option<Withheld>,
    /// Each service's claim, in the manifest's order.
    pub outcomes: Vec<ClaimOutcome>,
    /// The project's claims of services the manifest does not list.
    pub stale: Vec<Claim>,
    /// The variables of the manifest's services and its `[env]` values, as exported.
    pub vars: Vec<(String, String)>,
    /// The `[env]` values that have no value now: each one's name and why.
    pub unset: Vec<(String, String)>,
    /// The services whose `port`/`prefer` this checkout leaves to the main checkout, each
    /// with the port it uses instead (see [`crate::ops::checkout`]).
    pub yielded: Vec<Yielded>,
}

/// An [`up`] that claimed nothing.
#[derive(Debug)]
#[non_exhaustive]
pub struct UpRefused {
    /// What an untrusted manifest may not export.
    pub withheld: Option<Withheld>,
    /// The manifest.
    pub manifest: PathBuf,
    /// How many services the manifest lists.
    pub services: usize,
    /// The services that cannot be claimed, in the manifest's order.
    pub refusals: Vec<ServiceRefusal>,
}

/// A service of the manifest that cannot be claimed.
#[derive(Debug)]
#[non_exhaustive]
pub struct ServiceRefusal {
    /// The service.
    pub service: String,
    /// "line L, column C" of its table in the manifest, when the manifest can be read again.
    pub at: Option<String>,
    /// Why it cannot be claimed.
    pub error: Error,
    /// Whether it already has a claim that a move would change to the manifest's request.
    pub claimed: bool,
}

/// Claims every service of `project`'s manifest or none (see [`claim::claim_all`]; with
/// `relocate`, claims that differ from the manifest move), reading the registry once. Before
/// anything is claimed, the services' variables are checked among themselves and against the
/// project's other claims (a clash is an [`Error::Manifest`]). A project without a manifest
/// has no services: nothing is claimed.
pub fn up(store: &Store, project: &Project, relocate: bool, now: Timestamp) -> Result<Up> {
    let manifest_path = project.manifest_path().unwrap_or_else(|| MANIFEST.into());
    let services: Vec<(&String, _)> = project
        .manifest
        .iter()
        .flat_map(|m| m.services.iter())
        .collect();
    let reg = checked_names(project, &manifest_path, || store.read())?;
    let (shown, withheld) = trust::exportable(store, project)?;
    let reqs: Vec<ClaimRequest<'_>> = services
        .iter()
        .map(|(service, spec)| ClaimRequest {
            project,
            service,
            choice: PortChoice::from_options(spec.port, spec.prefer),
            count: spec.count.unwrap_or(1),
            proto: spec.proto.unwrap_or_default(),
            relocate,
            manifest: Some(spec),
            reserved: None,
        })
        .collect();
    let policy = Policy::of_this_machine(store.config());
    let (outcomes, reg) = match claim::claim_all(store, reg, &policy, &reqs, now)? {
        Batch::Claimed { outcomes, registry } => (outcomes, registry),
        Batch::Refused(refused) => {
            let text = crate::os::fsutil::read_regular(&manifest_path, "manifest")
                .ok()
                .flatten()
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
            return Ok(Up::Refused(UpRefused {
                withheld,
                services: reqs.len(),
                refusals: refused
                    .into_iter()
                    .map(|r| {
                        let service = reqs[r.index].service;
                        ServiceRefusal {
                            service: service.to_string(),
                            at: text
                                .as_deref()
                                .and_then(|text| crate::project::service_position(text, service)),
                            error: r.error,
                            claimed: r.claimed,
                        }
                    })
                    .collect(),
                manifest: manifest_path,
            }));
        }
    };
    let listed = |service: &str| services.iter().any(|(s, _)| *s == service);
    let stale = reg
        .claims
        .iter()
        .filter(|c| c.project_path == project.path && !listed(&c.service))
        .cloned()
        .collect();
    let names: Vec<&str> = services.iter().map(|(s, _)| s.as_str()).collect();
    let mut vars = shown.port_vars(&reg, Some(&names), "", &shown.env_names())?;
    let unset = shown.computed_vars(&reg, "", &mut vars)?;
    // Which pinned ports this checkout left to the main checkout, by the registry as written.
    let yielded = checkout::yielded_claims(project, &reg, None)?;
    Ok(Up::Claimed(UpReport {
        withheld,
        outcomes,
        stale,
        vars,
        unset,
        yielded,
    }))
}

/// Refuses (naming the manifest) services that would share a variable with each other, then
/// reads the registry (`read`) and refuses those that would share one with another claim of
/// the project; returns the registry.
fn checked_names(
    project: &Project,
    manifest_path: &std::path::Path,
    read: impl FnOnce() -> Result<Registry>,
) -> Result<Registry> {
    let Some(manifest) = &project.manifest else {
        return read();
    };
    let in_manifest = |error: Error| Error::Manifest {
        path: manifest_path.to_path_buf(),
        message: error.to_string(),
    };
    let names = project.env_names();
    let services: Vec<(&str, u16)> = manifest
        .services
        .iter()
        .map(|(service, spec)| (service.as_str(), spec.count.unwrap_or(1)))
        .collect();
    crate::env::names::check_names(&services, &names, "").map_err(in_manifest)?;
    let reg = read()?;
    let claimed: Vec<(&str, u16)> = reg
        .claims
        .iter()
        .filter(|c| c.project_path == project.path)
        .map(|c| (c.service.as_str(), c.block.count))
        .collect();
    for &(service, count) in &services {
        if !claimed.iter().any(|(s, _)| *s == service) {
            crate::env::names::check_new_claim(claimed.iter().copied(), service, count, &names)
                .map_err(in_manifest)?;
        }
    }
    Ok(reg)
}
