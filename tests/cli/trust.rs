//! Trusting a committed manifest: an untrusted `devport.toml` gets only its `*_PORT`
//! variables exported by `up`, `env` and `exec`, with one note on stderr; `devport trust`
//! records its path and hash in the user's own trust file, a changed manifest must be trusted
//! again, `--revoke` undoes it, `DEVPORT_TRUSTED_PATHS` trusts folders for CI, and `init`
//! trusts what it writes.

use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;
use std::process::Output;

#[cfg(unix)]
use crate::support::chmod;
use crate::support::{World, port, stderr, stdout};

/// A manifest whose `[env]` value and `env =` name no deny-list knows: a tool's startup folder
/// (as `IPYTHONDIR` was before issue 17) and a renamed port variable.
const MANIFEST: &str = "[services.web]\nenv = \"WEB_LISTEN\"\n[services.db]\ncount = 2\n\n[env]\nSOMETOOL_STARTUP_DIR = \"./.startup\"\nAPI_URL = \"http://localhost:{port:web}\"\n";

/// The project `name` with [`MANIFEST`], not trusted.
fn project(w: &World, name: &str) -> PathBuf {
    let dir = w.project(name);
    w.manifest(&dir, MANIFEST);
    dir
}

/// Runs `devport ARGS` in `dir`: it must succeed; returns its output.
fn run(w: &World, dir: &Path, args: &[&str]) -> Output {
    let out = w.cmd_in(dir, args).output().expect("devport runs");
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        out.status,
        stderr(&out)
    );
    out
}

/// The variables of `text` in `format` (sh or dotenv lines, or a JSON object).
fn vars(text: &str, format: &str) -> BTreeMap<String, String> {
    if format == "json" {
        serde_json::from_str(text).expect("an object of strings")
    } else {
        crate::support::dotenv(text).into_iter().collect()
    }
}

/// `devport --json trust --list` in `dir`.
fn trust_list(w: &World, dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&run(w, dir, &["--json", "trust", "--list"]).stdout).expect("json")
}

/// The lines of `err` that say what was withheld.
fn notes(err: &str) -> Vec<&str> {
    err.lines().filter(|l| l.contains("withheld")).collect()
}

/// Checks that only the `*_PORT` variables were exported, and that stderr said so exactly once,
/// naming what was withheld and the command to run in the project's folder.
fn assert_withheld(dir: &Path, got: &BTreeMap<String, String>, err: &str, why: &str) {
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["DB_PORT", "DB_PORT_0", "DB_PORT_1", "WEB_PORT"],
        "{got:?}"
    );
    let notes = notes(err);
    assert_eq!(notes.len(), 1, "one note: {err}");
    let folder = dunce::canonicalize(dir).expect("canonical");
    for needle in [
        why,
        "SOMETOOL_STARTUP_DIR",
        "API_URL",
        "WEB_LISTEN (env of web)",
        &format!("run 'devport trust' in {}", folder.display()),
    ] {
        assert!(notes[0].contains(needle), "{needle}: {err}");
    }
}

/// Checks that every variable of the trusted manifest was exported, and no note.
fn assert_exported(got: &BTreeMap<String, String>, err: &str) {
    let web = port(&got["WEB_LISTEN"]);
    assert_eq!(got["API_URL"], format!("http://localhost:{web}"));
    assert_eq!(got["SOMETOOL_STARTUP_DIR"], "./.startup");
    assert!(!got.contains_key("WEB_PORT"), "{got:?}");
    assert!(notes(err).is_empty(), "{err}");
}

/// The trust file of `w` (beside its registry).
fn trust_file(w: &World) -> PathBuf {
    w.dir.path().join("state/trusted.json")
}

