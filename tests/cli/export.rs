//! `export`: Traefik and Caddy configurations of the claims, with unique DNS-safe names,
//! written atomically and safely.

use std::path::Path;

#[cfg(unix)]
use crate::support::chmod;
use crate::support::{World, stderr, stdout};

/// A project with an HTTP service, a database marked `http = false`, a block of two ports and
/// a UDP-only service, all claimed by `up`.
fn exported_project(w: &World, folder: &str) -> std::path::PathBuf {
    let dir = w.project(folder);
    w.manifest(&dir, "name = \"Shop_Front\"\n[services.web]\n[services.db]\nhttp = false\n[services.Grpc_X]\ncount = 2\n[services.dns]\nproto = \"udp\"\n",);
    w.ok_at(&dir, &["up"]);
    dir
}

/// `SERVICE -> port` of the project in `dir`, from `list --here --json`.
fn listed_ports(w: &World, dir: &Path) -> std::collections::BTreeMap<String, u16> {
    let list: serde_json::Value =
        serde_json::from_str(&w.ok_at(dir, &["list", "--here", "--json"])).expect("JSON");
    list.as_array()
        .expect("array")
        .iter()
        .map(|c| {
            (
                c["service"].as_str().expect("service").to_string(),
                u16::try_from(c["port"].as_u64().expect("port")).expect("u16"),
            )
        })
        .collect()
}

/// `caddy adapt` of `file`: it must accept the file; its JSON configuration.
fn caddy_adapt(w: &World, file: &Path) -> serde_json::Value {
    let out = std::process::Command::new("caddy")
        .args(["adapt", "--adapter", "caddyfile", "--config"])
        .arg(file)
        .env("HOME", w.dir.path())
        .env("XDG_CONFIG_HOME", w.dir.path())
        .env("XDG_DATA_HOME", w.dir.path())
        .output()
        .expect("caddy is needed for this test");
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("caddy's JSON")
}

/// `web` claimed in `a/shop`, then in `b/shop`, then in `c/shop`: three checkouts of the
/// project `shop`, named `main`, `shop` (the folder) and `shop-2`; the three ports in that
/// order.
fn colliding_projects(w: &World) -> [u16; 3] {
    let claim = |dir: &Path| crate::support::port(&w.ok_at(dir, &["claim", "web"]));
    ["a/shop", "b/shop", "c/shop"].map(|dir| claim(&w.project(dir)))
}

#[test]
fn export_traefik_routes_each_http_port_by_a_dns_safe_name() {
    let w = World::new();
    let dir = exported_project(&w, "front");
    let ports = listed_ports(&w, &dir);
    let before = w.registry_bytes();
    let yaml = w.ok_at(&dir, &["export", "traefik"]);
    let doc: serde_json::Value = serde_yaml_ng::from_str(&yaml).expect("Traefik YAML parses");
    let expected = [
        ("web.shop-front.localhost", ports["web"]),
        ("grpc-x.shop-front.localhost", ports["Grpc_X"]),
        ("0.grpc-x.shop-front.localhost", ports["Grpc_X"]),
        ("1.grpc-x.shop-front.localhost", ports["Grpc_X"] + 1),
    ];
    let routers = doc["http"]["routers"].as_object().expect("routers");
    let services = doc["http"]["services"].as_object().expect("services");
    assert_eq!(routers.len(), expected.len(), "{yaml}");
    assert_eq!(services.len(), expected.len(), "{yaml}");
    for (host, port) in expected {
        let (name, router) = routers
            .iter()
            .find(|(_, r)| r["rule"] == format!("Host(`{host}`)"))
            .unwrap_or_else(|| panic!("no router for {host}:\n{yaml}"));
        assert_eq!(router["service"], name.as_str());
        assert_eq!(
            services[name]["loadBalancer"]["servers"][0]["url"],
            format!("http://localhost:{port}")
        );
    }
    // The same routes as JSON; export changes nothing in the registry.
    let json: serde_json::Value =
        serde_json::from_str(&w.ok_at(&dir, &["export", "traefik", "--json"])).expect("JSON");
    let hosts: Vec<&str> = json
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["host"].as_str().expect("host"))
        .collect();
    assert_eq!(
        hosts,
        [
            "0.grpc-x.shop-front.localhost",
            "1.grpc-x.shop-front.localhost",
            "grpc-x.shop-front.localhost",
            "web.shop-front.localhost"
        ]
    );
    assert_eq!(w.registry_bytes(), before);
    // No claims: a configuration that still parses, with nothing in it.
    let empty = w.project("empty");
    let yaml = w.ok_at(&empty, &["export", "traefik"]);
    let doc: serde_json::Value = serde_yaml_ng::from_str(&yaml).expect("parses");
    assert_eq!(doc["http"]["routers"], serde_json::json!({}));
}

