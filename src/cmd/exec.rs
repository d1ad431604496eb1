//! `devport exec`: claim a service, then run a command with its port.

use std::process::Command;

use anyhow::Result;
use devport_core::ops::devserver;
use devport_core::ops::exec::{Exec, Run, Unheld};

use super::{Ctx, Outcome};
use crate::cli::ExecArgs;
use crate::output;

pub fn run(ctx: &Ctx, args: &ExecArgs) -> Result<Outcome> {
    let project = ctx.project()?;
    let report = match devport_core::ops::exec::exec(
        &ctx.store,
        &project,
        &args.service,
        args.env.as_deref(),
        &args.command,
        ctx.now,
    )? {
        Exec::Unheld(unheld) => return Err(unheld_error(&unheld).into()),
        Exec::Claimed(report) => report,
    };
    super::withheld_note(report.withheld.as_ref());
    report.yielded.iter().for_each(super::yielded_note);
    report.outcome.warnings.iter().for_each(|w| output::warn(w));
    let (unset, vars, command) = match report.run {
        Run::Busy(busy) => {
            output::note(&format!(
                "{}; nothing was run: {}",
                super::claim::busy_line(&busy),
                super::claim::busy_fix(&busy)
            ));
            return Ok(Outcome::Negative);
        }
        Run::Running { port, server } => {
            output::note(&format!(
                "{}; nothing was run",
                output::running(&args.service, port, &server)
            ));
            return Ok(Outcome::Exit(crate::exit::RUNNING));
        }
        Run::Ready {
            unset,
            vars,
            command,
        } => (unset, vars, command),
    };
    for note in &unset {
        output::note(note);
    }
    let mut command = command.map_err(|unheld| unheld_error(&unheld))?;
    if !args.no_port_flags
        && let Some(added) =
            devserver::port_args(&command, &args.command, report.outcome.claim.block.port)
    {
        output::note(&format!(
            "added {} to the {} command line, so it serves on the claimed port (--no-port-flags runs it as typed)",
            added.words.join(" "),
            added.server
        ));
        command.splice(added.at..added.at, added.words);
    }
    let (program, rest) = command.split_first().ok_or_else(|| {
        devport_core::Error::invalid(
            devport_core::error::Input::Argument,
            "no command given after --",
        )
    })?;
    crate::signals::restore_file_size_signal();
    let mut cmd = Command::new(program);
    // The lease owner a launcher named is devport's caller's, not the command's: a `devport
    // lease` inside the command leases for its own parent.
    cmd.args(rest)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .env_remove(devport_core::ops::lease::OWNER_VAR);
    Ok(launch(cmd, program))
}

/// Why `{port:SERVICE:N}` cannot be filled in: the service is not claimed in this project, or
/// N is outside its block.
fn unheld_error(unheld: &Unheld) -> devport_core::Error {
    let Unheld { service, index, .. } = unheld;
    let shown = if *index == 0 {
        format!("{{port:{service}}}")
    } else {
        format!("{{port:{service}:{index}}}")
    };
    let message = match unheld.count {
        Some(count) => format!(
            "{shown}: {service} has {count} port(s), numbered from 0 to {}; write {{port:SERVICE:N}} with N in that range",
            count.saturating_sub(1)
        ),
        None if unheld.in_manifest => format!(
            "{shown}: {service} is in {} but not claimed yet; run 'devport up' first",
            devport_core::project::MANIFEST
        ),
        None => format!(
            "{shown}: {service} is not claimed in this project; check the name, or run 'devport claim {service}' first"
        ),
    };
    devport_core::Error::invalid(devport_core::error::Input::Argument, message)
}

/// Replaces this process with the command, so signals and the exit status are the child's.
#[cfg(unix)]
fn launch(mut cmd: Command, program: &str) -> Outcome {
    use std::os::unix::process::CommandExt as _;
    let err = cmd.exec();
    spawn_failed(&err, program)
}

/// Runs the command and passes its exit code through.
#[cfg(not(unix))]
fn launch(mut cmd: Command, program: &str) -> Outcome {
    match cmd.status() {
        Ok(status) => Outcome::Exit(
            status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1),
        ),
        Err(err) => spawn_failed(&err, program),
    }
}

/// 127 for a command that does not exist, 126 for one that cannot run, as shells do.
fn spawn_failed(err: &std::io::Error, program: &str) -> Outcome {
    if err.kind() == std::io::ErrorKind::NotFound {
        output::note(&format!(
            "command not found: {program}; check the name and your PATH"
        ));
        Outcome::Exit(127)
    } else {
        output::note(&format!("cannot run {program}: {err}"));
        Outcome::Exit(126)
    }
}
