//! The user's configuration file (`config.toml`): the port range, ports to avoid, whether
//! IANA-assigned ports may be handed out, and the lock timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result, toml_message};
use crate::model::input::parse_length;
use crate::model::toml_value::toml_table;
use crate::model::types::PortRange;

pub use crate::model::types::DEFAULT_RANGE;
/// How long a writer waits for the registry lock unless configured.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Effective configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Ports new claims come from.
    pub range: PortRange,
    /// Ports never handed out automatically.
    pub avoid: Vec<PortRange>,
    /// Whether IANA-assigned and reserved ports may be handed out.
    pub allow_assigned: bool,
    /// How long to wait for the registry lock.
    pub lock_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            range: DEFAULT_RANGE,
            avoid: Vec::new(),
            allow_assigned: false,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }
}

/// The per-user folders, made from the home folder only when it is usable: a relative `HOME`
/// is no home (it would put the registry and trust file inside whatever folder devport runs
/// in, where a cloned repository could ship its own), nor is a missing one.
fn project_dirs() -> Option<directories::ProjectDirs> {
    if home_problem().is_some() {
        return None;
    }
    directories::ProjectDirs::from("", "", "devport")
}

/// Why there is no usable home folder: `HOME` is relative, or it is unset and the user has
/// no home in the system's user database.
fn home_problem() -> Option<String> {
    match env_var("HOME").map(PathBuf::from) {
        Some(home) if home.is_relative() => Some(format!(
            "HOME={} is a relative path, which would put devport's files inside whatever folder it runs in",
            home.display()
        )),
        Some(_) => None,
        None => directories::BaseDirs::new()
            .is_none()
            .then(|| "HOME is not set and this user has no home folder".to_string()),
    }
}

/// The per-user registry: `$XDG_STATE_HOME/devport/registry.json` (or
/// `~/.local/state/devport/registry.json`) on Linux, the local data folder elsewhere.
pub fn default_registry_path() -> Option<PathBuf> {
    let dirs = project_dirs()?;
    let dir = dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir());
    Some(dir.join("registry.json"))
}

/// The per-user config file: `~/.config/devport/config.toml` on Linux, the platform's config
/// folder elsewhere.
pub fn default_config_path() -> Option<PathBuf> {
    Some(project_dirs()?.config_dir().join("config.toml"))
}