#[test]
fn export_all_names_two_checkouts_of_one_project_apart_and_writes_atomically() {
    let w = World::new();
    let first = exported_project(&w, "a-front");
    let second = exported_project(&w, "b-front");
    let (p1, p2) = (
        listed_ports(&w, &first)["web"],
        listed_ports(&w, &second)["web"],
    );
    let out = w.dir.path().join("proxy.yml");
    let out_arg = out.to_str().expect("utf-8 path");
    let run = |said: &str| {
        let o = w
            .cmd_in(&first, &["export", "traefik", "--all", "--write", out_arg])
            .assert()
            .success()
            .get_output()
            .clone();
        assert!(stdout(&o).is_empty());
        assert_eq!(stderr(&o), said);
    };
    run(&format!("devport: 8 name(s) in {out_arg}"));
    let text = std::fs::read_to_string(&out).expect("written");
    let doc: serde_json::Value = serde_yaml_ng::from_str(&text).expect("parses");
    let url = |host: &str| {
        let routers = doc["http"]["routers"].as_object().expect("routers");
        let (name, _) = routers
            .iter()
            .find(|(_, r)| r["rule"] == format!("Host(`{host}`)"))
            .unwrap_or_else(|| panic!("no router for {host}:\n{text}"));
        doc["http"]["services"][name]["loadBalancer"]["servers"][0]["url"].clone()
    };
    // The first checkout claimed first and keeps the plain name; the other is named by its
    // folder.
    assert_eq!(
        url("web.shop-front.localhost"),
        format!("http://localhost:{p1}")
    );
    assert_eq!(
        url("web.b-front.shop-front.localhost"),
        format!("http://localhost:{p2}")
    );
    // The same names every time, from either checkout; an unchanged file is not rewritten.
    let planted = crate::support::plant_old_mtime(&out);
    run(&format!(
        "devport: {out_arg} is up to date (8 name(s), unchanged)"
    ));
    assert_eq!(std::fs::read_to_string(&out).expect("read"), text);
    assert_eq!(
        crate::support::mtime(&out),
        planted,
        "an unchanged file was rewritten"
    );
    assert_eq!(
        w.ok_at(&second, &["export", "traefik", "--all"]),
        text.trim()
    );
    // No temp file is left beside it.
    let names: Vec<_> = std::fs::read_dir(w.dir.path())
        .expect("ls")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("proxy"))
        .collect();
    assert_eq!(names, ["proxy.yml"]);
}

