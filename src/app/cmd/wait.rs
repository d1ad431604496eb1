//! `devport wait`: block until a service's ports (or a port) are served.

use std::time::{Duration, Instant};

use crate::control::{self, Target};
use anyhow::Result;
use serde::Serialize;

use super::{Ctx, Outcome};
use crate::app::cli::WaitArgs;
use crate::app::output;

/// `wait --json`: whether the ports were served in time, by which sockets, or why not.
#[derive(Serialize)]
struct WaitView<'a> {
    ready: bool,
    sockets: &'a [crate::ports::sockets::Socket],
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

pub fn run(ctx: &Ctx, args: &WaitArgs) -> Result<Outcome> {
    let target = Target::parse(&args.target)?;
    let project = ctx.project()?;
    let owned_in = if args.owned {
        Some(project.path.clone().ok_or_else(|| {
            crate::Error::invalid(
                crate::error::Input::Argument,
                "--owned needs a project folder; leave out --global or --owned",
            )
        })?)
    } else {
        None
    };
    let deadline = crate::types::deadline(Instant::now(), args.timeout);
    let reason = loop {
        let why = match target.ports(&ctx.store, &project, args.proto)? {
            None => format!(
                "{} has no claim in project {} yet; check the name with 'devport list --here'",
                target.describe(),
                project.name
            ),
            Some((ports, proto)) => match control::serving(ports, proto, owned_in.as_deref()) {
                Ok(sockets) => return ready(ctx, &sockets),
                Err(why) => why,
            },
        };
        if Instant::now() >= deadline {
            break why;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if ctx.json {
        output::json(&WaitView {
            ready: false,
            sockets: &[],
            reason: Some(&reason),
        })?;
    }
    output::note(&format!(
        "{} was not ready within {} s: {reason}",
        target.describe(),
        args.timeout.as_secs()
    ));
    Ok(Outcome::Negative)
}

fn ready(ctx: &Ctx, sockets: &[crate::ports::sockets::Socket]) -> Result<Outcome> {
    if ctx.json {
        output::json(&WaitView {
            ready: true,
            sockets,
            reason: None,
        })?;
    } else {
        for s in sockets {
            output::line(&output::clean(&output::socket_line(s)))?;
        }
    }
    Ok(Outcome::Success)
}
