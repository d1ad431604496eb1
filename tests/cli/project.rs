//! Projects: what is a project root (`.git`, a worktree file, `devport.toml`), manifest errors
//! in the user's words, manifests in unsafe folders skipped, renamed and non-UTF-8 folders.

#[cfg(unix)]
use std::path::Path;

use crate::support::{BadInput, World, assert_bad_inputs, assert_one_line, json, names, stderr};
#[cfg(unix)]
use crate::support::{NOBODY, chmod, stdout, web_and_db};

/// Removes `/devport.toml` on drop if the test made it (only a broken build would).
#[cfg(unix)]
struct RemoveIfNew(bool);

#[cfg(unix)]
impl Drop for RemoveIfNew {
    fn drop(&mut self) {
        if self.0 {
            let _ = std::fs::remove_file("/devport.toml");
        }
    }
}

/// Bad manifests, each with where the message must point and what it must say.
const BAD_MANIFESTS: &[BadInput] = &[
    (
        "[services.web]\nprefer = \"abc\"\n",
        "line 2, column 10",
        "prefer must be a port number 1-65535, not a string",
    ),
    (
        "[services.web]\nprefer = \"3000\"\n",
        "line 2, column 10",
        "write 3000 without quotes",
    ),
    (
        "[services.web]\nport = 70000\n",
        "line 2, column 8",
        "port must be a port number 1-65535, not 70000",
    ),
    ("[services.web]\nport = -1\n", "line 2, column 8", "not -1"),
    (
        "[services.web]\nport = 1.5\n",
        "line 2, column 8",
        "not a decimal number",
    ),
    (
        "[services.web]\nport = [1]\n",
        "line 2, column 8",
        "not a list",
    ),
    (
        "[services.webapp]\nport = 1\n\n[services.web]\nport = 2\nprefer = 3\n",
        "line 6, column 1",
        "gives both `port` and `prefer`",
    ),
    (
        "[services.web]\ncount = 0\n",
        "line 2, column 9",
        "count must be a number of ports from 1 to 1000, not 0",
    ),
    (
        "[services.web]\ncount = \"3\"\n",
        "line 2, column 9",
        "count must be a number of ports",
    ),
    (
        "[services.web]\nproto = \"tcpx\"\n",
        "line 2, column 9",
        "proto must be \"tcp\", \"udp\" or \"both\", not \"tcpx\"",
    ),
    (
        "[services.web]\nproto = 6\n",
        "line 2, column 9",
        "not a whole number",
    ),
    (
        "[services.web]\nenv = true\n",
        "line 2, column 7",
        "env must be a variable name",
    ),
    (
        "[services.web]\nenv = \"9X\"\n",
        "line 2, column 7",
        "cannot be used",
    ),
    (
        "services = 3\n",
        "line 1, column 12",
        "services must be tables such as [services.web]",
    ),
    (
        "[services]\nweb = \"x\"\n",
        "line 2, column 7",
        "a service must be a table",
    ),
    (
        "[services.\"a b\"]\n",
        "line 1",
        "invalid character ' ' in service name",
    ),
    (
        "[services.web]\nprot = 1\n",
        "line 2, column 1",
        "unknown key `prot`",
    ),
    (
        "name = 3\n",
        "line 1, column 8",
        "name must be a project name",
    ),
    (
        "name = \"shop\"\n[services.web]\nprot = 1\n",
        "line 3, column 1",
        "unknown key `prot`",
    ),
    (
        "[services.web]\nport = \"x\"\n",
        "line 2, column 8",
        "port must be a port number 1-65535, not a string",
    ),
    ("[services.web\n", "line 1, column 14", "unclosed table"),
];

