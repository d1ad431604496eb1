//! `devport up`: claim every service of `devport.toml`.

use anyhow::Result;
use devport::envfile::{self, EnvFile};
use devport::project::Manifest;
use devport::{ClaimRequest, PortChoice, Project};

use super::{Ctx, Outcome};
use crate::cli::UpArgs;
use crate::output;

pub fn run(ctx: &Ctx, args: &UpArgs) -> Result<Outcome> {
    let project = ctx.project()?;
    let Some(manifest) = &project.manifest else {
        return Err(devport::Error::Usage(format!(
            "no {} in {} or above; run 'devport init' to write one",
            devport::project::MANIFEST,
            ctx.project_dir().display()
        ))
        .into());
    };
    // Everything is checked before the first claim: the dotenv file, and the variable names of
    // the manifest's services among themselves and against the project's other claims.
    let file = args.write_env.as_deref().map(EnvFile::open).transpose()?;
    check_manifest_names(ctx, &project, manifest)?;
    let policy = ctx.policy();
    for (service, spec) in &manifest.services {
        let choice = PortChoice::from_options(spec.port, spec.prefer);
        let req = ClaimRequest {
            project: &project,
            service,
            choice,
            count: spec.count.unwrap_or(1),
            proto: spec.proto.unwrap_or_default(),
            relocate: false,
        };
        ctx.claim(&policy, &req)?;
    }
    let reg = ctx.store.read()?;
    for stale in reg
        .claims
        .iter()
        .filter(|c| c.project_path == project.path && !manifest.services.contains_key(&c.service))
    {
        output::note(&format!(
            "{} ({}) is claimed but not in {}; run 'devport release {}' if it is gone",
            stale.label(),
            output::port_list(stale.ports()),
            devport::project::MANIFEST,
            stale.service
        ));
    }
    let services: Vec<&str> = manifest.services.keys().map(String::as_str).collect();
    let vars = ctx.project_vars(&project, Some(&services), "")?;
    ctx.emit_vars(&vars, args.format, file.as_ref(), true)?;
    Ok(Outcome::Success)
}

/// Refuses (exit 2, naming the manifest) services that would share a variable with each other
/// or with another claim of the project, before anything is claimed.
fn check_manifest_names(ctx: &Ctx, project: &Project, manifest: &Manifest) -> Result<()> {
    let in_manifest = |error: devport::Error| devport::Error::Config {
        path: project
            .manifest_path()
            .unwrap_or_else(|| devport::project::MANIFEST.into()),
        message: error.to_string(),
        code: devport::error::EXIT_USAGE,
    };
    let names = project.env_names();
    let services: Vec<(&str, u16)> = manifest
        .services
        .iter()
        .map(|(service, spec)| (service.as_str(), spec.count.unwrap_or(1)))
        .collect();
    envfile::check_names(&services, &names, "").map_err(in_manifest)?;
    let reg = ctx.store.read()?;
    let claimed: Vec<(&str, u16)> = reg
        .claims
        .iter()
        .filter(|c| c.project_path == project.path)
        .map(|c| (c.service.as_str(), c.count))
        .collect();
    for &(service, count) in &services {
        if !claimed.iter().any(|(s, _)| *s == service) {
            envfile::check_new_claim(claimed.iter().copied(), service, count, &names)
                .map_err(in_manifest)?;
        }
    }
    Ok(())
}
