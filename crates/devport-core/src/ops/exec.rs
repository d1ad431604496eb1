//! `exec`: claim a service and prepare a command to run with its port: the command's arguments
//! with their placeholders filled in, and its environment variables.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::env::computed::{self, Syntax, Template};
use crate::env::names;
use crate::error::{Error, Input, Result};
use crate::model::types::Proto;
use crate::ops::checkout::{self, Yielded};
use crate::ops::claim::{self, Busy, ClaimOutcome, ClaimRequest, PortChoice};
use crate::ops::owner::Running;
use crate::policy::Policy;
use crate::project::Project;
use crate::store::registry::{Claim, Store};
use crate::store::trust::{self, Withheld};

/// What [`exec`] found.
#[derive(Debug)]
pub enum Exec {
    /// A placeholder of the command reads a port no claim holds: nothing was claimed.
    Unheld(Unheld),
    /// The service is claimed.
    Claimed(Box<ExecReport>),
}

/// The claim [`exec`] made, and what to run.
#[derive(Debug)]
#[non_exhaustive]
pub struct ExecReport {
    /// What an untrusted manifest may not export, left out of the variables.
    pub withheld: Option<Withheld>,
    /// The service's claim.
    pub outcome: ClaimOutcome,
    /// The manifest's `port`/`prefer` of the service, when this checkout leaves it to the
    /// main checkout (see [`crate::ops::checkout`]).
    pub yielded: Option<Yielded>,
    /// Whether the command may run.
    pub run: Run,
}

/// Whether the command of [`exec`] may run.
#[derive(Debug)]
pub enum Run {
    /// The claim existed and something listens on its port: a server started on it would only
    /// fail later, so nothing is run.
    Busy(Busy),
    /// The claim existed and the project's own server (by [`crate::ops::owner::judge`])
    /// already listens on its port: a second one would only fail to bind, so nothing is run.
    Running {
        /// The port.
        port: u16,
        /// The server.
        server: Running,
    },
    /// The command, filled in, and its variables.
    Ready {
        /// The `[env]` values that have no value now, each with why.
        unset: Vec<String>,
        /// The variables the command gets: the project's, the service's and `PORT`.
        vars: Vec<(String, String)>,
        /// The command's words with their placeholders filled in, or the placeholder the
        /// claim cannot fill (its block is smaller than the manifest's count).
        command: std::result::Result<Vec<String>, Unheld>,
    },
}

/// A placeholder `{port:SERVICE:N}` that reads a port no claim of the project holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unheld {
    /// The service named.
    pub service: String,
    /// The place in its block.
    pub index: u16,
    /// The size of the service's block when it is claimed (N is then outside it).
    pub count: Option<u16>,
    /// Whether the service is in the manifest (so `up` would claim it).
    pub in_manifest: bool,
}

