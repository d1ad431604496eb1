//! `devport claim`: print (and if needed create) a service's port.

use anyhow::Result;
use devport::{ClaimRequest, PortChoice};

use super::{Ctx, Outcome};
use crate::cli::ClaimArgs;
use crate::output::{self, ClaimView};

pub fn run(ctx: &Ctx, args: &ClaimArgs) -> Result<Outcome> {
    let project = ctx.project()?;
    let mut policy = ctx.policy();
    if let Some(range) = args.range {
        policy.range = range;
    }
    let choice = PortChoice::from_options(args.port, args.prefer);
    let req = ClaimRequest {
        project: &project,
        service: &args.service,
        choice,
        count: args.count,
        proto: args.proto,
        relocate: args.relocate,
    };
    let outcome = ctx.claim(&policy, &req)?;
    if ctx.json {
        output::json(&ClaimView::new(&outcome.claim, Some(outcome.new)))?;
    } else {
        output::line(&output::port_list(outcome.claim.ports()))?;
    }
    Ok(Outcome::Success)
}
