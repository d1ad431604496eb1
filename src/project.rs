//! Finding the project a command runs in, and reading its `devport.toml` manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{EXIT_USAGE, Error, Result};
use crate::types::Proto;

/// The manifest file name.
pub const MANIFEST: &str = "devport.toml";

/// A project: the unit that owns claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// Display name: `name` from `devport.toml`, else the folder name.
    pub name: String,
    /// The canonical folder, the key of its claims; `None` for global claims.
    pub path: Option<PathBuf>,
    /// The parsed manifest, if the project has one.
    pub manifest: Option<Manifest>,
}

impl Project {
    /// The pseudo-project of claims made with `--global`.
    pub fn global() -> Project {
        Project {
            name: "global".to_string(),
            path: None,
            manifest: None,
        }
    }

    /// Finds the project of `start` (see [`Project::detect_with_warnings`]); the warnings
    /// about skipped manifests are dropped.
    pub fn detect(start: &Path) -> Result<Project> {
        Project::detect_with_warnings(start).map(|(project, _)| project)
    }

    /// Finds the project of `start`: going up from `start`, the first folder with a
    /// `devport.toml` this user can trust, or the first with a `.git` (a folder, or a
    /// worktree's file), whichever comes first; else `start` itself. A manifest above the git
    /// root belongs to something else and is never read. A manifest another user owns, or one
    /// in a folder every user may write, is skipped (see [`untrusted`]): the project behaves as
    /// if it were not there, and the returned warnings say so, as git does for an unsafe
    /// repository.
    pub fn detect_with_warnings(start: &Path) -> Result<(Project, Vec<String>)> {
        let start = dunce::canonicalize(start).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Usage(format!(
                "project folder {} does not exist; check --project or the current folder",
                start.display()
            )),
            _ => Error::io("cannot open project folder", start, e),
        })?;
        let mut warnings = Vec::new();
        let mut found = None;
        for dir in start.ancestors() {
            let path = dir.join(MANIFEST);
            if let Some(why) = untrusted(&path) {
                warnings.push(format!("skipped manifest {}: {why}", path.display()));
            } else if let Some(manifest) = Manifest::load(&path)? {
                found = Some((dir.to_path_buf(), Some(manifest)));
                break;
            }
            let git = dir.join(".git");
            if std::fs::symlink_metadata(&git).is_ok() {
                // A `.git` someone else put there (say in /tmp) would merge unrelated folders
                // into one project: the same rule as for manifests.
                if let Some(why) = untrusted(&git) {
                    warnings.push(format!(
                        "skipped {} as a project root: {why}",
                        git.display()
                    ));
                } else {
                    found = Some((dir.to_path_buf(), None));
                    break;
                }
            }
        }
        let (root, manifest) = found.unwrap_or((start, None));
        check_utf8(&root)?;
        let name = manifest
            .as_ref()
            .and_then(|m| m.name.clone())
            .or_else(|| root.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| root.display().to_string());
        let project = Project {
            name,
            path: Some(root),
            manifest,
        };
        Ok((project, warnings))
    }
}

/// The registry is JSON text, so a project folder must have a UTF-8 path to be recorded: one
/// that has not is refused (exit 2) before anything is read or written.
pub(crate) fn check_utf8(path: &Path) -> Result<()> {
    if path.to_str().is_some() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "the project folder {} has a name that is not valid UTF-8, which the registry cannot record; rename the folder, or use --global",
        path.display()
    )))
}

/// What can be said about a claim's project folder.
#[derive(Debug)]
pub enum FolderState {
    /// It exists and is a folder.
    Present,
    /// It does not exist: the path, or a folder on the way to it, is missing or is a file.
    Gone,
    /// It cannot be looked at (permission denied, an I/O error): whether it exists is unknown,
    /// so nothing may be removed because of it.
    Unreadable(std::io::Error),
}

/// The one test of whether a claim's folder is still there. Only "does not exist" (`ENOENT`,
/// `ENOTDIR`, or a file in its place) counts as gone; a folder this user merely cannot see
/// is [`FolderState::Unreadable`].
pub fn folder_state(path: &Path) -> FolderState {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => FolderState::Present,
        Ok(_) => FolderState::Gone,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            FolderState::Gone
        }
        Err(e) => FolderState::Unreadable(e),
    }
}

