//! `lease`: parallel leases, their holders and expiry, `DEVPORT_LEASE_OWNER` (who a lease
//! lives with when devport is started through a launcher or a subshell), and bad input.

use std::process::Stdio;

use serde_json::Value;

use crate::support::{World, assert_ok, claim_count, json, port, sleeper, stderr, stdout};

const OWNER: &str = "DEVPORT_LEASE_OWNER";

fn leased_pid(out: &str) -> Value {
    let lease: Value = serde_json::from_str(out).expect("lease --json");
    lease["pid"].clone()
}

/// `devport ARGS` with `DEVPORT_LEASE_OWNER=owner`, which must exit with `code`.
fn with_owner(w: &World, owner: &str, args: &[&str], code: i32) -> std::process::Output {
    w.cmd(args)
        .env(OWNER, owner)
        .assert()
        .code(code)
        .get_output()
        .clone()
}

/// `sh -c SCRIPT` in the world's project folder, with devport on the PATH.
#[cfg(target_os = "linux")]
fn shell(w: &World, program: &std::path::Path, script: &str) -> std::process::Output {
    let bin_dir = crate::support::bin()
        .parent()
        .expect("the binary's folder")
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    w.program_in(program, &w.project("shop"), &["-c", script])
        .env("PATH", path)
        .output()
        .expect("run the shell")
}

