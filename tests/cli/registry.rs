//! The registry: its file format, lock, location and size cap, corrupt or newer files kept and
//! reported, files of other users, links, FIFOs and open folders refused, and one read of it
//! per command (`up`, `exec`, `env`, the claim of an existing service; seen with strace).

#[cfg(unix)]
use std::os::unix::fs::MetadataExt as _;
#[cfg(unix)]
use std::path::Path;
#[cfg(unix)]
use std::path::PathBuf;

use serde_json::Value;

use crate::support::{World, stderr, stdout, web_and_db};
#[cfg(unix)]
use crate::support::{chmod, chown, ten_claims};

/// A file's bytes (empty for a folder), owner, group and mode.
#[cfg(unix)]
type State = (Vec<u8>, u32, u32, u32);

/// The [`State`] of each path (`None` for a missing one), to compare before and after a
/// refused command.
#[cfg(unix)]
fn snapshot(paths: &[&Path]) -> Vec<Option<State>> {
    paths
        .iter()
        .map(|p| {
            let meta = std::fs::symlink_metadata(p).ok()?;
            let bytes = if meta.is_file() {
                std::fs::read(p).expect("read")
            } else {
                Vec::new()
            };
            Some((bytes, meta.uid(), meta.gid(), meta.mode()))
        })
        .collect()
}

/// A world with a claim, so the registry and its lock exist; returns them with the folder.
#[cfg(unix)]
fn populated() -> (World, PathBuf, PathBuf, PathBuf) {
    let w = World::new();
    w.ok(&["claim", "web"]);
    let state = w.dir.path().join("state");
    let (registry, lock) = (state.join("registry.json"), state.join("registry.lock"));
    (w, state, registry, lock)
}

/// `devport ARGS` in `shop` through `setpriv` with `ids` (`--reuid=nobody` …).
#[cfg(unix)]
fn setpriv(w: &World, ids: &[&str], args: &[&str]) -> std::process::Output {
    let shop = w.project("shop");
    let mut all: Vec<&str> = ids.to_vec();
    let bin = crate::support::bin();
    all.push(bin.to_str().expect("utf-8"));
    all.extend(args);
    // Other users must reach the world's folder.
    chmod(w.dir.path(), 0o711);
    w.program_in("setpriv", &shop, &all)
        .output()
        .expect("run setpriv")
}

#[cfg(unix)]
const AS_NOBODY: [&str; 3] = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"];

/// `devport ARGS` in `dir` with `HOME=home` and no other place for the registry.
#[cfg(unix)]
fn with_home(w: &World, dir: &Path, home: &str, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = w.cmd_in(dir, args);
    cmd.env_remove("DEVPORT_REGISTRY")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", home);
    cmd
}

/// Runs each of `commands` in `shop`: each must exit 3 with one line on stderr that contains
/// `needle`, and leave the registry's bytes as they were.
fn refused_by_every(w: &World, commands: &[&[&str]], needle: &str) {
    let before = w.registry_bytes();
    for args in commands {
        let err = stderr(&w.fails(args, 3));
        assert!(
            err.contains(needle) && err.lines().count() == 1,
            "{args:?}: want one line with {needle:?}: {err}"
        );
        assert_eq!(w.registry_bytes(), before, "{args:?}: the file was changed");
    }
}

/// Edits the registry's JSON with `edit`, writes it back and returns the new bytes.
fn edit_registry(w: &World, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut value = w.registry_json();
    edit(&mut value);
    let text = serde_json::to_vec_pretty(&value).expect("json");
    w.file(w.registry(), &text);
    text
}

#[test]
fn corrupt_registry_is_reported_and_kept() {
    let w = World::new();
    w.file(w.registry(), "{\n  \"version\": 1,\n  \"claims\": [,]\n}\n");
    let before = w.registry_bytes();
    let out = w.fails(&["claim", "web"], 3);
    let err = stderr(&out);
    assert!(
        err.contains("line 3, column") && err.contains(&w.registry().display().to_string()),
        "{err}"
    );
    assert_eq!(w.registry_bytes(), before);
}

#[test]
fn newer_registry_version_is_refused() {
    let w = World::new();
    w.file(
        w.registry(),
        "{\"version\": 99, \"claims\": [], \"leases\": []}\n",
    );
    let before = w.registry_bytes();
    let out = w.fails(&["claim", "web"], 3);
    assert!(
        stderr(&out).contains("unsupported registry version (got 99, supports 1)"),
        "{}",
        stderr(&out)
    );
    w.cmd(&["list"]).assert().code(3);
    assert_eq!(w.registry_bytes(), before);
}

