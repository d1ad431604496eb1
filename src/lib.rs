//! devport: stable, conflict-free ports for every local development project, and the truth
//! about any port on the machine.
//!
//! The library is what the `devport` binary is built on:
//! - [`Store`] reads and atomically updates the per-user [`Registry`] under a file lock;
//! - [`Project`] finds the project of a folder;
//! - [`Policy`] decides which ports may be handed out and why others may not;
//! - [`claim()`] and [`release()`] are get-or-create and remove.
//!
//! The default `cli` feature builds the `devport` binary (clap, completions, man pages,
//! tables); a library user can leave it out with `default-features = false`.
//!
//! ```no_run
//! use devport::{ClaimRequest, Config, OsPorts, Policy, PortChoice, Project, Proto, Store};
//!
//! let config = Config::default();
//! let store = Store::new("/tmp/devport-example/registry.json", config.lock_timeout);
//! let policy = Policy::new(&config, OsPorts::read());
//! let project = Project::detect(std::path::Path::new("."))?;
//! let req = ClaimRequest { project: &project, service: "web", choice: PortChoice::Auto, count: 1, proto: Proto::Tcp, relocate: false };
//! let outcome = devport::claim(&store, &policy, &req, jiff::Timestamp::now())?;
//! println!("{}", outcome.claim.port);
//! # Ok::<(), devport::Error>(())
//! ```

pub mod check;
pub mod claim;
pub mod computed;
pub mod config;
pub mod container;
pub mod control;
pub mod doctor;
pub mod envfile;
pub mod error;
pub mod export;
pub mod fsutil;
pub mod gc;
pub mod json;
pub mod lease;
#[cfg(target_os = "macos")]
mod macos;
pub mod policy;
pub mod ports;
pub mod process;
pub mod project;
pub mod registry;
mod toml_value;
pub mod types;
#[cfg(windows)]
mod winapi;

pub use claim::{ClaimOutcome, ClaimRequest, PortChoice, ReleaseTarget, claim, release};
pub use config::Config;
pub use error::{Error, Result};
pub use lease::{Lease, LeaseOptions};
pub use policy::{Policy, Reason};
pub use ports::os::OsPorts;
pub use project::{Manifest, Project};
pub use registry::{Claim, LeaseRecord, Registry, Store};
pub use types::{PortRange, Proto};
