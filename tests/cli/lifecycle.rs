//! Leases, `gc`, `doctor` and `claim --move`.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{Reaped, World, port, stderr, stdout};

fn leases(w: &World) -> Vec<Value> {
    w.registry_json()["leases"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The name the OS gives [`sleeper`]'s process.
#[cfg(unix)]
pub const SLEEPER_NAME: &str = "sleep";

/// The name the OS gives [`sleeper`]'s process.
#[cfg(windows)]
pub const SLEEPER_NAME: &str = "cmd";

/// A child process that lives until killed.
#[cfg(unix)]
pub fn sleeper() -> Reaped {
    Reaped(
        Command::new("sleep")
            .arg("60")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep"),
    )
}

/// A child process that lives until killed: `pause`, waiting on a pipe nobody writes to.
#[cfg(windows)]
pub fn sleeper() -> Reaped {
    Reaped(
        Command::new("cmd")
            .args(["/c", "pause"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn cmd /c pause"),
    )
}

#[test]
fn parallel_leases_are_distinct_and_avoid_claims() {
    let w = World::new();
    let claimed: Vec<u16> = (0..8)
        .map(|i| port(&w.ok(&["claim", &format!("c{i}")])))
        .collect();
    let shop = w.project("shop");
    let children: Vec<_> = (0..32)
        .map(|_| {
            w.std_cmd_in(&shop, &["lease"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut ports: Vec<u16> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait");
            assert!(out.status.success(), "{}", stderr(&out));
            port(&stdout(&out))
        })
        .collect();
    assert!(ports.iter().all(|p| !claimed.contains(p)));
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 32);
    // The leases belong to this test process (devport's parent), which is alive.
    assert_eq!(leases(&w).len(), 32);
    assert!(leases(&w).iter().all(|l| l["pid"] == std::process::id()));
}

#[test]
fn a_killed_leaseholder_frees_its_ports_at_the_next_write() {
    let w = World::new();
    let mut child = sleeper();
    let pid = child.0.id().to_string();
    let block = w.ok(&["lease", "--pid", &pid, "--count", "2"]);
    let leased = port(block.split(' ').next().unwrap_or_default());
    let out = w.fails(&["check", &leased.to_string(), "--json"], 1);
    let check: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(check[0]["lease"]["pid"].to_string(), pid);
    w.ok(&["claim", "x"]);
    assert_eq!(leases(&w).len(), 1, "a live leaseholder keeps its lease");
    child.kill();
    w.ok(&["claim", "y"]);
    assert!(
        leases(&w).is_empty(),
        "the lease of a dead process was not dropped"
    );
    // Its port can be taken again.
    w.ok(&["claim", "z", "--port", &leased.to_string()]);
}

#[test]
fn a_reused_pid_does_not_keep_a_lease() {
    let w = World::new();
    let me = std::process::id();
    let text = format!(
        "{{\"version\": 1, \"claims\": [], \"leases\": [{{\"port\": 21000, \"count\": 1, \"proto\": \"tcp\", \"pid\": {me}, \"start_time\": 1, \"created\": \"2026-01-01T00:00:00Z\", \"expires\": null}}]}}\n"
    );
    std::fs::write(w.registry(), text).expect("write");
    w.ok(&["claim", "x"]);
    assert!(
        leases(&w).is_empty(),
        "a lease recorded with another start time survived"
    );
}

/// The binary hands `--ttl` to the lease as an expiry time; when it runs out is tested in the
/// library with an injected clock (src/lease.rs), with no sleep.
#[test]
fn a_ttl_lease_records_its_expiry() {
    let w = World::new();
    let before = jiff::Timestamp::now();
    w.ok(&["lease", "--ttl", "1h"]);
    let recorded = leases(&w);
    assert_eq!(recorded.len(), 1);
    let expires: jiff::Timestamp = recorded[0]["expires"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no expiry: {}", recorded[0]));
    let hour = jiff::SignedDuration::from_hours(1);
    assert!(
        expires >= before + hour && expires <= jiff::Timestamp::now() + hour,
        "{expires}"
    );
}

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
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(w.registry(), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
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
    std::fs::write(w.registry(), text).expect("write");
    let out = stdout(&w.fails(&["doctor"], 1));
    assert!(
        out.contains("iana-assigned") && out.contains("devport claim db --move"),
        "{out}"
    );
}

#[test]
fn move_gives_a_new_usable_port() {
    let w = World::new();
    let old = port(&w.ok(&["claim", "web"]));
    let new = port(&w.ok(&["claim", "web", "--move"]));
    assert_ne!(old, new);
    let claims = w.registry_json()["claims"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0]["port"], new);
    let check = w
        .cmd(&["check", &new.to_string(), "--json"])
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&check.stdout).expect("json");
    assert_eq!(
        v[0]["reasons"],
        serde_json::json!(["claimed"]),
        "only its own claim stands against it"
    );
    assert_eq!(port(&w.ok(&["claim", "web"])), new);
    // --move with a new shape.
    let block = w.ok(&["claim", "web", "--move", "--count", "2"]);
    assert_eq!(block.split(' ').count(), 2);
}
