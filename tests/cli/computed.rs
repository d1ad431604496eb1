//! Computed values (`[env]` in devport.toml): exported by `env`, `up` and `exec` in every
//! format, refused with file, line and column before anything is claimed or written, and read
//! back unchanged by a shell, devport's own dotenv reader, docker compose and direnv.

use std::collections::BTreeMap;
#[cfg(unix)]
use std::path::Path;

#[cfg(unix)]
use crate::support::bin;
use crate::support::{World, port, project, stderr, stdout};

/// A value that quoting rules meet: blanks, `"`, backticks, `$`, `#` and braces written
/// `{{ }}`. (A value with `'` and `$`, or a backslash, cannot be written to a `.env` every
/// reader reads back the same: refused, see
/// `bad_env_tables_are_refused_before_anything_is_claimed_or_written`.)
const TRICKY_TOML: &str = r#"NOTE = "say \"$HOME\" `x` #1 {{x}} {project}""#;
/// What [`TRICKY_TOML`] stands for in project `name`.
fn tricky(name: &str) -> String {
    format!("say \"$HOME\" `x` #1 {{x}} {name}")
}

/// The ports `up` gave `api` and `db` (from the JSON format).
fn ports(vars: &BTreeMap<String, String>) -> (u16, u16) {
    (port(&vars["API_PORT"]), port(&vars["DB_PORT"]))
}

fn json_vars(text: &str) -> BTreeMap<String, String> {
    serde_json::from_str(text).expect("an object of strings")
}

/// `sh -c 'eval "$X"; printf ...'`: what a shell makes of `eval "$(devport ...)"`, one
/// variable a line.
#[cfg(unix)]
fn eval_sh(w: &World, dir: &Path, exported: &str, names: &[&str]) -> Vec<String> {
    let prints: Vec<String> = names
        .iter()
        .map(|n| format!("printf '%s\\0' \"${n}\""))
        .collect();
    let prints = prints.join("\n");
    let script = format!("eval \"$DEVPORT_TEST_X\" || exit 9\n{prints}");
    let out = w
        .program_in("sh", dir, &["-c", &script])
        .env("DEVPORT_TEST_X", exported)
        .output()
        .expect("sh runs");
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .split_terminator('\0')
        .map(str::to_string)
        .collect()
}

#[test]
fn up_and_env_export_computed_values_in_every_format() {
    let w = World::new();
    let dir = project(&w, "cshop", TRICKY_TOML);
    let vars = json_vars(&w.ok_at(&dir, &["up", "--json"]));
    let (api, db) = ports(&vars);
    let expected = BTreeMap::from([
        ("API_URL", format!("http://localhost:{api}")),
        (
            "DATABASE_URL",
            format!("postgres://app@localhost:{db}/cshop"),
        ),
        ("REPLICA", format!("localhost:{}", db + 1)),
        ("NOTE", tricky("cshop")),
    ]);
    for (name, value) in &expected {
        assert_eq!(vars.get(*name), Some(value), "{name} in up --json");
    }
    // The port variables are still there, unchanged: the JSON object only gains keys.
    assert_eq!(vars["DB_PORT_1"], (db + 1).to_string());
    assert_eq!(vars.len(), 4 + expected.len());
    assert_eq!(json_vars(&w.ok_at(&dir, &["env", "--json"])), vars);

    // dotenv, printed and written, reads back as dotenv loaders read it.
    let dotenv = w.ok_at(&dir, &["env", "--format", "dotenv"]);
    let read: BTreeMap<String, String> = crate::support::dotenv(&dotenv).into_iter().collect();
    assert_eq!(read, vars);
    w.file(dir.join(".env"), "KEEP='me'\nNOTE=old # note\n");
    w.ok_at(&dir, &["env", "--format", "dotenv", "--write", ".env"]);
    let written = std::fs::read_to_string(dir.join(".env")).expect("read .env");
    let read: BTreeMap<String, String> = crate::support::dotenv(&written).into_iter().collect();
    assert_eq!(read.get("KEEP").map(String::as_str), Some("me"));
    assert_eq!(read.get("NOTE"), Some(&tricky("cshop")));
    assert!(written.contains(" # note\n"), "{written}");
    // A second write changes nothing.
    w.ok_at(&dir, &["env", "--format", "dotenv", "--write", ".env"]);
    assert_eq!(
        std::fs::read_to_string(dir.join(".env")).expect("read"),
        written
    );

    // sh: eval gives back every value unchanged.
    #[cfg(unix)]
    for command in [&["env"][..], &["up"][..]] {
        let exported = w.ok_at(&dir, command);
        let names: Vec<&str> = expected.keys().copied().collect();
        let values: Vec<String> = expected.values().cloned().collect();
        assert_eq!(eval_sh(&w, &dir, &exported, &names), values, "{command:?}");
    }
}

