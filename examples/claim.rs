//! Using devport as a library: claim this project's `web` port, as `devport claim web` would.
//!
//! Run it with `cargo run --example claim` (it uses `DEVPORT_REGISTRY` when set, else the
//! per-user registry, exactly like the CLI).

use devport::{ClaimRequest, OsPorts, Policy, PortChoice, Project, Proto, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The same config and registry the CLI would use (DEVPORT_CONFIG, DEVPORT_REGISTRY, ...).
    let config = devport::config::load_user_config()?;
    let registry = devport::config::resolve_registry_path(None)?;
    let store = Store::new(registry, devport::config::lock_timeout(&config)?);
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
