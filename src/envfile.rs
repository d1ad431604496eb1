//! Environment variables for a project's claims: names, the `sh` / `dotenv` / `json` formats,
//! and merging into an existing `.env` file without disturbing its other lines.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::registry::Claim;

/// The variable name of a service: upper-cased, every character outside `A-Z0-9` turned into
/// `_`, plus `_PORT` (`web` → `WEB_PORT`, `api.v2` → `API_V2_PORT`), after `prefix`.
pub fn var_name(service: &str, prefix: &str) -> String {
    let base: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}{base}_PORT")
}

/// Checks a variable name given by a person (`--env`, `env = ...` in `devport.toml`).
pub fn validate_var(name: &str) -> Result<()> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid environment variable name {name:?}: use letters, digits and _, not starting with a digit"
        )))
    }
}

/// The variables of `claims`: `NAME=first port`, and for a block also `NAME_0` ... `NAME_{N-1}`.
/// `names` overrides the name of a service. Two services that would share a name are an error
/// naming both.
pub fn vars(
    claims: &[&Claim],
    names: &BTreeMap<String, String>,
    prefix: &str,
) -> Result<Vec<(String, String)>> {
    let mut owner: BTreeMap<String, &str> = BTreeMap::new();
    let mut out = Vec::new();
    for c in claims {
        let name = names
            .get(&c.service)
            .map_or_else(|| var_name(&c.service, prefix), |n| format!("{prefix}{n}"));
        let mut add = |var: String, value: u16| -> Result<()> {
            if let Some(other) = owner.insert(var.clone(), &c.service) {
                return Err(Error::Usage(format!(
                    "services {other} and {} would both set {var}; rename one, or give one another name with `env` in devport.toml",
                    c.service
                )));
            }
            out.push((var, value.to_string()));
            Ok(())
        };
        add(name.clone(), c.port)?;
        if c.count > 1 {
            for (i, port) in c.ports().iter().enumerate() {
                add(format!("{name}_{i}"), port)?;
            }
        }
    }
    Ok(out)
}

/// Output format of environment lines. The variant docs are `--format`'s help: plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
#[allow(clippy::doc_markdown)]
pub enum Format {
    /// export NAME=VALUE lines, for eval "$(devport env)".
    #[default]
    Sh,
    /// NAME=VALUE lines, the .env format of docker compose and most loaders.
    Dotenv,
    /// A JSON object of strings.
    Json,
}

/// Renders variables in `format`.
pub fn render(vars: &[(String, String)], format: Format) -> String {
    match format {
        Format::Sh => vars.iter().fold(String::new(), |mut out, (k, v)| {
            let _ = writeln!(out, "export {k}={}", sh_quote(v));
            out
        }),
        Format::Dotenv => vars.iter().fold(String::new(), |mut out, (k, v)| {
            let _ = writeln!(out, "{k}={v}");
            out
        }),
        Format::Json => {
            let map: serde_json::Map<String, serde_json::Value> = vars
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                .collect();
            let mut text = crate::json::to_string_pretty(&map).unwrap_or_default();
            text.push('\n');
            text
        }
    }
}

/// Quotes a value for POSIX shells when it holds anything but safe characters.
fn sh_quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c))
    {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// The variable a dotenv line sets (`NAME=...` or `export NAME=...`), if any.
pub fn line_var(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let line = line.strip_prefix("export ").map_or(line, str::trim_start);
    let (name, _) = line.split_once('=')?;
    let name = name.trim_end();
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(name)
}

/// Merges `vars` into dotenv text: each line that sets one of them is replaced in place, every
/// other line (comments, blanks, other variables) is kept, and new variables are appended.
/// Merging the same variables twice gives the same text.
pub fn merge(existing: &str, vars: &[(String, String)]) -> String {
    let mut pending: Vec<&(String, String)> = vars.iter().collect();
    let mut out = String::with_capacity(existing.len() + 32 * vars.len());
    for chunk in existing.split_inclusive('\n') {
        let line = chunk.trim_end_matches('\n');
        // Keep each line's own ending (CRLF files stay CRLF); a last line without one gets one.
        let ending = if line.ends_with('\r') { "\r\n" } else { "\n" };
        if let Some((k, v)) = line_var(line).and_then(|name| vars.iter().find(|(k, _)| k == name)) {
            // A second line for the same variable is dropped: one value wins.
            if pending.iter().any(|(pk, _)| pk == k) {
                let _ = write!(out, "{k}={v}{ending}");
                pending.retain(|(pk, _)| pk != k);
            }
        } else {
            out.push_str(chunk);
            if !chunk.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    for (k, v) in pending {
        let _ = writeln!(out, "{k}={v}");
    }
    out
}

/// Reads dotenv text into (name, value) pairs, the way shells and docker compose read the
/// simple form: `NAME=VALUE`, optional `export `, optional single or double quotes, `#`
/// comments and blank lines skipped.
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|line| {
            let name = line_var(line)?;
            let value = line.split_once('=')?.1.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names() {
        assert_eq!(var_name("web", ""), "WEB_PORT");
        assert_eq!(var_name("api.v2", ""), "API_V2_PORT");
        assert_eq!(var_name("my-db", "APP_"), "APP_MY_DB_PORT");
        assert!(validate_var("DATABASE_PORT").is_ok());
        assert!(
            validate_var("9X").is_err()
                && validate_var("A B").is_err()
                && validate_var("").is_err()
        );
    }

    #[test]
    fn merge_keeps_other_lines_and_is_idempotent() {
        let existing = "# settings\nDEBUG=1\nexport WEB_PORT=1\n\nNAME='x y'\n";
        let vars = vec![
            ("WEB_PORT".to_string(), "24117".to_string()),
            ("DB_PORT".to_string(), "24118".to_string()),
        ];
        let once = merge(existing, &vars);
        assert_eq!(
            once,
            "# settings\nDEBUG=1\nWEB_PORT=24117\n\nNAME='x y'\nDB_PORT=24118\n"
        );
        assert_eq!(merge(&once, &vars), once);
        assert_eq!(
            parse(&once)
                .iter()
                .find(|(k, _)| k == "NAME")
                .map(|(_, v)| v.as_str()),
            Some("x y")
        );
    }

    #[test]
    fn sh_quoting() {
        assert_eq!(
            render(&[("A".into(), "1".into())], Format::Sh),
            "export A=1\n"
        );
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    proptest! {
        #[test]
        fn dotenv_functions_never_panic(text in "(?s).{0,200}") {
            let _ = parse(&text);
            let merged = merge(&text, &[("A_PORT".into(), "1".into())]);
            prop_assert_eq!(merge(&merged, &[("A_PORT".into(), "1".into())]), merged);
        }
    }
}