/// Why devport must not act on the file at `path` although it exists, or `None` when it may:
/// the file belongs to another user, or it (or, for a symlink, its target) sits in a folder
/// every user may write — sticky bit or not, anyone could have put it there. A missing file is
/// `None`. Used for manifests and the user's config, which decide ports and variable names.
#[cfg(unix)]
pub fn untrusted(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).ok()?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Some(format!(
            "it belongs to uid {}, not to you (uid {me}); if you trust it, copy it to a file of your own in its place",
            meta.uid()
        ));
    }
    let real = dunce::canonicalize(path).ok()?;
    [path, real.as_path()].into_iter().find_map(in_open_folder)
}

/// Why a file at `file` (existing or not) must not be trusted because of its folder: every
/// user may write that folder, sticky bit or not. `None` when the folder is private or cannot
/// be looked at. Part of [`untrusted`]; alone, for a file devport is about to create.
#[cfg(unix)]
pub fn in_open_folder(file: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let dir = crate::fsutil::parent_dir(file);
    let mode = std::fs::metadata(dir).ok()?.mode();
    (mode & 0o002 != 0).then(|| {
        format!(
            "it is in {}, which every user may write (mode {:04o}); move it into a folder only you can write",
            dir.display(),
            mode & 0o7777
        )
    })
}

/// Why devport must not act on the file at `path`: never, where files have no Unix owner.
#[cfg(not(unix))]
pub fn untrusted(_path: &Path) -> Option<String> {
    None
}

/// Why a file must not be trusted because of its folder: never, where folders have no Unix
/// mode.
#[cfg(not(unix))]
pub fn in_open_folder(_file: &Path) -> Option<String> {
    None
}

/// `devport.toml`: the services a project needs, committed with the project.
///
/// Values are checked while the file is read, so every error carries the line and column of
/// the offending key or value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The project's name (default: the folder name).
    pub name: Option<String>,
    /// Services by name.
    #[serde(default, deserialize_with = "checked::services")]
    pub services: BTreeMap<String, ServiceSpec>,
}

/// One `[services.NAME]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Exactly this port.
    #[serde(default, deserialize_with = "checked::port")]
    pub port: Option<u16>,
    /// This port if usable, else the policy's pick.
    #[serde(default, deserialize_with = "checked::port")]
    pub prefer: Option<u16>,
    /// How many consecutive ports.
    #[serde(default, deserialize_with = "checked::count")]
    pub count: Option<u16>,
    /// Protocols.
    pub proto: Option<Proto>,
    /// The environment variable name (default: `<SERVICE>_PORT`).
    #[serde(default, deserialize_with = "checked::env")]
    pub env: Option<String>,
    /// Whether the service speaks HTTP (default: yes); `export` leaves out `http = false`.
    pub http: Option<bool>,
}

/// Deserializers that validate as they read, so TOML reports where a bad value is.
mod checked {
    use std::collections::BTreeMap;

    use serde::de::{Deserialize, Deserializer, Error as _};

    use super::ServiceSpec;

    /// A service name, checked when read as a table key.
    struct Name(String);

    impl<'de> Deserialize<'de> for Name {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let name = String::deserialize(d)?;
            crate::types::validate_service(&name).map_err(D::Error::custom)?;
            Ok(Name(name))
        }
    }

    impl PartialEq for Name {
        fn eq(&self, other: &Self) -> bool {
            self.0 == other.0
        }
    }
    impl Eq for Name {}
    impl PartialOrd for Name {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Name {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            self.0.cmp(&other.0)
        }
    }

    pub fn services<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, ServiceSpec>, D::Error> {
        let map = BTreeMap::<Name, ServiceSpec>::deserialize(d)?;
        Ok(map.into_iter().map(|(k, v)| (k.0, v)).collect())
    }

    pub fn port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
        match u16::deserialize(d)? {
            0 => Err(D::Error::custom("port 0 is not a port; use 1-65535")),
            p => Ok(Some(p)),
        }
    }

    pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
        let n = u16::deserialize(d)?;
        crate::claim::check_count(n).map_err(D::Error::custom)?;
        Ok(Some(n))
    }

    pub fn env<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let name = String::deserialize(d)?;
        crate::envfile::validate_var(&name).map_err(D::Error::custom)?;
        Ok(Some(name))
    }
}