fn env_var(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// The registry file: `explicit` (`--registry`, which may be relative to the current folder) >
/// `DEVPORT_REGISTRY` (which must be absolute: a relative one would make a separate registry in
/// every folder) > the per-user default. A path that names a folder by its spelling (ends with
/// `/`, or `.`) is refused.
pub fn resolve_registry_path(explicit: Option<PathBuf>) -> Result<PathBuf> {
    let from_env = || -> Result<Option<PathBuf>> {
        let Some(value) = env_var("DEVPORT_REGISTRY").map(PathBuf::from) else {
            return Ok(None);
        };
        if value.is_relative() {
            return Err(Error::invalid(
                crate::error::Input::Setting,
                format!(
                    "DEVPORT_REGISTRY={} is a relative path, which would mean another registry in every folder; give an absolute path, such as {}",
                    value.display(),
                    std::env::current_dir()
                        .map_or_else(|_| value.clone(), |cwd| cwd.join(&value))
                        .display()
                ),
            ));
        }
        Ok(Some(value))
    };
    let path = match explicit {
        Some(path) => Some(path),
        None => from_env()?,
    }
    .or_else(default_registry_path)
    .ok_or_else(|| Error::NoHome {
        message: format!(
            "cannot find a home folder for the registry: {}; set HOME to your absolute home folder, or DEVPORT_REGISTRY to an absolute file path",
            home_problem().unwrap_or_else(|| "the system gives none".into())
        ),
    })?;
    let names_folder =
        path.as_os_str().to_string_lossy().ends_with(['/', '\\']) || path.file_name().is_none();
    if names_folder {
        return Err(Error::invalid(
            crate::error::Input::Setting,
            format!(
                "registry path {} names a folder; give a file, such as {}",
                path.display(),
                path.join("registry.json").display()
            ),
        ));
    }
    Ok(path)
}

/// The user's config: `DEVPORT_CONFIG` > the per-user default; a missing file means defaults
/// (see [`load_user_config_with_warnings`], whose warnings this drops).
pub fn load_user_config() -> Result<Config> {
    load_user_config_with_warnings().map(|(config, _)| config)
}

/// The user's config and why a config file was skipped (see [`Config::load_with_warnings`]),
/// for the CLI to show.
pub fn load_user_config_with_warnings() -> Result<(Config, Vec<String>)> {
    match env_var("DEVPORT_CONFIG")
        .map(PathBuf::from)
        .or_else(default_config_path)
    {
        Some(path) => Config::load_with_warnings(&path),
        None => Ok((Config::default(), Vec::new())),
    }
}

/// The longest lock timeout accepted: a writer holds the lock for milliseconds, so anything
/// longer only hides a stuck process.
pub const MAX_LOCK_TIMEOUT: Duration = Duration::from_secs(3600);

/// The lock timeout: `DEVPORT_LOCK_TIMEOUT` (seconds such as `2.5`, or a duration like `10s`:
/// see [`parse_length`]) > the config.
/// Both are 0 to [`MAX_LOCK_TIMEOUT`].
pub fn lock_timeout(config: &Config) -> Result<Duration> {
    let Some(value) = env_var("DEVPORT_LOCK_TIMEOUT") else {
        return Ok(config.lock_timeout);
    };
    let text = value.to_string_lossy();
    let bad = || {
        Error::invalid(
            crate::error::Input::Setting,
            format!(
                "invalid DEVPORT_LOCK_TIMEOUT {text:?}: give 0 to {} seconds, or a duration like 10s",
                MAX_LOCK_TIMEOUT.as_secs()
            ),
        )
    };
    let timeout = parse_length(&text).map_err(|_| bad())?;
    if timeout > MAX_LOCK_TIMEOUT {
        return Err(bad());
    }
    Ok(timeout)
}

/// The file as written; each value is checked while it is read (see
/// [`checked`]), so every error has its line and column.
#[derive(Default)]
struct ConfigFile {
    range: Option<PortRange>,
    avoid: Vec<PortRange>,
    allow_assigned: Option<bool>,
    lock_timeout: Option<Duration>,
}

toml_table!(ConfigFile {
    "range" => range: Option<PortRange> = checked::range,
    "avoid" => avoid: Vec<PortRange> = checked::avoid,
    "allow_assigned" => allow_assigned: Option<bool> = checked::flag,
    "lock_timeout" => lock_timeout: Option<Duration> = checked::lock_timeout,
});

impl Config {
    /// Reads the config at `path`, as the command line reads `config.toml`. A missing file
    /// means the defaults, and so does a file another user owns or one in a folder every user
    /// may write: it could steer this user's ports, so it is skipped.
    pub fn load(path: &Path) -> Result<Config> {
        Config::load_with_warnings(path).map(|(config, _)| config)
    }

    /// Reads the config at `path`, with a warning when the file is skipped: a config another
    /// user owns, or one in a folder every user may write, is not used (see
    /// [`crate::os::fsutil::untrusted`]), so it cannot steer this user's ports. A missing or
    /// skipped file means the defaults. Errors exit 3.
    pub fn load_with_warnings(path: &Path) -> Result<(Config, Vec<String>)> {
        if let Some(why) = crate::os::fsutil::untrusted(path) {
            let warning = format!("skipped config {}: {why}", path.display());
            return Ok((Config::default(), vec![warning]));
        }
        let config = match crate::os::fsutil::read_text(path, "config file", Error::config)? {
            Some(text) => Config::parse(&text, path)?,
            None => Config::default(),
        };
        Ok((config, Vec::new()))
    }

    /// Parses config text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let file: ConfigFile =
            toml::from_str(text).map_err(|e| Error::config(path, toml_message(text, &e)))?;
        let default = Config::default();
        Ok(Config {
            range: file.range.unwrap_or(default.range),
            avoid: file.avoid,
            allow_assigned: file.allow_assigned.unwrap_or(default.allow_assigned),
            lock_timeout: file.lock_timeout.unwrap_or(default.lock_timeout),
        })
    }
}

