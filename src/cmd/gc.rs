//! `devport gc`: remove what nobody needs any more.

use anyhow::Result;
use devport_core::Claim;
use devport_core::ops::gc::GcReason;
use serde::Serialize;

use super::lease::LeaseView;
use super::{Ctx, Outcome};
use crate::cli::GcArgs;
use crate::output;

/// `gc --json`: the claims with their reasons, and the leases as `lease --json` shows them.
#[derive(Serialize)]
struct GcView<'a> {
    claims: &'a [(Claim, GcReason)],
    leases: Vec<LeaseView>,
}

pub fn run(ctx: &Ctx, args: &GcArgs) -> Result<Outcome> {
    let report = devport_core::ops::gc::gc(&ctx.store, ctx.now, args.older_than, args.dry_run)?;
    if ctx.json {
        output::json(&GcView {
            claims: &report.claims,
            leases: report.leases.iter().map(LeaseView::new).collect(),
        })?;
        return Ok(Outcome::Success);
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let mut lines = Vec::new();
    for (claim, reason) in &report.claims {
        let why = match reason {
            GcReason::FolderGone => "its folder is gone",
            GcReason::Unused => "unused for longer than --older-than",
        };
        lines.push(format!(
            "{verb} claim {} ({}): {why}",
            output::clean(&claim.label()),
            output::port_list(claim.ports())
        ));
    }
    for lease in &report.leases {
        lines.push(format!(
            "{verb} lease {} of pid {}: process gone or time up",
            output::port_list(lease.ports()),
            lease.pid
        ));
    }
    if lines.is_empty() {
        output::note("nothing to remove");
    } else {
        output::line(&lines.join("\n"))?;
    }
    Ok(Outcome::Success)
}
