//! The names of environment variables: a service's `*_PORT` name, the checks of a name a
//! person chooses (the deny-list of names that change how programs run), and the clashes of
//! two services on one name.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::store::registry::Claim;

/// Names that change how shells, loaders, interpreters, git and devport itself behave (run a
/// command, load code, switch shell options), compared without regard to case (Windows reads
/// `Path` as `PATH`). Exported by `eval "$(devport up)"` in a shell or by `exec`, any of them
/// would let a committed `devport.toml` run code.
const FORBIDDEN: &[&str] = &[
    "PATH",
    "HOME",
    "SHELL",
    "IFS",
    "ENV",
    "BASH_ENV",
    "CDPATH",
    "PS1",
    "PS2",
    "PS3",
    "PS4",
    "PS0",
    "PROMPT_COMMAND",
    "SHELLOPTS",
    "BASHOPTS",
    "GLOBIGNORE",
    "ZDOTDIR",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PYTHONHOME",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "RUBYOPT",
    "RUBYLIB",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
    "GIT_ASKPASS",
    "GIT_PROXY_COMMAND",
    "GIT_EXTERNAL_DIFF",
    "GIT_EDITOR",
    "GIT_PAGER",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "LESSOPEN",
    "LESSCLOSE",
    "BROWSER",
    "MAKEFLAGS",
    "PROMPT",
    "RPROMPT",
    "FPATH",
    "TMOUT",
    "EXINIT",
    "VIMINIT",
    "MYVIMRC",
    "EMACSLOADPATH",
    "INPUTRC",
    "TERMINFO",
    "LOCPATH",
    "NLSPATH",
    "KUBECONFIG",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "DBUS_SESSION_BUS_ADDRESS",
    "CC",
    "CXX",
    "CPP",
    "AR",
    "LD",
    "MAKE",
    "CFLAGS",
    "CXXFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "GOFLAGS",
    "GOPATH",
    "GOROOT",
    "GOBIN",
    "GOENV",
    "GOPROXY",
    "GOTOOLCHAIN",
    "GOPRIVATE",
    "GOINSECURE",
    "MANPAGER",
    "MANPATH",
    "MANOPT",
    "RUSTC",
    "RUSTDOC",
    "PHPRC",
    "PSQLRC",
    "SSLKEYLOGFILE",
    "CLASSPATH",
    "NETRC",
    "WGETRC",
];

/// Families of names that tools read to find their configuration, code or credentials (git,
/// XDG config folders, docker, cargo, interpreters and their package managers, build tools,
/// the .NET and Erlang runtimes, GUI toolkits' plugins, editors, history files, ssh, gpg, TLS,
/// cloud CLIs), refused for names a person chooses. A generated `*_PORT` name is never one of
/// these tools' variables, so a service named `git` keeps `GIT_PORT`. This list cannot be
/// complete: an untrusted manifest exports none of its own names (see [`crate::store::trust`]).
const FORBIDDEN_CHOSEN_PREFIXES: &[&str] = &[
    "XDG_",
    "GIT_",
    "DOCKER_",
    "CARGO_",
    "RUSTC_",
    "RUSTUP_",
    "PYTHON",
    "IPYTHON",
    "JUPYTER_",
    "PERL",
    "RUBY",
    "GEM_",
    "BUNDLE_",
    "NODE_",
    "NPM_",
    "ELECTRON_",
    "JAVA_",
    "JDK_",
    "MAVEN_",
    "GRADLE_",
    "SBT_",
    "PHP_",
    "DOTNET_",
    "CORECLR_",
    "COR_",
    "COMPLUS_",
    "ERL_",
    "LUA_",
    "PIP_",
    "UV_",
    "CONDA_",
    "POETRY_",
    "GCONV",
    "GTK_",
    "GIO_",
    "GST_",
    "QT_",
    "OPENSSL_",
    "SSL_",
    "CURL_",
    "REQUESTS_",
    "SSH_",
    "GPG",
    "GNUPG",
    "KUBE",
    "AWS_",
    "GOOGLE_",
    "CLOUDSDK_",
    "AZURE_",
    "BASH",
    "ZSH",
    "HIST",
    "LESS",
    "VIM",
    "ZDOTDIR",
];

