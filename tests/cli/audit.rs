//! `audit`: every listening socket judged against the claims, and exit 1 when one conflicts.

#[cfg(target_os = "linux")]
use serde_json::Value;

#[cfg(target_os = "linux")]
use crate::support::{World, audit_rows, hold, port, stdout};

// Whether a process works inside a project is read from /proc (Linux only).
#[cfg(target_os = "linux")]
#[test]
fn audit_and_list_live_tell_ok_from_conflict() {
    let w = World::new();
    // The test process works in the crate folder, not in the project folder: a conflict.
    let (p, l) = crate::support::claim_and_bind(&w, &w.project("auditshop"), "web");
    let rows = audit_rows(&w, p);
    assert_eq!(rows[0]["finding"], "conflict", "{rows:?}");
    assert_eq!(rows[0]["claim"]["service"], "web");
    drop(l);
    // Claimed from the folder this process works in: ok.
    let here = std::env::current_dir().expect("cwd");
    let (p, l) = crate::support::claim_and_bind(&w, &here, "web");
    // Every holder counts, and this test process shares its descriptors, for a moment, with
    // every child another test thread forks: between fork and exec the child holds the
    // listener too, in the folder it was started in. That is a real second holder, so audit
    // is asked again until it has seen the listener held by this process alone.
    let finding = (0..20)
        .map(|_| {
            let row = audit_rows(&w, p)[0].clone();
            std::thread::sleep(std::time::Duration::from_millis(20));
            row
        })
        .find(|row| row["finding"] == "ok")
        .unwrap_or_else(|| audit_rows(&w, p)[0].clone());
    assert_eq!(finding["finding"], "ok", "{finding}");
    let out = w
        .cmd_in(&here, &["list", "--live", "--here", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let list: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(list[0]["live"][0]["pid"], std::process::id());
    let table = w.ok(&["list", "--live"]);
    assert!(
        table.contains(&format!("tcp 127.0.0.1:{p} pid {}", std::process::id())),
        "{table}"
    );
    drop(l);
}

#[cfg(target_os = "linux")]
#[test]
fn audit_exits_1_when_it_shows_a_conflict() {
    let w = World::new();
    let shop = w.project("auditconflict");
    let first = w.ok_at(&shop, &["claim", "web"]);
    let listener = hold(port(&first));
    let out = w.fails_in(&shop, &["audit"], 1);
    let row = stdout(&out)
        .lines()
        .find(|l| l.contains(&format!(":{first} ")))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(row.ends_with("conflict"), "{}", stdout(&out));
    let out = w.fails_in(&shop, &["--json", "audit"], 1);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        rows.as_array()
            .expect("array")
            .iter()
            .any(|r| r["finding"] == "conflict" && r["port"] == first.parse::<u16>().unwrap_or(0)),
        "{rows}"
    );
    drop(listener);
    let out = w
        .cmd_in(&shop, &["audit"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(!stdout(&out).contains("conflict"), "{}", stdout(&out));
}