/// `up`, `env` (every format, and `--write`) and `exec` of an untrusted manifest: the ports are
/// claimed and exported, the rest is withheld with one note, exit 0.
#[test]
fn an_untrusted_manifest_exports_its_ports_only() {
    let w = World::new();
    let dir = project(&w, "ushop");
    for format in ["sh", "dotenv", "json"] {
        for command in ["up", "env"] {
            let out = run(&w, &dir, &[command, "--format", format]);
            assert_withheld(
                &dir,
                &vars(&stdout(&out), format),
                &stderr(&out),
                "is not trusted",
            );
        }
    }
    let out = run(&w, &dir, &["--json", "env"]);
    assert_withheld(
        &dir,
        &vars(&stdout(&out), "json"),
        &stderr(&out),
        "is not trusted",
    );
    // The ports are claimed all the same.
    let claims = w.registry_json()["claims"].as_array().map_or(0, Vec::len);
    assert_eq!(claims, 2);
    for (command, file) in [
        (&["env", "--write", ".env"][..], ".env"),
        (&["up", "--write-env", "up.env"][..], "up.env"),
    ] {
        let out = run(&w, &dir, command);
        let written = std::fs::read_to_string(dir.join(file)).expect("written");
        assert_withheld(
            &dir,
            &vars(&written, "dotenv"),
            &stderr(&out),
            "is not trusted",
        );
    }
    #[cfg(unix)]
    {
        let out = run(&w, &dir, &["exec", "web", "--", "env"]);
        let mut got = vars(&stdout(&out), "dotenv");
        // The child also has the test's own environment (HOME, PATH …): keep devport's.
        got.retain(|k, _| {
            k.ends_with("_PORT")
                || k.contains("_PORT_")
                || ["API_URL", "SOMETOOL_STARTUP_DIR", "WEB_LISTEN"].contains(&k.as_str())
        });
        assert_withheld(&dir, &got, &stderr(&out), "is not trusted");
    }
}