/// Families of names read by the dynamic loaders (`LD_PRELOAD`, `DYLD_INSERT_LIBRARIES`), by
/// bash for exported functions (`BASH_FUNC_`), by npm (`npm_config_script_shell`) and by
/// devport (`DEVPORT_REGISTRY`).
const FORBIDDEN_PREFIXES: &[&str] = &["LD_", "DYLD_", "DEVPORT_", "BASH_FUNC_", "NPM_CONFIG_"];

/// The variable name of a service: upper-cased, every character outside `A-Z0-9` turned into
/// `_`, plus `_PORT` (`web` → `WEB_PORT`, `api.v2` → `API_V2_PORT`), after `prefix`.
///
/// A name that would start with a digit, or fall in a family that loaders or devport read
/// (`LD_`, `DYLD_`, `DEVPORT_`), gets a leading `_`: `9lives` → `_9LIVES_PORT`, `ld` →
/// `_LD_PORT`. Service names cannot start with `_`, so this never meets another service's
/// name. The prefix goes before it unchanged (`--prefix APP_`: `APP__9LIVES_PORT`).
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
    let name = format!("{base}_PORT");
    let guard =
        if name.starts_with(|c: char| c.is_ascii_digit()) || forbidden_family(&name).is_some() {
            "_"
        } else {
            ""
        };
    format!("{prefix}{guard}{name}")
}

fn forbidden_family(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    FORBIDDEN_PREFIXES
        .iter()
        .copied()
        .find(|p| upper.starts_with(p))
}

/// Why `name` may not be used as a variable, if it may not.
pub fn name_problem(name: &str) -> Option<String> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Some(
            "a variable name is letters, digits and _, not starting with a digit".to_string(),
        );
    }
    if name == "_" {
        return Some("the shell sets _ itself after every command".to_string());
    }
    let upper = name.to_ascii_uppercase();
    if FORBIDDEN.contains(&upper.as_str()) {
        return Some(format!("{upper} changes how shells and programs run"));
    }
    let generated = upper.ends_with("_PORT")
        || upper
            .rsplit_once("_PORT_")
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !generated
        && let Some(family) = FORBIDDEN_CHOSEN_PREFIXES
            .iter()
            .find(|p| upper.starts_with(*p))
    {
        return Some(format!(
            "{family}… variables configure tools that can run code or read credentials"
        ));
    }
    if !generated && upper.ends_with("_PROXY") {
        return Some(format!("{upper} sends a program's traffic elsewhere"));
    }
    forbidden_family(name).map(|family| match family {
        "DEVPORT_" => "DEVPORT_ variables configure devport itself".to_string(),
        "LD_" | "DYLD_" => format!("{family} variables change how programs load libraries"),
        _ => format!("{family} variables change how programs run"),
    })
}

/// Checks a variable name given by a person (`--env`, `env = ...` in `devport.toml`): a POSIX
/// shell name (`[A-Za-z_][A-Za-z0-9_]*`) that is not one of the names that change how programs
/// run (`PATH`, `HOME`, `SHELL`, `IFS`, `ENV`, `BASH_ENV`, `PS0`-`PS4`, `PROMPT_COMMAND`,
/// `SHELLOPTS`, `NODE_OPTIONS`, `PYTHONPATH`, `GIT_SSH_COMMAND`, `PAGER` … see [`FORBIDDEN`],
/// and any `LD_*`, `DYLD_*`, `BASH_FUNC_*`, `NPM_CONFIG_*` or `DEVPORT_*`).
pub fn validate_var(name: &str) -> Result<()> {
    validate_var_like(name, "WEB_PORT")
}

