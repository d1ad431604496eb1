//! devport: stable, conflict-free ports for every local development project, and the truth
//! about any port on the machine.
//!
//! This crate is the library behind the `devport` command line (the `devport` crate), for Rust
//! programs that want the same ports without running the binary:
//! - [`Store`] is the per-user registry, opened from the environment as the command line does
//!   ([`Store::from_env`]: `DEVPORT_REGISTRY`, `DEVPORT_CONFIG`, `DEVPORT_LOCK_TIMEOUT`);
//!   [`Store::claim`], [`Store::release`], [`Store::claims`] and [`Store::check`] are what
//!   `devport claim`, `release`, `list` and `check` do;
//! - [`Project`] finds the project of a folder, [`ClaimRequest`] says what to claim;
//! - [`Lease`] holds a free port for as long as the value lives ([`Store::lease`] with
//!   [`LeaseOptions`], or [`Lease::acquire`]; `devport lease`), [`Store::release_lease`] ends
//!   one;
//! - the value types: [`Claim`], [`LeaseRecord`], [`PortRange`], [`Proto`], [`Reason`],
//!   [`Config`], and [`Error`], one variant per way a request can fail, whose data is typed
//!   ([`Wanted`], [`Seeker`], [`NoRoom`], [`StopRefusal`] …), never words to parse.
//!
//! # Stability
//!
//! The items documented here are the library's surface, and follow semantic versioning.
//! Public enums and structs that may grow are `#[non_exhaustive]`. The layer modules below the
//! facade — `model` (value types and input checks), `os` (the operating system), `policy`
//! (which ports may be handed out), `store` (registry, config, trust), `project`, `env` (`.env`
//! files and `[env]` values), `ops` (what each command does, as typed reports) and `error`
//! (whose types are re-exported here) — are public
//! for the command line, hidden from these docs, and may change in any release. The registry's
//! JSON format and the command line's output are the binary's contracts, not the library's.
//!
//! ```
//! # let dir = tempfile::tempdir()?;
//! # unsafe {
//! #     std::env::set_var("DEVPORT_REGISTRY", dir.path().join("registry.json"));
//! #     std::env::set_var("DEVPORT_CONFIG", dir.path().join("config.toml"));
//! # }
//! # std::env::set_current_dir(dir.path())?;
//! use devport_core::{ClaimRequest, PortChoice, Project, Proto, Store};
//!
//! let store = Store::from_env()?;
//! let project = Project::detect(std::path::Path::new("."))?;
//! let request = ClaimRequest::new(&project, "web")
//!     .count(2)
//!     .proto(Proto::Tcp)
//!     .choice(PortChoice::Prefer(3000));
//! let outcome = store.claim(&request)?;
//! println!("web gets ports {}", outcome.claim.ports());
//! for claim in store.claims()? {
//!     println!("{} {}", claim.label(), claim.ports());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// The layers, public for the devport command line only (see "Stability" above).
#[doc(hidden)]
pub mod env;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod model;
#[doc(hidden)]
pub mod ops;
#[doc(hidden)]
pub mod os;
#[doc(hidden)]
pub mod policy;
#[doc(hidden)]
pub mod project;
#[doc(hidden)]
pub mod store;

pub use error::{Error, ErrorKind, Input, NoRoom, Result, Seeker, Unusable};
pub use model::types::{PortRange, Proto};
pub use ops::check::PortReport;
pub use ops::claim::{ClaimOutcome, ClaimRequest, PortChoice, Preferred, ReleaseTarget, Wanted};
pub use ops::control::StopRefusal;
pub use ops::lease::{Lease, LeaseOptions};
pub use policy::Reason;
pub use project::Project;
pub use store::config::Config;
pub use store::registry::{Claim, LeaseRecord, Store};