#[test]
fn a_git_worktree_file_marks_a_project_root() {
    let w = World::new();
    let main = w.project("shop");
    let tree = w.dir.path().join("shop-feature");
    w.dir(tree.join("src"));
    w.file(
        tree.join(".git"),
        format!("gitdir: {}/.git/worktrees/feature\n", main.display()),
    );
    let in_main = w.ok(&["claim", "web"]);
    let in_tree = w.ok_at(&tree.join("src"), &["claim", "web"]);
    assert_ne!(in_main, in_tree, "a worktree is a project of its own");
    let list: serde_json::Value = serde_json::from_str(&w.ok(&["list", "--json"])).expect("json");
    let paths: Vec<&str> = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["project_path"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        paths.iter().any(|p| p.ends_with("shop-feature")),
        "{paths:?}"
    );
}

#[test]
fn manifest_errors_say_what_is_wrong_where_in_the_users_words() {
    let w = World::new();
    let dir = w.project("mshop");
    assert_bad_inputs(
        &w,
        &dir.join("devport.toml"),
        BAD_MANIFESTS,
        &dir,
        &["up"],
        2,
    );
}

#[test]
fn a_manifest_name_follows_the_service_name_rules() {
    let w = World::new();
    let dir = w.project("nshop");
    let manifest = dir.join("devport.toml");
    for (text, words) in [
        ("name = \"\"\n[services.web]\n", "name is empty"),
        ("name = \"a/b\"\n[services.web]\n", "invalid character '/'"),
        (
            "name = \"-x\"\n[services.web]\n",
            "must start with a letter or digit",
        ),
        ("name = \"a b\"\n[services.web]\n", "invalid character ' '"),
    ] {
        w.manifest(&dir, text);
        for args in [&["up"][..], &["claim", "web"], &["env"]] {
            let out = w.fails_in(&dir, args, 2);
            assert_one_line(&stderr(&out), &manifest, "line 1, column 8", words, text);
        }
        assert!(
            w.registry_bytes().is_empty(),
            "{text:?}: wrote the registry"
        );
    }
    w.manifest(&dir, "name = \"shop.v2_x-1\"\n[services.web]\n");
    w.ok_at(&dir, &["up"]);
    assert_eq!(w.registry_json()["claims"][0]["project"], "shop.v2_x-1");
}

#[test]
fn a_renamed_project_carries_all_its_claims_to_the_new_name() {
    let w = World::new();
    let dir = w.project("rshop");
    w.manifest(&dir, "name = \"old\"\n[services.web]\n[services.db]\n");
    w.ok_at(&dir, &["up"]);
    w.ok_at(&dir, &["claim", "cache"]);
    let other = w.project("elsewhere");
    w.ok_at(&other, &["claim", "web"]);
    let before = w.registry_json();

    // A claim of one service renames every claim of the folder, and no other project's.
    w.manifest(&dir, "name = \"new\"\n[services.web]\n[services.db]\n");
    w.ok_at(&dir, &["claim", "web"]);
    let want = |name: &str| {
        vec![
            ("cache".to_string(), name.to_string()),
            ("db".to_string(), name.to_string()),
            ("web".to_string(), "elsewhere".to_string()),
            ("web".to_string(), name.to_string()),
        ]
    };
    assert_eq!(names(&w), want("new"));
    let list = w.ok_at(&dir, &["list"]);
    assert!(!list.contains("old"), "{list}");

    // `up` after a rename does the same, and no port moves.
    w.manifest(&dir, "name = \"newer\"\n[services.web]\n[services.db]\n");
    w.ok_at(&dir, &["up"]);
    assert_eq!(names(&w), want("newer"));
    let ports = |v: &serde_json::Value| {
        let mut p: Vec<u64> = v["claims"]
            .as_array()
            .expect("claims")
            .iter()
            .map(|c| c["port"].as_u64().expect("port"))
            .collect();
        p.sort_unstable();
        p
    };
    assert_eq!(ports(&w.registry_json()), ports(&before));
}

