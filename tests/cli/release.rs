//! `release`: a released port is free to claim again.

use crate::support::{World, port, stderr};

#[test]
fn release_then_claim() {
    let w = World::new();
    // A project name of its own: the same port must come back, so no concurrent test may be
    // probing it.
    let dir = w.project("relshop");
    let first = w.ok_at(&dir, &["claim", "web"]);
    let out = w
        .cmd_in(&dir, &["release", "web"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stderr(&out).contains("released relshop/web"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        w.registry_json()["claims"].as_array().map(Vec::len),
        Some(0)
    );
    assert_eq!(
        w.ok_at(&dir, &["claim", "web"]),
        first,
        "the hash gives the same port back"
    );
    // Releasing what is not claimed is fine for scripts.
    w.test(&["release", "nothing"])
        .stderr("devport: nothing to release: no matching claim\n")
        .run();
    let p = port(&first);
    w.cmd(&["release", "--port", &p.to_string()])
        .assert()
        .success();
    w.ok(&["claim", "a"]);
    w.ok(&["claim", "b"]);
    w.cmd(&["release", "--all"]).assert().success();
    w.test(&["list", "--json"]).stdout("[]\n").run();
}