fn leases(w: &World) -> Vec<Value> {
    w.registry_json()["leases"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn lease_keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn the_owner_variable_names_the_process_the_lease_lives_with() {
    let w = World::new();
    let owner = sleeper();
    let pid = owner.0.id();
    let out = with_owner(&w, &pid.to_string(), &["lease", "--json"], 0);
    assert_eq!(leased_pid(&stdout(&out)), pid, "{out:?}");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    // `--pid` still wins over the variable, and an empty variable is no variable at all.
    let me = std::process::id();
    let explicit = with_owner(
        &w,
        &pid.to_string(),
        &["lease", "--json", "--pid", &me.to_string()],
        0,
    );
    assert_eq!(leased_pid(&stdout(&explicit)), me);
    let empty = with_owner(&w, "", &["lease", "--json"], 0);
    assert_eq!(
        leased_pid(&stdout(&empty)),
        me,
        "devport's parent is this test"
    );
}

#[test]
fn a_bad_owner_variable_is_refused_and_nothing_is_written() {
    let w = World::new();
    let mut gone = sleeper();
    let dead = gone.0.id().to_string();
    gone.kill();
    for (value, words) in [
        ("abc", "is 'abc', not a process id"),
        ("0", "is '0', not a process id"),
        ("-5", "not a process id"),
        ("99999999999", "not a process id"),
        (" 12", "not a process id"),
        ("\u{1b}[31m", "is '\\u{1b}[31m', not a process id"),
        (dead.as_str(), "which is not running"),
    ] {
        let out = with_owner(&w, value, &["lease"], 2);
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("devport: {OWNER} ")) && err.contains(words),
            "{value:?}: {err}"
        );
        assert!(err.contains("or unset it"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(stdout(&out).is_empty());
        assert!(
            w.registry_bytes().is_empty(),
            "{value:?} wrote the registry"
        );
    }
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: a process of another user"]
fn an_owner_of_another_user_is_refused() {
    use std::os::unix::process::CommandExt as _;
    let w = World::new();
    let mut other = std::process::Command::new("sleep");
    other.arg("60").uid(65534).gid(65534);
    let other = crate::support::Reaped(other.spawn().expect("spawn sleep as nobody"));
    let out = with_owner(&w, &other.0.id().to_string(), &["lease"], 2);
    assert!(
        stderr(&out).contains("a process of another user (uid 65534)"),
        "{}",
        stderr(&out)
    );
    assert!(w.registry_bytes().is_empty());
}

#[cfg(target_os = "linux")]
#[test]
fn a_lease_for_a_parent_about_to_exit_warns() {
    let w = World::new();
    let sh = std::path::Path::new("/bin/sh");
    let warning = "devport: warning: the lease follows devport's parent";
    // The subshell of `$( … | … )` is devport's parent and exits with the pipeline.
    let lost = shell(&w, sh, r#"P=$(devport lease | cat); echo "$P""#);
    assert!(lost.status.success(), "{lost:?}");
    let err = stderr(&lost);
    assert!(
        err.starts_with(warning) && err.contains("(a subshell") && err.contains("--pid $$"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    crate::support::port(&stdout(&lost));
    // The shell that reads devport's output is devport's parent: no warning.
    for kept in [r#"P=$(devport lease); echo "$P""#, "devport lease"] {
        let out = shell(&w, sh, kept);
        assert!(out.status.success(), "{out:?}");
        assert!(stderr(&out).is_empty(), "{kept}: {}", stderr(&out));
    }
    // The variable a launcher sets names the owner: no warning either.
    let named = w
        .program_in(
            sh,
            &w.project("shop"),
            &[
                "-c",
                &format!(
                    r#"P=$({} lease | cat); echo "$P""#,
                    crate::support::bin().display()
                ),
            ],
        )
        .env(OWNER, std::process::id().to_string())
        .output()
        .expect("run sh");
    assert!(stderr(&named).is_empty(), "{}", stderr(&named));
    // A runner (npx, uvx, …) exits when devport does: seen by its process name.
    let runner = w.dir.path().join("uvx");
    std::os::unix::fs::symlink(sh, &runner).expect("a runner named uvx");
    // Directly, or through the `sh -c 'devport' lease` that npm exec runs.
    for script in ["devport lease; true", "sh -c 'devport lease'; true"] {
        let out = shell(&w, &runner, script);
        assert!(
            stderr(&out).starts_with(warning) && stderr(&out).contains("(uvx, a runner"),
            "{script}: {}",
            stderr(&out)
        );
    }
    // A shell script under the runner (`npm run` of `P=$(devport lease); run-tests`) lives on.
    let out = shell(&w, &runner, "sh -c 'devport lease; true'; true");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn a_command_devport_runs_does_not_inherit_the_owner_variable() {
    let w = World::new();
    let out = w
        .cmd(&[
            "exec",
            "web",
            "--",
            "sh",
            "-c",
            "echo \"${DEVPORT_LEASE_OWNER-unset}\"",
        ])
        .env(OWNER, std::process::id().to_string())
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stdout(&out), "unset");
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
            assert_ok(&out);
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
    w.file(w.registry(), text);
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
fn lease_count_errors_speak_of_blocks_not_claims() {
    World::new()
        .test(&["lease", "--count", "5000", "--pid", "1"])
        .stderr(
            "devport: invalid value '5000' for '--count <N>': invalid count \"5000\": a block \
             holds 1 to 1000 consecutive ports; see 'devport lease --help'\n",
        )
        .status(2)
        .run();
}

/// A lease for a long-lived process is listed and can be ended by hand.
#[test]
fn leases_are_listed_and_released_by_port() {
    let w = World::new();
    let claimed = port(&w.ok(&["claim", "web"]));
    let child = crate::support::sleeper();
    let pid = child.0.id().to_string();
    let ports: Vec<u16> = w
        .ok(&["lease", "--pid", &pid, "--count", "2"])
        .split_whitespace()
        .map(port)
        .collect();
    assert_eq!(ports.len(), 2);

    let table = w.ok(&["list"]);
    let (claims_part, leases_part) = table.split_once("LEASES").expect("a LEASES table");
    assert!(claims_part.contains(&claimed.to_string()), "{table}");
    let lease_row = leases_part
        .lines()
        .find(|l| l.contains(&pid))
        .unwrap_or_else(|| panic!("no row for pid {pid}: {table}"));
    assert!(
        lease_row.contains(crate::support::SLEEPER_NAME)
            && lease_row.contains(&ports[0].to_string())
    );

    // `list --json` keeps its shape: claims only.
    let listed = json(&w.ok(&["list", "--json"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert!(listed[0].get("service").is_some());

    let leases = json(&w.ok(&["list", "--leases", "--json"]));
    assert_eq!(leases.as_array().map(Vec::len), Some(1), "{leases}");
    assert_eq!(
        lease_keys(&leases[0]),
        ["expires", "pid", "port", "ports", "proto"]
    );
    assert_eq!(leases[0]["pid"].to_string(), pid);

    // The second port of the block names the lease too.
    let released = json(&w.ok(&["release", "--lease", &ports[1].to_string(), "--json"]));
    assert_eq!(
        released, leases,
        "release prints the lease as list shows it"
    );
    assert_eq!(w.registry_json()["leases"], serde_json::json!([]));
    assert_eq!(claim_count(&w), 1, "a claim went with the lease");

    let out = w
        .cmd(&["release", "--lease", &ports[0].to_string()])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stderr(&out).contains("nothing to release"),
        "{}",
        stderr(&out)
    );
    w.test(&["list", "--leases"])
        .stderr("devport: no live leases\n")
        .run();
    // Leases are not a project's: --here and --live do not combine with --leases.
    w.fails(&["list", "--leases", "--here"], 2);
}