/// The config's deserializers (see [`crate::model::toml_value`]).
mod checked {
    use serde::de::{Deserializer, Error as _};

    use crate::model::toml_value::{Raw, field, not, string};
    use crate::model::types::PortRange;

    /// `avoid`: a list of ports and ranges ("A-B"); a bad entry is named by its place in the
    /// list, as the parser gives the list's position only.
    pub(super) fn avoid<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PortRange>, D::Error> {
        field(d, "avoid", |raw: Raw<Raw>, key| {
            let Raw::List(items) = raw else {
                return Err(format!(
                    "{key} must be a list of ports and ranges such as [5000, \"6000-6010\"], not {}",
                    raw.kind()
                ));
            };
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let found = match item {
                        Raw::Int(n) if (1..=65535).contains(&n) => {
                            return Ok(PortRange::single(u16::try_from(n).unwrap_or(u16::MAX)));
                        }
                        Raw::Str(s) => match s.parse() {
                            Ok(range) => return Ok(range),
                            Err(_) => format!("{s:?}"),
                        },
                        other => not(&other),
                    };
                    Err(format!(
                        "{key} entry {} must be a port 1-65535 or a range like \"5000-5010\", not {found}",
                        i + 1
                    ))
                })
                .collect()
        })
    }

    /// `range`: the ports new claims come from.
    pub(super) fn range<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PortRange>, D::Error> {
        let what = "a range of ports like \"10000-29999\"";
        let text = string(d, "range", what)?;
        text.parse().map(Some).map_err(|_| {
            D::Error::custom(format!(
                "range must be {what} (1 <= first <= last <= 65535), not {text:?}"
            ))
        })
    }

    /// `allow_assigned`: true or false.
    pub(super) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        field(d, "allow_assigned", |raw: Raw, key| match raw {
            Raw::Bool(b) => Ok(Some(b)),
            other => Err(format!("{key} must be true or false, not {}", not(&other))),
        })
    }

    /// `lock_timeout`: a duration of 0 to [`crate::store::config::MAX_LOCK_TIMEOUT`], as
    /// `DEVPORT_LOCK_TIMEOUT` (see [`crate::model::input::parse_length`]).
    pub(super) fn lock_timeout<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<std::time::Duration>, D::Error> {
        let max = crate::store::config::MAX_LOCK_TIMEOUT.as_secs();
        let what = format!("a duration like \"10s\" (at most {max} s)");
        let text = string(d, "lock_timeout", &what)?;
        match crate::model::input::parse_length(&text) {
            Ok(t) if t <= crate::store::config::MAX_LOCK_TIMEOUT => Ok(Some(t)),
            _ => Err(D::Error::custom(format!(
                "lock_timeout must be {what}, not {text:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let c = Config::parse(
            "range = \"20000-21000\"\navoid = [20001, \"20010-20020\"]\nlock_timeout = \"2s\"\n",
            Path::new("c"),
        );
        let c = c.ok();
        assert_eq!(c.as_ref().map(|c| c.range), PortRange::new(20000, 21000));
        assert_eq!(c.as_ref().map(|c| c.avoid.len()), Some(2));
        let e = Config::parse("colour = true\n", Path::new("c"))
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "c: line 1, column 1: unknown key `colour`, expected one of `range`, `avoid`, `allow_assigned`, `lock_timeout`"
        );
        assert!(matches!(e, Error::Config { .. }), "{e:?}");
        assert!(Config::parse("range = \"9-1\"\n", Path::new("c")).is_err());
        // A lock timeout follows the rule of every duration, with DEVPORT_LOCK_TIMEOUT's bounds.
        let timeout = |t: &str| {
            Config::parse(&format!("lock_timeout = \"{t}\"\n"), Path::new("c"))
                .map(|c| c.lock_timeout)
                .ok()
        };
        assert_eq!(timeout("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(timeout("0s"), Some(Duration::ZERO));
        assert_eq!(timeout("1h"), Some(MAX_LOCK_TIMEOUT));
        assert_eq!(timeout("61m"), None);
    }
}
