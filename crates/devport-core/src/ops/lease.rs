//! Leases: ports held for a live process (and optionally for at most a time), with no daemon.
//! A lease ends when its process exits — a reused pid does not keep it, since the process
//! start time is recorded too — or when its time is up; the next registry write drops it.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::error::{Error, Result, Seeker};
use crate::model::types::{PortRange, Proto};
use crate::os::process;
use crate::policy::{Policy, hashed_port};
use crate::store::registry::{LeaseRecord, PortBlock, Store};

/// What to lease: `LeaseOptions::new()` (or `Default`) is one TCP port for this process, from
/// the store's configured range; the builder methods change that. The registry and the
/// configuration are the [`Store`]'s ([`Store::lease`]; [`Lease::acquire`] uses
/// [`Store::from_env`]).
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let store = devport_core::Store::new(dir.path().join("registry.json"), std::time::Duration::from_secs(5));
/// use std::time::Duration;
/// use devport_core::{LeaseOptions, PortRange, Proto};
///
/// let options = LeaseOptions::new()
///     .count(2)
///     .proto(Proto::Both)
///     .ttl(Some(Duration::from_secs(600)))
///     .range(Some("20000-20999".parse::<PortRange>()?));
/// let lease = store.lease(&options)?;
/// assert_eq!(lease.ports().len(), 2);
/// assert!(lease.port() >= 20000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LeaseOptions {
    count: u16,
    proto: Proto,
    pid: Option<u32>,
    ttl: Option<Duration>,
    range: Option<PortRange>,
}

impl LeaseOptions {
    /// One TCP port for this process, as [`Default`] says.
    pub fn new() -> LeaseOptions {
        LeaseOptions::default()
    }

    /// How many consecutive ports (0 means 1).
    #[must_use]
    pub fn count(mut self, count: u16) -> LeaseOptions {
        self.count = count;
        self
    }

    /// The protocols the ports are for.
    #[must_use]
    pub fn proto(mut self, proto: Proto) -> LeaseOptions {
        self.proto = proto;
        self
    }

    /// The process the lease lives with (default: this process).
    #[must_use]
    pub fn pid(mut self, pid: u32) -> LeaseOptions {
        self.pid = Some(pid);
        self
    }

    /// The longest the lease may live (default: as long as its process).
    #[must_use]
    pub fn ttl(mut self, ttl: Option<Duration>) -> LeaseOptions {
        self.ttl = ttl;
        self
    }

    /// Pick from this range instead of the configured one.
    #[must_use]
    pub fn range(mut self, range: Option<PortRange>) -> LeaseOptions {
        self.range = range;
        self
    }
}

/// Ports leased in the registry; dropping the guard releases them, unless [`Lease::keep`] left
/// them to their process. If the process is killed instead, the ports come back at the next
/// registry write, because the process is gone.
#[derive(Debug)]
#[must_use = "the ports are released when the lease is dropped"]
pub struct Lease {
    /// The registry to release the lease from on drop (`None` once kept).
    store: Option<Store>,
    record: LeaseRecord,
}

impl Lease {
    /// Leases ports as `options` says in the registry and with the configuration the
    /// environment names ([`Store::from_env`], as the command line does); for another
    /// registry, see [`Store::lease`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # unsafe {
    /// #     std::env::set_var("DEVPORT_REGISTRY", dir.path().join("registry.json"));
    /// #     std::env::set_var("DEVPORT_CONFIG", dir.path().join("config.toml"));
    /// # }
    /// let lease = devport_core::Lease::acquire(&devport_core::LeaseOptions::new().count(2))?;
    /// println!("ports {} are mine until the lease is dropped", lease.ports());
    /// # assert_eq!(lease.ports().len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn acquire(options: &LeaseOptions) -> Result<Lease> {
        Store::from_env()?.lease(options)
    }

    /// Records a lease in `store` (see [`Store::lease`]).
    pub(crate) fn new(store: &Store, options: &LeaseOptions, now: Timestamp) -> Result<Lease> {
        let policy = Policy::of_this_machine(store.config());
        let record = record(store, &policy, options, now)?;
        Ok(Lease {
            store: Some(store.clone()),
            record,
        })
    }

    /// The first leased port.
    pub fn port(&self) -> u16 {
        self.record.block.port
    }

    /// All leased ports.
    pub fn ports(&self) -> PortRange {
        self.record.ports()
    }

    /// Leaves the lease in the registry instead of releasing it on drop: it ends when its
    /// process exits or its time is up (or by [`Store::release_lease`]). This is how a lease
    /// for another process (`LeaseOptions::pid`) outlives this value, as `devport lease` does.
    pub fn keep(mut self) -> LeaseRecord {
        self.store = None;
        self.record.clone()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(store) = &self.store else {
            return;
        };
        let record = &self.record;
        // Best effort: if this fails, the pid rule frees the ports once the process exits.
        let _ = store.update(Timestamp::now(), |reg| {
            reg.leases.retain(|l| {
                !(l.block.port == record.block.port
                    && l.pid == record.pid
                    && l.created == record.created)
            });
            Ok(())
        });
    }
}