#[test]
fn export_refuses_bad_input_and_writes_nothing() {
    let w = World::new();
    let dir = w.project("bad-export");
    w.manifest(&dir, "[services.web]\nhttp = \"no\"\n");
    let out = w.fails_in(&dir, &["export", "caddy"], 2);
    assert!(
        stderr(&out).contains("devport.toml: line 2, column 8"),
        "{}",
        stderr(&out)
    );
    w.manifest(&dir, "[services.web]\n");
    w.ok_at(&dir, &["up"]);
    // A FIFO in the way is refused at once (never opened for reading, never replaced).
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        let fifo = dir.join("Caddyfile");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        let out = w.fails_in(&dir, &["export", "caddy", "--write", "Caddyfile"], 3);
        assert!(stderr(&out).contains("FIFO"), "{}", stderr(&out));
        assert!(
            std::fs::symlink_metadata(&fifo)
                .expect("still there")
                .file_type()
                .is_fifo()
        );
    }
    w.fails_in(&dir, &["export", "nginx"], 2);
}

#[test]
#[ignore = "needs caddy (Debian's caddy package; .ci/run installs it)"]
fn caddy_adapts_the_exported_caddyfile() {
    let w = World::new();
    let dir = exported_project(&w, "caddy-front");
    let ports = listed_ports(&w, &dir);
    let file = dir.join("Caddyfile");
    w.ok_at(&dir, &["export", "caddy", "--write", "Caddyfile"]);
    let config = caddy_adapt(&w, &file);
    let routes = config["apps"]["http"]["servers"]["srv0"]["routes"]
        .as_array()
        .expect("routes");
    let route_of = |host: &str| {
        routes
            .iter()
            .find(|r| r["match"][0]["host"][0] == host)
            .map(|r| r["handle"][0]["routes"][0]["handle"][0]["upstreams"][0]["dial"].clone())
    };
    assert_eq!(routes.len(), 4, "{config}");
    assert_eq!(
        route_of("web.shop-front.localhost"),
        Some(serde_json::json!(format!("localhost:{}", ports["web"])))
    );
    assert_eq!(
        route_of("1.grpc-x.shop-front.localhost"),
        Some(serde_json::json!(format!(
            "localhost:{}",
            ports["Grpc_X"] + 1
        )))
    );
    assert_eq!(route_of("db.shop-front.localhost"), None);
}

/// Three checkouts, three different host names, in `--json`, the Caddyfile (one site each)
/// and Traefik's YAML (one router and one service each, each to its own port): the oldest has
/// the plain name, the others their folder's name, numbered by age when it meets another.
#[test]
fn export_names_checkouts_by_folder_and_numbers_names_that_meet() {
    let w = World::new();
    let [a, b, c] = colliding_projects(&w);
    let json: serde_json::Value =
        serde_json::from_str(&w.ok(&["export", "traefik", "--all", "--json"])).expect("JSON");
    let hosts: std::collections::BTreeMap<String, u64> = json
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| {
            (
                r["host"].as_str().expect("host").to_string(),
                r["port"].as_u64().expect("port"),
            )
        })
        .collect();
    let want: std::collections::BTreeMap<String, u64> = [
        ("web.shop.localhost", a),
        ("web.shop.shop.localhost", b),
        ("web.shop-2.shop.localhost", c),
    ]
    .into_iter()
    .map(|(h, p)| (h.to_string(), u64::from(p)))
    .collect();
    assert_eq!(hosts, want, "{json}");
    let distinct = |lines: &[&str]| {
        lines
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    let caddy = w.ok(&["export", "caddy", "--all"]);
    let sites: Vec<&str> = caddy.lines().filter_map(|l| l.strip_suffix(" {")).collect();
    assert_eq!((sites.len(), distinct(&sites)), (3, 3), "{caddy}");
    let yaml = w.ok(&["export", "traefik", "--all"]);
    let rules: Vec<&str> = yaml
        .lines()
        .filter(|l| l.trim().starts_with("rule:"))
        .collect();
    assert_eq!((rules.len(), distinct(&rules)), (3, 3), "{yaml}");
    // Three routers and three services, each name once in each.
    let names: Vec<&str> = yaml
        .lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     ") && l.ends_with(':'))
        .collect();
    assert_eq!((names.len(), distinct(&names)), (6, 3), "{yaml}");
    let doc: serde_json::Value = serde_yaml_ng::from_str(&yaml).expect("Traefik YAML parses");
    for (host, port) in &hosts {
        let (name, _) = doc["http"]["routers"]
            .as_object()
            .expect("routers")
            .iter()
            .find(|(_, r)| r["rule"] == format!("Host(`{host}`)"))
            .unwrap_or_else(|| panic!("no router for {host}:\n{yaml}"));
        assert_eq!(
            doc["http"]["services"][name]["loadBalancer"]["servers"][0]["url"],
            format!("http://localhost:{port}")
        );
    }
}