#[test]
fn prefix_applies_to_computed_names_and_unclaimed_services_are_named() {
    let w = World::new();
    let dir = project(&w, "pshop", "");
    // Nothing claimed yet: the values that read ports are left out, each named on stderr.
    let out = w
        .cmd_in(&dir, &["env", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(json_vars(&stdout(&out)), BTreeMap::new());
    let err = stderr(&out);
    for name in ["API_URL", "DATABASE_URL", "REPLICA"] {
        assert!(
            err.contains(&format!("{name} is not set")) && err.contains("devport up"),
            "{err}"
        );
    }
    w.ok_at(&dir, &["up"]);
    let vars = json_vars(&w.ok_at(&dir, &["env", "--json", "--prefix", "APP_"]));
    assert!(vars.contains_key("APP_API_URL") && vars.contains_key("APP_API_PORT"));
    assert!(!vars.contains_key("API_URL"));
}

#[cfg(unix)]
#[test]
fn exec_gives_the_child_the_computed_values() {
    let w = World::new();
    let dir = project(&w, "eshop", TRICKY_TOML);
    w.ok_at(&dir, &["up"]);
    let vars = json_vars(&w.ok_at(&dir, &["env", "--json"]));
    let out = w.ok_at(
        &dir,
        &[
            "exec",
            "api",
            "--",
            "sh",
            "-c",
            "printf '%s|%s|%s|%s' \"$API_URL\" \"$DATABASE_URL\" \"$NOTE\" \"$PORT\"",
        ],
    );
    assert_eq!(
        out,
        format!(
            "{}|{}|{}|{}",
            vars["API_URL"],
            vars["DATABASE_URL"],
            tricky("eshop"),
            vars["API_PORT"]
        )
    );
}

/// Every bad `[env]` is exit 2, one line naming the file, line and column, and nothing is
/// claimed or written — by `up --write-env`, `env --write` and `exec`.
#[test]
#[allow(clippy::too_many_lines, reason = "one table of cases")]
fn bad_env_tables_are_refused_before_anything_is_claimed_or_written() {
    let w = World::new();
    let dir = w.project("bshop");
    let cases: &[(&str, &str, &str)] = &[
        (
            "X = \"{port:nope}\"",
            "line 5, column 5",
            "nope, which is not a service of devport.toml (it has api, db)",
        ),
        (
            "X = \"{port:db:2}\"",
            "line 5, column 5",
            "db has 2 port(s), numbered from 0 to 1",
        ),
        (
            "X = \"a {port:db\"",
            "line 5, column 5",
            "the { at character 3 is never closed",
        ),
        (
            "X = \"a } b\"",
            "line 5, column 5",
            "write }} for a literal brace",
        ),
        (
            "X = \"{host}\"",
            "line 5, column 5",
            "use {port:SERVICE}, {port:SERVICE:N}, {project} or {checkout}",
        ),
        (
            "X = \"{port:db:one}\"",
            "line 5, column 5",
            "from 0 (the first port)",
        ),
        ("X = \"a\\nb\"", "line 5, column 5", "control character"),
        ("X = 1", "line 5, column 5", "must be a string"),
        (
            "DB_PORT_1 = \"x\"",
            "line 5, column 1",
            "meets the variable DB_PORT_1",
        ),
        (
            "api_port = \"x\"",
            "line 5, column 1",
            "meets the variable API_PORT",
        ),
        (
            "PORT = \"x\"",
            "line 5, column 1",
            "meets the variable PORT",
        ),
        (
            "LD_PRELOAD = \"x\"",
            "line 5, column 1",
            "LD_ variables change how programs load",
        ),
        (
            "PS0 = \"$(id)\"",
            "line 5, column 1",
            "PS0 changes how shells and programs run",
        ),
        ("_ = \"x\"", "line 5, column 1", "the shell sets _ itself"),
        (
            "XDG_CONFIG_HOME = \".cfg\"",
            "line 5, column 1",
            "configure tools that can run code",
        ),
        (
            "X = \"${{HOME}}\"",
            "line 5, column 5",
            "expand even in single quotes",
        ),
        (
            "NODE_OPTIONS = \"--require x\"",
            "line 5, column 1",
            "changes how shells and programs run",
        ),
        (
            "X = \"it's $HOME `id`\"",
            "line 5, column 5",
            "cannot be written to .env files",
        ),
        ("X = 'x\\'", "line 5, column 5", "holds a backslash"),
        (
            "\"9X\" = \"x\"",
            "line 5, column 1",
            "not starting with a digit",
        ),
        (
            "\"A\\u001b[31mB\" = \"x\"",
            "line 5, column 1",
            "letters, digits and _",
        ),
    ];
    for (line, at, words) in cases {
        let text = format!("[services.api]\n[services.db]\ncount = 2\n[env]\n{line}\n");
        w.manifest(&dir, &text);
        for args in [
            &["up", "--write-env", ".env"][..],
            &["env", "--write", ".env"][..],
            &["exec", "api", "--", "true"][..],
        ] {
            let out = w.fails_in(&dir, args, 2);
            let err = stderr(&out);
            assert!(
                !err.contains('\n') && !err.contains('\u{1b}'),
                "{line}: {err:?}"
            );
            assert!(
                err.contains(&dir.join("devport.toml").display().to_string())
                    && err.contains(at)
                    && err.contains(words),
                "{line} ({args:?}): want {at:?} and {words:?}: {err}"
            );
            assert!(out.stdout.is_empty(), "{line}: printed {:?}", out.stdout);
        }
        assert!(
            w.registry_bytes().is_empty(),
            "{line}: the registry was written"
        );
        assert!(!dir.join(".env").exists(), "{line}: .env was written");
    }
}

/// A claim outside the manifest (`devport claim`, `exec` of another service) may meet an
/// `[env]` name: refused (exit 2) before it is claimed or run.
#[test]
fn computed_names_meet_claims_outside_the_manifest() {
    let w = World::new();
    let dir = w.project("oshop");
    w.trusted_manifest(&dir, "[services.api]\n[env]\nCACHE_PORT = \"{port:api}\"\n");
    let out = w.fails_in(&dir, &["exec", "cache", "--", "true"], 2);
    assert!(stderr(&out).contains("CACHE_PORT"), "{}", stderr(&out));
    assert!(
        w.registry_bytes().is_empty(),
        "exec claimed before refusing"
    );
    let out = w.fails_in(
        &dir,
        &["exec", "api", "--env", "CACHE_PORT", "--", "true"],
        2,
    );
    assert!(stderr(&out).contains("CACHE_PORT"), "{}", stderr(&out));
    w.ok_at(&dir, &["claim", "cache"]);
    let out = w.fails_in(&dir, &["env", "--write", ".env"], 2);
    assert!(
        stderr(&out).contains("meets the variable CACHE_PORT"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join(".env").exists());
}

/// The direnv recipe: `.envrc` with `eval "$(devport up)"`, `direnv allow` and `devport trust`.
/// Before `devport trust` direnv gets the ports only (issue 17: a cloned repository's `[env]`
/// ran code through this recipe).
#[cfg(unix)]
#[test]
#[ignore = "needs direnv (Debian's direnv package; .ci/run installs it)"]
fn direnv_recipe_exports_the_computed_values() {
    let w = World::new();
    let dir = w.project("dshop");
    w.manifest(&dir, format!("[services.api]\n[services.db]\n[env]\nDATABASE_URL = \"pg://localhost:{{port:db}}/{{project}}\"\n{TRICKY_TOML}\n"),);
    w.file(dir.join(".envrc"), "eval \"$(devport up)\"\n");
    let path = format!(
        "{}:{}",
        bin().parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let direnv = |args: &[&str]| {
        w.program_in("direnv", &dir, args)
            .env("PATH", &path)
            .env("XDG_DATA_HOME", w.dir.path().join("direnv-data"))
            .env("XDG_CONFIG_HOME", w.dir.path().join("direnv-config"))
            .env("XDG_CACHE_HOME", w.dir.path().join("direnv-cache"))
            .output()
            .expect("direnv is needed for this test")
    };
    let allowed = direnv(&["allow", "."]);
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    let print = [
        "exec",
        ".",
        "sh",
        "-c",
        "printf '%s|%s|%s' \"$DATABASE_URL\" \"$NOTE\" \"$DB_PORT\"",
    ];
    let before = direnv(&print);
    assert!(before.status.success(), "{}", stderr(&before));
    let db = port(&w.ok_at(&dir, &["claim", "db"]));
    assert_eq!(stdout(&before), format!("||{db}"));
    assert!(
        stderr(&before).contains("run 'devport trust'"),
        "{}",
        stderr(&before)
    );
    w.trust(&dir);
    let out = direnv(&print);
    assert!(out.status.success(), "{}", stderr(&out));
    let vars = json_vars(&w.ok_at(&dir, &["env", "--json"]));
    assert_eq!(
        stdout(&out),
        format!(
            "{}|{}|{}",
            vars["DATABASE_URL"],
            tricky("dshop"),
            vars["DB_PORT"]
        )
    );
}

/// The compose recipe: compose reads the `.env` devport writes, so `${DATABASE_URL}` in the
/// compose file is the computed URL, and a value with blanks, `$USER` and `#` arrives
/// unchanged. (`${USER}` would not: compose v1's python-dotenv 0.21 expands it even in single
/// quotes, as docs/commands.md says.)
#[cfg(unix)]
#[test]
#[ignore = "needs docker-compose (Debian's docker-compose package; .ci/run installs it)"]
fn compose_recipe_reads_the_computed_database_url() {
    let w = World::new();
    let dir = project(
        &w,
        "compshop",
        "GREETING = \"hello $USER # {{not a comment}}\"",
    );
    w.ok_at(&dir, &["up", "--write-env", ".env"]);
    w.file(dir.join("docker-compose.yml"),
        "services:\n  app:\n    image: alpine\n    environment:\n      DATABASE_URL: ${DATABASE_URL:?run devport up --write-env .env}\n      GREETING: ${GREETING}\n",);
    let out = w
        .program_in("docker-compose", &dir, &["config"])
        .env("USER", "someone-else")
        .output()
        .expect("docker-compose is needed for this test");
    assert!(out.status.success(), "{}", stderr(&out));
    let config: serde_yaml_ng::Value =
        serde_yaml_ng::from_slice(&out.stdout).expect("compose prints YAML");
    let env = &config["services"]["app"]["environment"];
    let vars = json_vars(&w.ok_at(&dir, &["env", "--json"]));
    assert_eq!(
        env["DATABASE_URL"].as_str(),
        Some(vars["DATABASE_URL"].as_str())
    );
    // `config` prints a `$` of a value as `$$`, so its output can be read again.
    assert_eq!(
        env["GREETING"].as_str().map(|v| v.replace("$$", "$")),
        Some("hello $USER # {not a comment}".to_string())
    );
}

/// A computed value that has no value now (its service is not claimed) is not left in `.env`
/// with an old port: its line is removed, the others are kept, and stderr says why.
#[test]
fn env_write_drops_a_computed_value_that_has_none_now() {
    let w = World::new();
    let dir = w.project("dshop");
    w.trusted_manifest(
        &dir,
        "[services.api]\n[services.db]\n[env]\nDATABASE_URL = \"pg://localhost:{port:db}\"\n",
    );
    w.file(
        dir.join(".env"),
        "KEEP=1\nDATABASE_URL=pg://localhost:1234\n# note\n",
    );
    let api = port(&w.ok_at(&dir, &["claim", "api"]));
    let out = w
        .cmd_in(&dir, &["env", "--write", ".env"])
        .output()
        .expect("env");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("DATABASE_URL is not set"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join(".env")).expect(".env"),
        format!("KEEP=1\n# note\nAPI_PORT={api}\n")
    );
}

/// `{project}` puts the folder's name into values: a name that would make a value no `.env`
/// reader reads back (a control character, `'` with `$`) is refused before anything is
/// claimed, as the manifest's own text is.
#[cfg(unix)]
#[test]
fn a_project_name_that_breaks_a_value_is_refused_before_claiming() {
    let w = World::new();
    for folder in ["esc\u{1b}[31mred", "q'$(id)"] {
        let dir = w.dir.path().join(folder);
        w.dir(dir.join(".git"));
        w.manifest(&dir, "[services.web]\n[env]\nP = \"{project}\"\n");
        for args in [
            &["up"][..],
            &["env"][..],
            &["exec", "web", "--", "true"][..],
        ] {
            let out = w.fails_in(&dir, args, 2);
            let err = stderr(&out);
            assert!(
                err.contains("[env] P puts the project name"),
                "{folder:?} {args:?}: {err}"
            );
            assert!(!err.contains('\u{1b}') && out.stdout.is_empty(), "{err:?}");
        }
        assert!(
            w.registry_bytes().is_empty(),
            "{folder:?}: claimed before refusing"
        );
    }
}
