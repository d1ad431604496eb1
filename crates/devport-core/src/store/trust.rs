//! Trusting a committed manifest, as direnv's `allow` and mise's `trust` do: a `devport.toml`
//! is text anyone with commit access wrote, and its `[env]` values and `env = "..."` names
//! become variables of the user's shell (`eval "$(devport up)"`) and of the commands `exec`
//! runs. No deny-list of variable names can be complete, so those are exported only for a
//! manifest the user has trusted: its absolute path and the SHA-256 of its content are recorded
//! in the user's own trust file (beside the registry, never in the project). A manifest whose
//! content changed is not trusted until it is trusted again. The `*_PORT` variables of the
//! services are always exported: a port number is not code.

use std::fmt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::os::fsutil::{self, FileMode};
use crate::project::Project;
use crate::store::registry::{Extra, Store};

/// The variable that trusts, for unattended use (CI), every manifest inside the folders it
/// lists (separated as `PATH` is: `:` on Unix, `;` on Windows).
pub const TRUSTED_PATHS_VAR: &str = "DEVPORT_TRUSTED_PATHS";

/// The trust file's format version.
const VERSION: u32 = 1;

/// The trust file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct TrustFile {
    version: u32,
    /// The trusted manifests, sorted by path.
    #[serde(default)]
    manifests: Vec<Record>,
    /// Keys this build does not know, kept through every rewrite.
    #[serde(flatten)]
    extra: Extra,
}

/// One trusted manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The manifest's absolute path.
    pub path: PathBuf,
    /// The SHA-256 of its content when it was trusted (lower-case hex).
    pub sha256: String,
    /// When it was trusted.
    pub trusted: Timestamp,
    /// Keys this build does not know, kept through every rewrite.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The user's trust file: `trusted.json` in the registry's folder (the real one, after a
/// symlinked registry is followed), so it lives and moves with the user's registry and takes
/// its lock. In a registry folder a group shares, each user has a file of their own
/// (`trusted-UID.json`): trust is never shared.
pub fn file(store: &Store) -> Result<PathBuf> {
    let registry = store.locate()?.registry;
    let dir = fsutil::parent_dir(&registry);
    #[cfg(unix)]
    if fsutil::private_mode(dir) & 0o020 != 0 {
        return Ok(dir.join(format!("trusted-{}.json", nix::unistd::geteuid().as_raw())));
    }
    Ok(dir.join("trusted.json"))
}

/// The trust file's mode when users other than its owner may write it (group or world
/// write bits): anyone who can add a line to it trusts a manifest in its owner's name. Even in
/// a folder a group shares, each member's file is theirs alone (0600).
#[cfg(unix)]
pub fn others_may_write(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o022 != 0).then_some(mode)
}

/// The trust file's mode when others may write it: never, where files have no Unix mode.
#[cfg(not(unix))]
pub fn others_may_write(_path: &Path) -> Option<u32> {
    None
}

/// The trust file as it is read and replaced, checked as the registry is: a symlink is followed
/// to a file of this user's (a write replaces the target and keeps the link), and a file with
/// other hard links is refused (a replace would leave them with the old records).
fn located(store: &Store) -> Result<PathBuf> {
    let path = crate::store::registry::follow(&file(store)?, "trust file")?;
    if let Some(links) = fsutil::hard_links(&path) {
        return Err(Error::Insecure {
            message: format!(
                "trust file {} has {links} hard links, so replacing it would leave the other names with the old records; remove the other names (a symbolic link to it is followed instead)",
                path.display()
            ),
            path,
        });
    }
    Ok(path)
}

