//! `claim`, `release`, `list`: behaviour, concurrency and bad input.

use std::net::{TcpListener, UdpSocket};
use std::process::Stdio;

use crate::support::{
    World, mtime, plant_old_mtime, port, require_ipv6_loopback, retry, stderr, stdout,
};

#[test]
fn claim_is_stable_and_per_project() {
    let w = World::new();
    let first = port(&w.ok(&["claim", "web"]));
    assert_eq!(port(&w.ok(&["claim", "web"])), first);
    assert!((10000..=29999).contains(&first), "{first}");
    let blog = w.project("blog");
    let other = port(&w.ok_at(&blog, &["claim", "web"]));
    assert_ne!(other, first);
    // From a subfolder of the project: the same claim.
    let sub = w.project("shop").join("src/deep");
    std::fs::create_dir_all(&sub).expect("subdir");
    let again = w.ok_at(&sub, &["claim", "web"]);
    assert_eq!(port(&again), first);
}

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
    let out = w
        .cmd(&["release", "nothing"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(stderr(&out).contains("nothing to release"));
    let p = port(&first);
    w.cmd(&["release", "--port", &p.to_string()])
        .assert()
        .success();
    w.ok(&["claim", "a"]);
    w.ok(&["claim", "b"]);
    w.cmd(&["release", "--all"]).assert().success();
    assert_eq!(w.ok(&["list", "--json"]), "[]");
}

#[test]
fn count_gives_consecutive_unheld_ports() {
    let w = World::new();
    let single: Vec<u16> = (0..20)
        .map(|i| port(&w.ok(&["claim", &format!("s{i}")])))
        .collect();
    let block: Vec<u16> = w
        .ok(&["claim", "grpc", "--count", "3"])
        .split(' ')
        .map(port)
        .collect();
    assert_eq!(block.len(), 3);
    assert_eq!(block[1], block[0] + 1);
    assert_eq!(block[2], block[0] + 2);
    assert!(block.iter().all(|p| !single.contains(p)));
    let json = w.registry_json();
    let grpc = json["claims"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["service"] == "grpc"))
        .cloned();
    assert_eq!(grpc.map(|g| g["count"].clone()), Some(serde_json::json!(3)));
}