/// The lease itself: `options`' ports from `policy`, written to `store`.
pub fn record(
    store: &Store,
    policy: &Policy,
    options: &LeaseOptions,
    now: Timestamp,
) -> Result<LeaseRecord> {
    let count = options.count.max(1);
    crate::model::input::check_count(count)?;
    let pid = options.pid.unwrap_or_else(std::process::id);
    let start_time = process::start_time(pid).ok_or_else(|| {
        Error::invalid(
            crate::error::Input::Argument,
            format!("no running process with pid {pid}; give the pid of a live process"),
        )
    })?;
    let expires = match options.ttl {
        Some(ttl) => {
            let ttl = SignedDuration::try_from(ttl)
                .map_err(|_| Error::invalid(crate::error::Input::Duration, "--ttl is too long"))?;
            Some(
                now.checked_add(ttl).map_err(|_| {
                    Error::invalid(crate::error::Input::Duration, "--ttl is too long")
                })?,
            )
        }
        None => None,
    };
    let mut policy = policy.clone();
    if let Some(range) = options.range {
        policy.range = range;
    }
    store.update(now, |reg| {
        // Spread leases over the range so parallel test runs rarely walk the same path.
        let start = hashed_port(
            policy.range,
            &format!("lease/{pid}/{}", now.as_nanosecond()),
        );
        let held = reg.held();
        let port = policy
            .find_free(start, count, options.proto, &held)
            .ok_or_else(|| policy.no_room(count, &held, Seeker::Lease))?;
        let record = LeaseRecord {
            block: PortBlock {
                port,
                count,
                proto: options.proto,
            },
            pid,
            start_time: Some(start_time),
            created: now,
            expires,
            extra: crate::store::registry::Extra::new(),
        };
        reg.leases.push(record.clone());
        Ok(record)
    })
}

/// The environment variable a launcher (an npm or Python shim that starts the devport binary)
/// sets to the pid of the process it was started by, so that `devport lease` leases for that
/// process rather than for the launcher, which exits at once.
pub const OWNER_VAR: &str = "DEVPORT_LEASE_OWNER";

/// The lease owner a launcher named in [`OWNER_VAR`], given that variable's value: `None` when
/// it is unset or empty, the pid when it is a live process of this user, else an error that
/// names the variable and the fix.
pub fn owner_from_env(value: Option<&std::ffi::OsStr>) -> Result<Option<u32>> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad = |problem: String| {
        Error::invalid(
            crate::error::Input::Setting,
            format!(
                "{OWNER_VAR} {problem}; set it to the pid of the process the lease should live \
                 with (a launcher sets its own parent's), or unset it"
            ),
        )
    };
    let pid = value
        .to_str()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|&pid| pid > 0 && i32::try_from(pid).is_ok())
        .ok_or_else(|| {
            bad(format!(
                "is '{}', not a process id",
                value.to_string_lossy()
            ))
        })?;
    if process::start_time(pid).is_none() {
        return Err(bad(format!("names pid {pid}, which is not running")));
    }
    if let (Some(owner), Some(me)) = (process::uid(pid), process::current_uid())
        && owner != me
    {
        return Err(bad(format!(
            "names pid {pid}, a process of another user (uid {owner})"
        )));
    }
    Ok(Some(pid))
}