/// Claims `service` of `project` for a command and fills in `command` (see
/// [`Syntax::Argument`]), reading the registry once. The claim's shape is the manifest's,
/// else the existing claim's, else one TCP port. Everything is checked before the claim: each
/// placeholder names a claimed service (else [`Exec::Unheld`]), and the variables the command
/// gets are valid and distinct. `env` renames the service's variables (`NAME`, and `NAME_0` ...
/// for a block), as `env = "NAME"` in the manifest does.
pub fn exec(
    store: &Store,
    project: &Project,
    service: &str,
    env: Option<&str>,
    command: &[String],
    now: Timestamp,
) -> Result<Exec> {
    if let Some(name) = env {
        names::validate_var(name)?;
    }
    let reg = store.read()?;
    let existing = reg.find(project.path.as_deref(), service);
    let spec = project
        .manifest
        .as_ref()
        .and_then(|m| m.services.get(service))
        .cloned()
        .unwrap_or_default();
    let count = spec.count.or(existing.map(|c| c.block.count)).unwrap_or(1);
    let req = ClaimRequest {
        project,
        service,
        choice: PortChoice::from_options(spec.port, spec.prefer),
        reserved: None,
        count,
        proto: spec
            .proto
            .or(existing.map(|c| c.block.proto))
            .unwrap_or(Proto::Tcp),
        relocate: false,
        manifest: Some(&spec),
    };
    let templates = arguments(command, service)?;
    {
        let others = others(&reg.claims, project, service);
        let counts = counts(&others, service, count);
        if let Some((s, index)) = templates
            .iter()
            .flat_map(Template::ports)
            .find(|(s, index)| counts.get(s).is_none_or(|n| index >= n))
        {
            return Ok(Exec::Unheld(unheld(s, index, &counts, project)));
        }
        check_var_names(&others, service, env, count, project)?;
    }
    let (shown, withheld) = trust::exportable(store, project)?;

    let policy = Policy::of_this_machine(store.config());
    let (outcome, reg) = claim::claim_in(store, reg, &policy, &req, now)?;
    let yielded = checkout::yielded_claims(project, &reg, Some(service))?.pop();
    // Refuse before running: a server started on a port another process holds only fails
    // later with "address in use".
    if let Some(mut busy) = Busy::find(&outcome, project.path.as_deref()) {
        let run = match busy.running.take() {
            Some(server) => Run::Running {
                port: busy.port,
                server,
            },
            None => Run::Busy(busy),
        };
        return Ok(Exec::Claimed(Box::new(ExecReport {
            withheld,
            outcome,
            yielded,
            run,
        })));
    }
    let mut names = shown.env_names();
    if let Some(name) = env {
        names.insert(service.to_string(), name.to_string());
    }
    let mut vars = shown.port_vars(&reg, None, "", &names)?;
    let unset = shown
        .computed_vars(&reg, "", &mut vars)?
        .into_iter()
        .map(|(_, note)| note)
        .collect();
    vars.retain(|(k, _)| k != "PORT");
    vars.push(("PORT".to_string(), outcome.claim.block.port.to_string()));

    // The claim may keep a block smaller than the manifest's count (`up --move` applies it).
    let mut claims = others(&reg.claims, project, service);
    claims.push(&outcome.claim);
    let checkout = project.checkout_name(&reg);
    let counts = counts(&claims, service, outcome.claim.block.count);
    let command = templates
        .iter()
        .map(|t| t.render(&project.name, &checkout, &claims))
        .collect::<std::result::Result<Vec<String>, _>>()
        .map_err(|(s, index)| unheld(&s, index, &counts, project));
    Ok(Exec::Claimed(Box::new(ExecReport {
        withheld,
        yielded,
        run: Run::Ready {
            unset,
            vars,
            command,
        },
        outcome,
    })))
}

/// The project's claims other than `service`'s.
fn others<'a>(claims: &'a [Claim], project: &Project, service: &str) -> Vec<&'a Claim> {
    claims
        .iter()
        .filter(|c| c.project_path == project.path && c.service != service)
        .collect()
}

/// The block size of each of `claims`' services, and `count` for `service`.
fn counts<'a>(claims: &[&'a Claim], service: &'a str, count: u16) -> BTreeMap<&'a str, u16> {
    let mut counts: BTreeMap<&str, u16> = claims
        .iter()
        .map(|c| (c.service.as_str(), c.block.count))
        .collect();
    counts.insert(service, count);
    counts
}