#[test]
fn claim_json_shape() {
    let w = World::new();
    let out = w.ok(&["claim", "web", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["service"], "web");
    assert_eq!(v["project"], "shop");
    assert_eq!(v["new"], true);
    assert_eq!(v["proto"], "tcp");
    assert_eq!(v["ports"], serde_json::json!([v["port"]]));
    let again: serde_json::Value =
        serde_json::from_str(&w.ok(&["claim", "web", "--json"])).expect("json");
    assert_eq!(again["new"], false);
    let list: serde_json::Value = serde_json::from_str(&w.ok(&["list", "--json"])).expect("json");
    assert_eq!(list[0]["port"], v["port"]);
    assert!(list[0].get("new").is_none());
}

/// Runs `n` claim processes at once; returns their outputs.
fn claim_concurrently(
    w: &World,
    services: impl Fn(usize) -> String,
    n: usize,
) -> Vec<std::process::Output> {
    let project = w.project("shop");
    let children: Vec<_> = (0..n)
        .map(|i| {
            w.std_cmd_in(&project, &["claim", &services(i)])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn devport")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect()
}

#[test]
fn concurrent_claims_of_different_services() {
    let w = World::new();
    let outs = claim_concurrently(&w, |i| format!("svc{i}"), 64);
    let mut ports: Vec<u16> = outs
        .iter()
        .map(|o| {
            assert!(o.status.success(), "{}", stderr(o));
            port(&stdout(o))
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 64, "duplicate ports handed out");
    let claims = w.registry_json()["claims"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(claims.len(), 64, "lost claims");
}

#[test]
fn concurrent_claims_of_one_service() {
    let w = World::new();
    let outs = claim_concurrently(&w, |_| "web".to_string(), 64);
    let ports: Vec<String> = outs
        .iter()
        .map(|o| {
            assert!(o.status.success(), "{}", stderr(o));
            stdout(o)
        })
        .collect();
    assert!(ports.iter().all(|p| *p == ports[0]), "{ports:?}");
    assert_eq!(
        w.registry_json()["claims"].as_array().map(Vec::len),
        Some(1)
    );
}

/// Claims `web` in a fresh world for `project`, holds that port with `bind`, then claims it
/// again in another fresh world: the probe must skip the held port. Each test names its own
/// project, so tests running at once never hold each other's ports; if something else took the
/// port meanwhile, the next attempt uses another project name, so another port. (A TCP listener
/// on the IPv4 loopback is tested in-process, in src/claim.rs.)
fn probe_skips<T>(project: &str, proto: &str, bind: impl Fn(u16) -> std::io::Result<T>) {
    let (name, p, held) = retry(&format!("hold the port {project} is given"), |i| {
        let name = format!("{project}{i}");
        let p = port(&World::new().ok_in(&name, &["claim", "web", "--proto", proto]));
        bind(p).ok().map(|held| (name, p, held))
    });
    let got = port(&World::new().ok_in(&name, &["claim", "web", "--proto", proto]));
    assert_ne!(got, p);
    drop(held);
}

#[test]
#[ignore = "needs an IPv6 loopback (::1); .ci/run enables it"]
fn never_a_port_bound_on_ipv6_loopback_only() {
    require_ipv6_loopback();
    // A socket bound to [::1] accepts only IPv6: the IPv4 binds of the probe succeed.
    probe_skips("v6shop", "tcp", |p| TcpListener::bind(("::1", p)));
}

#[test]
fn never_a_port_bound_by_udp_for_a_udp_claim() {
    probe_skips("udpshop", "udp", |p| UdpSocket::bind(("127.0.0.1", p)));
}

#[test]
fn exact_port_refused_when_bound_or_claimed() {
    let w = World::new();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = listener.local_addr().expect("addr").port().to_string();
    w.ok(&["claim", "a"]);
    let before = w.registry_bytes();
    let out = w.fails(&["claim", "web", "--port", &busy], 1);
    assert!(stderr(&out).contains("in use"), "{}", stderr(&out));
    assert_eq!(w.registry_bytes(), before);

    let held = w.ok(&["claim", "db"]);
    let blog = w.project("blog");
    let out = w.fails_in(&blog, &["claim", "web", "--port", &held], 1);
    let err = stderr(&out);
    assert!(
        err.contains("claimed by shop/db") && err.contains("devport release db"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    drop(listener);
}

#[test]
fn exact_port_outside_policy_warns_and_claims() {
    let w = World::new();
    // 2300 (cvmmon), not 2276: other tests probe 2276 at the same time.
    let out = w
        .cmd(&["claim", "web", "--port", "2300"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stdout(&out), "2300");
    assert!(
        stderr(&out).contains("assigned by IANA"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn prefer_takes_the_port_or_falls_back() {
    let w = World::new();
    let auto = port(&w.ok(&["claim", "probe-me"]));
    w.cmd(&["release", "probe-me"]).assert().success();
    let got = port(&w.ok(&["claim", "web", "--prefer", &auto.to_string()]));
    assert_eq!(got, auto);
    // A port another claim holds: the policy picks, and says why.
    let out = w
        .cmd(&["claim", "db", "--prefer", &auto.to_string()])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_ne!(port(&stdout(&out)), auto);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "the preferred port {auto} (--prefer) was not used: it is claimed by devport (shop/web)"
        )),
        "{err}"
    );
}

/// The first of `ports` nothing on this machine listens on now (a test that prefers a known
/// port must not fail because a developer's own server holds it).
fn first_free(ports: &[u16]) -> u16 {
    *ports
        .iter()
        .find(|&&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("one of these ports free")
}

/// `claim SERVICE --prefer P --json` in `shop`: the JSON and stderr.
fn claim_prefer(w: &World, service: &str, prefer: u16) -> (serde_json::Value, String) {
    let out = w
        .cmd(&["claim", service, "--prefer", &prefer.to_string(), "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let json = serde_json::from_str(&stdout(&out)).expect("claim --json");
    (json, stderr(&out))
}

#[test]
fn prefer_overrides_the_soft_rules_quietly() {
    let w = World::new();
    // Development tools' defaults (Vite, Astro, Angular) and IANA-assigned ports: honoured,
    // outside the configured range too, with nothing on stderr.
    for (service, wanted) in [
        ("web", first_free(&[5173, 4321, 4200])),
        ("api", first_free(&[24000, 2276, 3689])),
    ] {
        let (json, err) = claim_prefer(&w, service, wanted);
        assert_eq!(json["port"], wanted, "{json}");
        assert_eq!(json["prefer"]["honoured"], true, "{json}");
        assert!(json["prefer"].get("because").is_none(), "{json}");
        assert_eq!(err, "");
    }
    // A port a person preferred is their call, as one they asked for with --port: doctor
    // holds only the OS's rules against it, not the soft rules prefer overrode.
    let out = w.cmd(&["doctor"]).assert().success().get_output().clone();
    assert!(
        stdout(&out).contains("no problems found"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn prefer_yields_to_the_hard_rules_and_says_which() {
    let w = World::new();
    // Busy: a socket the OS placed (inside its ephemeral range: "in use" is named first).
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = busy.local_addr().expect("addr").port();
    // Ephemeral: a port the OS picked, free again.
    let eph = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port();
    for (service, wanted, code, words) in [
        ("busy", p, "in-use", "it is in use"),
        (
            "eph",
            eph,
            "os-ephemeral",
            "it is inside the OS ephemeral range",
        ),
        if cfg!(windows) {
            // Windows has no privileged ports; port 1 (tcpmux) is browser-blocked there.
            ("low", 1, "browser-blocked", "it is blocked by browsers")
        } else {
            ("low", 1, "privileged", "it is privileged")
        },
    ] {
        // Wine's netsh reports no dynamic port range, so an OS-picked port is not known there
        // as ephemeral (the README's platform notes).
        if service == "eph" && crate::windows::under_wine() {
            continue;
        }
        let (json, err) = claim_prefer(&w, service, wanted);
        assert_ne!(json["port"], wanted, "{json}");
        assert_eq!(json["prefer"]["port"], wanted, "{json}");
        assert_eq!(json["prefer"]["honoured"], false, "{json}");
        assert_eq!(json["prefer"]["because"], code, "{json}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!(
                "shop/{service}: the preferred port {wanted} (--prefer) was not used: {words}"
            )) && err.contains(&format!("claimed {} instead", json["port"])),
            "{err}"
        );
    }
    drop(busy);
}

#[test]
fn bad_input_changes_nothing() {
    let w = World::new();
    w.ok(&["claim", "web"]);
    let before = w.registry_bytes();
    let long = "a".repeat(65);
    let cases: &[&[&str]] = &[
        &["claim", ""],
        &["claim", &long],
        &["claim", "a b"],
        &["claim", "a/b"],
        &["claim", "a\u{1}b"],
        &["claim", "café"],
        &["claim", "x", "--port", "0"],
        &["claim", "x", "--port", "65536"],
        &["claim", "x", "--port", "-1"],
        &["claim", "x", "--port", "abc"],
        &["claim", "x", "--range", "80-70"],
        &["claim", "x", "--range", "1-2-3"],
        &["claim", "x", "--count", "0"],
        &["claim", "x", "--count", "100000"],
        &["claim", "x", "--proto", "sctp"],
        &["release"],
        &["--project", "/nonexistent-devport-project", "claim", "x"],
        &["check", "0"],
        &["check", "1-65535"],
        &["lease", "--ttl", "soon"],
        &["gc", "--older-than", "0s"],
    ];
    for args in cases {
        let out = w.cmd(args).assert().code(2).get_output().clone();
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("devport: "), "{args:?}: {err}");
        assert!(stdout(&out).is_empty(), "{args:?}");
        assert_eq!(w.registry_bytes(), before, "{args:?} changed the registry");
    }
}

#[test]
fn corrupt_registry_is_reported_and_kept() {
    let w = World::new();
    std::fs::write(w.registry(), "{\n  \"version\": 1,\n  \"claims\": [,]\n}\n").expect("write");
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
    std::fs::write(
        w.registry(),
        "{\"version\": 99, \"claims\": [], \"leases\": []}\n",
    )
    .expect("write");
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
    use std::os::unix::fs::PermissionsExt as _;
    let w = World::new();
    let dir = w.dir.path().join("state");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).expect("chmod");
    let mut cmd = w.std_cmd_in(&w.project("shop"), &["claim", "web"]);
    // Root ignores folder permissions: as root, the claim runs as `nobody`, which owns the
    // folder but may not write to it either.
    if nix::unistd::geteuid().is_root() {
        crate::support::run_as_nobody(&mut cmd, &w, &[&dir]);
    }
    let out = cmd.output().expect("run");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod back");
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
fn list_shows_claims_grouped_by_project() {
    let w = World::new();
    let web = w.ok(&["claim", "web"]);
    let blog = w.project("blog");
    w.cmd_in(&blog, &["claim", "api"]).assert().success();
    let table = w.ok(&["list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("PORT"), "{table}");
    assert!(
        lines[1].contains("blog") && lines[2].contains("shop") && lines[2].contains(&web),
        "{table}"
    );
    let here = w.ok(&["list", "--here"]);
    assert!(!here.contains("blog"), "{here}");
}

#[test]
fn claim_of_an_existing_service_rewrites_nothing_but_a_stale_last_used() {
    let w = World::new();
    w.ok(&["claim", "web"]);
    let before = w.registry_bytes();
    let planted = plant_old_mtime(&w.registry());
    w.ok(&["claim", "web"]);
    assert_eq!(w.registry_bytes(), before);
    assert_eq!(mtime(&w.registry()), planted, "the registry was rewritten");
    // A claim last used two days ago is refreshed.
    let old = String::from_utf8_lossy(&before).replace(
        &w.registry_json()["claims"][0]["last_used"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        "2020-01-01T00:00:00Z",
    );
    std::fs::write(w.registry(), &old).expect("write");
    w.ok(&["claim", "web"]);
    let refreshed = w.registry_json()["claims"][0]["last_used"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(refreshed.as_str() > "2026", "{refreshed}");
    assert_eq!(
        w.registry_json()["claims"][0]["created"],
        serde_json::from_str::<serde_json::Value>(&old).expect("json")["claims"][0]["created"]
    );
}

#[test]
fn a_git_worktree_file_marks_a_project_root() {
    let w = World::new();
    let main = w.project("shop");
    let tree = w.dir.path().join("shop-feature");
    std::fs::create_dir_all(tree.join("src")).expect("mkdir");
    std::fs::write(
        tree.join(".git"),
        format!("gitdir: {}/.git/worktrees/feature\n", main.display()),
    )
    .expect(".git file");
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
