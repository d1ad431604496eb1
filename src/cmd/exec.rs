//! `devport exec`: claim a service, then run a command with its port.

use std::process::Command;

use anyhow::Result;
use devport::envfile;
use devport::{ClaimRequest, PortChoice, Proto};

use super::{Ctx, Outcome};
use crate::cli::ExecArgs;
use crate::output;

pub fn run(ctx: &Ctx, args: &ExecArgs) -> Result<Outcome> {
    let project = ctx.project()?;
    if let Some(name) = &args.env {
        envfile::validate_var(name)?;
    }
    // The claim's shape: the manifest's, else the existing claim's, else one TCP port.
    let existing = ctx
        .store
        .read()?
        .find(project.path.as_deref(), &args.service)
        .cloned();
    let spec = project
        .manifest
        .as_ref()
        .and_then(|m| m.services.get(&args.service))
        .cloned()
        .unwrap_or_default();
    let req = ClaimRequest {
        project: &project,
        service: &args.service,
        choice: PortChoice::from_options(spec.port, spec.prefer),
        count: spec
            .count
            .or(existing.as_ref().map(|c| c.count))
            .unwrap_or(1),
        proto: spec
            .proto
            .or(existing.as_ref().map(|c| c.proto))
            .unwrap_or(Proto::Tcp),
        relocate: false,
    };
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

    let mut vars = ctx.project_vars(&project, None, "")?;
    let own = args
        .env
        .clone()
        .or(spec.env)
        .unwrap_or_else(|| envfile::var_name(&args.service, ""));
    vars.retain(|(k, _)| *k != own && k != "PORT");
    vars.push((own, port.to_string()));
    vars.push(("PORT".to_string(), port.to_string()));

    let command: Vec<String> = args
        .command
        .iter()
        .map(|a| substitute(a, port, &vars, &project.env_names()))
        .collect::<Result<_>>()?;
    let (program, rest) = command
        .split_first()
        .ok_or_else(|| devport::Error::Usage("no command given after --".into()))?;
    crate::signals::restore_file_size_signal();
    let mut cmd = Command::new(program);
    cmd.args(rest).envs(vars.iter().map(|(k, v)| (k, v)));
    Ok(launch(cmd, program))
}

/// Replaces `{port}` with the port and `{port:OTHER}` with the port of the claimed service
/// OTHER (through its variable).
fn substitute(
    arg: &str,
    port: u16,
    vars: &[(String, String)],
    names: &std::collections::BTreeMap<String, String>,
) -> Result<String> {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(start) = rest.find("{port") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 5..];
        if let Some(tail) = after.strip_prefix('}') {
            out.push_str(&port.to_string());
            rest = tail;
        } else if let Some((other, tail)) = after.strip_prefix(':').and_then(|a| a.split_once('}'))
        {
            let var = names
                .get(other)
                .cloned()
                .unwrap_or_else(|| envfile::var_name(other, ""));
            let value = vars.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone()).ok_or_else(|| {
                devport::Error::Usage(format!("{{port:{other}}}: {other} is not claimed in this project; run 'devport claim {other}' first"))
            })?;
            out.push_str(&value);
            rest = tail;
        } else {
            out.push_str("{port");
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
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
        let vars = vec![("DB_PORT".to_string(), "5000".to_string())];
        let names = std::collections::BTreeMap::new();
        assert_eq!(
            substitute("--port={port}", 42, &vars, &names).ok(),
            Some("--port=42".into())
        );
        assert_eq!(
            substitute("{port:db}/{port}", 42, &vars, &names).ok(),
            Some("5000/42".into())
        );
        assert_eq!(
            substitute("{portal} {port", 42, &vars, &names).ok(),
            Some("{portal} {port".into())
        );
        assert!(substitute("{port:cache}", 42, &vars, &names).is_err());
    }
}