/// [`validate_var`], whose refusal suggests `example` as a name to choose instead (`API_URL`
/// for a name of the manifest's `[env]` table).
pub fn validate_var_like(name: &str, example: &str) -> Result<()> {
    match name_problem(name) {
        None => Ok(()),
        Some(why) => Err(Error::invalid(
            crate::error::Input::Variable,
            format!(
                "the variable name {name:?} cannot be used: {why}; choose another, such as {example}"
            ),
        )),
    }
}

/// Checks a `--prefix`: shell-name characters, and not the start of a forbidden family
/// (`LD_`, `DYLD_`, `DEVPORT_`). The names it makes are checked again in [`vars`].
pub fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() {
        return Ok(());
    }
    // A prefix is the start of a name: check it as one, with a harmless tail.
    match name_problem(&format!("{prefix}X")) {
        None => Ok(()),
        Some(why) => Err(Error::invalid(
            crate::error::Input::Variable,
            format!("--prefix {prefix:?} cannot be used: {why}; choose another, such as APP_"),
        )),
    }
}

/// The names a service's claim sets: its name (the manifest's `env` in `names`, else
/// [`var_name`]), and for a block of `count` ports also `NAME_0` ... `NAME_{count-1}`.
pub fn service_vars(
    service: &str,
    count: u16,
    names: &BTreeMap<String, String>,
    prefix: &str,
) -> Vec<String> {
    let name = names
        .get(service)
        .map_or_else(|| var_name(service, prefix), |n| format!("{prefix}{n}"));
    let mut out = vec![name.clone()];
    if count > 1 {
        out.extend((0..count).map(|i| format!("{name}_{i}")));
    }
    out
}

/// Checks the names of services given as (service, block size) before anything is claimed or
/// written: every name valid and not forbidden, and no two services on one name (an error that
/// names both). Returns each service's names, in order.
pub fn check_names(
    services: &[(&str, u16)],
    names: &BTreeMap<String, String>,
    prefix: &str,
) -> Result<Vec<Vec<String>>> {
    let mut owner: BTreeMap<String, &str> = BTreeMap::new();
    let mut out = Vec::with_capacity(services.len());
    for &(service, count) in services {
        let vars = service_vars(service, count, names, prefix);
        for var in &vars {
            if let Some(why) = name_problem(var) {
                let fix = if prefix.is_empty() {
                    format!(
                        "set another name with `env = \"...\"` under [services.{service}] in devport.toml"
                    )
                } else {
                    format!("choose another --prefix than {prefix}")
                };
                return Err(Error::invalid(
                    crate::error::Input::Variable,
                    format!(
                        "service {service} would set {var}, which cannot be used: {why}; {fix}"
                    ),
                ));
            }
            if let Some(other) = owner.insert(var.clone(), service) {
                return Err(collision(other, service, var));
            }
        }
        out.push(vars);
    }
    Ok(out)
}

/// Refuses a new claim of `service` whose variable names meet those of another claim of the
/// same project (`api.v2` and `api-v2` both make `API_V2_PORT`). `others` are the project's
/// claims as (service, block size); claims that already share a name among themselves are left
/// alone, so existing claims keep working.
pub fn check_new_claim<'a>(
    others: impl IntoIterator<Item = (&'a str, u16)>,
    service: &str,
    count: u16,
    names: &BTreeMap<String, String>,
) -> Result<()> {
    let mine = service_vars(service, count, names, "");
    for (other, other_count) in others {
        if other == service {
            continue;
        }
        let theirs = service_vars(other, other_count, names, "");
        if let Some(var) = mine.iter().find(|v| theirs.contains(v)) {
            return Err(collision(other, service, var));
        }
    }
    Ok(())
}

fn collision(first: &str, second: &str, var: &str) -> Error {
    Error::invalid(
        crate::error::Input::Variable,
        format!(
            "services {first} and {second} would both set {var}; give one another name with `env = \"...\"` under [services.{second}] in devport.toml, or use another service name"
        ),
    )
}

