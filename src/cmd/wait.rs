//! `devport wait`: block until a service's ports (or a port) are served.

use std::time::{Duration, Instant};

use anyhow::Result;
use devport_core::ops::control::{self, Target};
use serde::Serialize;

use super::{Ctx, Outcome};
use crate::cli::WaitArgs;
use crate::output;

/// `wait --json`: whether the ports were served in time, by which sockets, or why not.
#[derive(Serialize)]
struct WaitView<'a> {
    ready: bool,
    sockets: &'a [devport_core::os::sockets::Socket],
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

pub fn run(ctx: &Ctx, args: &WaitArgs) -> Result<Outcome> {
    let target = Target::parse(&args.target)?;
    let project = ctx.project()?;
    let owned_in = if args.owned {
        Some(project.path.clone().ok_or_else(|| {
            devport_core::Error::invalid(
                devport_core::error::Input::Argument,
                "--owned needs a project folder; leave out --global or --owned",
            )
        })?)
    } else {
        None
    };
    let given = super::proto_for(&target, args.proto);
    let deadline = devport_core::model::types::deadline(Instant::now(), args.timeout);
    let mut pause = Pause::default();
    let mut target_ports = None;
    let mut resolved = Instant::now();
    let reason = loop {
        let began = Instant::now();
        // The registry is read again while the service has no claim, and every so often after,
        // so a claim moved meanwhile is followed; the socket list is checked every time.
        if target_ports.is_none() || began.duration_since(resolved) >= REREAD {
            target_ports = target.ports(&ctx.store, &project, given)?;
            resolved = began;
        }
        let why = match target_ports {
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
        let now = Instant::now();
        if now >= deadline {
            break why;
        }
        std::thread::sleep(pause.next(now - began).min(deadline - now));
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
        args.timeout.as_secs_f64()
    ));
    Ok(Outcome::Negative)
}

/// How often the registry is read again while waiting for a claimed service.
const REREAD: Duration = Duration::from_millis(100);

/// The pause between two checks of `wait`: 1 ms at first, doubling up to 10 ms, so a server
/// that binds is seen within about 10 ms; but never less than four times what the last check
/// took (up to 100 ms), so a slow check (the owners of a port that is bound, looked up with
/// `--owned`) keeps devport's share of a CPU small.
struct Pause(Duration);

impl Default for Pause {
    fn default() -> Self {
        Pause(Duration::from_millis(1))
    }
}

impl Pause {
    const MOST_WHILE_CHEAP: Duration = Duration::from_millis(10);
    const MOST: Duration = Duration::from_millis(100);

    /// The pause after a check that took `check`.
    fn next(&mut self, check: Duration) -> Duration {
        let pause = self.0.max((check * 4).min(Self::MOST));
        self.0 = (self.0 * 2).min(Self::MOST_WHILE_CHEAP);
        pause
    }
}

fn ready(ctx: &Ctx, sockets: &[devport_core::os::sockets::Socket]) -> Result<Outcome> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_starts_short_backs_off_to_10_ms_and_follows_a_slow_check() {
        let mut pause = Pause::default();
        let cheap = Duration::from_micros(100);
        let got: Vec<u128> = (0..7).map(|_| pause.next(cheap).as_millis()).collect();
        assert_eq!(got, [1, 2, 4, 8, 10, 10, 10]);
        assert_eq!(pause.next(Duration::from_millis(20)).as_millis(), 80);
        assert_eq!(pause.next(Duration::from_secs(2)).as_millis(), 100);
        assert_eq!(pause.next(cheap).as_millis(), 10);
    }
}
