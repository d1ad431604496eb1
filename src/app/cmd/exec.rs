//! `devport exec`: claim a service, then run a command with its port.

use std::process::Command;

use anyhow::Result;
use std::collections::BTreeMap;

use crate::{ClaimRequest, PortChoice, Project, Proto};
use crate::{computed, envfile};

use super::{Ctx, Outcome};
use crate::app::cli::ExecArgs;
use crate::app::output;

pub fn run(ctx: &Ctx, args: &ExecArgs) -> Result<Outcome> {
    let project = ctx.project()?;
    if let Some(name) = &args.env {
        envfile::validate_var(name)?;
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
    let others: Vec<&crate::Claim> = reg
        .claims
        .iter()
        .filter(|c| c.project_path == project.path && c.service != args.service)
        .collect();
    let mut ports: BTreeMap<&str, (u16, u16)> = others
        .iter()
        .map(|c| (c.service.as_str(), (c.port, c.count)))
        .collect();
    let templates: Vec<Vec<Piece<'_>>> = args.command.iter().map(|a| pieces(a)).collect();
    for other in templates.iter().flatten().filter_map(|p| match p {
        Piece::Other(s) => Some(*s),
        _ => None,
    }) {
        check_placeholder(other, (&args.service, count), &ports, &project)?;
    }
    check_var_names(&others, args, count, &project)?;

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
    ports.insert(&args.service, (port, outcome.claim.count));

    // `--env NAME` renames the service's variables (NAME, and NAME_0 ... for a block), as
    // `env = "NAME"` in the manifest does: the default <SERVICE>_PORT is not set beside it.
    let mut names = project.env_names();
    if let Some(name) = &args.env {
        names.insert(args.service.clone(), name.clone());
    }
    let mut vars = ctx.project_vars_named(&project, None, "", &names)?;
    for (_, note) in project.computed_vars(&ctx.store.read()?, "", &mut vars)? {
        output::note(&note);
    }
    vars.retain(|(k, _)| k != "PORT");
    vars.push(("PORT".to_string(), port.to_string()));

    let command: Vec<String> = templates
        .iter()
        .map(|pieces| render(pieces, port, &ports))
        .collect();
    let (program, rest) = command.split_first().ok_or_else(|| {
        crate::Error::invalid(crate::error::Input::Argument, "no command given after --")
    })?;
    crate::app::signals::restore_file_size_signal();
    let mut cmd = Command::new(program);
    cmd.args(rest).envs(vars.iter().map(|(k, v)| (k, v)));
    Ok(launch(cmd, program))
}

/// The variables of the project's other claims and of this service (under `--env` when
/// given) must be valid and distinct.
fn check_var_names(
    others: &[&crate::Claim],
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
            .find(|(s, c)| envfile::service_vars(s, *c, &names, "").contains(name))
        {
            return Err(crate::Error::invalid(crate::error::Input::Variable, format!(
                "--env {name} is already the variable of {other} in this project; choose another name"
            ))
            .into());
        }
        names.insert(args.service.clone(), name.clone());
    }
    services.push((&args.service, count));
    let taken = envfile::check_names(&services, &names, "")?;
    // The manifest's own services were checked when it was read; a claim outside it, or
    // `--env`, may still meet an `[env]` name.
    if let Some(manifest) = &project.manifest
        && let Some((mine, theirs)) = computed::clash(
            &manifest.computed,
            taken.iter().flatten().map(String::as_str),
        )
    {
        return Err(crate::Error::invalid(
            crate::error::Input::Variable,
            computed::collision(&mine, &theirs),
        )
        .into());
    }
    Ok(())
}

/// A piece of a command argument: text, `{port}`, or `{port:OTHER}` / `{port:OTHER:N}` (what
/// is between `{port:` and `}`).
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Own,
    Other(&'a str),
}