#[test]
fn a_file_is_not_a_project() {
    let w = World::new();
    let dir = w.project("fshop");
    let file = dir.join("notes.txt");
    w.file(&file, "x");
    for args in [&["claim", "web"][..], &["up"], &["init"], &["env"]] {
        let mut full = vec!["--project", file.to_str().expect("utf-8")];
        full.extend_from_slice(args);
        let err = stderr(&w.fails_in(&dir, &full, 2));
        assert!(!err.trim_end().contains('\n'), "{err}");
        assert!(err.contains(&file.display().to_string()), "{err}");
        assert!(err.contains("is a file, not a project folder"), "{err}");
    }
    assert!(w.registry_bytes().is_empty());
    assert!(!file.with_file_name("devport.toml").exists());
}

#[cfg(unix)]
#[test]
fn the_top_of_the_file_system_is_not_a_project() {
    let w = World::new();
    let root = Path::new("/");
    let had_manifest = root.join("devport.toml").exists();
    let _guard = RemoveIfNew(!had_manifest);
    for args in [
        &["claim", "web"][..],
        &["init"],
        &["up"],
        &["exec", "web", "--", "true"],
    ] {
        let err = stderr(&w.fails_in(root, args, 2));
        assert!(!err.trim_end().contains('\n'), "{err}");
        assert!(err.contains("--global"), "{err}");
        assert!(err.contains("not a project folder"), "{err}");
    }
    assert_eq!(root.join("devport.toml").exists(), had_manifest);
    assert!(w.registry_bytes().is_empty());
    // What needs no project still works there, and --global is the way to claim.
    let port = w.ok_at(root, &["--global", "claim", "web"]);
    w.ok_at(root, &["release", "--port", &port]);
    w.ok_at(root, &["list"]);
}

/// A manifest above the nearest `.git` belongs to something else.
#[test]
fn a_manifest_above_the_git_root_is_not_this_projects() {
    let w = World::new();
    let outer = w.dir("outer");
    w.manifest(
        &outer,
        "name = \"hijacked\"\n[services.web]\nenv = \"SITE_PORT\"\n",
    );
    let repo = outer.join("repo");
    w.dir(repo.join(".git"));
    let claim = json(&w.ok_at(&repo, &["claim", "web", "--json"]));
    assert_eq!(claim["project"], "repo");
    let env = w.ok_at(&repo, &["env"]);
    assert!(
        env.contains("WEB_PORT=") && !env.contains("SITE_PORT="),
        "{env}"
    );
    // Without a git root in between, the manifest is the project's (the control).
    let plain = outer.join("plain");
    w.dir(&plain);
    let claim = json(&w.ok_at(&plain, &["claim", "web", "--json"]));
    assert_eq!(claim["project"], "hijacked");
}

