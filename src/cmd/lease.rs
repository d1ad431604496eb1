//! `devport lease`: ports held for a running process.

use anyhow::Result;
use devport_core::LeaseOptions;
use serde::Serialize;

use super::{Ctx, Outcome};
use crate::cli::LeaseArgs;
use crate::output;

/// A lease as `lease --json`, `list --leases --json` and `release --lease --json` print it (a
/// stable contract).
#[derive(Serialize)]
pub struct LeaseView {
    port: u16,
    ports: Vec<u16>,
    proto: devport_core::Proto,
    pid: u32,
    expires: Option<jiff::Timestamp>,
}

impl LeaseView {
    pub fn new(record: &devport_core::LeaseRecord) -> Self {
        LeaseView {
            port: record.block.port,
            ports: record.ports().iter().collect(),
            proto: record.block.proto,
            pid: record.pid,
            expires: record.expires,
        }
    }
}

pub fn run(ctx: &Ctx, args: &LeaseArgs) -> Result<Outcome> {
    let pid = match args.pid {
        Some(pid) => pid,
        None => match devport_core::ops::lease::owner_from_env(
            std::env::var_os(devport_core::ops::lease::OWNER_VAR).as_deref(),
        )? {
            Some(pid) => pid,
            None => parent_owner()?,
        },
    };
    let options = LeaseOptions::new()
        .count(args.count)
        .proto(args.proto)
        .pid(pid)
        .ttl(args.ttl)
        .range(args.range);
    // Kept: the lease lives with its process, not with this command.
    let record = ctx.store.lease(&options)?.keep();
    if ctx.json {
        output::json(&LeaseView::new(&record))?;
    } else {
        output::line(&output::port_words(record.ports()))?;
    }
    Ok(Outcome::Success)
}

/// devport's parent, the default owner of a lease, with a warning when it looks about to exit.
fn parent_owner() -> Result<u32> {
    let pid = devport_core::os::process::parent_pid().ok_or_else(|| {
        devport_core::Error::invalid(
            devport_core::error::Input::Argument,
            "cannot tell which process to lease for on this platform; pass --pid",
        )
    })?;
    let what = match devport_core::os::process::short_lived(pid) {
        None => return Ok(pid),
        Some(devport_core::os::process::ShortLived::Subshell) => "a subshell".to_string(),
        Some(devport_core::os::process::ShortLived::Runner(name)) => format!("{name}, a runner"),
    };
    output::warn(&format!(
        "the lease follows devport's parent, pid {pid} ({what} that exits when this command \
         does), so it ends at once; pass --pid $$ to lease for your shell"
    ));
    Ok(pid)
}
