//! devport: stable, conflict-free ports for every local development project, and the truth
//! about any port on the machine.
//!
//! This crate is the `devport` command line and a small library for Rust programs that want
//! the same ports without running the binary:
//! - [`Store`] is the per-user registry, opened from the environment as the command line does
//!   ([`Store::from_env`]: `DEVPORT_REGISTRY`, `DEVPORT_CONFIG`, `DEVPORT_LOCK_TIMEOUT`);
//!   [`Store::claim`], [`Store::release`], [`Store::claims`] and [`Store::check`] are what
//!   `devport claim`, `release`, `list` and `check` do;
//! - [`Project`] finds the project of a folder, [`ClaimRequest`] says what to claim;
//! - [`Lease`] holds a free port for as long as the value lives (`devport lease`);
//! - the value types: [`Claim`], [`PortRange`], [`Proto`], [`Reason`], [`Config`], and
//!   [`Error`], one variant per way a request can fail.
//!
//! # Stability
//!
//! The items documented here are the library's surface, and follow semantic versioning.
//! Public enums and structs that may grow are `#[non_exhaustive]`. Everything else in the
//! crate — the command line (`src/app/`, behind the default `cli` feature, which brings clap and
//! friends; a library user turns it off with `default-features = false`), the registry's
//! internals, the port tables and probes — is private and may change in any release. The
//! registry's JSON format and the command line's output are the binary's contracts, not the
//! library's.
//!
//! ```no_run
//! use devport::{ClaimRequest, PortChoice, Project, Proto, Store};
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
//!     println!("{} {}", claim.label(), claim.port);
//! }
//! # Ok::<(), devport::Error>(())
//! ```

// Without the command line, the parts of the library only it uses (audit, doctor, export, env
// files, wait and kill …) have no caller: they are the binary's code, not the facade's.
#![cfg_attr(
    not(feature = "cli"),
    allow(dead_code, unused_imports, reason = "used by the command line only")
)]

#[cfg(feature = "cli")]
mod app;
mod check;
mod claim;
mod computed;
mod config;
mod container;
mod control;
mod doctor;
mod envfile;
mod error;
mod export;
mod facade;
mod fsutil;
mod gc;
mod input;
mod json;
mod lease;
#[cfg(target_os = "macos")]
mod macos;
mod owner;
mod paths;
mod policy;
#[cfg(test)]
mod policy_props;
mod ports;
mod process;
mod project;
mod registry;
mod toml_value;
mod trust;
mod types;
#[cfg(windows)]
mod winapi;

#[cfg(feature = "cli")]
#[doc(hidden)]
pub use app::run;
pub use check::PortReport;
pub use claim::{ClaimOutcome, ClaimRequest, PortChoice, Preferred, ReleaseTarget};
pub use config::Config;
pub use error::{Error, Input, NoRoom, Result, StopRefusal};
pub use lease::{Lease, LeaseOptions};
pub use policy::Reason;
pub use project::Project;
pub use registry::{Claim, Store};
pub use types::{PortRange, Proto};