/// Ends the lease covering `port`, whichever process holds it, and returns the removed leases
/// (none is not an error). This is how a person ends a lease made for a long-lived process
/// (`devport lease --pid 1`).
pub fn release(store: &Store, port: u16, now: Timestamp) -> Result<Vec<LeaseRecord>> {
    store.update(now, |reg| {
        let (removed, kept) = std::mem::take(&mut reg.leases)
            .into_iter()
            .partition(|l| l.ports().contains(port));
        reg.leases = kept;
        Ok(removed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::claim::tests::{Fixture, t0};
    use crate::store::config::Config;

    fn options() -> LeaseOptions {
        LeaseOptions::default()
    }

    #[test]
    fn a_lease_is_recorded_for_this_process_and_avoids_claims_and_other_leases() {
        let f = Fixture::new();
        let claimed = f.claim("web", t0());
        let mut seen = vec![claimed.ports()];
        for _ in 0..8 {
            let l = record(
                &f.store,
                &f.policy,
                &LeaseOptions {
                    count: 3,
                    ..options()
                },
                t0(),
            )
            .expect("lease");
            assert_eq!(l.pid, std::process::id());
            assert_eq!(l.ports().len(), 3);
            assert!(f.policy.range.contains(l.block.port), "{}", l.block.port);
            assert!(
                !seen.iter().any(|r| r.overlaps(l.ports())),
                "{l:?} overlaps {seen:?}"
            );
            seen.push(l.ports());
        }
        assert_eq!(f.store.read().expect("read").leases.len(), 8);
    }

    #[test]
    fn a_ttl_lease_lives_until_its_time_and_is_dropped_by_the_next_write() {
        let f = Fixture::new();
        let ttl = LeaseOptions {
            ttl: Some(Duration::from_secs(60)),
            ..options()
        };
        let l = record(&f.store, &f.policy, &ttl, t0()).expect("lease");
        assert_eq!(l.expires, Some(t0() + SignedDuration::from_secs(60)));
        let write_at = |now| f.store.update(now, |_| Ok(())).expect("write");
        write_at(t0() + SignedDuration::from_secs(59));
        assert_eq!(
            f.store.read().expect("read").leases.len(),
            1,
            "dropped early"
        );
        write_at(t0() + SignedDuration::from_secs(60));
        assert!(
            f.store.read().expect("read").leases.is_empty(),
            "kept after its time"
        );
        // Its port can be claimed again.
        let again = crate::ops::claim::claim(
            &f.store,
            &f.policy,
            &crate::ops::claim::ClaimRequest {
                choice: crate::ops::claim::PortChoice::Exact(l.block.port),
                ..crate::ops::claim::tests::request(&f.project, "web")
            },
            t0() + SignedDuration::from_secs(61),
        )
        .expect("claim the freed port");
        assert_eq!(again.claim.block.port, l.block.port);
    }

    #[test]
    fn a_lease_without_ttl_lives_as_long_as_its_process() {
        let f = Fixture::new();
        record(&f.store, &f.policy, &options(), t0()).expect("lease");
        let years_later = t0() + SignedDuration::from_hours(24 * 365 * 10);
        f.store.update(years_later, |_| Ok(())).expect("write");
        assert_eq!(f.store.read().expect("read").leases.len(), 1);
    }

    // Unix only: it runs `true`.
    #[cfg(unix)]
    #[test]
    fn a_lease_for_a_dead_process_is_refused_and_writes_nothing() {
        let f = Fixture::new();
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        child.wait().expect("wait");
        let dead = LeaseOptions {
            pid: Some(pid),
            ..options()
        };
        let err = record(&f.store, &f.policy, &dead, t0()).expect_err("leased for a dead pid");
        assert!(err.to_string().contains(&pid.to_string()), "{err}");
        assert!(!f.store.path().exists());
    }

    #[test]
    fn bad_counts_and_ttls_are_refused() {
        let f = Fixture::new();
        let too_many = LeaseOptions {
            count: crate::model::types::MAX_COUNT + 1,
            ..options()
        };
        assert!(record(&f.store, &f.policy, &too_many, t0()).is_err());
        let too_long = LeaseOptions {
            ttl: Some(Duration::MAX),
            ..options()
        };
        let err = record(&f.store, &f.policy, &too_long, t0()).expect_err("an endless ttl");
        assert!(err.to_string().contains("--ttl"), "{err}");
        assert!(!f.store.path().exists());
    }

    #[test]
    fn release_ends_the_lease_covering_a_port() {
        let f = Fixture::new();
        let l = record(
            &f.store,
            &f.policy,
            &LeaseOptions {
                count: 2,
                ..options()
            },
            t0(),
        )
        .expect("lease");
        assert!(
            release(&f.store, l.block.port - 1, t0())
                .expect("release")
                .is_empty()
        );
        let removed = release(&f.store, l.block.port + 1, t0()).expect("release");
        assert_eq!(removed, [l]);
        assert!(f.store.read().expect("read").leases.is_empty());
    }

    #[test]
    fn the_guard_releases_on_drop_unless_kept() {
        let f = Fixture::new();
        let guard = f.store.lease(&LeaseOptions::new().count(2)).expect("lease");
        assert_eq!(guard.ports().len(), 2);
        let recorded = f.store.read().expect("read").leases;
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].block.port, guard.port());
        drop(guard);
        assert!(f.store.read().expect("read").leases.is_empty());

        let kept = f.store.lease(&LeaseOptions::new()).expect("lease").keep();
        assert_eq!(
            f.store.read().expect("read").leases,
            std::slice::from_ref(&kept)
        );
        assert_eq!(
            f.store.release_lease(kept.block.port).expect("release"),
            [kept]
        );
        assert!(f.store.read().expect("read").leases.is_empty());
    }

    #[test]
    fn store_lease_uses_the_stores_registry_and_config() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("registry.json");
        let range = PortRange::new(20000, 20999).expect("lo <= hi");
        let config = Config {
            range,
            ..Config::default()
        };
        let store = Store::new(&path, Duration::from_secs(5)).with_config(config);
        let record = store
            .lease(&LeaseOptions::new().count(2))
            .expect("lease")
            .keep();
        assert!(range.contains(record.ports().lo()) && range.contains(record.ports().hi()));
        let reg = Store::new(&path, Duration::from_secs(5))
            .read()
            .expect("registry");
        assert_eq!(reg.leases, std::slice::from_ref(&record));
        assert_eq!(
            store.release_lease(record.block.port).ok(),
            Some(vec![record])
        );
    }
}
