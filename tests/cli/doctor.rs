//! `doctor`: each finding (overlaps, duplicates, forbidden ports, foreign listeners,
//! permissions, an unusable range) with its own code and a safe fix.

use std::path::Path;

use serde_json::Value;

#[cfg(unix)]
use crate::support::chmod;
use crate::support::{World, codes, json, stdout};

/// `doctor`'s report as text, and its exit code.
fn doctor(w: &World) -> (String, Option<i32>) {
    let out = w.cmd(&["doctor"]).output().expect("doctor runs");
    (crate::support::stdout(&out), out.status.code())
}

fn raw_claim(project: &Path, service: &str, port: u16, count: u16) -> Value {
    serde_json::json!({
        "project": project.file_name().map(|n| n.to_string_lossy().into_owned()),
        "project_path": project,
        "service": service,
        "port": port,
        "count": count,
        "proto": "tcp",
        "created": "2026-01-01T00:00:00Z",
        "last_used": "2026-01-01T00:00:00Z",
        "pinned": true,
    })
}

fn write_registry(w: &World, claims: &[Value]) {
    let reg = serde_json::json!({"version": 1, "claims": claims, "leases": []});
    w.file(w.registry(), reg.to_string());
}

#[test]
fn duplicate_ports_are_accepted_and_flagged_by_doctor() {
    let w = World::new();
    let claim = |service: &str| {
        format!(
            "{{\"project\": \"shop\", \"project_path\": {:?}, \"service\": \"{service}\", \"port\": 21000, \"count\": 1, \"proto\": \"tcp\", \"created\": \"2026-01-01T00:00:00Z\", \"last_used\": \"2026-01-01T00:00:00Z\"}}",
            dunce::canonicalize(w.project("shop"))
                .expect("canon")
                .display()
                .to_string()
        )
    };
    w.file(
        w.registry(),
        format!(
            "{{\"version\": 1, \"claims\": [{}, {}]}}\n",
            claim("a"),
            claim("b")
        ),
    );
    assert_eq!(w.ok(&["claim", "a"]), "21000");
    assert_ne!(w.ok(&["claim", "c"]), "21000");
    let out = stdout(&w.fails(&["doctor"], 1));
    assert!(
        out.contains("overlap") && out.contains("shop/a") && out.contains("shop/b"),
        "{out}"
    );
}

// Whether a process works inside a project is read from /proc (Linux only).
#[cfg(target_os = "linux")]
#[test]
fn doctor_flags_foreign_listeners_and_loose_permissions() {
    let w = World::new();
    let shop = w.project("doctorshop");
    let (_, listener) = crate::support::claim_and_bind(&w, &shop, "web");
    let out = w.fails_in(&shop, &["doctor"], 1);
    let text = stdout(&out);
    assert!(
        text.contains("bound-by-other") && text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    drop(listener);
    w.cmd_in(&shop, &["doctor"]).assert().success();
    #[cfg(unix)]
    {
        chmod(&w.registry(), 0o644);
        let out = w.fails_in(&shop, &["doctor", "--json"], 1);
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v[0]["code"], "registry-permissions", "{v}");
        assert!(
            v[0]["fix"]
                .as_str()
                .is_some_and(|f| f.contains("chmod 600"))
        );
    }
}

#[test]
fn doctor_flags_a_claim_on_a_forbidden_port_unless_pinned() {
    let w = World::new();
    w.ok(&["claim", "db", "--port", "2301"]); // IANA: cpq-wbem; no other test probes it
    w.cmd(&["doctor"]).assert().success();
    let text = std::fs::read_to_string(w.registry())
        .expect("read")
        .replace("\"pinned\": true", "\"pinned\": false");
    w.file(w.registry(), text);
    let out = stdout(&w.fails(&["doctor"], 1));
    assert!(
        out.contains("iana-assigned") && out.contains("devport claim db --move"),
        "{out}"
    );
}