#[cfg(unix)]
#[test]
fn unwritable_registry_folder_is_exit_3() {
    let w = World::new();
    let dir = w.dir.path().join("state");
    chmod(&dir, 0o500);
    let mut cmd = w.std_cmd_in(&w.project("shop"), &["claim", "web"]);
    // Root ignores folder permissions: as root, the claim runs as `nobody`, which owns the
    // folder but may not write to it either.
    if nix::unistd::geteuid().is_root() {
        crate::support::run_as_nobody(&mut cmd, &w, &[&dir]);
    }
    let out = cmd.output().expect("run");
    chmod(&dir, 0o700);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(w.registry_bytes().is_empty());
}

#[test]
fn lock_timeout_names_the_holder() {
    let w = World::new();
    w.ok(&["claim", "a"]);
    let lock_path = w.dir.path().join("state/registry.lock");
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock_path)
        .expect("open lock");
    lock.lock().expect("lock");
    let before = w.registry_bytes();
    let out = w
        .cmd(&["claim", "b"])
        .env("DEVPORT_LOCK_TIMEOUT", "0.2")
        .assert()
        .code(3)
        .get_output()
        .clone();
    // Linux names the kernel's record of the holder; elsewhere the pid in the file is the
    // finished `claim a`, so no holder is named.
    let holder = if cfg!(target_os = "linux") {
        format!("pid {}", std::process::id())
    } else {
        "held by an unknown process".to_string()
    };
    assert!(stderr(&out).contains(&holder), "{}", stderr(&out));
    assert_eq!(w.registry_bytes(), before);
    // Readers do not need the lock.
    w.cmd(&["claim", "a"]).assert().success();
    // Closing the file releases the lock (Wine: File::unlock fails here with os error 33).
    drop(lock);
    w.cmd(&["claim", "b"]).assert().success();
}

#[test]
fn corrupt_registries_are_reported_and_kept() {
    let cases: &[(&str, &[u8], &str)] = &[
        ("empty", b"", "line 1"),
        (
            "truncated",
            b"{\n  \"version\": 1,\n  \"claims\": [\n    {\"project\": \"shop\",",
            "line 4",
        ),
        ("garbage", b"\x00\x01\x02\xff binary", "line 1"),
        (
            "invalid utf-8",
            b"{\"version\": 1, \"claims\": [{\"project\": \"\xff\xfe\"}]}",
            "line 1",
        ),
        (
            "wrong types",
            b"{\"version\": 1, \"claims\": {\"a\": 1}}",
            "line 1",
        ),
        (
            "version 99",
            b"{\"version\": 99, \"claims\": []}",
            "unsupported registry version (got 99",
        ),
    ];
    for (name, bytes, needle) in cases {
        let w = World::new();
        w.file(w.registry(), bytes);
        refused_by_every(
            &w,
            &[&["claim", "web"], &["list"], &["release", "--all"], &["gc"]],
            needle,
        );
        let out = w.fails(&["doctor", "--json"], 3);
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v[0]["code"], "registry-unreadable", "{name}");
    }
}

#[test]
fn a_directory_where_the_registry_should_be() {
    let w = World::new();
    w.dir(w.registry());
    let out = w.fails(&["claim", "web"], 3);
    assert!(
        stderr(&out).contains("is a folder, not a regular file"),
        "{}",
        stderr(&out)
    );
    assert!(w.registry().is_dir());
}

#[cfg(unix)]
#[test]
fn a_symlink_to_another_users_file_is_refused() {
    let w = ten_claims();
    let target = w.dir.path().join("theirs.json");
    std::fs::rename(w.registry(), &target).expect("move");
    std::os::unix::fs::symlink(&target, w.registry()).expect("symlink");
    // A link to one's own file is followed, and writes keep the link.
    w.ok(&["claim", "via-link"]);
    assert!(
        std::fs::symlink_metadata(w.registry())
            .expect("meta")
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&target)
            .expect("read")
            .contains("via-link")
    );
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: gives the registry's target to another user (chown)"]
fn a_symlink_to_another_users_file_is_refused_as_root() {
    let w = ten_claims();
    let target = w.dir.path().join("theirs.json");
    std::fs::rename(w.registry(), &target).expect("move");
    std::os::unix::fs::symlink(&target, w.registry()).expect("symlink");
    nix::unistd::chown(
        &target,
        Some(nix::unistd::Uid::from_raw(65534)),
        Some(nix::unistd::Gid::from_raw(65534)),
    )
    .expect("chown (run as root)");
    let before = std::fs::read(&target).expect("read");
    let out = w.fails(&["claim", "web"], 3);
    assert!(
        stderr(&out).contains("belongs to uid 65534"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&target).expect("read"), before);
}

