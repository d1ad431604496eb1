//! `devport claim`: print (and if needed create) a service's port.

use std::path::Path;

use anyhow::Result;
use devport_core::os::probe::{self, Probe};
use devport_core::os::sockets::{self, Socket};
use devport_core::{Claim, ClaimOutcome, ClaimRequest, PortChoice};

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
        from_manifest: false,
    };
    let outcome = ctx.claim(&policy, &req)?;
    if let Some(busy) = Busy::find(&outcome)
        && !busy.only_in(project.path.as_deref())
    {
        output::warn(&format!("{}; {}", busy.describe(), busy.fix()));
    }
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

/// A port of a claim that something listens on, and who.
pub struct Busy<'a> {
    claim: &'a Claim,
    port: u16,
    holders: Vec<Socket>,
}

impl<'a> Busy<'a> {
    /// Probes the ports of a claim that already existed (a new one was just probed free by the
    /// claim itself): one bind probe for a single port, and the socket list is read only when
    /// a probe finds a port taken, so the usual path stays fast.
    pub fn find(outcome: &'a ClaimOutcome) -> Option<Busy<'a>> {
        if outcome.new {
            return None;
        }
        let claim = &outcome.claim;
        let (port, result) = probe::probe_block(claim.ports(), claim.proto)?;
        if !matches!(result, Probe::InUse { .. }) {
            return None;
        }
        let holders = sockets::on_port(&sockets::list(), port)
            .into_iter()
            .filter(|s| claim.proto.covers(s.proto))
            .collect();
        Some(Busy {
            claim,
            port,
            holders,
        })
    }

    /// Whether every socket is the project folder `dir`'s own (its server, by
    /// [`devport_core::ops::owner::judge`]): nothing to warn about.
    pub fn only_in(&self, dir: Option<&Path>) -> bool {
        dir.is_some_and(|dir| {
            !self.holders.is_empty()
                && self.holders.iter().all(|s| {
                    devport_core::ops::owner::judge(s, Some(dir))
                        == devport_core::ops::owner::Verdict::Owned
                })
        })
    }

    /// `web's port 24117 is in use by pid 123 (node) user alice in /srv/other`.
    pub fn describe(&self) -> String {
        let mut who: Vec<String> = self
            .holders
            .iter()
            .map(|s| {
                let folder = s
                    .pid
                    .and_then(devport_core::os::process::current_dir)
                    .map(|d| format!(" in {}", d.display()))
                    .unwrap_or_default();
                format!("{}{folder}", output::owner(s))
            })
            .collect();
        who.dedup();
        if who.is_empty() {
            who.push("a process devport cannot see".to_string());
        }
        format!(
            "{}'s port {} is in use by {}",
            self.claim.service,
            self.port,
            who.join(", ")
        )
    }

    /// What to do about it.
    pub fn fix(&self) -> String {
        format!(
            "stop that process, or give {0} another port with 'devport claim {0} --move'",
            self.claim.service
        )
    }
}
