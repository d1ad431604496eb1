//! `devport trust`: trust this project's manifest, stop trusting one, or list them.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{Ctx, Outcome};
use crate::cli::TrustArgs;
use crate::output;
use devport_core::project::MANIFEST;

pub fn run(ctx: &Ctx, args: &TrustArgs) -> Result<Outcome> {
    if args.list {
        return list(ctx);
    }
    if args.revoke {
        let path = match &args.path {
            Some(given) => manifest_at(given)?,
            None => project_manifest(ctx)?.0,
        };
        let revoked = devport_core::store::trust::revoke(&ctx.store, &path)?;
        let shown = output::clean(&path.display().to_string()).into_owned();
        output::note(&if revoked {
            format!(
                "{shown} is no longer trusted: up, env and exec export only its *_PORT variables"
            )
        } else {
            format!("{shown} was not trusted; nothing changed")
        });
        if ctx.json {
            // A path given by hand may not be UTF-8 (no record can hold one): shown as text.
            output::json(&serde_json::json!({
                "path": path.to_string_lossy(),
                "revoked": revoked,
            }))?;
        }
        return Ok(Outcome::Success);
    }
    let (path, sha256) = project_manifest(ctx)?;
    let record = devport_core::store::trust::trust(&ctx.store, &path, &sha256, ctx.now)?;
    output::note(&format!(
        "trusted {} (sha256 {}): up, env and exec export its [env] values and env names until it changes",
        path.display(),
        &record.sha256[..12]
    ));
    if ctx.json {
        output::json(&record)?;
    }
    Ok(Outcome::Success)
}

/// The path and content hash of this project's manifest; none is bad usage (exit 2), and a
/// manifest that was skipped (another user's, or in a folder every user may write) says so.
fn project_manifest(ctx: &Ctx) -> Result<(PathBuf, String)> {
    let project = ctx.project()?;
    let bad = |message: String| {
        devport_core::Error::invalid(devport_core::error::Input::Argument, message)
    };
    match (project.manifest_path(), &project.manifest) {
        (Some(path), Some(manifest)) => Ok((path, manifest.sha256.clone())),
        (None, _) => Err(bad(
            "--global claims have no manifest to trust; run devport trust in the project's folder (or give it with --project DIR)".to_string(),
        )
        .into()),
        (Some(path), None) => match devport_core::os::fsutil::untrusted(&path) {
            Some(why) => Err(devport_core::Error::Insecure {
                message: format!(
                    "{} was skipped, so it cannot be trusted: {why}",
                    path.display()
                ),
                path,
            }
            .into()),
            None => Err(bad(format!(
                "no {MANIFEST} in {} or above, so there is nothing to trust; run devport trust in the project's folder (or give it with --project DIR)",
                ctx.project_dir().display()
            ))
            .into()),
        },
    }
}

/// The manifest `given` names (it, or `devport.toml` in it when it is a folder), absolute and
/// with its folder resolved when that still exists, as trust records it.
fn manifest_at(given: &Path) -> Result<PathBuf> {
    let path = std::path::absolute(given)
        .map_err(|e| devport_core::Error::io("cannot resolve", given, e))?;
    let path = if path.is_dir() {
        path.join(MANIFEST)
    } else {
        path
    };
    let dir = devport_core::os::paths::parent_dir(&path);
    Ok(match (dunce::canonicalize(dir), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path,
    })
}

/// Every trusted manifest, with whether it still has the content that was trusted, and the
/// folders of `DEVPORT_TRUSTED_PATHS`.
fn list(ctx: &Ctx) -> Result<Outcome> {
    let folders = devport_core::store::trust::trusted_folders()?;
    let rows: Vec<(devport_core::store::trust::Record, &str)> =
        devport_core::store::trust::records(&ctx.store)?
            .into_iter()
            .map(|record| {
                let state = match devport_core::project::Manifest::load(&record.path) {
                    Ok(Some(m)) if m.sha256 == record.sha256 => "trusted",
                    Ok(Some(_)) => "changed",
                    Ok(None) => "gone",
                    Err(_) => "unreadable",
                };
                (record, state)
            })
            .collect();
    if ctx.json {
        let manifests: Vec<serde_json::Value> = rows
            .iter()
            .map(|(r, state)| {
                serde_json::json!({
                    "path": r.path,
                    "sha256": r.sha256,
                    "trusted": r.trusted,
                    "state": state,
                })
            })
            .collect();
        let folders: Vec<_> = folders.iter().map(|f| f.to_string_lossy()).collect();
        output::json(&serde_json::json!({
            "manifests": manifests,
            "folders": folders,
        }))?;
        return Ok(Outcome::Success);
    }
    for folder in &folders {
        output::note(&format!(
            "every manifest in {} is trusted ({})",
            folder.display(),
            devport_core::store::trust::TRUSTED_PATHS_VAR
        ));
    }
    if rows.is_empty() {
        output::note(
            "no manifest is trusted; run 'devport trust' in a project to trust its devport.toml",
        );
        return Ok(Outcome::Success);
    }
    output::table(
        ctx.color,
        &["MANIFEST", "STATE", "SHA256", "SINCE"],
        rows.iter().map(|(r, state)| {
            vec![
                r.path.display().to_string(),
                (*state).to_string(),
                r.sha256.chars().take(12).collect(),
                output::local_time(r.trusted),
            ]
        }),
    )?;
    Ok(Outcome::Success)
}
