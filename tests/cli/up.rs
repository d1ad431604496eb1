//! `up`: every service of the manifest claimed or none, `--move`, preferred ports, and the
//! checks it makes before claiming anything.

use std::net::TcpListener;

use crate::support::{World, policy_port, port, refused, stderr, stdout};

/// Ports the OS hands out as free right now, all distinct (the listeners are closed again).
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("addr").port())
}

/// The ports of the claims of `service`, across every project.
fn claimed_ports(w: &World, service: &str) -> Vec<u64> {
    w.registry_json()["claims"]
        .as_array()
        .expect("claims")
        .iter()
        .filter(|c| c["service"] == service)
        .map(|c| c["port"].as_u64().expect("port"))
        .collect()
}

const MANIFEST: &str = r#"name = "shop"

[services.web]
prefer = 23456

[services.db]
port = 25432

[services.grpc]
count = 3

[services.dns]
proto = "udp"
env = "RESOLVER_PORT"
"#;

#[test]
fn global_up_says_up_needs_a_project() {
    World::new()
        .test(&["--global", "up"])
        .stderr(
            "devport: up reads a project's devport.toml, and --global claims belong to no \
             project; run 'devport up' in the project's folder, or 'devport --global claim \
             SERVICE' for a global claim\n",
        )
        .status(2)
        .run();
}

#[test]
fn up_claims_every_service_or_none_and_names_each_that_fails() {
    let w = World::new();
    let [taken] = free_ports::<1>();
    w.ok_in("other", &["claim", "pg", "--port", &taken.to_string()]);
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy_port = busy.local_addr().expect("addr").port();
    let shop = w.project("upshop");
    w.manifest(
        &shop,
        format!(
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
    assert!(claimed_ports(&w, "api").is_empty() && claimed_ports(&w, "webapp").is_empty());

    // Fixed, the same manifest claims everything in one go.
    drop(busy);
    w.manifest(
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
    w.manifest(
        &shop,
        format!("[services.api]\n[services.db]\nport = {first}\n"),
    );
    let vars = w.ok_at(&shop, &["up"]);
    assert!(vars.contains(&format!("export DB_PORT={first}")), "{vars}");
    let api = claimed_ports(&w, "api");

    w.manifest(
        &shop,
        format!("[services.api]\n[services.db]\nport = {second}\n"),
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
    assert_eq!(claimed_ports(&w, "db"), [u64::from(second)]);
    assert_eq!(
        claimed_ports(&w, "api"),
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
    w.manifest(&shop, "[services.db]\n");
    let old = port(
        w.ok_at(&shop, &["up", "--format", "dotenv"])
            .trim_start_matches("DB_PORT="),
    );
    assert_ne!(old, wanted);
    w.manifest(&shop, format!("[services.db]\nprefer = {wanted}\n"));
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
fn json_and_another_format_are_refused_before_anything_is_claimed() {
    let w = World::new();
    let shop = w.project("shop");
    w.manifest(&shop, "[services.web]\n");
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
    w.manifest(
        &shop,
        format!("[services.db]\nport = {pinned}\n\n[services.web]\nprefer = {preferred}\n"),
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
        crate::support::under_wine()
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

#[test]
fn up_checks_the_env_file_before_claiming() {
    let w = World::new();
    let shop = w.project("shop");
    w.manifest(&shop, "[services.web]\n");
    w.file(shop.join(".env"), "X='never closed\n");
    refused(&w, &shop, &["up", "--write-env", ".env"], 2);
    assert!(!w.registry().exists());
}

#[test]
fn up_refuses_services_sharing_a_variable_before_claiming() {
    let w = World::new();
    let shop = w.project("shop");
    for manifest in [
        "[services.a]\nenv = \"X_PORT\"\n[services.b]\nenv = \"X_PORT\"\n",
        "[services.\"api.v2\"]\n[services.api-v2]\n",
        "[services.a]\ncount = 2\n[services.b]\nenv = \"A_PORT_1\"\n",
    ] {
        w.manifest(&shop, manifest);
        let err = refused(&w, &shop, &["up", "--write-env", ".env"], 2);
        assert!(
            err.contains("devport.toml") && err.contains("would both set"),
            "{err}"
        );
        assert!(
            (err.contains(" a ") && err.contains(" b "))
                || (err.contains("api.v2") && err.contains("api-v2")),
            "{err}"
        );
        assert!(!w.registry().exists() && !shop.join(".env").exists());
    }
    // A manifest service against a claim the manifest does not list.
    w.ok(&["claim", "api.v2"]);
    w.manifest(&shop, "[services.web]\n[services.api-v2]\n");
    let err = refused(&w, &shop, &["up"], 2);
    assert!(err.contains("api.v2") && err.contains("api-v2"), "{err}");
}

#[test]
fn up_claims_the_manifest_and_is_idempotent() {
    let w = World::new();
    let shop = w.project("shop");
    w.trusted_manifest(&shop, MANIFEST);
    w.ok(&["claim", "old"]);
    let out = w
        .cmd(&["up", "--format", "dotenv"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stderr(&out).contains("shop/old") && stderr(&out).contains("devport release old"),
        "{}",
        stderr(&out)
    );
    let first = stdout(&out);
    let vars: std::collections::BTreeMap<String, String> =
        crate::support::dotenv(&first).into_iter().collect();
    assert_eq!(vars.get("DB_PORT").map(String::as_str), Some("25432"));
    assert!(
        vars.contains_key("WEB_PORT")
            && vars.contains_key("RESOLVER_PORT")
            && vars.contains_key("GRPC_PORT_2"),
        "{first}"
    );
    assert!(!vars.contains_key("OLD_PORT"));
    let reg = w.registry_json();
    let claims = reg["claims"].as_array().cloned().unwrap_or_default();
    let get = |s: &str| {
        claims
            .iter()
            .find(|c| c["service"] == s)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(get("grpc")["count"], 3);
    assert_eq!(get("dns")["proto"], "udp");
    let again = w.ok(&["up", "--format", "dotenv"]);
    assert_eq!(again, first);
    // --write-env merges into a dotenv file.
    w.cmd(&["up", "--write-env", ".env"]).assert().success();
    let written = std::fs::read_to_string(shop.join(".env")).expect("read");
    assert_eq!(written.trim(), first);
}

/// `up` warns about a squatter on a claimed port as `claim` does: the same line, from the same
/// code, while the variables are still printed.
#[test]
fn up_warns_about_a_squatter_as_claim_does() {
    let w = World::new();
    let dir = w.project("upsquat");
    let p = port(&w.ok_at(&dir, &["claim", "web"]));
    w.manifest(&dir, "[services.web]\n");
    let _squatter = crate::support::hold(p);
    let claim = w
        .cmd_in(&dir, &["claim", "web"])
        .assert()
        .success()
        .get_output()
        .clone();
    let up = w
        .cmd_in(&dir, &["up"])
        .assert()
        .success()
        .get_output()
        .clone();
    let warning = stderr(&claim);
    assert!(
        warning.starts_with(&format!("devport: warning: web's port {p} is in use by ")),
        "{warning}"
    );
    assert_eq!(stderr(&up), warning);
    assert_eq!(stdout(&up), format!("export WEB_PORT={p}"));
}
