//! `devport up`: claim every service of `devport.toml`.

use anyhow::Result;
use devport_core::ops::up::{Up, UpRefused};

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
    if project.manifest.is_none() {
        return Err(devport_core::Error::invalid(
            devport_core::error::Input::Argument,
            format!(
                "no {} in {} or above; run 'devport init' to write one",
                devport_core::project::MANIFEST,
                ctx.project_dir().display()
            ),
        )
        .into());
    }
    // Everything is checked before the first claim: the dotenv file, then (by the library)
    // the variable names of the manifest's services among themselves and against the
    // project's other claims.
    let format = ctx.print_format(args.format)?;
    let file = ctx.env_file(&project, args.write.as_deref())?;
    let report = match devport_core::ops::up::up(&ctx.store, &project, args.relocate, ctx.now)? {
        Up::Claimed(report) => report,
        Up::Refused(refused) => {
            super::withheld_note(refused.withheld.as_ref());
            return Err(refusal(&refused, args.relocate));
        }
    };
    super::withheld_note(report.withheld.as_ref());
    report.yielded.iter().for_each(super::yielded_note);
    for outcome in &report.outcomes {
        outcome.warnings.iter().for_each(|w| output::warn(w));
        super::claim::tell_busy(outcome, &project);
        if args.relocate && outcome.new {
            output::note(&format!(
                "{} is now on {}",
                outcome.claim.label(),
                output::port_list(outcome.claim.ports())
            ));
        }
    }
    for stale in &report.stale {
        output::note(&format!(
            "{} ({}) is claimed but not in {}; run 'devport release {}' if it is gone",
            stale.label(),
            output::port_list(stale.ports()),
            devport_core::project::MANIFEST,
            stale.service
        ));
    }
    let mut unset = Vec::new();
    for (name, note) in report.unset {
        output::note(&note);
        unset.push(name);
    }
    super::emit_vars(
        &ctx.store,
        &report.vars,
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
fn refusal(refused: &UpRefused, relocate: bool) -> anyhow::Error {
    let path = &refused.manifest;
    // A refused request whose service is claimed asks for another shape: `--move` applies it.
    let changed = !relocate && refused.refusals.iter().any(|r| r.claimed);
    let code = refused
        .refusals
        .iter()
        .map(|r| exit::exit_code(&r.error))
        .max()
        .unwrap_or(exit::NEGATIVE);
    let lines: Vec<String> = refused
        .refusals
        .iter()
        .map(|r| {
            let at =
                r.at.as_ref()
                    .map_or_else(String::new, |at| format!("{at}: "));
            format!("{at}[services.{}]: {}", r.service, r.error)
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
        let names: Vec<&str> = refused
            .refusals
            .iter()
            .map(|r| r.service.as_str())
            .collect();
        format!(
            "{} of {} services cannot be claimed ({}), so nothing was claimed; fix them and run 'devport up' again{apply}",
            refused.refusals.len(),
            refused.services,
            names.join(", ")
        )
    };
    Failure {
        code,
        message: format!("{}: {message}", path.display()),
    }
    .into()
}
