//! `devport up`: claim every service of `devport.toml`.

use anyhow::Result;
use devport::{ClaimRequest, PortChoice};

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
    ctx.emit_vars(&vars, args.format, args.write_env.as_deref(), true)?;
    Ok(Outcome::Success)
}
