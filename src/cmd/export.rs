//! `devport export caddy|traefik`: a reverse-proxy configuration naming each claimed port.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;
use devport_core::Claim;
use devport_core::os::fsutil::untrusted;
use devport_core::project::MANIFEST;
use devport_core::project::Manifest;

use super::{Ctx, Outcome};
use crate::cli::{ExportArgs, Proxy};
use crate::output;

pub fn run(ctx: &Ctx, args: &ExportArgs) -> Result<Outcome> {
    let reg = ctx.store.read()?;
    let here = if args.all { None } else { Some(ctx.project()?) };
    let claims: Vec<&Claim> = reg
        .claims
        .iter()
        .filter(|c| here.as_ref().is_none_or(|p| c.project_path == p.path))
        .collect();
    // Each project's manifest, for `http = false`: this project's as read, others' from their
    // folders (a manifest that cannot be trusted or read is skipped, with a warning).
    let mut manifests: HashMap<Option<&Path>, Option<Manifest>> = HashMap::new();
    if let Some(project) = &here {
        manifests.insert(project.path.as_deref(), project.manifest.clone());
    }
    for c in &claims {
        manifests
            .entry(c.project_path.as_deref())
            .or_insert_with(|| c.project_path.as_ref().and_then(|dir| manifest_of(dir)));
    }
    let http = |c: &&Claim| {
        manifests
            .get(&c.project_path.as_deref())
            .and_then(Option::as_ref)
            .and_then(|m| m.services.get(&c.service))
            .and_then(|s| s.http)
            != Some(false)
    };
    let claims: Vec<&Claim> = claims.into_iter().filter(http).collect();
    let routes = devport_core::ops::export::routes(&claims, &reg.claims);
    let text = match args.proxy {
        Proxy::Caddy => devport_core::ops::export::caddyfile(&routes),
        Proxy::Traefik => devport_core::ops::export::traefik(&routes),
    };
    if routes.is_empty() {
        output::note(if args.all {
            "no claimed TCP ports to name; claim some with 'devport claim' or 'devport up'"
        } else {
            "this project has no claimed TCP ports to name; claim some with 'devport up', or use --all"
        });
    }
    if let Some(path) = &args.write {
        // Written as `env --write` writes: through this user's own symlinks (the link stays),
        // never into another user's file or link; a file with these very bytes is left
        // alone, so a watching proxy does not reload for nothing.
        let within = here.as_ref().map_or_else(
            || ctx.project_dir().to_path_buf(),
            |project| ctx.write_folder(project),
        );
        let file = devport_core::os::fsutil::open_replaceable(path, "output file", &within)?;
        // The same words as `env --write`: nothing changed says so.
        output::note(&if file.existing() == Some(text.as_bytes()) {
            format!(
                "{} is up to date ({} name(s), unchanged)",
                path.display(),
                routes.len()
            )
        } else {
            file.write(text.as_bytes())?;
            format!("{} name(s) in {}", routes.len(), path.display())
        });
    }
    if ctx.json {
        output::json(&routes)?;
    } else if args.write.is_none() {
        output::text(&text)?;
    }
    Ok(Outcome::Success)
}

/// The manifest in a project's folder, or `None` (with a warning when one is there but cannot
/// be used).
fn manifest_of(dir: &Path) -> Option<Manifest> {
    let path = dir.join(MANIFEST);
    if let Some(why) = untrusted(&path) {
        output::warn(&format!("skipped manifest {}: {why}", path.display()));
        return None;
    }
    Manifest::load(&path).unwrap_or_else(|e| {
        output::warn(&format!("{e}; its services are all named"));
        None
    })
}