#[cfg(unix)]
#[test]
fn a_world_writable_registry_folder_is_refused() {
    let w = ten_claims();
    let dir = w.dir.path().join("state");
    chmod(&dir, 0o777);
    let before = w.registry_bytes();
    let out = w.cmd(&["claim", "web"]).output().expect("run");
    chmod(&dir, 0o700);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("writable by every user") && stderr(&out).contains("chmod o-w"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.registry_bytes(), before);
}

#[cfg(unix)]
#[test]
fn a_group_shared_folder_gets_group_writable_files() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = World::new();
    let dir = w.dir.path().join("state");
    chmod(&dir, 0o770);
    w.ok(&["claim", "web"]);
    let mode = |name: &str| {
        std::fs::metadata(dir.join(name)).map_or(0, |m| m.permissions().mode() & 0o777)
    };
    assert_eq!(mode("registry.json"), 0o660);
    assert_eq!(mode("registry.lock"), 0o660);
    w.ok(&["doctor"]);
    // A private folder keeps private files.
    let w = World::new();
    w.ok(&["claim", "web"]);
    let dir = w.dir.path().join("state");
    assert_eq!(
        std::fs::metadata(dir.join("registry.json")).map_or(0, |m| m.permissions().mode() & 0o777),
        0o600
    );
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: a registry folder owned by nobody, used by root (sudo -E)"]
fn root_refuses_a_users_registry_and_changes_nothing() {
    let (w, state, registry, lock) = populated();
    for path in [&state, &registry, &lock] {
        chown(path, 65534, 65534);
    }
    let before = snapshot(&[&state, &registry, &lock]);
    for args in [&["claim", "db"][..], &["release", "web"], &["gc"]] {
        let out = w.fails(args, 3);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("registry folder {}", state.display()))
                && err.contains("belongs to nobody (uid 65534), not to you (root, uid 0)")
                && err.contains("run devport as nobody instead, without sudo")
                && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert_eq!(snapshot(&[&state, &registry, &lock]), before, "{args:?}");
    }
    // Reading changes nothing, and stays possible: root may look at the user's claims.
    assert!(w.ok(&["list"]).contains("web"));
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: a registry root once wrote, in a folder of nobody's"]
fn a_registry_another_user_left_in_your_folder_is_refused_with_the_way_back() {
    let (w, state, registry, lock) = populated();
    // The aftermath of an old `sudo -E devport claim`: nobody's folder, root's files.
    chown(&state, 65534, 65534);
    let before = snapshot(&[&state, &registry, &lock]);
    let out = setpriv(&w, &AS_NOBODY, &["claim", "db"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("registry {}", registry.display()))
            && err.contains("belongs to root (uid 0), not to you (nobody, uid 65534)")
            && err.contains(&format!(
                "take it back with 'sudo chown nobody {}'",
                registry.display()
            )),
        "{err}"
    );
    assert_eq!(snapshot(&[&state, &registry, &lock]), before);
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: devport run as nobody (setpriv) on root's registry"]
fn another_user_is_refused_on_roots_registry() {
    let (w, state, registry, lock) = populated();
    chmod(&state, 0o755);
    chmod(&registry, 0o644);
    let before = snapshot(&[&state, &registry, &lock]);
    let out = setpriv(&w, &AS_NOBODY, &["claim", "db"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("registry folder {}", state.display()))
            && err.contains("belongs to root (uid 0), not to you (nobody, uid 65534)"),
        "{err}"
    );
    assert_eq!(snapshot(&[&state, &registry, &lock]), before);
}

/// The group-shared registry docs/security.md documents: a setgid folder of the group, files 0660.
#[cfg(unix)]
#[test]
#[ignore = "needs root: a folder shared by group 4242, used by root and nobody as members"]
fn a_group_shared_registry_keeps_each_files_owner_group_and_mode() {
    const GROUP: u32 = 4242;
    let (w, state, registry, lock) = populated();
    chown(&state, 65534, GROUP);
    chmod(&state, 0o2770);
    for file in [&registry, &lock] {
        chown(file, 4243, GROUP);
        chmod(file, 0o660);
    }
    let owners = |path: &Path| {
        let m = std::fs::metadata(path).expect("stat");
        (m.uid(), m.gid(), m.mode() & 0o7777)
    };

    // Root is not a member by its own groups: refused, like any other non-member.
    let before = snapshot(&[&state, &registry, &lock]);
    let err = stderr(&w.fails(&["claim", "db"], 3));
    assert!(
        err.contains("is shared by the group gid 4242, and you (root, uid 0) are not a member"),
        "{err}"
    );
    assert_eq!(snapshot(&[&state, &registry, &lock]), before);

    // Root as a member by its own choice: the claim is written, and the registry keeps its
    // owner, group and mode (root may give the new file back).
    let as_member = ["--groups=4242"];
    let out = setpriv(&w, &as_member, &["claim", "db"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&registry)
            .expect("read")
            .contains("\"db\"")
    );
    assert_eq!(owners(&registry), (4243, GROUP, 0o660));
    assert_eq!(owners(&lock), (4243, GROUP, 0o660));

    // Another member, without root's power: the group and mode stay, so every member can
    // still use it (the file is the writer's now: only root can give a file away).
    let member = ["--reuid=nobody", "--regid=nogroup", "--groups=4242"];
    let out = setpriv(&w, &member, &["claim", "cache"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, gid, mode) = owners(&registry);
    assert_eq!((gid, mode), (GROUP, 0o660));
    // A new lock in the shared folder gets the folder's group and 0660.
    std::fs::remove_file(&lock).expect("rm lock");
    let out = setpriv(&w, &member, &["release", "cache"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(owners(&lock), (65534, GROUP, 0o660));
}

#[cfg(unix)]
#[test]
fn a_home_that_does_not_exist_gets_no_folders() {
    let w = World::new();
    let home = w.dir.path().join("gone/home");
    let shop = w.project("shop");
    let out = w
        .cmd_in(&shop, &["claim", "web"])
        .env_remove("DEVPORT_REGISTRY")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", &home)
        .assert()
        .code(3)
        .get_output()
        .clone();
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "the home folder {}, which does not exist",
            home.display()
        )),
        "{err}"
    );
    assert!(!w.dir.path().join("gone").exists());
}

#[cfg(unix)]
#[test]
fn a_relative_home_is_no_home() {
    let w = World::new();
    let shop = w.project("shop");
    // A cloned repository that ships its own trust file for its own manifest.
    w.manifest(&shop, "[env]\nEVIL = \"1\"\n");
    let state = shop.join(".local/state/devport");
    w.dir(&state);
    let out = with_home(&w, &shop, ".", &["up"])
        .assert()
        .code(3)
        .get_output()
        .clone();
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("HOME=. is a relative path"), "{err}");
    assert!(
        err.contains("set HOME to your absolute home folder"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&state).expect("ls").count(), 0);

    with_home(&w, &shop, "nothere", &["claim", "--global", "x"])
        .assert()
        .code(3);
    assert!(!shop.join("nothere").exists());
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: a uid with no entry in the user database"]
fn no_home_at_all_is_an_environment_failure() {
    let w = World::new();
    let shop = w.project("shop");
    chmod(w.dir.path(), 0o711);
    let bin = crate::support::bin();
    let out = w
        .program_in(
            "setpriv",
            &shop,
            &["--reuid=54321", "--regid=54321", "--clear-groups"],
        )
        .arg(&bin)
        .args(["claim", "--global", "x"])
        .env_remove("DEVPORT_REGISTRY")
        .env_remove("XDG_STATE_HOME")
        .env_remove("HOME")
        .output()
        .expect("run setpriv");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("HOME is not set and this user has no home folder"),
        "{}",
        stderr(&out)
    );
}