/// The variables of the project's other claims and of this service (under `env` when
/// given) must be valid and distinct.
fn check_var_names(
    others: &[&Claim],
    service: &str,
    env: Option<&str>,
    count: u16,
    project: &Project,
) -> Result<()> {
    let mut services: Vec<(&str, u16)> = others
        .iter()
        .map(|c| (c.service.as_str(), c.block.count))
        .collect();
    let mut names = project.env_names();
    if let Some(name) = env {
        if let Some((other, _)) = services.iter().find(|(s, c)| {
            names::service_vars(s, *c, &names, "")
                .iter()
                .any(|v| v == name)
        }) {
            return Err(Error::invalid(
                Input::Variable,
                format!(
                    "--env {name} is already the variable of {other} in this project; choose another name"
                ),
            ));
        }
        names.insert(service.to_string(), name.to_string());
    }
    services.push((service, count));
    let taken = names::check_names(&services, &names, "")?;
    // The manifest's own services were checked when it was read; a claim outside it, or
    // `--env`, may still meet an `[env]` name.
    if let Some(manifest) = &project.manifest
        && let Some((mine, theirs)) = computed::clash(
            &manifest.computed,
            taken.iter().flatten().map(String::as_str),
        )
    {
        return Err(Error::invalid(
            Input::Variable,
            computed::collision(&mine, &theirs),
        ));
    }
    Ok(())
}

/// The command's arguments as templates (see [`Syntax::Argument`]): `{port}` is the port of
/// `service`, `{port:OTHER}` and `{port:OTHER:N}` a claimed service's, `{project}` the
/// project's name, and `{{`/`}}` a literal brace, as in `[env]`.
fn arguments(command: &[String], service: &str) -> Result<Vec<Template>> {
    command
        .iter()
        .enumerate()
        .map(|(n, arg)| {
            Template::parse_as(arg, Syntax::Argument { own: service }).map_err(|e| {
                Error::invalid(
                    Input::Argument,
                    format!("argument {} of the command, {arg}: {e}", n + 1),
                )
            })
        })
        .collect()
}

/// Why `{port:SERVICE:N}` cannot be filled in (`counts`: the block size of each claimed
/// service, the one being run included).
fn unheld(service: &str, index: u16, counts: &BTreeMap<&str, u16>, project: &Project) -> Unheld {
    Unheld {
        service: service.to_string(),
        index,
        count: counts.get(service).copied(),
        in_manifest: project
            .manifest
            .as_ref()
            .is_some_and(|m| m.services.contains_key(service)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arguments read placeholders and escapes as `[env]` values do; a brace that opens no
    /// placeholder is the command's own.
    #[test]
    fn arguments_use_the_placeholder_engine() {
        let claim = |service: &str, port: u16, count: u16| -> Claim {
            serde_json::from_value(serde_json::json!({
                "project": "shop", "project_path": "/shop", "service": service, "port": port,
                "count": count, "proto": "tcp", "created": "2026-01-01T00:00:00Z",
                "last_used": "2026-01-01T00:00:00Z",
            }))
            .expect("a claim")
        };
        let (web, db) = (claim("web", 42, 1), claim("db", 5000, 2));
        let fill = |arg: &str| {
            let args = [arg.to_string()];
            let template = &arguments(&args, "web").expect(arg)[0];
            template.render("shop", "main", &[&web, &db]).expect(arg)
        };
        assert_eq!(fill("--port={port}"), "--port=42");
        assert_eq!(fill("{port:db}/{port}"), "5000/42");
        assert_eq!(fill("{port:db:1} {port:db:0} {port:web}"), "5001 5000 42");
        assert_eq!(
            fill("{{port}} {{{port}}} {{port:db}}"),
            "{port} {42} {port:db}"
        );
        assert_eq!(fill("{project}: {{project}}"), "shop: {project}");
        assert_eq!(
            fill("-e '{\"a\": 1}' ${PORT} }"),
            "-e '{\"a\": 1}' ${PORT} }"
        );
        assert_eq!(fill("{portal} {port"), "{portal} {port");
        assert_eq!(fill("{port{port}"), "{port42");
        for (bad, says) in [
            (
                "{port:blk:2:3}",
                "'2:3' where a port's place in the block goes",
            ),
            ("{port:}", "empty service name"),
            ("{port:a b}", "invalid character"),
        ] {
            let e = arguments(&["x".into(), bad.into()], "web")
                .expect_err(bad)
                .to_string();
            assert!(
                e.contains("argument 2 of the command") && e.contains(says),
                "{bad}: {e}"
            );
            assert!(!e.contains("numbered from"), "{bad}: {e}");
        }
    }
}
