//! `up` is all-or-nothing and applies a changed manifest with `--move`; options that a command
//! would ignore say so (or are refused), and a busy port names its listener.

use std::net::TcpListener;
use std::path::Path;

use crate::support::{World, port, stderr, stdout};

/// Ports the OS hands out as free right now, all distinct (the listeners are closed again).
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("addr").port())
}

/// A port the policy hands out by itself (claimed in a project of its own, then released), so
/// every static rule allows it.
fn policy_port(w: &World, project: &str) -> u16 {
    let dir = w.project(project);
    let p = port(&w.ok_at(&dir, &["claim", "scratch"]));
    w.ok_at(&dir, &["release", "scratch"]);
    p
}

fn write_manifest(dir: &Path, text: &str) {
    std::fs::write(dir.join("devport.toml"), text).expect("write manifest");
}

/// The ports of the claims of `service`, across every project.
fn claimed(w: &World, service: &str) -> Vec<u64> {
    w.registry_json()["claims"]
        .as_array()
        .expect("claims")
        .iter()
        .filter(|c| c["service"] == service)
        .map(|c| c["port"].as_u64().expect("port"))
        .collect()
}

#[test]
fn up_claims_every_service_or_none_and_names_each_that_fails() {
    let w = World::new();
    let [taken] = free_ports::<1>();
    w.ok_in("other", &["claim", "pg", "--port", &taken.to_string()]);
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy_port = busy.local_addr().expect("addr").port();
    let shop = w.project("upshop");
    write_manifest(
        &shop,
        &format!(
            "name = \"upshop\"\n\n[services.api]\n\n[services.db]\nport = {taken}\n\n[services.webapp]\n\n[services.web]\nport = {busy_port}\n"
        ),
    );
    let before = w.registry_bytes();
    let out = w.fails_in(&shop, &["up"], 1);
    assert_eq!(
        w.registry_bytes(),
        before,
        "a refused up wrote the registry"
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("line 5, column 11: [services.db]: port") && err.contains("other/pg"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "line 10, column 11: [services.web]: port {busy_port} is in use"
        )),
        "{err}"
    );
    assert!(
        err.contains("2 of 4 services cannot be claimed (db, web), so nothing was claimed"),
        "{err}"
    );
    assert!(!err.contains("[services.api]") && !err.contains("[services.webapp]"));
    assert!(claimed(&w, "api").is_empty() && claimed(&w, "webapp").is_empty());

    // Fixed, the same manifest claims everything in one go.
    drop(busy);
    write_manifest(
        &shop,
        "name = \"upshop\"\n[services.api]\n[services.webapp]\n",
    );
    let vars = w.ok_at(&shop, &["up"]);
    assert!(
        vars.contains("API_PORT=") && vars.contains("WEBAPP_PORT="),
        "{vars}"
    );
}

