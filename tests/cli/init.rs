//! `init`: it writes a manifest once, round-trips odd folder names, and refuses unsafe folders.

use std::path::Path;

use serde_json::Value;

use crate::support::{World, json, stderr, stdout};
#[cfg(unix)]
use crate::support::{chmod, chown};

#[cfg(unix)]
#[test]
fn init_and_man_dir_refuse_a_folder_every_user_may_write() {
    let w = World::new();
    let open = w.project("open");
    chmod(&open, 0o1777);
    let out = w.fails_in(&open, &["init"], 3);
    assert!(
        stderr(&out).contains("which every user may write"),
        "{}",
        stderr(&out)
    );
    assert!(!open.join("devport.toml").exists());

    let pages = open.join("man1");
    std::fs::create_dir(&pages).expect("mkdir");
    chmod(&pages, 0o777);
    let out = w.fails(&["man", "--dir", pages.to_str().expect("utf-8")], 3);
    assert!(
        stderr(&out).contains("which every user may write"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(&pages).expect("ls").count(), 0);
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: init and man --dir as root in folders of nobody's"]
fn init_and_man_dir_as_root_refuse_another_users_folder() {
    let w = World::new();
    let theirs = w.project("theirs");
    chown(&theirs, 65534, 65534);
    let out = w.fails_in(&theirs, &["init"], 3);
    let err = stderr(&out);
    assert!(
        err.contains("belongs to nobody (uid 65534)") && err.contains("run devport as nobody"),
        "{err}"
    );
    assert!(!theirs.join("devport.toml").exists());
    // A man folder to be made inside it, or a link to it that nobody made.
    let pages = theirs.join("man1");
    let out = w.fails(&["man", "--dir", pages.to_str().expect("utf-8")], 3);
    assert!(
        stderr(&out).contains("belongs to nobody"),
        "{}",
        stderr(&out)
    );
    assert!(!pages.exists());
    let link = w.dir.path().join("link");
    std::os::unix::fs::symlink(&theirs, &link).expect("symlink");
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        &link,
        Some(nix::unistd::Uid::from_raw(65534)),
        None,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .expect("chown link");
    let out = w.fails(
        &["man", "--dir", link.join("man1").to_str().expect("utf-8")],
        3,
    );
    assert!(
        stderr(&out).contains("symlink that uid 65534 made"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(&theirs).expect("ls").count(), 1); // .git only
}

/// `init` writes the folder name with the TOML serializer, so odd names read back as
/// themselves.
#[test]
fn init_round_trips_odd_folder_names() {
    let w = World::new();
    #[cfg(unix)]
    let names = [
        "new\nline",
        "esc\u{1b}ape",
        "del\u{7f}ete",
        "quo\"te",
        "back\\slash",
        "tri'''ple",
        "naïve-日本",
    ];
    // Windows allows no control character (DEL aside), `"` or `\` in a folder name.
    #[cfg(windows)]
    let names = ["del\u{7f}ete", "tri'''ple", "naïve-日本", "semi;colon=#"];
    for name in names {
        let dir = w.project(name);
        w.ok_at(&dir, &["init"]);
        w.ok_at(&dir, &["up"]);
        let listed = json(&w.ok_at(&dir, &["list", "--here", "--json"]));
        let projects: Vec<&Value> = listed
            .as_array()
            .expect("array")
            .iter()
            .map(|c| &c["project"])
            .collect();
        assert_eq!(projects.len(), 2, "{name:?}: {listed}");
        assert!(projects.iter().all(|p| *p == name), "{name:?}: {listed}");
    }
}

#[test]
fn init_writes_once() {
    let w = World::new();
    let out: serde_json::Value = serde_json::from_str(&w.ok(&["init", "--json"])).expect("json");
    assert!(
        out["path"]
            .as_str()
            .is_some_and(|p| Path::new(p).ends_with("shop/devport.toml")),
        "{out}"
    );
    let path = w.project("shop").join("devport.toml");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains("name = \"shop\""));
    w.cmd(&["up"]).assert().success();
    // The commented [env] example is valid once uncommented.
    let uncommented = text
        .replace("# [env]", "[env]")
        .replace("# API_URL", "API_URL")
        .replace("# DATABASE_URL", "DATABASE_URL");
    w.file(&path, uncommented);
    // The edit changed what was trusted: its values wait for 'devport trust'.
    let out = w.cmd(&["up", "--format", "dotenv"]).assert().success();
    let out = out.get_output();
    assert!(!stdout(out).contains("DATABASE_URL"), "{}", stdout(out));
    assert!(
        stderr(out).contains("changed since you trusted it"),
        "{}",
        stderr(out)
    );
    w.trust(&w.project("shop"));
    let env = w.ok(&["up", "--format", "dotenv"]);
    assert!(
        env.contains("DATABASE_URL=postgres://app@localhost:"),
        "{env}"
    );
    w.file(&path, &text);
    w.cmd(&["init"]).assert().code(2);
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
}