/// `devport trust` exports everything; an edit withholds it again until trusted again;
/// `--revoke` withholds it; the trust file is the user's, beside the registry, 0600.
#[test]
fn trust_exports_until_the_manifest_changes_or_is_revoked() {
    let w = World::new();
    let dir = project(&w, "tshop");
    let out = run(&w, &dir, &["--json", "trust"]);
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let manifest = dunce::canonicalize(dir.join("devport.toml")).expect("canonical");
    assert_eq!(record["path"], manifest.display().to_string());
    assert_eq!(record["sha256"].as_str().map(str::len), Some(64));
    assert!(stderr(&out).contains("trusted"), "{}", stderr(&out));
    assert!(!dir.join("trusted.json").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let file = w.registry().with_file_name("trusted.json");
        let mode = std::fs::metadata(&file)
            .expect("trust file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for command in [
        &["up", "--format", "dotenv"][..],
        &["env", "--format", "dotenv"],
    ] {
        let out = run(&w, &dir, command);
        assert_exported(&vars(&stdout(&out), "dotenv"), &stderr(&out));
    }

    // One byte more is another manifest.
    let mut text = std::fs::read(dir.join("devport.toml")).expect("read");
    text.extend_from_slice(b"# edited\n");
    w.manifest(&dir, &text);
    let out = run(&w, &dir, &["env", "--format", "dotenv"]);
    let got = vars(&stdout(&out), "dotenv");
    assert_withheld(&dir, &got, &stderr(&out), "changed since you trusted it");
    let listed = trust_list(&w, &dir);
    assert_eq!(listed["manifests"][0]["state"], "changed", "{listed}");

    w.trust(&dir);
    let out = run(&w, &dir, &["env", "--format", "dotenv"]);
    assert_exported(&vars(&stdout(&out), "dotenv"), &stderr(&out));
    let listed = trust_list(&w, &dir);
    assert_eq!(listed["manifests"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["manifests"][0]["state"], "trusted", "{listed}");
    let table = stdout(&run(&w, &dir, &["trust", "--list"]));
    assert!(
        table.starts_with("MANIFEST") && table.contains(&manifest.display().to_string()),
        "{table}"
    );

    let out = run(&w, &dir, &["--json", "trust", "--revoke"]);
    let revoked: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(revoked["revoked"], true);
    let out = run(&w, &dir, &["env", "--format", "dotenv"]);
    assert_withheld(
        &dir,
        &vars(&stdout(&out), "dotenv"),
        &stderr(&out),
        "is not trusted",
    );
    let out = run(&w, &dir, &["--json", "trust", "--revoke"]);
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(again["revoked"], false);
    assert!(stderr(&out).contains("was not trusted"), "{}", stderr(&out));
}

/// A manifest whose folder is gone can still be revoked by path; `trust --list` says it is gone.
#[test]
fn a_gone_manifest_is_listed_and_revoked_by_path() {
    let w = World::new();
    let dir = project(&w, "gshop");
    w.trust(&dir);
    let manifest = dunce::canonicalize(dir.join("devport.toml")).expect("canonical");
    std::fs::remove_dir_all(&dir).expect("rm");
    let home = w.project("home");
    let listed = trust_list(&w, &home);
    assert_eq!(listed["manifests"][0]["state"], "gone", "{listed}");
    let path = manifest.display().to_string();
    let out = run(&w, &home, &["--json", "trust", "--revoke", &path]);
    let revoked: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(revoked["revoked"], true, "{revoked}");
    let listed = trust_list(&w, &home);
    assert_eq!(listed["manifests"], serde_json::json!([]));
}

/// `DEVPORT_TRUSTED_PATHS` trusts every manifest below its folders, for unattended runs; a
/// folder beside the project's does not, and a relative folder is refused (exit 2).
#[test]
fn trusted_paths_trust_folders_for_ci() {
    let w = World::new();
    let dir = project(&w, "cishop");
    run(&w, &dir, &["up"]);
    let with = |value: &std::ffi::OsStr| {
        let mut cmd = w.cmd_in(&dir, &["env", "--format", "dotenv"]);
        cmd.env("DEVPORT_TRUSTED_PATHS", value);
        cmd.output().expect("devport runs")
    };
    let other = w.dir("cishop-other");
    let list = std::env::join_paths([other.as_path(), w.dir.path()]).expect("a path list");
    let out = with(&list);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exported(&vars(&stdout(&out), "dotenv"), &stderr(&out));
    let out = with(other.as_os_str());
    assert_withheld(
        &dir,
        &vars(&stdout(&out), "dotenv"),
        &stderr(&out),
        "is not trusted",
    );
    let out = with("relative/folder".as_ref());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("DEVPORT_TRUSTED_PATHS") && stderr(&out).contains("absolute"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}

/// The manifest `init` writes is trusted from the start.
#[test]
fn init_trusts_the_manifest_it_writes() {
    let w = World::new();
    let dir = w.project("ishop");
    w.ok_at(&dir, &["init"]);
    let listed = trust_list(&w, &dir);
    let manifest = dunce::canonicalize(dir.join("devport.toml")).expect("canonical");
    assert_eq!(
        listed["manifests"][0]["path"],
        manifest.display().to_string()
    );
    assert_eq!(listed["manifests"][0]["state"], "trusted", "{listed}");
}

/// The case: `IPYTHONDIR` (and the other families it names) is refused outright, even
/// in a manifest the user trusts, while a name no deny-list knows waits for `devport trust`.
#[test]
fn ipythondir_is_refused_even_when_trusted() {
    let w = World::new();
    let dir = w.project("ipyshop");
    for name in [
        "IPYTHONDIR",
        "JUPYTER_CONFIG_DIR",
        "MAVEN_OPTS",
        "PIP_INDEX_URL",
    ] {
        w.manifest(
            &dir,
            format!("[services.web]\n[env]\n{name} = \"./.ipy\"\n"),
        );
        for args in [&["trust"][..], &["env"], &["up"]] {
            let out = w.fails_in(&dir, args, 2);
            assert!(
                stderr(&out).contains(name) && stderr(&out).contains("line 3"),
                "{name} {args:?}: {}",
                stderr(&out)
            );
        }
    }
    assert!(w.registry_bytes().is_empty(), "nothing was claimed");
}

/// `trust` with no manifest is bad usage (exit 2); a trust file that is not one devport can
/// use (a FIFO, not JSON) fails every command that reads it (exit 3) and is never rewritten.
#[test]
fn bad_trust_files_and_no_manifest_are_refused() {
    let w = World::new();
    let bare = w.project("bare");
    let out = w.fails_in(&bare, &["trust"], 2);
    assert!(stderr(&out).contains("no devport.toml"), "{}", stderr(&out));
    let dir = project(&w, "fshop");
    let file = w.registry().with_file_name("trusted.json");
    w.file(&file, "{ not json");
    for args in [
        &["trust"][..],
        &["env"],
        &["trust", "--list"],
        &["trust", "--revoke"],
    ] {
        let out = w.fails_in(&dir, args, 3);
        let err = stderr(&out);
        assert!(
            err.contains(&file.display().to_string()) && err.contains("line 1"),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "{ not json");
    #[cfg(unix)]
    {
        std::fs::remove_file(&file).expect("rm");
        nix::unistd::mkfifo(&file, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        let out = w.fails_in(&dir, &["env"], 3);
        assert!(stderr(&out).contains("FIFO"), "{}", stderr(&out));
    }
}

/// A trust file another user owns is refused (exit 3), as the registry is: it could trust any
/// manifest.
#[cfg(unix)]
#[test]
#[ignore = "needs root: chown to nobody"]
fn a_trust_file_of_another_user_is_refused() {
    let w = World::new();
    let dir = project(&w, "oshop");
    w.trust(&dir);
    let file = w.registry().with_file_name("trusted.json");
    nix::unistd::chown(&file, Some(nix::unistd::Uid::from_raw(65534)), None).expect("chown");
    let out = w.fails_in(&dir, &["env"], 3);
    assert!(
        stderr(&out).contains("trust file") && stderr(&out).contains("uid 65534"),
        "{}",
        stderr(&out)
    );
    // Root is not told to copy the user's file "in its place": under `sudo -E` that would take
    // the user's file over.
    assert!(
        stderr(&out).contains("run devport as nobody instead") && !stderr(&out).contains("copy it"),
        "{}",
        stderr(&out)
    );
}

#[cfg(unix)]
#[test]
fn trust_says_why_there_is_nothing_to_trust() {
    let w = World::new();
    let dir = project(&w, "shop");
    let out = w.fails_in(&dir, &["--global", "trust"], 2);
    assert!(
        stderr(&out).contains("--global claims have no manifest"),
        "{}",
        stderr(&out)
    );
    // A manifest in a folder every user may write is skipped, and trust says so.
    chmod(&dir, 0o777);
    let out = w.fails_in(&dir, &["trust"], 3);
    let err = stderr(&out);
    assert!(
        err.contains("devport.toml was skipped, so it cannot be trusted")
            && err.contains("every user may write")
            && !err.contains("no devport.toml"),
        "{err}"
    );
    assert!(!trust_file(&w).exists());
}

/// Processes that trust different manifests at once each keep their record: the file is
/// changed under the registry's lock.
#[test]
fn parallel_trusts_keep_every_record() {
    let w = World::new();
    let dirs: Vec<PathBuf> = (0..8).map(|i| project(&w, &format!("p{i}"))).collect();
    let children: Vec<std::process::Child> = dirs
        .iter()
        .map(|d| {
            w.std_cmd_in(d, &["trust"])
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("wait").success());
    }
    let listed: serde_json::Value =
        serde_json::from_slice(&run(&w, &dirs[0], &["--json", "trust", "--list"]).stdout)
            .expect("json");
    assert_eq!(
        listed["manifests"].as_array().map(Vec::len),
        Some(8),
        "{listed}"
    );
}

/// Paths that are not UTF-8 or hold control characters, given by hand or in
/// `DEVPORT_TRUSTED_PATHS`, are shown escaped and never make devport panic.
#[cfg(unix)]
#[test]
fn odd_paths_are_shown_not_fatal() {
    use std::os::unix::ffi::OsStrExt as _;
    let w = World::new();
    let dir = project(&w, "oddshop");
    let odd = w
        .dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"bad\xff\x1b[31m"));
    w.dir(&odd);
    let out = w
        .cmd_in(&dir, &["--json", "trust", "--revoke"])
        .arg(&odd)
        .output()
        .expect("devport runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains('\u{1b}'), "{}", stderr(&out));
    let revoked: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(revoked["revoked"], false);
    for args in [&["--json", "trust", "--list"][..], &["trust", "--list"]] {
        let out = w
            .cmd_in(&dir, args)
            .env("DEVPORT_TRUSTED_PATHS", &odd)
            .output()
            .expect("devport runs");
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains('\u{1b}') && !stdout(&out).contains('\u{1b}'),
            "{}",
            stderr(&out)
        );
    }
}

/// A manifest that sets no `[env]` value and no variable name of its own (`env =` the default
/// name) exports everything without trust, and says nothing.
#[test]
fn a_manifest_without_values_needs_no_trust() {
    let w = World::new();
    let dir = w.project("plainshop");
    w.manifest(&dir, "[services.web]\nenv = \"WEB_PORT\"\n[services.db]\n");
    let out = run(&w, &dir, &["up", "--format", "dotenv"]);
    let got = vars(&stdout(&out), "dotenv");
    assert_eq!(got.keys().collect::<Vec<_>>(), ["DB_PORT", "WEB_PORT"]);
    assert_eq!(stderr(&out), "");
}

#[cfg(unix)]
#[test]
fn a_trust_file_others_may_write_is_refused_and_flagged() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = World::new();
    let shop = project(&w, "shop");
    w.trust(&shop);
    let file = trust_file(&w);
    for mode in [0o666, 0o620] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let before = std::fs::read(&file).expect("read");
        for args in [&["env"][..], &["trust"], &["trust", "--list"]] {
            let out = w.fails_in(&shop, args, 3);
            assert!(
                stderr(&out).contains(&format!("has mode {mode:04o}, so other users could trust")),
                "{args:?}: {}",
                stderr(&out)
            );
            assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        }
        assert_eq!(std::fs::read(&file).expect("read"), before);
        let out = w.cmd_in(&shop, &["doctor"]).output().expect("doctor");
        assert!(
            stdout(&out).contains("trust-permissions:"),
            "{}",
            stdout(&out)
        );
    }
}

#[cfg(unix)]
#[test]
fn a_linked_trust_file_is_kept_as_the_registry_is() {
    let w = World::new();
    let shop = project(&w, "shop");
    let file = trust_file(&w);
    // A symlink is followed: the write replaces the target and keeps the link.
    let real = w.dir.path().join("real-trusted.json");
    w.file(&real, "{\"version\": 1, \"manifests\": []}\n");
    std::os::unix::fs::symlink(&real, &file).expect("symlink");
    w.trust(&shop);
    assert!(
        std::fs::symlink_metadata(&file)
            .expect("stat")
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .expect("read")
            .contains("devport.toml")
    );
    run(&w, &shop, &["trust", "--revoke"]);
    assert!(
        std::fs::symlink_metadata(&file)
            .expect("stat")
            .file_type()
            .is_symlink()
    );
    assert!(
        !std::fs::read_to_string(&real)
            .expect("read")
            .contains("devport.toml")
    );

    // A hard link is refused: a replace would split the two names.
    std::fs::remove_file(&file).expect("rm");
    std::fs::hard_link(&real, &file).expect("link");
    let before = std::fs::read(&real).expect("read");
    let out = w.fails_in(&shop, &["trust"], 3);
    assert!(
        stderr(&out).contains("has 2 hard links"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&real).expect("read"), before);
}

#[cfg(unix)]
#[test]
fn trust_refuses_a_registry_every_other_command_refuses() {
    let w = World::new();
    let shop = project(&w, "shop");
    let dev = w.dir.path().join("dev");
    std::fs::create_dir(&dev).expect("mkdir");
    let fifo = dev.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    for args in [&["trust"][..], &["trust", "--revoke"]] {
        let mut all = vec!["--registry", fifo.to_str().expect("utf-8")];
        all.extend(args);
        w.fails_in(&shop, &all, 3);
        assert_eq!(std::fs::read_dir(&dev).expect("ls").count(), 1, "{args:?}");
    }
    for text in ["{bad", "{\"version\": 99, \"claims\": []}"] {
        w.file(w.registry(), text);
        for args in [&["trust"][..], &["trust", "--revoke"]] {
            let out = w.fails_in(&shop, args, 3);
            assert!(stderr(&out).contains("registry"), "{}", stderr(&out));
            assert!(!trust_file(&w).exists(), "{args:?} {text}");
        }
    }
}

#[test]
fn bad_files_are_named_in_the_users_words() {
    let w = World::new();
    let shop = project(&w, "shop");
    let file = trust_file(&w);
    let trust_cases = [
        ("null", "expected an object"),
        ("{\"version\": 1, \"manifests\": [1]}", "expected an object"),
        (
            "{\"version\": -1}",
            "expected a whole number from 0 to 4294967295",
        ),
    ];
    for (text, want) in trust_cases {
        w.file(&file, text);
        let err = stderr(&w.fails_in(&shop, &["trust", "--list"], 3));
        assert!(err.contains(want), "{text}: {err}");
        assert!(
            !err.contains("struct") && !err.contains("u32"),
            "{text}: {err}"
        );
    }
    std::fs::remove_file(&file).expect("rm");
    let registry_cases = [
        ("[]", "invalid type: a list, expected an object"),
        (
            "{\"version\": 1, \"claims\": [], \"leases\": [{\"port\": \"x\", \"pid\": 1, \"created\": \"2026-01-01T00:00:00Z\"}]}",
            "expected a whole number from 0 to 65535",
        ),
    ];
    for (text, want) in registry_cases {
        w.file(w.registry(), text);
        let err = stderr(&w.fails_in(&shop, &["list"], 3));
        assert!(err.contains(want), "{text}: {err}");
        assert!(
            !err.contains("struct") && !err.contains("u16"),
            "{text}: {err}"
        );
    }
}

#[test]
fn unknown_keys_of_a_trust_entry_are_kept() {
    let w = World::new();
    let shop = project(&w, "shop");
    let other = project(&w, "other");
    w.trust(&shop);
    let file = trust_file(&w);
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    json["manifests"][0]["note"] = "from a newer devport".into();
    w.file(&file, json.to_string());
    w.trust(&other);
    w.trust(&shop);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    let notes: Vec<&serde_json::Value> = json["manifests"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r.get("note"))
        .collect();
    assert_eq!(notes, [&serde_json::Value::from("from a newer devport")]);
}