#[test]
fn up_move_applies_a_changed_port_exactly_and_keeps_the_rest() {
    let w = World::new();
    let [first, second] = free_ports::<2>();
    let shop = w.project("moveshop");
    write_manifest(
        &shop,
        &format!("[services.api]\n[services.db]\nport = {first}\n"),
    );
    let vars = w.ok_at(&shop, &["up"]);
    assert!(vars.contains(&format!("export DB_PORT={first}")), "{vars}");
    let api = claimed(&w, "api");

    write_manifest(
        &shop,
        &format!("[services.api]\n[services.db]\nport = {second}\n"),
    );
    let before = w.registry_bytes();
    let err = stderr(&w.fails_in(&shop, &["up"], 1));
    assert_eq!(w.registry_bytes(), before);
    assert!(
        err.contains("line 2, column 11: [services.db]")
            && err.contains(&format!("'devport claim db --port {second} --move'"))
            && err.contains("'devport up --move'"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let vars = w.ok_at(&shop, &["up", "--move"]);
    assert!(vars.contains(&format!("export DB_PORT={second}")), "{vars}");
    assert_eq!(claimed(&w, "db"), [u64::from(second)]);
    assert_eq!(
        claimed(&w, "api"),
        api,
        "an unchanged service kept its port"
    );
    // Applied, the manifest is quiet again.
    w.cmd_in(&shop, &["up"]).assert().success().stderr("");
}

#[test]
fn a_changed_shape_names_the_exact_command() {
    let w = World::new();
    w.ok(&["claim", "grpc"]);
    let err = stderr(&w.fails(&["claim", "grpc", "--count", "2", "--proto", "both"], 1));
    assert!(
        err.contains("'devport claim grpc --count 2 --proto both --move'"),
        "{err}"
    );
    w.ok(&["--global", "claim", "g"]);
    let err = stderr(&w.fails(&["--global", "claim", "g", "--proto", "udp"], 1));
    assert!(
        err.contains("'devport --global claim g --proto udp --move'"),
        "{err}"
    );
}

#[test]
fn up_move_takes_a_changed_preferred_port_when_it_is_free() {
    let w = World::new();
    let wanted = policy_port(&w, "elsewhere");
    let shop = w.project("prefershop");
    write_manifest(&shop, "[services.db]\n");
    let old = port(
        w.ok_at(&shop, &["up", "--format", "dotenv"])
            .trim_start_matches("DB_PORT="),
    );
    assert_ne!(old, wanted);
    write_manifest(&shop, &format!("[services.db]\nprefer = {wanted}\n"));
    let out = w
        .cmd_in(&shop, &["up"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(stdout(&out).contains(&format!("DB_PORT={old}")));
    assert!(
        stderr(&out).contains(&format!("'devport claim db --prefer {wanted} --move'")),
        "{}",
        stderr(&out)
    );
    let vars = w.ok_at(&shop, &["up", "--move"]);
    assert!(vars.contains(&format!("DB_PORT={wanted}")), "{vars}");
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
    // Wine's socket tables show no owner (see `crate::windows::own_pid_json`).
    let listener = if crate::windows::under_wine() {
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
fn env_write_refuses_an_output_format_it_would_ignore() {
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    for (args, asked) in [
        (
            vec!["env", "--format", "json", "--write", "f"],
            "--format json",
        ),
        (vec!["env", "--format", "sh", "--write", "f"], "--format sh"),
        (vec!["--json", "env", "--write", "f"], "--json"),
    ] {
        let err = stderr(&w.fails(&args, 2));
        assert!(
            err.contains(&format!("so {asked} cannot apply")),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!shop.join("f").exists(), "{args:?} wrote the file");
    }
    w.ok(&["env", "--format", "dotenv", "--write", "f"]);
    let text = std::fs::read_to_string(shop.join("f")).expect("written");
    assert!(text.starts_with("WEB_PORT="), "{text}");
}

#[test]
fn env_without_claims_says_so_and_writes_nothing() {
    let w = World::new();
    let shop = w.project("shop");
    let out = w
        .cmd(&["env", "--write", ".env"])
        .assert()
        .success()
        .get_output()
        .clone();
    let err = stderr(&out);
    assert!(
        err.contains(".env was not written: the project shop has no claims"),
        "{err}"
    );
    assert!(!shop.join(".env").exists());
    let err = stderr(&w.cmd(&["env"]).assert().success().get_output().clone());
    assert!(err.contains("the project shop has no claims"), "{err}");
}

#[cfg(unix)]
#[test]
fn exec_env_renames_the_services_variable() {
    let w = World::new();
    let p = w.ok(&["claim", "web"]);
    let out = w.ok(&[
        "exec",
        "web",
        "--env",
        "MYPORT",
        "--",
        "sh",
        "-c",
        "echo \"${WEB_PORT-unset} $MYPORT $PORT\"",
    ]);
    assert_eq!(out, format!("unset {p} {p}"));
}

#[test]
fn json_and_another_format_are_refused_before_anything_is_claimed() {
    let w = World::new();
    let shop = w.project("shop");
    write_manifest(&shop, "[services.web]\n");
    for (args, asked) in [
        (vec!["--json", "up", "--format", "sh"], "--format sh"),
        (
            vec!["--json", "env", "--format", "dotenv"],
            "--format dotenv",
        ),
    ] {
        let err = stderr(&w.fails(&args, 2));
        assert!(
            err.contains(&format!("--json and {asked} ask for two formats")),
            "{args:?}: {err}"
        );
        assert!(w.registry_bytes().is_empty(), "{args:?} claimed");
    }
    let json: serde_json::Value =
        serde_json::from_str(&w.ok(&["--json", "up", "--format", "json"])).expect("json");
    assert!(json["WEB_PORT"].is_string(), "{json}");
}

#[test]
fn up_honours_a_manifest_prefer_and_names_the_manifest_port_in_warnings() {
    let w = World::new();
    let shop = w.project("prefermanifest");
    // A port the OS picked for `port` (so it is free), and an assigned port for `prefer`.
    let pinned = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port();
    let preferred = [24000, 2276, 3689]
        .into_iter()
        .find(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("one of these ports free");
    write_manifest(
        &shop,
        &format!("[services.db]\nport = {pinned}\n\n[services.web]\nprefer = {preferred}\n"),
    );
    let out = w
        .cmd_in(&shop, &["up", "--format", "dotenv"])
        .assert()
        .success()
        .get_output()
        .clone();
    let vars = stdout(&out);
    assert!(vars.contains(&format!("WEB_PORT={preferred}")), "{vars}");
    let err = stderr(&out);
    // Wine's netsh reports no dynamic port range, so there the OS-picked port is not known as
    // ephemeral (the README's platform notes).
    assert!(
        crate::windows::under_wine()
            || err.contains(&format!(
                "port {pinned} is inside the OS ephemeral range; claimed anyway because `port` in devport.toml asks for it"
            )),
        "{err}"
    );
    assert!(!err.contains("--port"), "{err}");
    // Nothing about the preferred port: it was honoured.
    assert!(
        err.lines()
            .all(|l| l.ends_with("because `port` in devport.toml asks for it")),
        "{err}"
    );
}
