//! Shell completion that knows the project: the shell script `devport completions SHELL`
//! prints asks `devport` itself at each TAB (`clap_complete`'s engine, through
//! [`VAR`]), and the arguments that take a service are completed with the services of the
//! project in the current folder, the ports of its claims for `check`.

use std::collections::BTreeMap;

use clap_complete::engine::CompletionCandidate;
use devport_core::{Claim, Project, Store};

/// The variable through which the completion script asks `devport` for candidates. Not the
/// engine's default `COMPLETE`: a variable so generic may be set for something else, and
/// devport would then print a script instead of running.
pub const VAR: &str = "DEVPORT_COMPLETE";

/// Answers the shell's request, if this run is one (then it exits); else returns at once.
pub fn answer() {
    clap_complete::CompleteEnv::with_factory(<crate::cli::Cli as clap::CommandFactory>::command)
        .var(VAR)
        .complete();
}

/// The services of the project in the current folder, the manifest's and the claimed ones,
/// each with its ports as help. Nothing when anything cannot be read: a completion prints no
/// error and changes nothing.
pub fn services() -> Vec<CompletionCandidate> {
    let Some((project, claims)) = here() else {
        return Vec::new();
    };
    let mut services: BTreeMap<String, Option<String>> = project
        .manifest
        .iter()
        .flat_map(|m| m.services.keys())
        .map(|s| (s.clone(), None))
        .collect();
    for c in &claims {
        services.insert(c.service.clone(), Some(crate::output::port_list(c.ports())));
    }
    services
        .into_iter()
        .map(|(service, ports)| CompletionCandidate::new(service).help(ports.map(Into::into)))
        .collect()
}

/// The ports of the claims of the project in the current folder, for `check`: each claim's
/// first port (its block as `A-B`), with its service as help.
pub fn ports() -> Vec<CompletionCandidate> {
    here()
        .map(|(_, claims)| {
            claims
                .iter()
                .map(|c| {
                    CompletionCandidate::new(crate::output::port_list(c.ports()))
                        .help(Some(c.service.clone().into()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The project of the current folder and its claims, read without a lock.
fn here() -> Option<(Project, Vec<Claim>)> {
    let project = Project::detect(&std::env::current_dir().ok()?).ok()?;
    let (config, _) = devport_core::store::config::load_user_config_with_warnings().ok()?;
    let registry = devport_core::store::config::resolve_registry_path(None).ok()?;
    let reg = Store::open(registry, config).ok()?.read().ok()?;
    let claims = reg
        .claims
        .into_iter()
        .filter(|c| c.project_path == project.path)
        .collect();
    Some((project, claims))
}
