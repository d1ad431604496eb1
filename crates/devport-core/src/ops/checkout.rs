//! Many checkouts of one project (git worktrees, a second clone): which of them takes the
//! port a manifest pins with `port` or `prefer`.
//!
//! Checkouts of one project are claims with the same project name in different folders. The
//! manifest's `port` and `prefer` hold for the *main checkout*: the main git worktree, or, for
//! checkouts that are not linked worktrees (a second clone), the first to claim the port. A
//! linked worktree never takes them (even before the main checkout has claimed: the rule does
//! not depend on who runs first), and neither does a checkout whose sibling (one that is not a
//! linked worktree either) already holds the port. Such a checkout gets the policy's pick, as
//! if the service had no `port`/`prefer`, never on the pinned ports, and the report says so
//! ([`Yielded`]). `strict = true` in the service's table keeps the port for the main checkout
//! alone (a port that must never move): a linked worktree is refused the service
//! ([`Error::StrictPort`]) and a clone whose sibling holds it stays a conflict, as does a port
//! held by another project. The rule is applied again under the registry's lock, so checkouts
//! that claim at once end as if one had run after the other.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::model::types::PortRange;
use crate::ops::claim::PortChoice;
use crate::project::{Checkout, MAIN_CHECKOUT, Project, ServiceSpec};
use crate::store::registry::Registry;

/// A service of the manifest whose pinned port this checkout leaves to the main checkout.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Yielded {
    /// The service.
    pub service: String,
    /// The port the manifest gives (`port` or `prefer`).
    pub port: u16,
    /// The main checkout's project folder, when it is known: the sibling's that holds the
    /// port, else (for a linked worktree) the main worktree's.
    pub main: Option<PathBuf>,
    /// This checkout's name (see [`Project::checkout_name`]).
    pub checkout: String,
    /// The port this checkout uses instead, once claimed.
    pub uses: Option<u16>,
}

/// How a request for `service` of `project` from its manifest `spec` chooses its port, given
/// the claims in `reg`: the manifest's `port`/`prefer`, or, where the main checkout has them,
/// the policy's pick with the pinned block reserved, and what was yielded. A claim applies it
/// again under the registry's lock (see [`crate::ClaimRequest::manifest`]), so two checkouts
/// that claim at once end as if one had run after the other.
///
/// # Errors
///
/// [`Error::StrictPort`] for a linked worktree when the port is `strict = true`: only the main
/// checkout uses it.
pub fn manifest_choice(
    project: &Project,
    reg: &Registry,
    service: &str,
    spec: &ServiceSpec,
) -> Result<(PortChoice, Option<PortRange>, Option<Yielded>)> {
    let choice = PortChoice::from_options(spec.port, spec.prefer);
    let (PortChoice::Exact(port) | PortChoice::Prefer(port)) = choice else {
        return Ok((choice, None, None));
    };
    if project.path.is_none() {
        return Ok((choice, None, None));
    }
    let strict = spec.strict == Some(true);
    let block = PortRange::block(port, spec.count.unwrap_or(1));
    // The sibling that holds the port by this rule, if one does: a linked worktree that took
    // the port with `--port` is no main checkout, and the conflict stays one.
    let holder = block
        .and_then(|block| {
            reg.claims.iter().find(|c| {
                c.project == project.name
                    && c.project_path != project.path
                    && c.ports().overlaps(block)
                    && c.project_path
                        .as_deref()
                        .is_some_and(|p| Checkout::of(p) == Checkout::Main)
            })
        })
        .and_then(|sibling| sibling.project_path.clone());
    let main = match &project.checkout {
        // A linked worktree names the checkout that holds the port (a clone may have taken it
        // before the main worktree claimed), else its main worktree.
        Checkout::Linked { main, .. } => holder.or_else(|| Some(main.clone())),
        // A strict port held by a sibling stays a conflict.
        Checkout::Main => match holder {
            Some(sibling) if !strict => Some(sibling),
            _ => return Ok((choice, None, None)),
        },
    };
    if strict {
        return Err(Error::StrictPort {
            service: service.to_string(),
            port,
            main,
        });
    }
    let yielded = Yielded {
        service: service.to_string(),
        port,
        main,
        checkout: checkout_name(project, reg),
        uses: None,
    };
    Ok((PortChoice::Auto, block, Some(yielded)))
}

