//! `devport kill`: stop what listens on a port, or on a service's ports.

use anyhow::Result;
use devport_core::ops::control::{self, Stopped, Target, Victim};
use devport_core::os::sockets;
use serde::Serialize;

use super::{Ctx, Outcome};
use crate::cli::KillArgs;
use crate::output;

/// `kill --json`: the processes stopped (or that would be), and whether the ports are free.
#[derive(Serialize)]
struct KillView<'a> {
    dry_run: bool,
    #[serde(flatten)]
    stopped: Stopped,
    processes: &'a [Victim],
}

pub fn run(ctx: &Ctx, args: &KillArgs) -> Result<Outcome> {
    let target = Target::parse(&args.target)?;
    let project = ctx.project()?;
    let given = super::proto_for(&target, args.proto);
    let (ports, proto) = target.ports(&ctx.store, &project, given)?.ok_or_else(|| {
        devport_core::Error::invalid(devport_core::error::Input::Argument, format!(
            "{} has no claim in project {}; nothing was stopped; check the name with 'devport list --here'",
            target.describe(),
            project.name
        ))
    })?;
    let folder = project.path.as_deref().ok_or_else(|| {
        devport_core::Error::invalid(
            devport_core::error::Input::Argument,
            "kill stops only processes working in a project's folder, and --global has none; nothing was stopped; run it without --global in the project the server runs in",
        )
    })?;
    let mut socks = control::on(&sockets::list(), ports, proto);
    sockets::resolve_owners(&mut socks);
    devport_core::os::container::annotate(&mut socks);
    let victims = control::victims(&socks, folder)?;
    let outcome = if victims.is_empty() {
        Stopped {
            port_free: true,
            forced: false,
        }
    } else if args.dry_run {
        Stopped {
            port_free: false,
            forced: false,
        }
    } else {
        control::stop(&victims, ports, proto, args.timeout, args.force)?
    };
    if ctx.json {
        output::json(&KillView {
            dry_run: args.dry_run,
            stopped: outcome,
            processes: &victims,
        })?;
    } else {
        let verb = match (args.dry_run, outcome.port_free) {
            (true, _) => "would stop",
            (false, true) => "stopped",
            (false, false) => "signalled",
        };
        for v in &victims {
            output::line(&output::clean(&format!("{verb} {}", describe(v))))?;
        }
    }
    let seconds = args.timeout.as_secs_f64();
    // A block's ports, some freed: name the ones still busy.
    let mut busy: Vec<u16> = control::on(&sockets::list(), ports, proto)
        .iter()
        .map(|s| s.port)
        .collect();
    busy.sort_unstable();
    busy.dedup();
    let which = match (&target, busy.len()) {
        (Target::Service(_), 1..) => {
            let noun = if busy.len() == 1 { "port" } else { "ports" };
            let named: Vec<String> = busy.iter().map(u16::to_string).collect();
            format!(" ({noun} {})", named.join(" "))
        }
        _ => String::new(),
    };
    if victims.is_empty() {
        output::note(&format!("nothing listens on {}", target.describe()));
        Ok(Outcome::Negative)
    } else if args.dry_run || outcome.port_free {
        Ok(Outcome::Success)
    } else if outcome.forced {
        output::note(&format!(
            "{}{which} is still busy even after {}; see 'devport check {}' for who holds it now",
            target.describe(),
            control::FORCED_STOP,
            busy.first().copied().unwrap_or(ports.lo())
        ));
        Ok(Outcome::Negative)
    } else {
        output::note(&format!(
            "{}{which} is still busy {seconds} s after SIGTERM; run again with --force to send SIGKILL, or with a longer --timeout",
            target.describe()
        ));
        Ok(Outcome::Negative)
    }
}

/// `pid 123 (node) user alice in /home/alice/shop, port 3000`; the user only when it is not
/// the one running devport.
fn describe(v: &Victim) -> String {
    let name = v.process.as_ref().map(|n| format!(" ({n})"));
    let user = if v.uid.is_some() && v.uid != devport_core::os::process::current_uid() {
        match (&v.user, v.uid) {
            (Some(user), _) => Some(format!(" user {user}")),
            (_, uid) => uid.map(|uid| format!(" uid {uid}")),
        }
    } else {
        None
    };
    let folder = v.folder.as_ref().map(|f| format!(" in {}", f.display()));
    let ports: Vec<String> = v.ports.iter().map(u16::to_string).collect();
    let noun = if ports.len() == 1 { "port" } else { "ports" };
    format!(
        "pid {}{}{}{}, {noun} {}",
        v.pid,
        name.unwrap_or_default(),
        user.unwrap_or_default(),
        folder.unwrap_or_default(),
        ports.join(" ")
    )
}