#[cfg(unix)]
#[test]
fn a_hard_linked_registry_or_env_file_is_refused_and_the_other_name_kept() {
    let (w, _, registry, _) = populated();
    let other = w.dir.path().join("other-name.json");
    std::fs::hard_link(&registry, &other).expect("link");
    let before = std::fs::read(&other).expect("read");
    let err = stderr(&w.fails(&["claim", "db"], 3));
    assert!(err.contains("has 2 hard links"), "{err}");
    assert_eq!(std::fs::read(&registry).expect("read"), before);
    assert_eq!(std::fs::metadata(&registry).expect("stat").nlink(), 2);

    std::fs::remove_file(&other).expect("rm");
    let shop = w.project("shop");
    let env = shop.join(".env");
    w.file(&env, "KEEP=1\n");
    let twin = w.dir.path().join("twin.env");
    std::fs::hard_link(&env, &twin).expect("link");
    let err = stderr(&w.fails(&["env", "--write", ".env"], 3));
    assert!(err.contains("has 2 hard links"), "{err}");
    assert_eq!(std::fs::read_to_string(&twin).expect("read"), "KEEP=1\n");
    assert_eq!(std::fs::metadata(&env).expect("stat").nlink(), 2);
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: a registry folder every user may write, owned by nobody"]
fn an_open_folder_of_another_user_gets_no_folder_inside_it_as_the_fix() {
    let w = World::new();
    let open = w.dir.path().join("open");
    std::fs::create_dir(&open).expect("mkdir");
    chmod(&open, 0o777);
    chown(&open, 65534, 65534);
    let out = w
        .cmd(&["claim", "web"])
        .env("DEVPORT_REGISTRY", open.join("registry.json"))
        .assert()
        .code(3)
        .get_output()
        .clone();
    let err = stderr(&out);
    assert!(err.contains("writable by every user"), "{err}");
    assert!(
        !err.contains(&format!("mkdir -m 700 {}/", open.display())),
        "{err}"
    );
    assert!(err.contains("not inside this one"), "{err}");
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: a folder a group shares, with a member's registry, used by root"]
fn root_outside_the_group_is_told_so() {
    let (w, state, registry, lock) = populated();
    chmod(&state, 0o2770);
    chown(&state, 0, 4242);
    for file in [&registry, &lock] {
        chown(file, 65534, 4242);
        chmod(file, 0o660);
    }
    let before = snapshot(&[&registry, &lock]);
    let err = stderr(&w.fails(&["claim", "db"], 3));
    assert!(
        err.contains("you (root") && err.contains("are not a member"),
        "{err}"
    );
    assert!(!err.contains("sudo chown"), "{err}");
    assert_eq!(snapshot(&[&registry, &lock]), before);
}

#[test]
fn unknown_keys_survive_every_write() {
    let w = web_and_db();
    let mut value = w.registry_json();
    value["written_by"] = "devport 9.9".into();
    value["claims"][0]["label"] = serde_json::json!({"color": "blue"});
    w.file(
        w.registry(),
        serde_json::to_vec_pretty(&value).expect("json"),
    );
    w.ok(&["claim", "cache"]);
    w.ok(&["release", "cache"]);
    let after = w.registry_json();
    assert_eq!(after["written_by"], "devport 9.9");
    let labelled: Vec<_> = after["claims"]
        .as_array()
        .expect("claims")
        .iter()
        .filter(|c| c["label"]["color"] == "blue")
        .collect();
    assert_eq!(labelled.len(), 1, "{after}");
}

/// A claim devport never writes — a port past 65535, a service name outside the rules `claim`
/// holds names to (it would reach shell completions and the commands `doctor` suggests) — makes
/// the registry invalid for every command alike, the lookup of an existing claim included, and
/// nothing is rewritten; a completion offers no service from it.
#[test]
fn every_command_agrees_a_claim_devport_never_writes_is_invalid() {
    for (key, bad) in [
        ("port", Value::from(70000)),
        ("service", "x$(touch pwned)".into()),
        ("service", "".into()),
    ] {
        let w = web_and_db();
        let mut value = w.registry_json();
        value["claims"][1][key] = bad.clone();
        let text = serde_json::to_string_pretty(&value).expect("json");
        w.file(w.registry(), &text);
        refused_by_every(
            &w,
            &[
                &["claim", "web"],
                &["claim", "db"],
                &["list"],
                &["env"],
                &["claim", "new"],
            ],
            "is not valid at line",
        );
        assert_eq!(w.registry_bytes(), text.as_bytes(), "{key} = {bad}");
        let offered = w
            .cmd(&["--", "devport", "kill", ""])
            .env("DEVPORT_COMPLETE", "fish")
            .assert()
            .success()
            .get_output()
            .clone();
        let offered = stdout(&offered);
        assert!(
            offered.lines().all(|line| line.starts_with("--")),
            "only options are offered, no service: {key} = {bad}: {offered}"
        );
    }
}

#[test]
fn an_empty_registry_reports_column_1() {
    let w = World::new();
    w.file(w.registry(), "");
    let out = w.fails(&["list"], 3);
    assert!(
        stderr(&out).contains("line 1, column 1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_registry_path_ending_in_a_slash_is_a_usage_error() {
    let w = World::new();
    let dir = format!("{}/", w.dir.path().join("newdir").display());
    // The folder is joined with the platform's separator; the slash is the user's own.
    let sep = std::path::MAIN_SEPARATOR;
    w.test(&["--registry", &dir, "claim", "web"])
        .stderr(&format!(
            "devport: registry path {{world}}{sep}newdir/ names a folder; give a file, such as \
             {{world}}{sep}newdir/registry.json\n"
        ))
        .status(2)
        .run();
    assert!(!w.dir.path().join("newdir").exists());
}

#[test]
fn absurd_lock_timeouts_are_usage_errors() {
    let w = web_and_db();
    for value in ["1e20", "-1", "NaN", "inf", "3601", "2h", "soon"] {
        w.test(&["claim", "web"])
            .env("DEVPORT_LOCK_TIMEOUT", value)
            .stderr(&format!(
                "devport: invalid DEVPORT_LOCK_TIMEOUT \"{value}\": give 0 to 3600 seconds, or a \
                 duration like 10s\n"
            ))
            .status(2)
            .run();
    }
    for value in ["0", "2.5", "10s", "1h"] {
        w.cmd(&["claim", "web"])
            .env("DEVPORT_LOCK_TIMEOUT", value)
            .assert()
            .success();
    }
}

#[cfg(unix)]
mod unix {
    use std::os::unix::fs::{PermissionsExt as _, symlink};
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o7777)
    }

    fn mkfifo(path: &Path) {
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    }

    #[test]
    fn a_lock_symlinked_to_a_victim_is_refused_and_the_victim_untouched() {
        let w = web_and_db();
        let lock = w.dir.path().join("state/registry.lock");
        let victim = w.dir.path().join("victim.txt");
        w.file(&victim, "precious\n");
        chmod(&victim, 0o644);
        std::fs::remove_file(&lock).expect("rm lock");
        symlink(&victim, &lock).expect("symlink");
        let before = w.registry_bytes();
        let out = w.fails(&["claim", "new"], 3);
        assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
        assert_eq!(std::fs::read(&victim).expect("read"), b"precious\n");
        assert_eq!(mode(&victim), 0o644);
        assert_eq!(w.registry_bytes(), before);
    }

    #[test]
    fn a_dangling_lock_link_creates_nothing() {
        let w = web_and_db();
        let lock = w.dir.path().join("state/registry.lock");
        let target = w.dir.path().join("made-by-devport");
        std::fs::remove_file(&lock).expect("rm lock");
        symlink(&target, &lock).expect("symlink");
        w.fails(&["claim", "new"], 3);
        assert!(!target.exists());
    }

    #[test]
    fn an_existing_lock_is_never_truncated_or_chmodded() {
        let w = web_and_db();
        let lock = w.dir.path().join("state/registry.lock");
        w.file(&lock, "0123456789abcdefghijklmnopqrstuvwxyz\n");
        chmod(&lock, 0o640);
        w.ok(&["claim", "new"]);
        let text = std::fs::read_to_string(&lock).expect("read");
        assert!(
            text.len() >= 37 && text.ends_with("klmnopqrstuvwxyz\n"),
            "{text:?}"
        );
        assert_eq!(mode(&lock), 0o640);
    }

    #[test]
    fn fifos_at_the_registry_or_lock_do_not_hang() {
        let w = web_and_db();
        let lock = w.dir.path().join("state/registry.lock");
        std::fs::remove_file(&lock).expect("rm lock");
        mkfifo(&lock);
        let out = w
            .cmd(&["claim", "new"])
            .timeout(Duration::from_secs(20))
            .assert()
            .code(3)
            .get_output()
            .clone();
        assert!(
            stderr(&out).contains("not a regular file"),
            "{}",
            stderr(&out)
        );
        std::fs::remove_file(&lock).expect("rm fifo");

        let w = World::new();
        mkfifo(&w.registry());
        for args in [&["list"][..], &["claim", "web"], &["check", "2276"]] {
            let out = w
                .cmd(args)
                .timeout(Duration::from_secs(20))
                .output()
                .expect("run");
            assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
            assert!(
                stderr(&out).contains("a FIFO, not a regular file")
                    || String::from_utf8_lossy(&out.stdout).contains("a FIFO, not a regular file"),
                "{args:?}: {}",
                stderr(&out)
            );
        }
    }

    #[test]
    fn a_hard_linked_lock_is_refused_and_the_other_file_kept() {
        let w = web_and_db();
        let lock = w.dir.path().join("state/registry.lock");
        let victim = w.dir.path().join("victim");
        w.file(&victim, "VICTIM\n");
        std::fs::remove_file(&lock).expect("rm lock");
        std::fs::hard_link(&victim, &lock).expect("link");
        let out = w.fails(&["claim", "new"], 3);
        assert!(stderr(&out).contains("hard links"), "{}", stderr(&out));
        assert_eq!(std::fs::read(&victim).expect("read"), b"VICTIM\n");
    }

    #[test]
    fn only_devports_own_leftover_temp_files_are_removed() {
        let w = web_and_db();
        let state = w.dir.path().join("state");
        let leftover = state.join(".registry.json.Ab3dE9.tmp");
        w.file(&leftover, "half a registry");
        let kept = [
            ".registry.json.my-notes.tmp",
            ".registry.json.tmp",
            ".registry.json..tmp",
            ".registry.json.AB\nCD.tmp",
        ];
        for name in kept {
            w.file(state.join(name), "mine");
        }
        let link = state.join(".registry.json.AAAAAA.tmp");
        symlink(w.dir.path().join("elsewhere"), &link).expect("symlink");
        w.ok(&["claim", "new"]);
        assert!(!leftover.exists());
        for name in kept {
            assert!(state.join(name).exists(), "{name}");
        }
        assert!(std::fs::symlink_metadata(&link).is_ok());
    }

    #[test]
    fn a_registry_linked_to_a_device_is_refused() {
        let w = World::new();
        symlink("/dev/zero", w.registry()).expect("symlink");
        // As root, /dev/zero passes the owner check and is refused as a device; as anyone
        // else, the owner check refuses it first. Either way: exit 3, promptly, no write.
        let out = w
            .cmd(&["claim", "web"])
            .timeout(Duration::from_secs(20))
            .assert()
            .code(3)
            .get_output()
            .clone();
        let err = stderr(&out);
        assert!(
            err.contains("a device, not a regular file") || err.contains("belongs to uid 0"),
            "{err}"
        );
    }

    #[test]
    fn a_registry_above_the_size_cap_is_refused() {
        let w = World::new();
        let file = std::fs::File::create(w.registry()).expect("create");
        file.set_len(65 * 1024 * 1024).expect("sparse file");
        drop(file);
        let out = w.fails(&["list"], 3);
        assert!(stderr(&out).contains("bytes"), "{}", stderr(&out));
        assert_eq!(
            std::fs::metadata(w.registry()).expect("meta").len(),
            65 * 1024 * 1024
        );
    }
}

#[test]
fn a_relative_devport_registry_is_a_usage_error_but_registry_may_be_relative() {
    let w = World::new();
    let shop = w.project("shop");
    let out = w
        .cmd_in(&shop, &["claim", "web"])
        .env("DEVPORT_REGISTRY", "rel.json")
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(stderr(&out).contains("absolute path"), "{}", stderr(&out));
    assert!(!shop.join("rel.json").exists());
    w.cmd_in(&shop, &["--registry", "rel.json", "claim", "web"])
        .assert()
        .success();
    assert!(shop.join("rel.json").is_file());
}

#[cfg(unix)]
#[test]
fn a_registry_in_a_sticky_shared_folder_gets_advice_that_is_safe_to_follow() {
    let w = World::new();
    let shared = w.dir.path().join("tmp");
    std::fs::create_dir(&shared).expect("mkdir");
    chmod(&shared, 0o1777);
    let registry = shared.join("x.json");
    let out = w
        .cmd(&[
            "--registry",
            registry.to_str().expect("utf-8"),
            "claim",
            "web",
        ])
        .assert()
        .code(3)
        .get_output()
        .clone();
    let err = stderr(&out);
    assert!(
        err.contains("mkdir -m 700") && !err.contains("chmod"),
        "{err}"
    );
    assert!(!registry.exists());
}

#[cfg(unix)]
#[test]
fn a_write_error_names_the_file_and_its_folder_not_a_temp_file() {
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    chmod(&shop, 0o555);
    let mut cmd = w.std_cmd_in(&shop, &["env", "--write", ".env"]);
    if nix::unistd::geteuid().is_root() {
        // Root ignores folder permissions; nobody, owning the read-only folder, does not.
        crate::support::run_as_nobody(&mut cmd, &w, &[&shop, &w.dir.path().join("state")]);
        let reg = w.registry();
        nix::unistd::chown(&reg, Some(nix::unistd::Uid::from_raw(65534)), None).expect("chown");
    }
    let out = cmd.output().expect("run");
    chmod(&shop, 0o755);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(".env") && !err.contains(".tmp") && !err.contains("DEVPORT_REGISTRY"),
        "{err}"
    );
    assert!(err.contains("may write to the folder"), "{err}");
}

#[test]
fn a_block_past_65535_is_refused_by_every_command() {
    for lease in [false, true] {
        let w = web_and_db();
        let before = edit_registry(&w, |v| {
            if lease {
                v["leases"] = serde_json::json!([{"port": 65535, "count": 2, "pid": 1,
                    "start_time": null, "created": "2026-01-01T00:00:00Z", "expires": null}]);
            } else {
                v["claims"][1]["port"] = 65535.into();
                v["claims"][1]["count"] = 2.into();
            }
        });
        refused_by_every(
            &w,
            &[&["claim", "web"], &["claim", "db"], &["list"], &["env"]],
            "past port 65535",
        );
        assert_eq!(w.registry_bytes(), before);
    }
}

#[test]
fn unknown_values_the_full_parse_refuses_are_refused_by_the_lookup_too() {
    for bad in ["1e999", "\"\\ud800\"", &"[".repeat(300)] {
        let w = web_and_db();
        let mut text = String::from_utf8(w.registry_bytes()).expect("utf-8");
        let closing = if bad.starts_with('[') {
            "]".repeat(300)
        } else {
            String::new()
        };
        text = text.replacen(
            "\"version\": 1,",
            &format!("\"version\": 1, \"x\": {bad}{closing},"),
            1,
        );
        w.file(w.registry(), &text);
        for args in [&["claim", "web"][..], &["list"]] {
            w.fails(args, 3);
        }
        assert_eq!(w.registry_bytes(), text.as_bytes());
    }
}

#[test]
fn a_write_that_would_pass_the_size_cap_is_refused() {
    let w = web_and_db();
    let mut value = w.registry_json();
    let size = serde_json::to_vec_pretty(&value).expect("json").len();
    // Just under the cap: readable now, but one more claim would pass it.
    value["padding"] = "x".repeat(64 * 1024 * 1024 - size - 40).into();
    let text = serde_json::to_vec_pretty(&value).expect("json");
    w.file(w.registry(), &text);
    let out = w.fails(&["claim", "growth"], 3);
    assert!(stderr(&out).contains("reads back"), "{}", stderr(&out));
    assert_eq!(w.registry_bytes(), text);
    w.ok(&["list", "--json"]);
}

/// How often `devport ARGS`, run in `dir` under `strace`, opens the registry for reading.
#[cfg(target_os = "linux")]
fn registry_reads(w: &World, dir: &Path, args: &[&str]) -> usize {
    let trace = w.dir.path().join("trace");
    let mut strace_args = vec!["-f", "-qq", "-e", "trace=open,openat", "-o"];
    let trace_arg = trace.to_str().expect("UTF-8 temp path");
    strace_args.push(trace_arg);
    strace_args.push(env!("CARGO_BIN_EXE_devport"));
    strace_args.extend_from_slice(args);
    let out = w
        .program_in("strace", dir, &strace_args)
        .output()
        .expect("run strace");
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let registry = format!("\"{}\"", w.registry().display());
    let text = std::fs::read_to_string(&trace).expect("read the trace");
    let opens: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&registry) && !l.contains("O_CREAT") && !l.contains("ENOENT"))
        .collect();
    assert!(
        opens.iter().all(|l| l.contains("O_RDONLY")),
        "{args:?} opened the registry otherwise than to read it:\n{}",
        opens.join("\n")
    );
    opens.len()
}

#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs strace: .ci/run installs it"]
fn up_exec_env_and_an_existing_claim_read_the_registry_once() {
    crate::support::require_tool("strace", &["-V"]);
    let w = World::new();
    let shop = w.project("shop");
    w.trusted_manifest(
        &shop,
        "[services.web]\n[services.db]\ncount = 2\n[env]\nDATABASE_URL = \"postgres://localhost:{port:db}/{project}\"\n",
    );
    // Another project's claim, so the registry holds more than this project's.
    w.ok_in("cart", &["claim", "api"]);
    w.ok_at(&shop, &["up"]);
    for args in [
        &["up"][..],
        &["up", "--json"],
        &["claim", "web"],
        &["claim", "db", "--count", "2", "--json"],
        &["exec", "web", "--", "true", "{port:db:1}"],
        &["env"],
    ] {
        assert_eq!(registry_reads(&w, &shop, args), 1, "{args:?}");
    }
}
