//! `devport up`: claim every service of `devport.toml`.

use anyhow::Result;
use devport_core::env::names::{check_names, check_new_claim};
use devport_core::ops::claim::{Batch, Refusal};
use devport_core::project::Manifest;
use devport_core::{ClaimRequest, PortChoice, Project};

use super::{Ctx, Outcome};
use crate::cli::UpArgs;
use crate::exit::{self, Failure};
use crate::output;

pub fn run(ctx: &Ctx, args: &UpArgs) -> Result<Outcome> {
    let project = ctx.project()?;
    if project.path.is_none() {
        return Err(devport_core::Error::invalid(devport_core::error::Input::Argument, format!(
            "up reads a project's {}, and --global claims belong to no project; run 'devport up' in the project's folder, or 'devport --global claim SERVICE' for a global claim",
            devport_core::project::MANIFEST
        ))
        .into());
    }
    let Some(manifest) = &project.manifest else {
        return Err(devport_core::Error::invalid(
            devport_core::error::Input::Argument,
            format!(
                "no {} in {} or above; run 'devport init' to write one",
                devport_core::project::MANIFEST,
                ctx.project_dir().display()
            ),
        )
        .into());
    };
    // Everything is checked before the first claim: the dotenv file, and the variable names of
    // the manifest's services among themselves and against the project's other claims.
    let format = ctx.print_format(args.format)?;
    let file = ctx.env_file(&project, args.write_env.as_deref())?;
    check_manifest_names(ctx, &project, manifest)?;
    let shown = ctx.exportable(&project)?;
    let reqs: Vec<ClaimRequest<'_>> = manifest
        .services
        .iter()
        .map(|(service, spec)| ClaimRequest {
            project: &project,
            service,
            choice: PortChoice::from_options(spec.port, spec.prefer),
            count: spec.count.unwrap_or(1),
            proto: spec.proto.unwrap_or_default(),
            relocate: args.relocate,
            from_manifest: true,
        })
        .collect();
    match devport_core::ops::claim::claim_all(&ctx.store, &ctx.policy(), &reqs, ctx.now)? {
        Batch::Claimed(outcomes) => {
            for outcome in &outcomes {
                outcome.warnings.iter().for_each(|w| output::warn(w));
                if args.relocate && outcome.new {
                    output::note(&format!(
                        "{} is now on {}",
                        outcome.claim.label(),
                        output::port_list(outcome.claim.ports())
                    ));
                }
            }
        }
        Batch::Refused(refused) => return Err(refusal(ctx, &project, &reqs, &refused, args)),
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
            devport_core::project::MANIFEST,
            stale.service
        ));
    }
    let services: Vec<&str> = manifest.services.keys().map(String::as_str).collect();
    let mut vars = ctx.project_vars(&shown, Some(&services), "")?;
    let mut unset = Vec::new();
    for (name, note) in shown.computed_vars(&reg, "", &mut vars)? {
        output::note(&note);
        unset.push(name);
    }
    super::emit_vars(
        &ctx.store,
        &vars,
        &unset,
        format,
        file.as_ref(),
        true,
        &format!("{} lists no services", devport_core::project::MANIFEST),
    )?;
    Ok(Outcome::Success)
}

/// The error of an `up` that claimed nothing: each failing service on its own line, with the
/// line and column of its table in the manifest, then one line that sums up (a single failure
/// is that line alone). The exit code is the gravest of the failures'.
fn refusal(
    ctx: &Ctx,
    project: &Project,
    reqs: &[ClaimRequest<'_>],
    refused: &[Refusal],
    args: &UpArgs,
) -> anyhow::Error {
    let path = project
        .manifest_path()
        .unwrap_or_else(|| devport_core::project::MANIFEST.into());
    let text = devport_core::os::fsutil::read_regular(&path, "manifest")
        .ok()
        .flatten()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    // A refused request whose service is claimed asks for another shape: `--move` applies it.
    let reg = ctx.store.read().ok();
    let changed = !args.relocate
        && refused.iter().any(|r| {
            reg.as_ref().is_some_and(|reg| {
                reg.find(project.path.as_deref(), reqs[r.index].service)
                    .is_some()
            })
        });
    let code = refused
        .iter()
        .map(|r| exit::exit_code(&r.error))
        .max()
        .unwrap_or(exit::NEGATIVE);
    let lines: Vec<String> = refused
        .iter()
        .map(|r| {
            let service = reqs[r.index].service;
            let at = text
                .as_deref()
                .and_then(|text| devport_core::project::service_position(text, service))
                .map_or_else(String::new, |at| format!("{at}: "));
            format!("{at}[services.{service}]: {}", r.error)
        })
        .collect();
    let apply = if changed {
        "; 'devport up --move' applies every change of the manifest"
    } else {
        ""
    };
    let message = if let [only] = lines.as_slice() {
        format!("{only}; nothing was claimed{apply}")
    } else {
        for line in &lines {
            output::note(&format!("{}: {line}", path.display()));
        }
        let names: Vec<&str> = refused.iter().map(|r| reqs[r.index].service).collect();
        format!(
            "{} of {} services cannot be claimed ({}), so nothing was claimed; fix them and run 'devport up' again{apply}",
            refused.len(),
            reqs.len(),
            names.join(", ")
        )
    };
    Failure {
        code,
        message: format!("{}: {message}", path.display()),
    }
    .into()
}

/// Refuses (exit 2, naming the manifest) services that would share a variable with each other
/// or with another claim of the project, before anything is claimed.
fn check_manifest_names(ctx: &Ctx, project: &Project, manifest: &Manifest) -> Result<()> {
    let in_manifest = |error: devport_core::Error| devport_core::Error::Manifest {
        path: project
            .manifest_path()
            .unwrap_or_else(|| devport_core::project::MANIFEST.into()),
        message: error.to_string(),
    };
    let names = project.env_names();
    let services: Vec<(&str, u16)> = manifest
        .services
        .iter()
        .map(|(service, spec)| (service.as_str(), spec.count.unwrap_or(1)))
        .collect();
    check_names(&services, &names, "").map_err(in_manifest)?;
    let reg = ctx.store.read()?;
    let claimed: Vec<(&str, u16)> = reg
        .claims
        .iter()
        .filter(|c| c.project_path == project.path)
        .map(|c| (c.service.as_str(), c.count))
        .collect();
    for &(service, count) in &services {
        if !claimed.iter().any(|(s, _)| *s == service) {
            check_new_claim(claimed.iter().copied(), service, count, &names)
                .map_err(in_manifest)?;
        }
    }
    Ok(())
}