impl Manifest {
    /// Reads and validates a manifest (`None` when there is none); errors carry the file, line
    /// and column (exit 2).
    pub fn load(path: &Path) -> Result<Option<Manifest>> {
        match read_text(path, "manifest", EXIT_USAGE)? {
            Some(text) => Manifest::parse(&text, path).map(Some),
            None => Ok(None),
        }
    }

    /// Parses manifest text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| toml_error(path, text, &e, EXIT_USAGE))?;
        if let Some(name) = manifest
            .services
            .iter()
            .find(|(_, s)| s.port.is_some() && s.prefer.is_some())
            .map(|(n, _)| n)
        {
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with("[services.") && l.contains(name.as_str()))
                .map_or(1, |i| i + 1);
            return Err(Error::Config {
                path: path.to_path_buf(),
                message: format!(
                    "line {line}, column 1: [services.{name}] gives both `port` and `prefer`; keep one"
                ),
                code: EXIT_USAGE,
            });
        }
        Ok(manifest)
    }
}

/// Reads a TOML file with [`crate::fsutil::read_regular`] (`None` when it is missing); text that
/// is not UTF-8 is an error exiting with `code`.
pub(crate) fn read_text(path: &Path, what: &'static str, code: u8) -> Result<Option<String>> {
    let Some(bytes) = crate::fsutil::read_regular(path, what)? else {
        return Ok(None);
    };
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: format!(
                "byte {} is not valid UTF-8; save the file as UTF-8",
                e.utf8_error().valid_up_to() + 1
            ),
            code,
        })
}

/// Turns a TOML error into one line naming the file, line and column.
pub fn toml_error(path: &Path, text: &str, e: &toml::de::Error, code: u8) -> Error {
    let message = e.message().trim().replace('\n', " ");
    let message = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    };
    Error::Config {
        path: path.to_path_buf(),
        message,
        code,
    }
}

impl Project {
    /// Variable names the manifest gives its services (`env = "..."`).
    pub fn env_names(&self) -> BTreeMap<String, String> {
        self.manifest
            .iter()
            .flat_map(|m| &m.services)
            .filter_map(|(service, spec)| Some((service.clone(), spec.env.clone()?)))
            .collect()
    }

    /// Where `devport init` writes the manifest: the project's folder.
    pub fn manifest_path(&self) -> Option<PathBuf> {
        self.path.as_ref().map(|p| p.join(MANIFEST))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn manifest_parser_never_panics(text in "(?s).{0,200}") {
            let _ = Manifest::parse(&text, Path::new("devport.toml"));
        }

        #[test]
        fn manifest_parser_never_panics_on_near_valid_input(
            name in "[a-z.\\-_ ]{0,10}",
            key in "(port|prefer|count|proto|env|other)",
            value in "(0|1|65535|65536|-1|\"tcp\"|\"x y\"|true|\\[\\])",
        ) {
            let text = format!("[services.\"{name}\"]\n{key} = {value}\n");
            let _ = Manifest::parse(&text, Path::new("devport.toml"));
        }
    }

    #[test]
    fn manifest_errors_have_line_and_column() {
        let e = Manifest::parse(
            "name = \"x\"\n[services.web]\nprot = 1\n",
            Path::new("devport.toml"),
        );
        let text = e.map(|_| ()).unwrap_err().to_string();
        assert!(text.contains("line 3, column 1"), "{text}");
        for (text, at) in [
            ("[services.\"a b\"]\n", "line 1"),
            ("[services.web]\nport = 70000\n", "line 2"),
            ("\n[services.web]\nport = 0\n", "line 3, column 8"),
            ("[services.web]\ncount = 0\n", "line 2"),
            ("[services.web]\nenv = \"9X\"\n", "line 2"),
            (
                "\n\n[services.web]\nport = 1\nprefer = 2\n",
                "line 3, column 1",
            ),
        ] {
            let e = Manifest::parse(text, Path::new("m"))
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(e.contains(at), "{text:?}: {e}");
        }
        let ok = Manifest::parse(
            "name = \"shop\"\n[services.web]\nprefer = 3000\n",
            Path::new("m"),
        );
        assert_eq!(
            ok.ok()
                .and_then(|m| m.services.get("web").and_then(|s| s.prefer)),
            Some(3000)
        );
    }
}