/// Cuts an argument into text and placeholders: `{port}` is the port, `{port:OTHER}` the port
/// of the claimed service OTHER, `{port:OTHER:N}` port N (from 0) of its block, as in
/// `[env]`; any other `{port...` is text, and so are other braces (a command's own `{...}`
/// needs no escaping).
fn pieces(arg: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(start) = rest.find("{port") {
        let after = &rest[start + 5..];
        if let Some(tail) = after.strip_prefix('}') {
            out.push(Piece::Text(&rest[..start]));
            out.push(Piece::Own);
            rest = tail;
        } else if let Some((other, tail)) = after.strip_prefix(':').and_then(|a| a.split_once('}'))
        {
            out.push(Piece::Text(&rest[..start]));
            out.push(Piece::Other(other));
            rest = tail;
        } else {
            out.push(Piece::Text(&rest[..start + 5]));
            rest = after;
        }
    }
    out.push(Piece::Text(rest));
    out
}

/// `OTHER` or `OTHER:N` of a `{port:...}` placeholder: the service and the place in its block.
fn target(other: &str) -> (&str, Option<&str>) {
    match other.split_once(':') {
        Some((name, index)) => (name, Some(index)),
        None => (other, None),
    }
}

/// `{port:OTHER}` must name the service being run (`own`: its name and block size) or a
/// service claimed in this project, and `{port:OTHER:N}` a place in that service's block.
fn check_placeholder(
    other: &str,
    own: (&str, u16),
    claimed: &BTreeMap<&str, (u16, u16)>,
    project: &Project,
) -> Result<()> {
    let (name, index) = target(other);
    let shown = output::clean(other);
    let invalid = |message: String| -> Result<()> {
        Err(crate::Error::invalid(crate::error::Input::Argument, message).into())
    };
    if name.is_empty() {
        return invalid(format!(
            "{{port:{shown}}} names no service; write {{port}} for this service's port, or {{port:SERVICE}}"
        ));
    }
    if let Err(e) = crate::input::validate_service(name) {
        return invalid(format!("{{port:{shown}}}: {e}"));
    }
    let count = if name == own.0 {
        Some(own.1)
    } else {
        claimed.get(name).map(|&(_, count)| count)
    };
    let Some(count) = count else {
        let name = output::clean(name);
        let in_manifest = project
            .manifest
            .as_ref()
            .is_some_and(|m| m.services.contains_key(target(other).0));
        return invalid(if in_manifest {
            format!(
                "{{port:{shown}}}: {name} is in {} but not claimed yet; run 'devport up' first",
                crate::project::MANIFEST
            )
        } else {
            format!(
                "{{port:{shown}}}: {name} is not claimed in this project; check the name, or run 'devport claim {name}' first"
            )
        });
    };
    match index.map(str::parse::<u16>) {
        None => Ok(()),
        Some(Ok(n)) if n < count => Ok(()),
        Some(_) => invalid(format!(
            "{{port:{shown}}}: {} has {count} port(s), numbered from 0 to {}; write {{port:SERVICE:N}} with N in that range",
            output::clean(name),
            count - 1
        )),
    }
}

/// The argument with its placeholders filled in; every `{port:OTHER[:N]}` was checked to be
/// in `ports` (first port and block size by service).
fn render(pieces: &[Piece<'_>], port: u16, ports: &BTreeMap<&str, (u16, u16)>) -> String {
    pieces.iter().fold(String::new(), |mut out, piece| {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Own => out.push_str(&port.to_string()),
            Piece::Other(other) => {
                let (name, index) = target(other);
                let first = ports.get(name).map_or(port, |&(first, _)| first);
                let n = index.and_then(|i| i.parse::<u16>().ok()).unwrap_or(0);
                out.push_str(&first.saturating_add(n).to_string());
            }
        }
        out
    })
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

    #[test]
    fn substitution() {
        let ports = BTreeMap::from([("db", (5000, 2)), ("web", (42, 1))]);
        let fill = |arg: &str| render(&pieces(arg), 42, &ports);
        assert_eq!(fill("--port={port}"), "--port=42");
        assert_eq!(fill("{port:db}/{port}"), "5000/42");
        assert_eq!(fill("{port:db:1} {port:db:0}"), "5001 5000");
        assert_eq!(fill("-e '{\"a\": 1}'"), "-e '{\"a\": 1}'");
        assert_eq!(fill("{portal} {port"), "{portal} {port");
        assert_eq!(fill("{port{port}"), "{port42");
        assert_eq!(pieces("{port:cache}")[1], Piece::Other("cache"));
    }
}
