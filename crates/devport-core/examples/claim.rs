//! Using devport as a library: claim this project's `web` port, as `devport claim web` would.
//!
//! Run it with `cargo run --example claim` (it uses `DEVPORT_REGISTRY` when set, else the
//! per-user registry, exactly like the CLI).

use devport_core::{ClaimRequest, Project, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The same config and registry the CLI would use (DEVPORT_CONFIG, DEVPORT_REGISTRY, ...).
    let store = Store::from_env()?;
    let project = Project::detect(&std::env::current_dir()?)?;
    let outcome = store.claim(&ClaimRequest::new(&project, "web"))?;
    println!("{}", outcome.claim.block.port);
    Ok(())
}
