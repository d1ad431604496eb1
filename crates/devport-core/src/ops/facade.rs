//! The library's front door: [`Store`] opened from the environment, and what the command line's
//! `claim`, `release`, `list` and `check` do, for a Rust caller. Each call reads the machine
//! (OS port ranges, live sockets) and the clock when it runs, as the binary does.

use jiff::Timestamp;

use crate::error::Result;
use crate::ops::check::{self, PortReport};
use crate::ops::claim::{self, ClaimOutcome, ClaimRequest, ReleaseTarget};
use crate::ops::lease::{self, Lease, LeaseOptions};
use crate::os::sockets;
use crate::policy::Policy;
use crate::store::config;
use crate::store::registry::{Claim, LeaseRecord, Store};

impl Store {
    /// The registry the command line uses, with its settings: the file from
    /// `DEVPORT_REGISTRY` (else the per-user default), the configuration from `DEVPORT_CONFIG`
    /// (else the per-user `config.toml`; a missing file means the defaults) and the lock
    /// timeout from `DEVPORT_LOCK_TIMEOUT` (else the configuration). Nothing is read from the
    /// registry yet.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # unsafe {
    /// #     std::env::set_var("DEVPORT_REGISTRY", dir.path().join("registry.json"));
    /// #     std::env::set_var("DEVPORT_CONFIG", dir.path().join("config.toml"));
    /// # }
    /// let store = devport_core::Store::from_env()?;
    /// println!("the registry is {}", store.path().display());
    /// println!("new claims come from {}", store.config().range);
    /// # assert_eq!(store.path(), dir.path().join("registry.json"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_env() -> Result<Store> {
        let config = config::load_user_config()?;
        Store::open(config::resolve_registry_path(None)?, config)
    }

    /// The port policy of this store's configuration on this machine (the OS's ranges are read
    /// only when a rule needs them).
    fn policy(&self) -> Policy {
        Policy::of_this_machine(self.config())
    }

    /// Get-or-create, as `devport claim`: an existing claim of the service is returned as it
    /// is (or moved, with [`ClaimRequest::relocate`]); a new one gets a port the policy allows
    /// and nothing is bound to. A request the registry cannot grant is an [`Error`] variant
    /// naming why (the port is taken, no port is free, the claim has another shape …).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let store = devport_core::Store::new(dir.path().join("registry.json"), std::time::Duration::from_secs(5));
    /// use devport_core::{ClaimRequest, Error, Project, Wanted};
    ///
    /// let project = Project::global();
    /// let web = store.claim(&ClaimRequest::new(&project, "web"))?;
    /// assert!(web.new);
    /// // The same request again gets the same port.
    /// let again = store.claim(&ClaimRequest::new(&project, "web"))?;
    /// assert_eq!((again.new, again.claim.ports()), (false, web.claim.ports()));
    /// // Another shape is refused, saying what was asked for.
    /// match store.claim(&ClaimRequest::new(&project, "web").count(2)) {
    ///     Err(Error::ClaimDiffers { wanted: Wanted::Count(2), .. }) => {}
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`Error`]: crate::Error
    pub fn claim(&self, request: &ClaimRequest<'_>) -> Result<ClaimOutcome> {
        claim::claim(self, &self.policy(), request, Timestamp::now())
    }

    /// Removes claims, as `devport release`, and returns them (none removed is not an error).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let store = devport_core::Store::new(dir.path().join("registry.json"), std::time::Duration::from_secs(5));
    /// use devport_core::{ClaimRequest, Project, ReleaseTarget};
    ///
    /// let project = Project::global();
    /// let port = store.claim(&ClaimRequest::new(&project, "web"))?.claim.block.port;
    /// let removed = store.release(&ReleaseTarget::Services(&project, &["web".to_string()]))?;
    /// assert_eq!(removed[0].block.port, port);
    /// assert!(store.release(&ReleaseTarget::Port(port))?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self, target: &ReleaseTarget<'_>) -> Result<Vec<Claim>> {
        claim::release(self, target, Timestamp::now())
    }

    /// Every claim in the registry, as `devport list` (a missing registry has none). Does not
    /// lock: a claim being written at the same moment may be missing.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let store = devport_core::Store::new(dir.path().join("registry.json"), std::time::Duration::from_secs(5));
    /// use devport_core::{ClaimRequest, Project};
    ///
    /// assert!(store.claims()?.is_empty());
    /// store.claim(&ClaimRequest::new(&Project::global(), "web"))?;
    /// for claim in store.claims()? {
    ///     println!("{} has {}", claim.label(), claim.ports());
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn claims(&self) -> Result<Vec<Claim>> {
        Ok(self.read()?.claims)
    }

    /// Everything devport knows about `port`, as `devport check`: whether `claim` would hand
    /// it out, every reason it would not, and who holds it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let store = devport_core::Store::new(dir.path().join("registry.json"), std::time::Duration::from_secs(5));
    /// use devport_core::{ClaimRequest, Project, Reason};
    ///
    /// let port = store.claim(&ClaimRequest::new(&Project::global(), "web"))?.claim.block.port;
    /// let report = store.check(port)?;
    /// assert!(!report.usable);
    /// assert!(report.reasons.contains(&Reason::Claimed));
    /// assert_eq!(report.claim.map(|c| c.service), Some("web".to_string()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self, port: u16) -> Result<PortReport> {
        let reg = self.read()?;
        let mut report = check::report(
            &self.policy(),
            &reg,
            &sockets::on_port(&sockets::list(), port),
            port,
            Timestamp::now(),
        );
        crate::os::container::annotate(&mut report.sockets);
        report.judge();
        Ok(report)
    }

    /// Leases ports as `options` says, as `devport lease`: a block from this store's
    /// configured range (or `options`' range) that no claim or lease holds and nothing is
    /// bound to, recorded for `options`' process. The returned [`Lease`] releases it when
    /// dropped; [`Lease::keep`] leaves it to its process instead.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let store = devport_core::Store::new(dir.path().join("registry.json"), std::time::Duration::from_secs(5));
    /// use devport_core::LeaseOptions;
    ///
    /// let lease = store.lease(&LeaseOptions::new())?;
    /// let port = lease.port();
    /// drop(lease); // released
    /// assert!(store.release_lease(port)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lease(&self, options: &LeaseOptions) -> Result<Lease> {
        Lease::new(self, options, Timestamp::now())
    }

    /// Ends the lease covering `port`, whichever process holds it, as
    /// `devport release --lease`, and returns the removed leases (none is not an error).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let store = devport_core::Store::new(dir.path().join("registry.json"), std::time::Duration::from_secs(5));
    /// use devport_core::LeaseOptions;
    ///
    /// // A lease for this process that outlives its guard, as `devport lease` makes.
    /// let kept = store.lease(&LeaseOptions::new().count(2))?.keep();
    /// let removed = store.release_lease(kept.block.port + 1)?;
    /// assert_eq!(removed, [kept]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release_lease(&self, port: u16) -> Result<Vec<LeaseRecord>> {
        lease::release(self, port, Timestamp::now())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{
        ClaimRequest, Config, Error, PortChoice, PortRange, Project, Proto, Reason, ReleaseTarget,
        Seeker, Store, Wanted,
    };

    #[test]
    fn claim_list_check_release_and_refusals_a_caller_can_match() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::new(dir.path().join("registry.json"), Duration::from_secs(5));
        let project = Project::global();
        let web = store
            .claim(&ClaimRequest::new(&project, "web"))
            .expect("claim web");
        assert!(web.new);
        let port = web.claim.block.port;
        assert_eq!(store.claims().expect("claims"), vec![web.claim.clone()]);
        // The same request again returns the same claim.
        let again = store
            .claim(&ClaimRequest::new(&project, "web"))
            .expect("claim web again");
        assert_eq!((again.new, again.claim.block.port), (false, port));

        // Another service asking for that port is told who holds it.
        let taken = store.claim(&ClaimRequest::new(&project, "db").choice(PortChoice::Exact(port)));
        assert!(
            matches!(&taken, Err(Error::PortClaimed { service, .. }) if service == "web"),
            "{taken:?}"
        );
        // The same service asking for another shape is told so, not given a second claim.
        let other = store.claim(&ClaimRequest::new(&project, "web").count(2));
        assert!(
            matches!(
                &other,
                Err(Error::ClaimDiffers {
                    wanted: Wanted::Count(2),
                    ..
                })
            ),
            "{other:?}"
        );

        let report = store.check(port).expect("check");
        assert!(!report.usable);
        assert!(report.reasons.contains(&Reason::Claimed), "{report:?}");
        assert_eq!(report.claim.as_ref().map(|c| c.block.port), Some(port));

        let removed = store.release(&ReleaseTarget::Port(port)).expect("release");
        assert_eq!(removed.len(), 1);
        assert!(store.claims().expect("claims").is_empty());
    }

    #[test]
    fn a_busy_port_and_a_full_range_are_refusals_of_their_own() {
        let dir = tempfile::tempdir().expect("temp dir");
        let project = Project::global();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let busy = listener.local_addr().expect("addr").port();
        let store = Store::new(dir.path().join("registry.json"), Duration::from_secs(5));
        let e = store.claim(&ClaimRequest::new(&project, "api").choice(PortChoice::Exact(busy)));
        assert!(
            matches!(e, Err(Error::PortInUse { port, proto: Proto::Tcp, .. }) if port == busy),
            "{e:?}"
        );
        let narrow = Config {
            range: PortRange::new(20000, 20001).expect("lo <= hi"),
            ..Config::default()
        };
        let store = store.with_config(narrow);
        let e = store.claim(&ClaimRequest::new(&project, "db").count(3));
        assert!(
            matches!(&e, Err(Error::NoFreePort { count: 3, range, what: Seeker::Service { project, service }, .. })
                if range.lo() == 20000 && *project == Project::global().name && service == "db"),
            "{e:?}"
        );
        assert!(store.claims().expect("claims").is_empty());
    }
}
