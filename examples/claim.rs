//! Using devport as a library: claim this project's `web` port, as `devport claim web` would.
//!
//! Run it with `cargo run --example claim` (it uses `DEVPORT_REGISTRY` when set, else the
//! per-user registry, exactly like the CLI).

use std::path::PathBuf;

use devport::{ClaimRequest, Config, OsPorts, Policy, PortChoice, Project, Proto, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = match devport::config::default_config_path() {
        Some(path) => Config::load(&path)?,
        None => Config::default(),
    };
    let registry = std::env::var_os("DEVPORT_REGISTRY")
        .map(PathBuf::from)
        .or_else(devport::config::default_registry_path)
        .ok_or("no home folder: set DEVPORT_REGISTRY")?;
    let store = Store::new(registry, config.lock_timeout);
    let policy = Policy::new(&config, OsPorts::read());
    let project = Project::detect(&std::env::current_dir()?)?;
    let request = ClaimRequest {
        project: &project,
        service: "web",
        choice: PortChoice::Auto,
        count: 1,
        proto: Proto::Tcp,
        relocate: false,
    };
    let outcome = devport::claim(&store, &policy, &request, jiff::Timestamp::now())?;
    println!("{}", outcome.claim.port);
    Ok(())
}
