//! `devport claim`: print (and if needed create) a service's port.

use anyhow::Result;
use devport_core::ops::claim::{Busy, ClaimOutcome};
use devport_core::project::Project;
use devport_core::{ClaimRequest, PortChoice};

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
        manifest: None,
        reserved: None,
    };
    let outcome = ctx.claim(&policy, &req)?;
    let pinned = project
        .manifest
        .as_ref()
        .and_then(|m| m.services.get(&args.service))
        .is_some_and(|spec| spec.port.is_some() || spec.prefer.is_some());
    if pinned && args.port.is_none() && args.prefer.is_none() {
        devport_core::ops::checkout::yielded_claims(
            &project,
            &ctx.store.read()?,
            Some(&args.service),
        )?
        .iter()
        .for_each(super::yielded_note);
    }
    if let Some(folder) = project.bare_folder() {
        output::note(&format!(
            "claimed {} for the folder {} (no {} or git repository there or above, so the folder itself is the project)",
            outcome.claim.service,
            folder.display(),
            devport_core::project::MANIFEST
        ));
    }
    tell_busy(&outcome, &project);
    if ctx.json {
        output::json(&ClaimView {
            prefer: outcome.prefer,
            ..ClaimView::new(&outcome.claim, Some(outcome.new))
        })?;
    } else {
        // Data for scripts: every port of a block, for `read -r A B C`.
        output::line(&output::port_words(outcome.claim.ports()))?;
    }
    Ok(Outcome::Success)
}

/// Tells about a claim that already existed and whose port something listens on: the
/// project's own server is a note, anyone else a warning naming them, with the fix. `claim`
/// and `up` say it alike.
pub fn tell_busy(outcome: &ClaimOutcome, project: &Project) {
    let Some(busy) = Busy::find(outcome, project.path.as_deref()) else {
        return;
    };
    match &busy.running {
        Some(server) => output::note(&output::running(&busy.service, busy.port, server)),
        None => output::warn(&format!("{}; {}", busy_line(&busy), busy_fix(&busy))),
    }
}

/// `web's port 24117 is in use by pid 123 (node) user alice in /srv/other`.
pub fn busy_line(busy: &Busy) -> String {
    let mut who: Vec<String> = busy
        .holders
        .iter()
        .map(|s| output::owner_in(s, &busy.folders))
        .collect();
    who.dedup();
    if who.is_empty() {
        who.push("a process devport cannot see".to_string());
    }
    format!(
        "{}'s port {} is in use by {}",
        busy.service,
        busy.port,
        who.join(", ")
    )
}

/// What to do about a busy port.
pub fn busy_fix(busy: &Busy) -> String {
    format!(
        "stop that process, or give {0} another port with 'devport claim {0} --move'",
        busy.service
    )
}