/// Refuses a new claim of `service` made without the manifest and without a port of its own
/// (`devport claim SERVICE`) when its port is `strict = true` in the manifest and `project` is
/// a linked worktree: as `up`, `exec` and `env` refuse it there, so that no checkout but the
/// main one gets a port for the service. `--port`/`--prefer` are what the user asked for, and
/// a claim that exists is kept: neither comes here.
///
/// # Errors
///
/// [`Error::StrictPort`], as [`manifest_choice`] gives it.
pub fn refuse_strict(project: &Project, reg: &Registry, service: &str) -> Result<()> {
    let strict = project
        .manifest
        .as_ref()
        .and_then(|m| m.services.get(service))
        .filter(|spec| spec.strict == Some(true));
    match strict {
        Some(spec) => manifest_choice(project, reg, service, spec).map(|_| ()),
        None => Ok(()),
    }
}

/// The name of `project`'s checkout in a note (see [`Project::checkout_name`]): a checkout that
/// gives up a port is never called the main one, so it goes by its folder's name then.
fn checkout_name(project: &Project, reg: &Registry) -> String {
    Some(project.checkout_name(reg))
        .filter(|name| name != MAIN_CHECKOUT)
        .or_else(|| {
            let folder = project.path.as_ref()?.file_name()?;
            Some(folder.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| project.name.clone())
}

/// The services of `project`'s manifest that are claimed in `reg` off the manifest's
/// `port`/`prefer` because this checkout leaves it to the main checkout, each with the port
/// it uses: what `env` and `claim` remind of. `only` limits it to one service.
///
/// # Errors
///
/// [`Error::StrictPort`] for a service whose port is `strict = true` when `project` is a linked
/// worktree that holds no claim of it: it has no port here, and never gets one by the manifest.
pub fn yielded_claims(
    project: &Project,
    reg: &Registry,
    only: Option<&str>,
) -> Result<Vec<Yielded>> {
    let Some(manifest) = &project.manifest else {
        return Ok(Vec::new());
    };
    let mut yielded = Vec::new();
    for (service, spec) in &manifest.services {
        if only.is_some_and(|only| only != service) {
            continue;
        }
        let claim = reg.find(project.path.as_deref(), service);
        let gave = match manifest_choice(project, reg, service, spec) {
            Ok((_, _, gave)) => gave,
            Err(e) if claim.is_none() => return Err(e),
            // A port this worktree took itself (`claim --port`) is what it asked for.
            Err(_) => None,
        };
        if let (Some(y), Some(claim)) = (gave, claim)
            && y.port != claim.block.port
        {
            yielded.push(Yielded {
                uses: Some(claim.block.port),
                ..y
            });
        }
    }
    Ok(yielded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::claim::tests::{Fixture, t0};
    use crate::project::Manifest;

    /// A port the OS picked (free again now), and a manifest whose `db` pins it.
    fn db_on_a_free_port() -> (u16, Manifest) {
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("an OS-picked port")
            .port();
        let manifest = Manifest::parse(
            &format!("[services.db]\nport = {free}\n"),
            std::path::Path::new("m"),
        )
        .expect("parses");
        (free, manifest)
    }

    /// The linked worktree `id` of the checkout `of`, in a folder of that name inside it.
    fn worktree(of: &Project, id: &str) -> Project {
        Project {
            checkout: Checkout::Linked {
                id: id.into(),
                main: of.path.clone().expect("a folder"),
            },
            path: of.path.as_ref().map(|p| p.join(id)),
            ..of.clone()
        }
    }

    /// The rule on its own: a linked worktree always yields, a checkout that is not one yields
    /// only to a sibling that holds the port, `strict` never yields (a linked worktree is
    /// refused it), and a service without a pinned port has nothing to yield.
    #[test]
    fn only_the_main_checkout_takes_a_pinned_port() {
        let f = Fixture::new();
        let text = "[services.db]\nport = 25432\n[services.web]\nprefer = 23000\n[services.cache]\nport = 26379\nstrict = true\n[services.api]\n";
        let manifest = Manifest::parse(text, std::path::Path::new("devport.toml")).expect("parses");
        let mut main = f.project.clone();
        main.manifest = Some(manifest);
        let spec = |s: &str| main.manifest.as_ref().expect("manifest").services[s].clone();
        let reg = Registry::default();
        let choice = |p: &Project, reg: &Registry, s: &str| {
            manifest_choice(p, reg, s, &spec(s)).expect("no strict port in a worktree")
        };
        assert_eq!(
            choice(&main, &reg, "db"),
            (PortChoice::Exact(25432), None, None)
        );
        assert_eq!(choice(&main, &reg, "api"), (PortChoice::Auto, None, None));
        let linked = worktree(&main, "feature-x");
        let (choice_of, reserved, yielded) = choice(&linked, &reg, "web");
        assert_eq!(choice_of, PortChoice::Auto);
        assert_eq!(reserved, PortRange::block(23000, 1));
        let yielded = yielded.expect("yielded");
        assert_eq!(
            (yielded.port, yielded.main, yielded.checkout.as_str()),
            (23000, main.path.clone(), "feature-x")
        );
        assert_eq!(choice(&main, &reg, "cache").0, PortChoice::Exact(26379));
        assert!(matches!(
            manifest_choice(&linked, &reg, "cache", &spec("cache")),
            Err(Error::StrictPort { service, port: 26379, main: m }) if service == "cache" && m == main.path
        ));
        // A second clone: the first to claim keeps the port; the other yields to it.
        let (free, db) = db_on_a_free_port();
        crate::ops::claim::claim(
            &f.store,
            &f.policy,
            &crate::ops::claim::ClaimRequest::new(&main, "db").choice(PortChoice::Exact(free)),
            t0(),
        )
        .expect("claim the free port");
        let reg = f.store.read().expect("read");
        let clone = Project {
            path: main.path.as_ref().map(|p| p.join("clone")),
            ..main.clone()
        };
        let (c, _, y) = manifest_choice(&clone, &reg, "db", &db.services["db"]).expect("a clone");
        assert_eq!(
            (c, y.and_then(|y| y.main)),
            (PortChoice::Auto, main.path.clone())
        );
        assert_eq!(
            manifest_choice(&main, &reg, "db", &db.services["db"])
                .expect("main")
                .0,
            PortChoice::Exact(free)
        );
        // A worktree of the clone names the checkout that holds the port, not its own main
        // worktree (which does not hold it).
        let clone_worktree = worktree(&clone, "fix");
        let (_, _, y) =
            manifest_choice(&clone_worktree, &reg, "db", &db.services["db"]).expect("a worktree");
        assert_eq!(y.and_then(|y| y.main), main.path.clone());
    }

    /// A request decided on an older read is decided again under the registry's lock: a clone
    /// that read the registry before its sibling claimed the pinned port yields to it then,
    /// as if it had run after it, instead of being refused.
    #[test]
    fn a_sibling_that_claimed_since_the_read_is_yielded_to() {
        use crate::ops::claim::{Batch, ClaimRequest, claim_all, claim_in};
        let f = Fixture::new();
        let (free, manifest) = db_on_a_free_port();
        let spec = &manifest.services["db"];
        let main = Project {
            manifest: Some(manifest.clone()),
            ..f.project.clone()
        };
        let clone = Project {
            path: main.path.as_ref().map(|p| p.join("clone")),
            ..main.clone()
        };
        let request = |project| ClaimRequest {
            choice: PortChoice::Exact(free),
            manifest: Some(spec),
            ..ClaimRequest::new(project, "db")
        };
        // Both read the registry before either claimed.
        let stale = f.store.read().expect("read");
        let (won, _) = claim_in(&f.store, stale.clone(), &f.policy, &request(&main), t0())
            .expect("the first takes the pinned port");
        assert_eq!(won.claim.block.port, free);
        let Batch::Claimed { outcomes, registry } =
            claim_all(&f.store, stale, &f.policy, &[request(&clone)], t0()).expect("claim_all")
        else {
            panic!("the second checkout was refused instead of yielding");
        };
        let uses = outcomes[0].claim.block.port;
        assert_ne!(uses, free);
        let yielded = yielded_claims(&clone, &registry, None).expect("no strict port");
        assert_eq!(
            yielded
                .iter()
                .map(|y| (y.port, y.main.clone(), y.uses))
                .collect::<Vec<_>>(),
            [(free, main.path.clone(), Some(uses))]
        );
    }
}