#[cfg(unix)]
#[test]
fn doctor_names_each_permission_problem_with_its_own_code_and_a_safe_fix() {
    let w = World::new();
    w.ok(&["claim", "web"]);
    let registry = w.registry();
    let lock = registry.with_extension("lock");
    let folder = registry.parent().expect("folder").to_path_buf();
    chmod(&folder, 0o700);
    chmod(&registry, 0o600);
    chmod(&lock, 0o600);
    let (text, code) = doctor(&w);
    assert_eq!(code, Some(0), "{text}");

    chmod(&registry, 0o644);
    let (text, code) = doctor(&w);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("registry-permissions"), "{text}");
    assert!(text.contains("readable by other users"), "{text}");
    assert!(!text.contains("change"), "{text}");
    chmod(&registry, 0o666);
    let (text, _) = doctor(&w);
    assert!(text.contains("other users can change it"), "{text}");
    chmod(&registry, 0o600);

    chmod(&lock, 0o666);
    let (text, code) = doctor(&w);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("lock-permissions"), "{text}");
    assert!(
        text.contains(&format!("chmod 600 {}", lock.display())),
        "{text}"
    );
    chmod(&lock, 0o600);

    // A world-writable folder: its own code, exit 3 as a claim would, and the fix of the
    // claim-time advice (never `chmod 700` of a shared folder).
    chmod(&folder, 0o777);
    let (text, code) = doctor(&w);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("folder-world-writable"), "{text}");
    assert!(!text.contains("registry-unreadable"), "{text}");
    assert!(
        text.contains(&format!("chmod o-w {}", folder.display())),
        "{text}"
    );
    chmod(&folder, 0o1777);
    let (text, code) = doctor(&w);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("folder-world-writable"), "{text}");
    assert!(text.contains("mkdir -m 700"), "{text}");
    assert!(!text.contains("chmod"), "{text}");
    chmod(&folder, 0o700);
}

#[test]
fn doctor_flags_a_configured_range_with_no_usable_port() {
    let w = World::new();
    w.file(
        w.config(),
        "range = \"20000-20009\"\navoid = [\"20000-20009\"]\n",
    );
    let (text, code) = doctor(&w);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("pool-empty"), "{text}");
    assert!(text.contains("20000-20009"), "{text}");
    assert!(text.contains("such as the default 10000-29999"), "{text}");
    w.file(w.config(), "range = \"20000-20009\"\n");
    let (text, _) = doctor(&w);
    assert!(!text.contains("pool-empty"), "{text}");
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: runs doctor as user nobody against a folder it cannot write"]
fn doctor_flags_a_registry_folder_it_cannot_write() {
    let w = World::new();
    w.ok(&["claim", "web"]);
    let registry = w.registry();
    let lock = registry.with_extension("lock");
    let folder = registry.parent().expect("folder").to_path_buf();
    let shop = w.project("shop");
    let run = |args: &[&str]| {
        let mut cmd = w.std_cmd_in(&shop, args);
        crate::support::run_as_nobody(&mut cmd, &w, &[&folder, &registry, &lock]);
        cmd.output().expect("runs")
    };
    chmod(&folder, 0o500);
    let before = w.registry_bytes();
    let out = run(&["doctor"]);
    let text = crate::support::stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("registry-unwritable"), "{text}");
    assert!(!text.contains("no problems found"), "{text}");
    // As doctor says: a claim there fails (exit 3), and nothing changed.
    assert_eq!(run(&["claim", "db"]).status.code(), Some(3));
    assert_eq!(w.registry_bytes(), before);
    chmod(&folder, 0o700);
    let out = run(&["doctor"]);
    let text = crate::support::stdout(&out);
    assert!(!text.contains("registry-unwritable"), "{text}");
}

/// Overlaps are found between claims that are not neighbours by port, and duplicates once.
#[test]
fn doctor_finds_non_adjacent_overlaps_and_duplicates() {
    let w = World::new();
    let a = w.project("a");
    let b = w.project("b");
    write_registry(
        &w,
        &[
            raw_claim(&a, "wide", 21000, 10),
            raw_claim(&b, "one", 21002, 1),
            raw_claim(&b, "two", 21005, 1),
            raw_claim(&b, "far", 21100, 1),
            raw_claim(&a, "twice", 21200, 1),
            raw_claim(&a, "twice", 21300, 1),
        ],
    );
    let out = w.fails_in(&a, &["doctor", "--json"], 1);
    let problems = json(&stdout(&out));
    let overlapping: Vec<&str> = problems
        .as_array()
        .expect("array")
        .iter()
        .filter(|p| p["code"] == "overlap")
        .map(|p| p["claim"]["service"].as_str().expect("service"))
        .collect();
    assert_eq!(overlapping, ["one", "two"], "{problems}");
    let duplicates = codes(&problems)
        .iter()
        .filter(|c| *c == "duplicate-claim")
        .count();
    assert_eq!(duplicates, 1, "{problems}");
}

/// A registry that cannot be parsed is an environment failure: exit 3, with the finding.
#[test]
fn doctor_exits_3_on_a_corrupt_registry() {
    let w = World::new();
    w.file(w.registry(), "{\"version\": 1, \"claims\": [");
    let out = w.fails(&["doctor"], 3);
    assert!(
        stdout(&out).contains("registry-unreadable"),
        "{}",
        stdout(&out)
    );
    let out = w.fails(&["doctor", "--json"], 3);
    assert_eq!(codes(&json(&stdout(&out))), ["registry-unreadable"]);
    assert_eq!(
        std::fs::read_to_string(w.registry()).expect("read"),
        "{\"version\": 1, \"claims\": ["
    );
}
