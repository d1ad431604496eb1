//! Keeping the registry tidy: claims whose project folder is gone, claims unused for long,
//! and dead or expired leases.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::project::{FolderState, folder_state};
use crate::registry::{Claim, LeaseRecord, Registry, Store};

/// Why a claim is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GcReason {
    /// Its project folder no longer exists.
    FolderGone,
    /// Not used for longer than `--older-than`.
    Unused,
}

/// What `gc` removes (or would remove).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    /// Claims, each with its reason.
    pub claims: Vec<(Claim, GcReason)>,
    /// Leases whose process is gone or whose time is up.
    pub leases: Vec<LeaseRecord>,
}

/// Which claims `gc` removes: global claims only for age, project claims also when the folder
/// is gone — never because it cannot be seen (see [`folder_state`]).
fn doomed(claim: &Claim, now: Timestamp, older_than: Option<SignedDuration>) -> Option<GcReason> {
    if claim
        .project_path
        .as_ref()
        .is_some_and(|p| matches!(folder_state(p), FolderState::Gone))
    {
        return Some(GcReason::FolderGone);
    }
    older_than
        .filter(|age| now.duration_since(claim.last_used) > *age)
        .map(|_| GcReason::Unused)
}

fn plan(reg: &Registry, now: Timestamp, older_than: Option<SignedDuration>) -> GcReport {
    GcReport {
        claims: reg
            .claims
            .iter()
            .filter_map(|c| Some((c.clone(), doomed(c, now, older_than)?)))
            .collect(),
        leases: dead_leases(reg, now),
    }
}

fn dead_leases(reg: &Registry, now: Timestamp) -> Vec<LeaseRecord> {
    reg.leases
        .iter()
        .filter(|l| !l.is_live(now))
        .cloned()
        .collect()
}

/// Removes (or with `dry_run` only reports) what is no longer needed.
pub fn gc(
    store: &Store,
    now: Timestamp,
    older_than: Option<Duration>,
    dry_run: bool,
) -> Result<GcReport> {
    let older_than = older_than
        .map(SignedDuration::try_from)
        .transpose()
        .map_err(|_| Error::Usage("--older-than is too long".into()))?;
    let reg = store.read()?;
    if dry_run {
        return Ok(plan(&reg, now, older_than));
    }
    // Dead leases are dropped by every write before the change runs, so they are read first.
    let leases = dead_leases(&reg, now);
    store.update(now, |reg| {
        let mut claims = Vec::new();
        reg.claims.retain(|c| match doomed(c, now, older_than) {
            Some(reason) => {
                claims.push((c.clone(), reason));
                false
            }
            None => true,
        });
        Ok(GcReport { claims, leases })
    })
}
