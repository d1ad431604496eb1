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
    let pid = args
        .pid
        .or_else(crate::process::parent_pid)
        .ok_or_else(|| {
            crate::Error::invalid(
                crate::error::Input::Argument,
                "cannot tell which process to lease for on this platform; pass --pid",
            )
        })?;
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
