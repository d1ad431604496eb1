//! `devport exec`: claim a service, then run a command with its port.

use std::process::Command;

use anyhow::Result;
use std::collections::BTreeMap;

use devport_core::env::computed::{self, Syntax, Template};
use devport_core::env::names::{check_names, service_vars, validate_var};
use devport_core::ops::devserver;
use devport_core::{ClaimRequest, PortChoice, Project, Proto};

use super::{Ctx, Outcome};
use crate::cli::ExecArgs;
use crate::output;

pub fn run(ctx: &Ctx, args: &ExecArgs) -> Result<Outcome> {
    let project = ctx.project()?;
    if let Some(name) = &args.env {
        validate_var(name)?;
    }
    // The claim's shape: the manifest's, else the existing claim's, else one TCP port.
    let reg = ctx.store.read()?;
    let existing = reg.find(project.path.as_deref(), &args.service).cloned();
    let spec = project
        .manifest
        .as_ref()
        .and_then(|m| m.services.get(&args.service))
        .cloned()
        .unwrap_or_default();
    let count = spec
        .count
        .or(existing.as_ref().map(|c| c.count))
        .unwrap_or(1);
    let req = ClaimRequest {
        project: &project,
        service: &args.service,
        choice: PortChoice::from_options(spec.port, spec.prefer),
        count,
        proto: spec
            .proto
            .or(existing.as_ref().map(|c| c.proto))
            .unwrap_or(Proto::Tcp),
        relocate: false,
        from_manifest: true,
    };

    // Everything is checked before the claim: the placeholders name claimed services, and the
    // variables the command gets are valid and distinct.
    let others: Vec<&devport_core::Claim> = reg
        .claims
        .iter()
        .filter(|c| c.project_path == project.path && c.service != args.service)
        .collect();
    let mut counts: BTreeMap<&str, u16> = others
        .iter()
        .map(|c| (c.service.as_str(), c.count))
        .collect();
    counts.insert(&args.service, count);
    let templates = arguments(&args.command, &args.service)?;
    for (service, index) in templates.iter().flat_map(Template::ports) {
        if counts.get(service).is_none_or(|&n| index >= n) {
            return Err(unheld(service, index, &counts, &project).into());
        }
    }
    check_var_names(&others, args, count, &project)?;
    let shown = ctx.exportable(&project)?;

    let outcome = ctx.claim(&ctx.policy(), &req)?;
    // Refuse before running: a server started on a port another process holds only fails
    // later with "address in use".
    if let Some(busy) = super::claim::Busy::find(&outcome) {
        output::note(&format!(
            "{}; nothing was run: {}",
            busy.describe(),
            busy.fix()
        ));
        return Ok(Outcome::Negative);
    }
    let port = outcome.claim.port;

    // `--env NAME` renames the service's variables (NAME, and NAME_0 ... for a block), as
    // `env = "NAME"` in the manifest does: the default <SERVICE>_PORT is not set beside it.
    let mut names = shown.env_names();
    if let Some(name) = &args.env {
        names.insert(args.service.clone(), name.clone());
    }
    let mut vars = ctx.project_vars_named(&shown, None, "", &names)?;
    for (_, note) in shown.computed_vars(&ctx.store.read()?, "", &mut vars)? {
        output::note(&note);
    }
    vars.retain(|(k, _)| k != "PORT");
    vars.push(("PORT".to_string(), port.to_string()));

    // The claim may keep a block smaller than the manifest's count (`up --move` applies it).
    counts.insert(&args.service, outcome.claim.count);
    let mut claims = others;
    claims.push(&outcome.claim);
    let command = templates
        .iter()
        .map(|t| t.render(&project.name, &claims))
        .collect::<Result<Vec<String>, _>>()
        .map_err(|(service, index)| unheld(&service, index, &counts, &project))?;
    let mut command = command;
    if !args.no_port_flags
        && let Some(added) = devserver::port_args(&command, &args.command, port)
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

/// The variables of the project's other claims and of this service (under `--env` when
/// given) must be valid and distinct.
fn check_var_names(
    others: &[&devport_core::Claim],
    args: &ExecArgs,
    count: u16,
    project: &Project,
) -> Result<()> {
    let mut services: Vec<(&str, u16)> = others
        .iter()
        .map(|c| (c.service.as_str(), c.count))
        .collect();
    let mut names = project.env_names();
    if let Some(name) = &args.env {
        if let Some((other, _)) = services
            .iter()
            .find(|(s, c)| service_vars(s, *c, &names, "").contains(name))
        {
            return Err(devport_core::Error::invalid(devport_core::error::Input::Variable, format!(
                "--env {name} is already the variable of {other} in this project; choose another name"
            ))
            .into());
        }
        names.insert(args.service.clone(), name.clone());
    }
    services.push((&args.service, count));
    let taken = check_names(&services, &names, "")?;
    // The manifest's own services were checked when it was read; a claim outside it, or
    // `--env`, may still meet an `[env]` name.
    if let Some(manifest) = &project.manifest
        && let Some((mine, theirs)) = computed::clash(
            &manifest.computed,
            taken.iter().flatten().map(String::as_str),
        )
    {
        return Err(devport_core::Error::invalid(
            devport_core::error::Input::Variable,
            computed::collision(&mine, &theirs),
        )
        .into());
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
                devport_core::Error::invalid(
                    devport_core::error::Input::Argument,
                    format!("argument {} of the command, {arg}: {e}", n + 1),
                )
                .into()
            })
        })
        .collect()
}

/// Why `{port:SERVICE:N}` cannot be filled in: `service` is not claimed in this project, or N
/// is outside its block (`counts`: the block size of each claimed service, the one being run
/// included).
fn unheld(
    service: &str,
    index: u16,
    counts: &BTreeMap<&str, u16>,
    project: &Project,
) -> devport_core::Error {
    let shown = if index == 0 {
        format!("{{port:{service}}}")
    } else {
        format!("{{port:{service}:{index}}}")
    };
    let message = match counts.get(service) {
        Some(&count) => format!(
            "{shown}: {service} has {count} port(s), numbered from 0 to {}; write {{port:SERVICE:N}} with N in that range",
            count.saturating_sub(1)
        ),
        None if project
            .manifest
            .as_ref()
            .is_some_and(|m| m.services.contains_key(service)) =>
        {
            format!(
                "{shown}: {service} is in {} but not claimed yet; run 'devport up' first",
                devport_core::project::MANIFEST
            )
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Arguments read placeholders and escapes as `[env]` values do; a brace that opens no
    /// placeholder is the command's own.
    #[test]
    fn arguments_use_the_placeholder_engine() {
        let claim = |service: &str, port: u16, count: u16| -> devport_core::Claim {
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
            template.render("shop", &[&web, &db]).expect(arg)
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