/// A manifest in a folder every user may write (sticky or not) is skipped, with a warning.
// Folder modes and owners: Unix by nature.
#[cfg(unix)]
#[test]
fn a_manifest_in_a_world_writable_folder_is_skipped() {
    let w = World::new();
    let shared = w.dir("shared");
    w.manifest(
        &shared,
        "name = \"hijacked\"\n[services.web]\nenv = \"PATH\"\n",
    );
    chmod(&shared, 0o1777);
    let sub = shared.join("sub");
    w.dir(&sub);
    let out = w
        .cmd_in(&sub, &["claim", "web", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let claim = json(&stdout(&out));
    assert_eq!(claim["project"], "sub");
    let err = stderr(&out);
    assert!(
        err.contains("warning: skipped") && err.contains("every user may write"),
        "{err}"
    );
    // With the manifest skipped, the folder itself is the project, and `claim` says so.
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("devport: claimed web for the folder ")),
        "{err}"
    );
    let env = w.ok_at(&sub, &["env"]);
    assert!(!env.contains("PATH="), "{env}");
    // A link in a private repository to a manifest in such a folder is skipped as well.
    let repo = w.project("repo");
    std::os::unix::fs::symlink(shared.join("devport.toml"), repo.join("devport.toml"))
        .expect("symlink");
    let out = w
        .cmd_in(&repo, &["claim", "web", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(json(&stdout(&out))["project"], "repo");
    assert!(
        stderr(&out).contains("skipped manifest"),
        "{}",
        stderr(&out)
    );
}

/// A manifest owned by another user is skipped, with a warning naming the owner.
// Folder modes and owners: Unix by nature.
#[cfg(unix)]
#[test]
#[ignore = "needs root: chowns a manifest to nobody"]
fn a_manifest_of_another_user_is_skipped() {
    let w = World::new();
    let repo = w.project("repo");
    let manifest = repo.join("devport.toml");
    w.file(&manifest, "name = \"hijacked\"\n[services.web]\n");
    std::os::unix::fs::chown(&manifest, Some(NOBODY), Some(NOBODY)).expect("chown");
    let out = w
        .cmd_in(&repo, &["claim", "web", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(json(&stdout(&out))["project"], "repo");
    assert!(stderr(&out).contains("uid 65534"), "{}", stderr(&out));
    // `up` then finds no manifest, as if the file were not there.
    let out = w.fails_in(&repo, &["up"], 2);
    assert!(stderr(&out).contains("no devport.toml"), "{}", stderr(&out));
}

/// A `.git` in a folder every user may write (someone else could have put it there) is not a
/// project root: unrelated folders below it do not merge into one project.
// Folder modes and owners: Unix by nature.
#[cfg(unix)]
#[test]
fn a_git_folder_in_a_world_writable_folder_is_not_a_project_root() {
    let w = World::new();
    let shared = w.dir.path().join("shared");
    w.dir(shared.join(".git"));
    chmod(&shared, 0o1777);
    let (one, two) = (shared.join("v1"), shared.join("v2"));
    w.dir(&one);
    w.dir(&two);
    let a = json(&w.ok_at(&one, &["claim", "web", "--json"]));
    let b = json(&w.ok_at(&two, &["claim", "web", "--json"]));
    chmod(&shared, 0o700);
    assert_ne!(a["project_path"], b["project_path"]);
    assert_ne!(a["port"], b["port"]);
}

#[cfg(unix)]
#[test]
fn a_folder_name_that_is_not_utf8_is_refused_and_the_registry_kept() {
    use std::os::unix::ffi::OsStrExt as _;
    let w = web_and_db();
    let before = w.registry_bytes();
    let odd = w.dir.path().join(std::ffi::OsStr::from_bytes(b"odd\xff"));
    w.dir(odd.join(".git"));
    let out = w.fails_in(&odd, &["claim", "web"], 2);
    assert!(stderr(&out).contains("not valid UTF-8"), "{}", stderr(&out));
    assert_eq!(w.registry_bytes(), before);
    // Every later command still works.
    w.ok(&["list"]);
    w.ok(&["claim", "web"]);
}

#[cfg(unix)]
#[test]
fn a_folder_that_is_not_utf8_is_refused_by_every_project_command() {
    use std::os::unix::ffi::OsStrExt as _;
    let w = web_and_db();
    let before = w.registry_bytes();
    let odd = w
        .dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"bad\xffname"));
    w.dir(&odd);
    for args in [
        &["release", "web"][..],
        &["release", "--all"],
        &["env"],
        &["list", "--here"],
        &["init"],
        &["up"],
    ] {
        w.fails_in(&odd, args, 2);
    }
    assert!(!odd.join("devport.toml").exists());
    assert_eq!(w.registry_bytes(), before);
}

#[test]
fn broken_manifests_name_line_and_column() {
    // Every command that reads the manifest refuses a bad one the same way as `up`.
    let w = World::new();
    let shop = w.project("shop");
    for args in [&["claim", "web"][..], &["env"], &["list", "--here"]] {
        assert_bad_inputs(
            &w,
            &shop.join("devport.toml"),
            BAD_MANIFESTS,
            &shop,
            args,
            2,
        );
    }
}
