//! `claim`: stable per project, blocks (`--count`), `--port`, `--prefer`, `--move`, never a
//! port something holds, concurrency, warnings naming a holder, and bad input.

use std::net::TcpListener;
use std::net::UdpSocket;
use std::process::Stdio;

use serde_json::Value;

use crate::support::{
    World, hold, mtime, plant_old_mtime, policy_port, port, require_ipv6_loopback, retry, stderr,
    stdout,
};

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

/// This test process's name as the OS reports it.
fn process_name() -> String {
    std::fs::read_to_string("/proc/self/comm").map_or_else(
        |_| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default()
        },
        |s| s.trim().to_string(),
    )
}

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
    w.dir(&sub);
    let again = w.ok_at(&sub, &["claim", "web"]);
    assert_eq!(port(&again), first);
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
        if service == "eph" && crate::support::under_wine() {
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
    w.file(w.registry(), &old);
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

#[test]
fn a_block_larger_than_the_range_can_hold_names_the_largest_and_not_gc() {
    let w = World::new();
    let out = w.fails(&["claim", "big", "--count", "1000"], 1);
    let err = stderr(&out);
    assert!(err.contains("longest run of usable ports"), "{err}");
    assert!(!err.contains("gc"), "{err}");
    assert!(w.registry_bytes().is_empty());
}

#[test]
fn claim_warns_naming_the_holder_when_the_port_is_in_use() {
    let w = World::new();
    let first = w.ok_in("busyclaim", &["claim", "web"]);
    let listener = hold(port(&first));
    let out = w
        .cmd_in(&w.project("busyclaim"), &["claim", "web"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stdout(&out), first, "the claim's port is still printed");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "devport: warning: web's port {first} is in use by "
        )),
        "{err}"
    );
    assert!(err.contains(&crate::support::own_pid_text()), "{err}");
    #[cfg(target_os = "linux")]
    {
        let here = std::env::current_dir().expect("cwd");
        assert!(err.contains(&format!(" in {}", here.display())), "{err}");
    }
    assert!(err.contains("devport claim web --move"), "{err}");
    drop(listener);
    let out = w
        .cmd_in(&w.project("busyclaim"), &["claim", "web"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stderr(&out), "", "a free port is claimed without a word");
}

/// The project's own server on its port is no squatter: the test process works in the crate's
/// folder, so a claim for that folder's project notes it is running, with no warning.
#[cfg(target_os = "linux")]
#[test]
fn claim_notes_the_projects_own_server_without_a_warning() {
    let w = World::new();
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let args = ["--project", crate_dir, "claim", "own-server-newcomer-cli"];
    let first = w.ok_at(w.dir.path(), &args);
    let _listener = hold(port(&first));
    let out = w
        .cmd_in(w.dir.path(), &args)
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stdout(&out), first);
    assert!(
        stderr(&out).starts_with(&format!(
            "devport: own-server-newcomer-cli: already running: pid {} (",
            std::process::id()
        )),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn blocks_show_as_a_range_in_tables_and_messages_and_as_ports_in_data() {
    let w = World::new();
    let ports = w.ok(&["claim", "grpc", "--count", "20"]);
    let words: Vec<&str> = ports.split(' ').collect();
    assert_eq!(
        words.len(),
        20,
        "claim prints every port for scripts: {ports}"
    );
    let block = format!("{}-{}", words[0], words[19]);
    let list = w.ok(&["list"]);
    let row = list.lines().find(|l| l.contains("grpc")).expect("grpc row");
    assert!(row.starts_with(&format!("{block}  ")), "{list}");
    assert!(!row.contains(words[1]), "{list}");
    let listed: serde_json::Value = serde_json::from_str(&w.ok(&["--json", "list"])).expect("json");
    assert_eq!(listed[0]["ports"].as_array().map(Vec::len), Some(20));
    let out = w
        .cmd(&["release", "grpc"])
        .assert()
        .success()
        .get_output()
        .clone();
    let err = stderr(&out);
    assert!(err.contains(&format!("({block})")), "{err}");
    assert!(!err.contains(words[1]), "{err}");
}

#[test]
fn claim_says_when_it_ignores_prefer_or_range() {
    let w = World::new();
    let wanted = policy_port(&w, "elsewhere");
    let shop = w.project("shop");
    let held = port(&w.ok(&["claim", "web"]));
    assert_ne!(held, wanted);
    let out = w
        .cmd_in(&shop, &["claim", "web", "--prefer", &wanted.to_string()])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(port(&stdout(&out)), held);
    assert!(
        stderr(&out).contains(&format!("'devport claim web --prefer {wanted} --move'")),
        "{}",
        stderr(&out)
    );
    let outside = format!("{}-{}", held + 1, held + 100);
    let out = w
        .cmd_in(&shop, &["claim", "web", "--range", &outside])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(port(&stdout(&out)), held);
    assert!(
        stderr(&out).contains(&format!("'devport claim web --range {outside} --move'")),
        "{}",
        stderr(&out)
    );
    // Options the claim already satisfies, and none at all, stay quiet.
    let around = format!("{}-{}", held - 1, held + 1);
    for args in [
        vec!["claim", "web", "--range", &around],
        vec!["claim", "web", "--prefer", &held.to_string()],
        vec!["claim", "web"],
    ] {
        w.cmd_in(&shop, &args).assert().success().stderr("");
    }
}

#[test]
fn claim_of_a_busy_port_names_the_listener() {
    let w = World::new();
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = l.local_addr().expect("addr").port();
    let before = w.registry_bytes();
    let err = stderr(&w.fails(&["claim", "z", "--port", &p.to_string()], 1));
    assert_eq!(w.registry_bytes(), before);
    // Wine's socket tables show no owner (see `crate::support::own_pid_json`).
    let listener = if crate::support::under_wine() {
        format!("something listens on tcp 127.0.0.1:{p} (owner not visible)")
    } else {
        format!(
            "pid {} ({}) listens on tcp 127.0.0.1:{p}",
            std::process::id(),
            process_name()
        )
    };
    assert!(err.contains(&listener), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// In a folder that no manifest or repository makes a project (a home folder; here a temporary
/// one that HOME names), `claim` says on stderr, in one escaped line, which folder it claimed
/// for; in a repository it says nothing.
#[test]
fn claim_names_the_folder_when_no_project_is_found() {
    let w = World::new();
    let name = if cfg!(unix) {
        "home\nof me"
    } else {
        "home of me"
    };
    let home = dunce::canonicalize(w.dir(name)).expect("canonical");
    let out = w
        .cmd_in(&home, &["claim", "web"])
        .env("HOME", &home)
        .assert()
        .success()
        .get_output()
        .clone();
    let shown = home.display().to_string().replace('\n', "\\n");
    assert_eq!(
        stderr(&out),
        format!(
            "devport: claimed web for the folder {shown} (no devport.toml or git repository there or above, so the folder itself is the project)"
        )
    );
    let project = w.project("repo");
    let out = w
        .cmd_in(&project, &["claim", "web"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stderr(&out), "");
}
