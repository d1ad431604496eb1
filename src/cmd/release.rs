//! `devport release`: remove claims.

use anyhow::Result;
use devport_core::ReleaseTarget;

use super::lease::LeaseView;
use super::{Ctx, Outcome};
use crate::cli::ReleaseArgs;
use crate::output::{self, ClaimView};

pub fn run(ctx: &Ctx, args: &ReleaseArgs) -> Result<Outcome> {
    if let Some(port) = args.lease {
        return release_lease(ctx, port);
    }
    // `--port` needs no project, so it works in any folder (even `/`, which is none).
    let project;
    let target = match (args.port, args.all) {
        (Some(port), _) => ReleaseTarget::Port(port),
        (None, true) => {
            project = ctx.project()?;
            ReleaseTarget::All(&project)
        }
        (None, false) => {
            project = ctx.project()?;
            ReleaseTarget::Services(&project, &args.services)
        }
    };
    let removed = ctx.store.release(&target)?;
    for claim in &removed {
        output::note(&format!(
            "released {} ({})",
            claim.label(),
            output::port_list(claim.ports())
        ));
    }
    if removed.is_empty() {
        output::note("nothing to release: no matching claim");
    } else if let ReleaseTarget::Services(project, services) = &target {
        for missing in services
            .iter()
            .filter(|s| !removed.iter().any(|c| &c.service == *s))
        {
            output::note(&format!("{missing} was not claimed in {}", project.name));
        }
    }
    if ctx.json {
        output::json(
            &removed
                .iter()
                .map(|c| ClaimView::new(c, None))
                .collect::<Vec<_>>(),
        )?;
    }
    Ok(Outcome::Success)
}

/// `release --lease PORT`: ends the lease holding PORT, whichever process it is for.
fn release_lease(ctx: &Ctx, port: u16) -> Result<Outcome> {
    let removed = ctx.store.release_lease(port)?;
    for lease in &removed {
        output::note(&format!(
            "released lease {} of pid {}",
            output::port_list(lease.ports()),
            lease.pid
        ));
    }
    if removed.is_empty() {
        output::note(&format!("nothing to release: no lease holds port {port}"));
    }
    if ctx.json {
        output::json(&removed.iter().map(LeaseView::new).collect::<Vec<_>>())?;
    }
    Ok(Outcome::Success)
}