/// Reads the trust file: refused (exit 3) when it belongs to another user or sits in a folder
/// every user may write, as a config file is, when other users may write it, or when it is
/// not a valid trust file. A missing file trusts nothing.
fn read(path: &Path) -> Result<TrustFile> {
    let why = fsutil::untrusted(path).or_else(|| {
        others_may_write(path).map(|mode| {
            format!(
                "it has mode {mode:04o}, so other users could trust a manifest in your name; run 'chmod 600 {}' if you wrote every entry, else move it away and trust your projects again",
                path.display()
            )
        })
    });
    if let Some(why) = why {
        return Err(Error::Insecure {
            path: path.to_path_buf(),
            message: format!("trust file {} cannot be used: {why}", path.display()),
        });
    }
    let Some(bytes) = fsutil::read_regular(path, "trust file")? else {
        return Ok(TrustFile {
            version: VERSION,
            ..TrustFile::default()
        });
    };
    let file: TrustFile = serde_json::from_slice(&bytes).map_err(|e| {
        let message = crate::error::json_message(&e);
        Error::config(
            path,
            format!(
                "not a valid trust file at line {}, column {}: {message}; move it away and run 'devport trust' again in each project you trust",
                e.line().max(1),
                e.column().max(1)
            ),
        )
    })?;
    if file.version != VERSION {
        return Err(Error::config(
            path,
            format!(
                "trust file version {} is not the version {VERSION} this devport reads; upgrade devport, or move the file away and trust your projects again",
                file.version
            ),
        ));
    }
    Ok(file)
}

/// Reads, changes and replaces the trust file under the registry's lock (as a registry write
/// is): a temp file beside it, renamed over it, mode 0600. Written only when `change` changed
/// something.
fn update<T>(store: &Store, change: impl FnOnce(&mut TrustFile) -> T) -> Result<T> {
    // The registry is checked as every other command checks it (a device, a corrupt file, a
    // newer version are refused) before its lock or folder is made.
    store.read()?;
    let path = located(store)?;
    store.exclusive(|| {
        let mut trust = read(&path)?;
        let before = trust.manifests.clone();
        let value = change(&mut trust);
        trust.manifests.sort_by(|a, b| a.path.cmp(&b.path));
        if trust.manifests != before {
            fsutil::remove_stale_temps(&path);
            let mut text =
                crate::model::json::to_string_pretty(&trust).map_err(|e| Error::Unwritable {
                    message: e.to_string(),
                })?;
            text.push('\n');
            fsutil::write_atomic(&path, text.as_bytes(), FileMode::Exact(0o600))?;
        }
        Ok(value)
    })
}

/// Trusts the manifest at `path` (absolute) with the content whose hash is `sha256`, replacing
/// an older record of it. Returns the record.
pub fn trust(store: &Store, path: &Path, sha256: &str, now: Timestamp) -> Result<Record> {
    update(store, |trust| {
        // Keys a newer devport added to the old record are kept.
        let extra = trust
            .manifests
            .iter()
            .find(|r| r.path == path)
            .map(|r| r.extra.clone())
            .unwrap_or_default();
        trust.manifests.retain(|r| r.path != path);
        let record = Record {
            path: path.to_path_buf(),
            sha256: sha256.to_string(),
            trusted: now,
            extra,
        };
        trust.manifests.push(record.clone());
        record
    })
}

/// Forgets the manifest at `path`; whether it was trusted.
pub fn revoke(store: &Store, path: &Path) -> Result<bool> {
    update(store, |trust| {
        let before = trust.manifests.len();
        trust.manifests.retain(|r| r.path != path);
        trust.manifests.len() != before
    })
}

/// Every trusted manifest, by path.
pub fn records(store: &Store) -> Result<Vec<Record>> {
    Ok(read(&located(store)?)?.manifests)
}

/// The folders of [`TRUSTED_PATHS_VAR`], as given (empty entries skipped). A relative folder
/// is refused (exit 2): it would trust another folder in every working directory.
pub fn trusted_folders() -> Result<Vec<PathBuf>> {
    let Some(value) = std::env::var_os(TRUSTED_PATHS_VAR) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for folder in std::env::split_paths(&value).filter(|p| !p.as_os_str().is_empty()) {
        if folder.is_relative() {
            return Err(Error::invalid(
                crate::error::Input::Setting,
                format!(
                    "{TRUSTED_PATHS_VAR} lists {}, a relative path, which would trust another folder wherever devport runs; list absolute folders",
                    folder.display()
                ),
            ));
        }
        out.push(folder);
    }
    Ok(out)
}