/// The variables of `claims`: `NAME=first port`, and for a block also `NAME_0` ... `NAME_{N-1}`.
/// `names` overrides the name of a service. Every name is checked as in [`check_names`].
pub fn vars(
    claims: &[&Claim],
    names: &BTreeMap<String, String>,
    prefix: &str,
) -> Result<Vec<(String, String)>> {
    let services: Vec<(&str, u16)> = claims
        .iter()
        .map(|c| (c.service.as_str(), c.block.count))
        .collect();
    let all = check_names(&services, names, prefix)?;
    let mut out = Vec::new();
    for (c, vars) in claims.iter().zip(all) {
        let mut vars = vars.into_iter();
        if let Some(first) = vars.next() {
            out.push((first, c.block.port.to_string()));
        }
        out.extend(vars.zip(c.ports().iter()).map(|(v, p)| (v, p.to_string())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(var_name("web", ""), "WEB_PORT");
        assert_eq!(var_name("api.v2", ""), "API_V2_PORT");
        assert_eq!(var_name("my-db", "APP_"), "APP_MY_DB_PORT");
        // A leading digit or a loader's family gets a `_`, which no service name starts with.
        assert_eq!(var_name("9lives", ""), "_9LIVES_PORT");
        assert_eq!(var_name("9lives", "APP_"), "APP__9LIVES_PORT");
        assert_eq!(var_name("ld", ""), "_LD_PORT");
        assert_eq!(var_name("dyld-x", ""), "_DYLD_X_PORT");
        assert_eq!(
            var_name("devport", ""),
            "DEVPORT_PORT".replacen('D', "_D", 1)
        );
        assert_eq!(var_name("ldap", ""), "LDAP_PORT");
        for service in ["9lives", "ld", "devport-ui", "0", "web", "x.y-z_1"] {
            assert!(validate_var(&var_name(service, "")).is_ok(), "{service}");
        }
        assert!(validate_var("DATABASE_PORT").is_ok());
        // Tools' families are refused for chosen names, never for a service's generated one.
        for service in ["git", "docker", "node", "python-api", "ssh", "history"] {
            assert!(validate_var(&var_name(service, "")).is_ok(), "{service}");
            assert!(
                validate_var(&format!(
                    "{}_PORT_1",
                    service.to_uppercase().replace('-', "_")
                ))
                .is_ok()
            );
        }
        for chosen in [
            "XDG_CONFIG_HOME",
            "GIT_TEMPLATE_DIR",
            "HTTP_PROXY",
            "https_proxy",
            "VIMINIT",
            "HISTFILE",
            "KUBECONFIG",
            "RUSTC_WRAPPER",
            "LUA_INIT",
            "DOCKER_HOST",
            "GOFLAGS",
        ] {
            assert!(validate_var(chosen).is_err(), "{chosen}");
        }
        assert!(validate_var("_X").is_ok());
        for bad in [
            "9X",
            "A B",
            "",
            "A-B",
            "é",
            "PATH",
            "path",
            "Path",
            "HOME",
            "SHELL",
            "IFS",
            "ENV",
            "BASH_ENV",
            "CDPATH",
            "PS1",
            "PS4",
            "PROMPT_COMMAND",
            "LD_PRELOAD",
            "ld_library_path",
            "DYLD_INSERT_LIBRARIES",
            "DEVPORT_REGISTRY",
            "LD_",
        ] {
            let e = validate_var(bad).expect_err(bad).to_string();
            assert!(
                e.contains("cannot be used") && e.contains("choose another"),
                "{e}"
            );
        }
        assert!(validate_var("PS5").is_ok() && validate_var("LDAP").is_ok());
        assert!(validate_prefix("").is_ok() && validate_prefix("APP_").is_ok());
        for bad in ["LD_", "DYLD_X", "devport_", "9", "A-"] {
            assert!(validate_prefix(bad).is_err(), "{bad}");
        }
    }

    /// Issue 17's names that load code or configuration, which the deny-list let through: each
    /// is refused as a chosen name, while every service keeps its generated `*_PORT`.
    #[test]
    fn tool_families_are_refused_but_generated_ports_are_kept() {
        for chosen in [
            "IPYTHONDIR",
            "JUPYTER_CONFIG_DIR",
            "MAVEN_OPTS",
            "GRADLE_OPTS",
            "SBT_OPTS",
            "RUSTC",
            "RUSTC_WRAPPER",
            "RUSTFLAGS",
            "PHPRC",
            "PHP_INI_SCAN_DIR",
            "DOTNET_STARTUP_HOOKS",
            "CORECLR_PROFILER_PATH",
            "COR_PROFILER_PATH",
            "GTK_MODULES",
            "QT_PLUGIN_PATH",
            "PSQLRC",
            "ERL_FLAGS",
            "ELECTRON_RUN_AS_NODE",
            "PIP_INDEX_URL",
            "UV_INDEX_URL",
            "SSLKEYLOGFILE",
            "CURL_CA_BUNDLE",
            "SSL_CERT_FILE",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "AWS_CONFIG_FILE",
        ] {
            assert!(validate_var(chosen).is_err(), "{chosen}");
            assert!(
                validate_var(&chosen.to_ascii_lowercase()).is_err(),
                "{chosen}"
            );
        }
        let none = BTreeMap::new();
        for service in [
            "ipythondir",
            "jupyter",
            "maven",
            "gradle",
            "sbt",
            "rustc",
            "php",
            "dotnet",
            "cor",
            "coreclr",
            "qt",
            "gtk",
            "erl",
            "electron",
            "pip",
            "uv",
            "ssl",
            "curl",
            "google",
            "aws",
        ] {
            let name = var_name(service, "");
            assert_eq!(name, format!("{}_PORT", service.to_ascii_uppercase()));
            assert!(check_names(&[(service, 3)], &none, "").is_ok(), "{name}");
        }
        for fine in [
            "API_URL",
            "CORS_ORIGIN",
            "QTY_LIMIT",
            "PHPMYADMIN_URL",
            "UVICORN_HOST",
        ] {
            assert!(validate_var(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn names_are_checked_together() {
        let none = BTreeMap::new();
        let e = check_names(&[("api.v2", 1), ("api-v2", 1)], &none, "")
            .expect_err("collision")
            .to_string();
        assert!(
            e.contains("api.v2") && e.contains("api-v2") && e.contains("API_V2_PORT"),
            "{e}"
        );
        let names = BTreeMap::from([
            ("a".to_string(), "X".to_string()),
            ("b".to_string(), "X".to_string()),
        ]);
        assert!(check_names(&[("a", 1), ("b", 1)], &names, "").is_err());
        // A block's `NAME_0` meets another service's name.
        let names = BTreeMap::from([("b".to_string(), "A_PORT_0".to_string())]);
        assert!(check_names(&[("a", 2), ("b", 1)], &names, "").is_err());
        assert!(check_names(&[("a", 1), ("b", 1)], &names, "").is_ok());
        // Every name is checked, prefix included.
        let e = check_names(&[("web", 1)], &none, "LD_")
            .expect_err("LD_")
            .to_string();
        assert!(e.contains("LD_WEB_PORT") && e.contains("--prefix"), "{e}");
        let names = BTreeMap::from([("web".to_string(), "ATH".to_string())]);
        assert!(check_names(&[("web", 1)], &names, "P").is_err());
        // A new claim meets an existing one; existing clashes among others are left alone.
        assert!(check_new_claim([("api.v2", 1)], "api-v2", 1, &none).is_err());
        assert!(check_new_claim([("a.b", 1), ("a-b", 1)], "web", 1, &none).is_ok());
        assert!(check_new_claim([("api.v2", 1)], "api.v2", 1, &none).is_ok());
    }
}
