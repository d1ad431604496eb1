//! `devport lease`: ports held for a running process.

use crate::LeaseOptions;
use anyhow::Result;
use serde::Serialize;

use super::{Ctx, Outcome};
use crate::app::cli::LeaseArgs;
use crate::app::output;

/// A lease as `lease --json`, `list --leases --json` and `release --lease --json` print it (a
/// stable contract).
#[derive(Serialize)]
pub struct LeaseView {
    port: u16,
    ports: Vec<u16>,
    proto: crate::Proto,
    pid: u32,
    expires: Option<jiff::Timestamp>,
}

impl LeaseView {
    pub fn new(record: &crate::registry::LeaseRecord) -> Self {
        LeaseView {
            port: record.port,
            ports: record.ports().iter().collect(),
            proto: record.proto,
            pid: record.pid,
            expires: record.expires,
        }
    }
}

pub fn run(ctx: &Ctx, args: &LeaseArgs) -> Result<Outcome> {
    let pid = match args.pid {
        Some(pid) => pid,
        None => match crate::lease::owner_from_env(
            std::env::var_os(crate::lease::OWNER_VAR).as_deref(),
        )? {
            Some(pid) => pid,
            None => parent_owner()?,
        },
    };
    let options = LeaseOptions {
        count: args.count,
        proto: args.proto,
        pid: Some(pid),
        ttl: args.ttl,
        range: args.range,
        registry: Some(ctx.store.path().to_path_buf()),
        config: Some(ctx.config.clone()),
    };
    let (_, record) = crate::lease::lease(options, ctx.now)?;
    if ctx.json {
        output::json(&LeaseView::new(&record))?;
    } else {
        output::line(&output::port_words(record.ports()))?;
    }
    Ok(Outcome::Success)
}

/// devport's parent, the default owner of a lease, with a warning when it looks about to exit.
fn parent_owner() -> Result<u32> {
    let pid = crate::process::parent_pid().ok_or_else(|| {
        crate::Error::invalid(
            crate::error::Input::Argument,
            "cannot tell which process to lease for on this platform; pass --pid",
        )
    })?;
    let what = match crate::process::short_lived(pid) {
        None => return Ok(pid),
        Some(crate::process::ShortLived::Subshell) => "a subshell".to_string(),
        Some(crate::process::ShortLived::Runner(name)) => format!("{name}, a runner"),
    };
    output::warn(&format!(
        "the lease follows devport's parent, pid {pid} ({what} that exits when this command \
         does), so it ends at once; pass --pid $$ to lease for your shell"
    ));
    Ok(pid)
}