/// Whether the manifest at `path` (absolute, with its folders resolved) lies inside one of
/// `folders` (each resolved too; a folder that does not exist holds nothing).
fn inside(path: &Path, folders: &[PathBuf]) -> bool {
    folders
        .iter()
        .filter_map(|f| dunce::canonicalize(f).ok())
        .any(|f| path.starts_with(f))
}

/// Why a manifest's values are not exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untrusted {
    /// It was never trusted (or the trust was revoked).
    Never,
    /// It was trusted with other content.
    Changed,
}

/// Whether the manifest at `path` with content hash `sha256` is trusted: `None` when it is,
/// else why not.
pub fn verdict(store: &Store, path: &Path, sha256: &str) -> Result<Option<Untrusted>> {
    if inside(path, &trusted_folders()?) {
        return Ok(None);
    }
    let records = records(store)?;
    Ok(match records.iter().find(|r| r.path == path) {
        Some(r) if r.sha256 == sha256 => None,
        Some(_) => Some(Untrusted::Changed),
        None => Some(Untrusted::Never),
    })
}

/// What an untrusted manifest would have exported and did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld {
    /// The manifest.
    pub manifest: PathBuf,
    /// Why it is not trusted.
    pub why: Untrusted,
    /// The names of its `[env]` variables.
    pub computed: Vec<String>,
    /// Its services' own variable names (service, `env = "..."`).
    pub names: Vec<(String, String)>,
}

impl fmt::Display for Withheld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match self.why {
            Untrusted::Never => "is not trusted",
            Untrusted::Changed => "changed since you trusted it",
        };
        let mut what = Vec::new();
        if !self.computed.is_empty() {
            what.push(format!("[env] {}", self.computed.join(", ")));
        }
        what.extend(
            self.names
                .iter()
                .map(|(service, name)| format!("{name} (env of {service})")),
        );
        let dir = crate::os::paths::parent_dir(&self.manifest).display();
        write!(
            f,
            "{} {how}, so only its *_PORT variables were exported; withheld: {}; read it, then run 'devport trust' in {dir} to export them",
            self.manifest.display(),
            what.join("; "),
        )
    }
}

/// `project` as far as it may be exported: unchanged when its manifest is trusted or sets no
/// `[env]` values and no variable names; else without them (each service then exports its
/// `<SERVICE>_PORT`), with what was withheld.
pub fn exportable(store: &Store, project: &Project) -> Result<(Project, Option<Withheld>)> {
    let mut shown = project.clone();
    let (Some(manifest), Some(path)) = (shown.manifest.as_mut(), project.manifest_path()) else {
        return Ok((shown, None));
    };
    // A name that is the service's default (`env = "WEB_PORT"` for web) withholds nothing.
    let names: Vec<(String, String)> = manifest
        .env_names()
        .into_iter()
        .filter(|(service, name)| *name != crate::env::names::var_name(service, ""))
        .collect();
    if manifest.computed.is_empty() && names.is_empty() {
        return Ok((shown, None));
    }
    let Some(why) = verdict(store, &path, &manifest.sha256)? else {
        return Ok((shown, None));
    };
    let computed = std::mem::take(&mut manifest.computed).into_keys().collect();
    for spec in manifest.services.values_mut() {
        spec.env = None;
    }
    Ok((
        shown,
        Some(Withheld {
            manifest: path,
            why,
            computed,
            names,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_the_standard_one() {
        assert_eq!(
            crate::model::types::sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_folder_holds_what_is_below_it_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dunce::canonicalize(dir.path()).expect("canonical");
        std::fs::create_dir_all(root.join("ci/shop")).expect("mkdir");
        std::fs::create_dir_all(root.join("ci-other")).expect("mkdir");
        let folders = [root.join("ci")];
        assert!(inside(&root.join("ci/shop/devport.toml"), &folders));
        assert!(!inside(&root.join("ci-other/devport.toml"), &folders));
        assert!(!inside(&root.join("ci/devport.toml"), &[root.join("gone")]));
    }
}
