//! What matters on Windows, run against the real `devport.exe` (in CI: under Wine, see
//! `ci/wine/`): parallel writers never get "Access denied", `lease` finds its parent process,
//! paths print without the `\\?\` prefix, and a lock timeout names no finished process.

use std::process::Child;
use std::process::Stdio;

use serde_json::Value;

use crate::support::{World, assert_ok, port, stdout};
#[cfg(windows)]
use crate::support::{stderr, under_wine};

fn spawn_claim(w: &World, service: &str) -> Child {
    w.std_cmd_in(&w.project("shop"), &["claim", service])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn devport")
}

/// Twenty writers at once, several rounds: every one succeeds (on Windows the replace used to
/// fail with "Access denied" while another process read the registry).
#[test]
fn parallel_writers_never_see_access_denied() {
    let w = World::new();
    for round in 0..3 {
        let children: Vec<Child> = (0..20)
            .map(|i| spawn_claim(&w, &format!("r{round}s{i}")))
            .collect();
        for child in children {
            let out = child.wait_with_output().expect("wait");
            assert_ok(&out);
            port(&stdout(&out));
        }
    }
    let claims = w.registry_json()["claims"].as_array().map_or(0, Vec::len);
    assert_eq!(claims, 60);
}

/// `devport lease` without `--pid` leases for its parent (this test process), on every
/// platform.
#[test]
fn lease_without_pid_is_for_the_parent() {
    let w = World::new();
    let out = w.ok(&["lease", "--json"]);
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["pid"], std::process::id(), "{v}");
}

/// Project paths are stored and shown as the user writes them: never `\\?\C:\...`.
#[test]
fn paths_have_no_verbatim_prefix() {
    let w = World::new();
    w.ok(&["claim", "web"]);
    let reg = w.registry_json();
    let stored = reg["claims"][0]["project_path"]
        .as_str()
        .unwrap_or_default();
    assert!(!stored.is_empty() && !stored.starts_with(r"\\?\"), "{reg}");
    let shown = w.ok(&["list", "--json"]);
    assert!(!shown.contains(r"\\\\?\\"), "{shown}");
    let expected = dunce::canonicalize(w.project("shop")).expect("canonical");
    assert_eq!(std::path::Path::new(stored), expected);
}

/// `kill` works on Windows: a free port is "nothing listens" (exit 1, as on Unix), and a port
/// held by this test process is refused without `--force` (real Windows: there is no SIGTERM;
/// Wine: the socket tables give no owner pid, so the owner cannot be seen). The listener is
/// untouched either way. (Ending a process is tested in `control`'s unit tests: under Wine no
/// socket names its owner, so `kill --force PORT` cannot find one there.)
#[cfg(windows)]
#[test]
fn kill_is_available_and_refuses_without_force() {
    let w = World::new();
    let dir = w.project("shop");
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port();
    let out = w.fails_in(&dir, &["kill", &free.to_string()], 1);
    assert_eq!(
        stderr(&out),
        format!("devport: nothing listens on port {free}")
    );

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = listener.local_addr().expect("addr").port();
    let out = w.fails_in(&dir, &["kill", &p.to_string(), "--timeout", "1s"], 1);
    let expected = if under_wine() {
        "that devport cannot see; nothing was stopped"
    } else {
        "devport does that only with --force; nothing was stopped; run again with --force"
    };
    assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    if !under_wine() {
        let dry = w.ok_at(&dir, &["kill", &p.to_string(), "--dry-run"]);
        assert!(
            dry.starts_with(&format!("would stop pid {} (", std::process::id())),
            "{dry}"
        );
    }
    assert!(std::net::TcpListener::bind(("127.0.0.1", p)).is_err());
    drop(listener);
}

/// A process that fails with nothing on stderr is named as one that died without a word, in the
/// words `ci/wine/test` looks for, with its Windows status in hex.
#[cfg(windows)]
#[test]
#[should_panic(expected = "the process died without a word, of Windows status 0xc0000142")]
fn a_silent_failure_is_named_as_one() {
    let out = std::process::Command::new("cmd")
        .args(["/c", "exit", "-1073741502"])
        .output()
        .expect("run cmd");
    assert_ok(&out);
}
