//! Leases: ports held for a live process (and optionally for at most a time), with no daemon.
//! A lease ends when its process exits — a reused pid does not keep it, since the process
//! start time is recorded too — or when its time is up; the next registry write drops it.

use std::path::PathBuf;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::config::{self, Config};
use crate::error::{Error, Result};
use crate::policy::{Policy, hashed_port};
use crate::ports::os::OsPorts;
use crate::process;
use crate::registry::{LeaseRecord, Store};
use crate::types::{PortRange, Proto};

/// What to lease. `Default` is one TCP port for this process, from the configured range, in the
/// registry the environment names (`DEVPORT_REGISTRY`, else the per-user one).
#[derive(Debug, Clone, Default)]
pub struct LeaseOptions {
    /// How many consecutive ports (0 means 1).
    pub count: u16,
    /// Protocols.
    pub proto: Proto,
    /// The process the lease lives with (default: this process).
    pub pid: Option<u32>,
    /// The longest the lease may live.
    pub ttl: Option<Duration>,
    /// Pick from this range instead of the configured one.
    pub range: Option<PortRange>,
    /// The registry file (default: as the CLI resolves it).
    pub registry: Option<PathBuf>,
    /// The configuration (default: the user's, as the CLI reads it).
    pub config: Option<Config>,
}

/// Ports leased by this process; dropping the guard releases them. If the process is killed
/// instead, the ports come back at the next registry write, because the process is gone.
#[derive(Debug)]
#[must_use = "the ports are released when the lease is dropped"]
pub struct Lease {
    store: Store,
    record: LeaseRecord,
}

impl Lease {
    /// Leases ports as [`LeaseOptions`] says: by default with the user's config and registry.
    pub fn acquire(options: LeaseOptions) -> Result<Lease> {
        let (store, record) = lease(options, Timestamp::now())?;
        Ok(Lease { store, record })
    }

    /// The first leased port.
    pub fn port(&self) -> u16 {
        self.record.port
    }

    /// All leased ports.
    pub fn ports(&self) -> PortRange {
        self.record.ports()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let record = &self.record;
        // Best effort: if this fails, the pid rule frees the ports once the process exits.
        let _ = self.store.update(Timestamp::now(), |reg| {
            reg.leases.retain(|l| {
                !(l.port == record.port && l.pid == record.pid && l.created == record.created)
            });
            Ok(())
        });
    }
}

/// Records a lease for `options.pid` (default: this process) in the registry `options` names,
/// under the config it names (see [`LeaseOptions`]), and returns it with the registry it is in.
/// Used by the CLI, which leases for its parent, and by [`Lease::acquire`].
pub fn lease(mut options: LeaseOptions, now: Timestamp) -> Result<(Store, LeaseRecord)> {
    let config = match options.config.take() {
        Some(config) => config,
        None => config::load_user_config()?,
    };
    let path = config::resolve_registry_path(options.registry.take())?;
    let store = Store::new(path, config::lock_timeout(&config)?);
    let policy = Policy::new(&config, OsPorts::read());
    let record = record(&store, &policy, &options, now)?;
    Ok((store, record))
}

/// The lease itself: `options`' ports from `policy`, written to `store`.
fn record(
    store: &Store,
    policy: &Policy,
    options: &LeaseOptions,
    now: Timestamp,
) -> Result<LeaseRecord> {
    let count = options.count.max(1);
    crate::types::check_count(count)?;
    let pid = options.pid.unwrap_or_else(std::process::id);
    let start_time = process::start_time(pid).ok_or_else(|| {
        Error::Usage(format!(
            "no running process with pid {pid}; give the pid of a live process"
        ))
    })?;
    let expires = match options.ttl {
        Some(ttl) => {
            let ttl = SignedDuration::try_from(ttl)
                .map_err(|_| Error::Usage("--ttl is too long".into()))?;
            Some(
                now.checked_add(ttl)
                    .map_err(|_| Error::Usage("--ttl is too long".into()))?,
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
            .ok_or_else(|| policy.no_room(count, &held, "a lease"))?;
        let record = LeaseRecord {
            port,
            count,
            proto: options.proto,
            pid,
            start_time: Some(start_time),
            created: now,
            expires,
            extra: crate::registry::Extra::new(),
        };
        reg.leases.push(record.clone());
        Ok(record)
    })
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

    #[test]
    fn lease_uses_the_registry_and_config_of_its_options() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("registry.json");
        let range = PortRange::new(20000, 20999).expect("lo <= hi");
        let config = Config {
            range,
            ..Config::default()
        };
        let options = LeaseOptions {
            count: 2,
            registry: Some(path.clone()),
            config: Some(config),
            ..LeaseOptions::default()
        };
        let (store, record) = lease(options, Timestamp::now()).expect("lease");
        assert_eq!(store.path(), path);
        assert!(range.contains(record.ports().lo()) && range.contains(record.ports().hi()));
        let reg = store.read().expect("registry");
        assert_eq!(reg.leases, std::slice::from_ref(&record));
        assert_eq!(
            release(&store, record.port, Timestamp::now()).ok(),
            Some(vec![record])
        );
    }
}
