//! Keeping the registry tidy: claims whose project folder is gone, claims unused for long,
//! and dead or expired leases.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::project::{FolderState, folder_state};
use crate::store::registry::{Claim, LeaseRecord, Registry, Store};

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
        .map_err(|_| Error::invalid(crate::error::Input::Duration, "--older-than is too long"))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::claim::tests::{Fixture, t0};

    /// The services removed, with their reasons, in name order.
    fn services(claims: &[(Claim, GcReason)]) -> Vec<(&str, GcReason)> {
        let mut found: Vec<_> = claims
            .iter()
            .map(|(c, r)| (c.service.as_str(), *r))
            .collect();
        found.sort_unstable_by_key(|(s, _)| *s);
        found
    }

    #[test]
    fn claims_of_a_deleted_folder_go_and_dry_run_changes_nothing() {
        let f = Fixture::new();
        f.claim("web", t0());
        let gone = Fixture::new();
        let doomed = gone.project.clone();
        for service in ["api", "db"] {
            crate::ops::claim::claim(
                &f.store,
                &f.policy,
                &crate::ops::claim::tests::request(&doomed, service),
                t0(),
            )
            .expect("claim");
        }
        drop(gone); // removes the doomed project's folder
        let before = std::fs::read(f.store.path()).expect("read");
        let report = gc(&f.store, t0(), None, true).expect("gc");
        assert_eq!(
            services(&report.claims),
            [("api", GcReason::FolderGone), ("db", GcReason::FolderGone)]
        );
        assert_eq!(std::fs::read(f.store.path()).expect("read"), before);
        let report = gc(&f.store, t0(), None, false).expect("gc");
        assert_eq!(report.claims.len(), 2);
        let left = f.store.read().expect("read").claims;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].service, "web");
    }

    #[test]
    fn older_than_removes_claims_unused_for_longer_global_ones_too() {
        let f = Fixture::new();
        f.claim("old", t0());
        let later = t0() + SignedDuration::from_hours(30);
        f.claim("recent", later);
        let global = crate::project::Project::global();
        crate::ops::claim::claim(
            &f.store,
            &f.policy,
            &crate::ops::claim::tests::request(&global, "tool"),
            t0(),
        )
        .expect("claim");
        let day = Some(Duration::from_secs(24 * 3600));
        // At t0 + 30 h: only the claims last used at t0 are older than a day.
        let report = gc(&f.store, later, day, true).expect("gc");
        assert_eq!(
            services(&report.claims),
            [("old", GcReason::Unused), ("tool", GcReason::Unused)]
        );
        // Exactly a day is not older than a day.
        let report = gc(&f.store, t0() + SignedDuration::from_hours(24), day, false).expect("gc");
        assert!(report.claims.is_empty(), "{:?}", report.claims);
        gc(&f.store, later, day, false).expect("gc");
        let left = f.store.read().expect("read").claims;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].service, "recent");
        // Without --older-than nothing goes for age.
        let far = later + SignedDuration::from_hours(24 * 365);
        assert!(
            gc(&f.store, far, None, false)
                .expect("gc")
                .claims
                .is_empty()
        );
        let err = gc(&f.store, far, Some(Duration::MAX), false).expect_err("endless age");
        assert!(err.to_string().contains("--older-than"), "{err}");
    }

    #[test]
    fn expired_leases_are_reported_and_removed() {
        let f = Fixture::new();
        let options = crate::ops::lease::LeaseOptions::new().ttl(Some(Duration::from_secs(60)));
        let l = crate::ops::lease::record(&f.store, &f.policy, &options, t0()).expect("lease");
        let kept = crate::ops::lease::record(
            &f.store,
            &f.policy,
            &crate::ops::lease::LeaseOptions::default(),
            t0(),
        )
        .expect("lease");
        let after = t0() + SignedDuration::from_secs(61);
        assert!(
            gc(&f.store, t0(), None, true)
                .expect("gc")
                .leases
                .is_empty()
        );
        assert_eq!(
            gc(&f.store, after, None, true).expect("gc").leases,
            std::slice::from_ref(&l)
        );
        assert_eq!(gc(&f.store, after, None, false).expect("gc").leases, [l]);
        assert_eq!(f.store.read().expect("read").leases, [kept]);
    }
}
