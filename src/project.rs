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

    /// Finds the project of `start`: the nearest folder upwards with a `devport.toml`, else the
    /// nearest with a `.git` (a folder, or a worktree's file), else `start` itself.
    pub fn detect(start: &Path) -> Result<Project> {
        let start = dunce::canonicalize(start).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Usage(format!(
                "project folder {} does not exist; check --project or the current folder",
                start.display()
            )),
            _ => Error::io("cannot open project folder", start, e),
        })?;
        let root = find_up(&start, MANIFEST)
            .or_else(|| find_up(&start, ".git"))
            .unwrap_or(start);
        let manifest_path = root.join(MANIFEST);
        let manifest = if manifest_path.is_file() {
            Some(Manifest::load(&manifest_path)?)
        } else {
            None
        };
        let name = manifest
            .as_ref()
            .and_then(|m| m.name.clone())
            .or_else(|| root.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| root.display().to_string());
        Ok(Project {
            name,
            path: Some(root),
            manifest,
        })
    }
}

fn find_up(start: &Path, marker: &str) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(marker).exists())
        .map(Path::to_path_buf)
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
    /// Reads and validates a manifest; errors carry the file, line and column (exit 2).
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
        Manifest::parse(&text, path)
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
