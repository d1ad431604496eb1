//! `gc`: it removes exactly the claims of folders that are gone, and keeps what it cannot see.

use serde_json::Value;

#[cfg(unix)]
use crate::support::{NOBODY, bin, chmod, stderr};
use crate::support::{World, claim_count, codes, json, stdout};

#[test]
fn gc_removes_exactly_the_claims_of_deleted_folders() {
    let w = World::new();
    w.ok(&["claim", "web"]);
    let doomed = w.project("doomed");
    w.cmd_in(&doomed, &["claim", "web"]).assert().success();
    w.cmd_in(&doomed, &["claim", "db"]).assert().success();
    w.cmd(&["--global", "claim", "tool"]).assert().success();
    std::fs::remove_dir_all(&doomed).expect("rm");
    let before = w.registry_bytes();
    let out = w.ok(&["gc", "--dry-run"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.contains("would remove claim doomed/web") && out.contains("doomed/db"),
        "{out}"
    );
    assert_eq!(w.registry_bytes(), before, "--dry-run changed the registry");
    let out = w.ok(&["gc", "--json"]);
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["claims"].as_array().map(Vec::len), Some(2));
    let left: Vec<String> = w.registry_json()["claims"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    format!(
                        "{}/{}",
                        c["project"].as_str().unwrap_or(""),
                        c["service"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(left.len(), 2);
    assert!(
        left.contains(&"shop/web".to_string()) && left.contains(&"global/tool".to_string()),
        "{left:?}"
    );
    // --older-than reaches gc: claims made just now are not older than an hour, so they stay
    // (the ages themselves are tested in the library with an injected clock, src/gc.rs).
    w.cmd(&["gc", "--older-than", "1h"]).assert().success();
    assert_eq!(
        w.registry_json()["claims"].as_array().map(Vec::len),
        Some(2)
    );
}

/// A claim in a folder under a 0700 parent of another user is unreadable, not gone: `doctor`
/// says so and `gc` keeps it.
// Folder modes and owners: Unix by nature.
#[cfg(unix)]
#[test]
#[ignore = "needs root: runs devport as user nobody against a folder it cannot see"]
fn gc_keeps_a_claim_whose_folder_it_cannot_see() {
    use std::os::unix::process::CommandExt as _;
    let w = World::new();
    chmod(w.dir.path(), 0o755);
    let hidden = w.dir.path().join("hidden");
    std::fs::create_dir(&hidden).expect("mkdir");
    let proj = hidden.join("proj");
    w.dir(proj.join(".git"));
    w.ok_at(&proj, &["claim", "web"]);
    // The parent is root's and closed; the registry (and its folder) become nobody's.
    chmod(&hidden, 0o700);
    let state = w.dir.path().join("state");
    for entry in std::fs::read_dir(&state).expect("state").flatten() {
        std::os::unix::fs::chown(entry.path(), Some(NOBODY), Some(NOBODY)).expect("chown");
    }
    std::os::unix::fs::chown(&state, Some(NOBODY), Some(NOBODY)).expect("chown");
    chmod(&state, 0o700);
    let as_nobody = |args: &[&str]| {
        let out = w
            .program_in(bin(), w.dir.path(), args)
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .expect("run devport as nobody");
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let (code, out, err) = as_nobody(&["doctor", "--json"]);
    assert_eq!(code, Some(1), "{err}");
    let found = codes(&json(&out));
    assert!(found.contains(&"folder-unreadable".to_string()), "{out}");
    assert!(!found.contains(&"folder-gone".to_string()), "{out}");
    let (code, text, err) = as_nobody(&["doctor"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(text.contains("fix: "), "{text}");
    for args in [&["gc", "--dry-run", "--json"][..], &["gc", "--json"]] {
        let (code, out, err) = as_nobody(args);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(
            json(&out)["claims"],
            serde_json::json!([]),
            "{args:?}: {out}"
        );
    }
    assert_eq!(claim_count(&w), 1, "gc removed a claim it could not see");
}

/// ENOTDIR (a file where a folder on the way was) and a file in the folder's place are gone.
#[test]
fn a_file_where_the_folder_was_means_gone() {
    let w = World::new();
    let outer = w.dir.path().join("outer");
    let deep = outer.join("proj");
    w.dir(deep.join(".git"));
    w.ok_at(&deep, &["claim", "web"]);
    let flat = w.project("flat");
    w.ok_at(&flat, &["claim", "web"]);
    let kept = w.project("kept");
    w.ok_at(&kept, &["claim", "web"]);
    for dir in [&outer, &flat] {
        std::fs::remove_dir_all(dir).expect("rm");
        w.file(dir, "now a file");
    }
    let out = w.fails_in(&kept, &["doctor", "--json"], 1);
    let found = codes(&json(&stdout(&out)));
    assert_eq!(
        found.iter().filter(|c| *c == "folder-gone").count(),
        2,
        "{found:?}"
    );
    let report = json(&w.ok_at(&kept, &["gc", "--json"]));
    assert_eq!(
        report["claims"].as_array().map(Vec::len),
        Some(2),
        "{report}"
    );
    assert!(
        report["claims"]
            .as_array()
            .expect("claims")
            .iter()
            .all(|c| c[1] == "folder-gone")
    );
    assert_eq!(claim_count(&w), 1);
}