#[test]
#[ignore = "needs caddy (Debian's caddy package; .ci/run installs it)"]
fn caddy_adapts_names_made_unique() {
    let w = World::new();
    let ports = colliding_projects(&w);
    let file = w.dir.path().join("Caddyfile");
    w.ok(&[
        "export",
        "caddy",
        "--all",
        "--write",
        file.to_str().expect("UTF-8"),
    ]);
    let config = caddy_adapt(&w, &file);
    let routes = config["apps"]["http"]["servers"]["srv0"]["routes"]
        .as_array()
        .expect("routes");
    assert_eq!(routes.len(), 3, "{config}");
    for port in ports {
        let dial = serde_json::json!(format!("localhost:{port}"));
        assert!(
            routes
                .iter()
                .any(|r| r["handle"][0]["routes"][0]["handle"][0]["upstreams"][0]["dial"] == dial),
            "{config}"
        );
    }
}

/// `export --write` writes as `env --write` does: through the user's own symlink (the link
/// stays and its target gets the text), never into a folder every user may write.
#[cfg(unix)]
#[test]
fn export_write_keeps_the_users_symlink_and_refuses_open_folders() {
    let w = World::new();
    let dir = exported_project(&w, "link-front");
    // A link inside the project to a file inside it (a link out of it is refused: see
    // trust_owners::a_committed_link_does_not_choose_what_is_written).
    let target = dir.join("dotfiles/devport.Caddyfile");
    w.dir(target.parent().expect("parent"));
    w.file(&target, "# old\n");
    let link = dir.join("Caddyfile");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    w.ok_at(
        &dir,
        &["export", "caddy", "--write", link.to_str().expect("UTF-8")],
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink(),
        "the symlink was replaced by a file"
    );
    assert!(
        std::fs::read_to_string(&target)
            .expect("target")
            .contains("web.shop-front.localhost"),
        "the link's target did not get the text"
    );
    let open = w.dir.path().join("open");
    std::fs::create_dir(&open).expect("open folder");
    chmod(&open, 0o777);
    let file = open.join("Caddyfile");
    let out = w.fails_in(
        &dir,
        &["export", "caddy", "--write", file.to_str().expect("UTF-8")],
        3,
    );
    assert!(
        stderr(&out).contains("cannot be written"),
        "{}",
        stderr(&out)
    );
    assert!(!file.exists());
}

/// Another user's output file is never replaced (root would otherwise take it over).
#[cfg(unix)]
#[test]
#[ignore = "needs root: a file owned by the user nobody"]
fn export_write_refuses_another_users_file() {
    use std::os::unix::fs::MetadataExt as _;
    let w = World::new();
    let dir = exported_project(&w, "foreign-front");
    let theirs = w.dir.path().join("theirs");
    std::fs::create_dir(&theirs).expect("folder");
    let file = theirs.join("Caddyfile");
    w.file(&file, "# mine\n");
    let nobody = Some(nix::unistd::Uid::from_raw(65534));
    nix::unistd::chown(&file, nobody, None).expect("chown");
    let out = w.fails_in(
        &dir,
        &["export", "caddy", "--write", file.to_str().expect("UTF-8")],
        3,
    );
    assert!(stderr(&out).contains("uid 65534"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&file).expect("file"), "# mine\n");
    assert_eq!(std::fs::metadata(&file).expect("meta").uid(), 65534);
}
