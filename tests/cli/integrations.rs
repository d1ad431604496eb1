//! `kill`, `wait` and `export`: against real listeners (python3 children and sockets of this
//! test process) on loopback ports the OS or devport picked.

#[cfg(unix)]
use std::io::BufRead as _;
#[cfg(unix)]
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
#[cfg(unix)]
use std::process::Stdio;
#[cfg(unix)]
use std::time::{Duration, Instant};

#[cfg(unix)]
use crate::support::{Reaped, port};
use crate::support::{World, stderr, stdout};

/// A python3 child working in `dir` that binds `port` on 127.0.0.1 (TCP), prints `ready` and
/// sleeps; `ignore_term` makes it ignore SIGTERM.
#[cfg(unix)]
fn listener(dir: &Path, port: u16, ignore_term: bool) -> Reaped {
    listener_with(
        dir,
        port,
        if ignore_term {
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)"
        } else {
            ""
        },
    )
}

/// The same, running the python3 statement `prelude` first.
#[cfg(unix)]
fn listener_with(dir: &Path, port: u16, prelude: &str) -> Reaped {
    let script = format!(
        "import signal, socket, time\n\
         {prelude}\n\
         s = socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {port}))\n\
         s.listen()\n\
         print('ready', flush=True)\n\
         time.sleep(120)\n"
    );
    let mut child = Reaped(
        std::process::Command::new("python3")
            .args(["-c", &script])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed for this test"),
    );
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("read the child's first line");
    assert_eq!(line.trim(), "ready", "the python3 listener did not start");
    child
}

/// A loopback port the OS picked, free again when this returns.
#[cfg(unix)]
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an OS-picked port")
        .port()
}

#[cfg(unix)]
fn is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// The child's status once it exits (within 10 s), else `None` (it keeps running).
#[cfg(unix)]
pub(crate) fn exit_of(child: &mut Reaped, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.0.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// python3 listeners stopped with SIGTERM/SIGKILL: Unix by nature.
#[cfg(unix)]
#[test]
fn wait_for_a_service_started_with_exec_the_readme_recipe() {
    let w = World::new();
    let dir = w.project("int-recipe");
    // `wait` starts first: the service has no claim yet, and `exec` claims it meanwhile.
    let mut waiter = Reaped(
        w.std_cmd_in(&dir, &["wait", "web", "--owned", "--timeout", "20s"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn wait"),
    );
    std::thread::sleep(Duration::from_millis(300));
    let script = "import os, socket, time\ntime.sleep(0.5)\ns = socket.socket()\ns.bind(('127.0.0.1', int(os.environ['PORT'])))\ns.listen()\ntime.sleep(120)\n";
    let mut server = Reaped(
        w.std_cmd_in(&dir, &["exec", "web", "--", "python3", "-c", script])
            .spawn()
            .expect("spawn exec"),
    );
    let mut text = String::new();
    std::io::Read::read_to_string(&mut waiter.0.stdout.take().expect("stdout"), &mut text)
        .expect("read the output of wait");
    assert_eq!(waiter.0.wait().expect("wait").code(), Some(0));
    let p = port(&w.ok_at(&dir, &["claim", "web"]));
    assert!(
        text.starts_with(&format!("tcp 127.0.0.1:{p} pid {} ", server.0.id())),
        "{text}"
    );
    server.kill();
}

/// `wait web --owned --timeout 1s` in `dir` times out (exit 1, nothing on stdout), saying port
/// `p` is not the project's because this test process, working in the crate's folder, holds a
/// socket on it.
#[cfg(unix)]
fn waits_for_another_folders_server(w: &World, dir: &Path, p: u16) {
    let out = w.fails_in(dir, &["wait", "web", "--owned", "--timeout", "1s"], 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "service web was not ready within 1 s: tcp port {p} is not this project's: pid {} (",
            std::process::id()
        )) && err.contains(") works in "),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}

// python3 listeners stopped with SIGTERM/SIGKILL: Unix by nature.
#[cfg(unix)]
#[test]
fn wait_owned_ignores_a_server_working_in_another_folder() {
    let w = World::new();
    let dir = w.project("int-owned");
    let p = port(&w.ok_at(&dir, &["claim", "web"]));
    // This test process serves the port; its folder is the crate's, not the project's.
    let here = std::net::TcpListener::bind(("127.0.0.1", p)).expect("bind the claimed port");
    let started = Instant::now();
    waits_for_another_folders_server(&w, &dir, p);
    assert!(started.elapsed() >= Duration::from_secs(1));
    // Without --owned the same server is ready, and JSON names it.
    let json: serde_json::Value =
        serde_json::from_str(&w.ok_at(&dir, &["wait", "web", "--json"])).expect("JSON");
    assert_eq!(json["ready"], true);
    assert_eq!(json["sockets"][0]["port"], p);
    assert_eq!(json["sockets"][0]["pid"], std::process::id());
    // A server working in the project's folder counts with --owned.
    drop(here);
    let mut server = listener(&dir, p, false);
    let text = w.ok_at(&dir, &["wait", "web", "--owned"]);
    assert!(text.contains(&format!("pid {}", server.0.id())), "{text}");
    server.kill();
}

/// Red team 2, finding 1: the project's server on 127.0.0.1 does not make the port the
/// project's while another folder's server listens on it over IPv6 (`::1`): every socket on
/// the port must be the project's, not the first one found.
#[cfg(unix)]
#[test]
fn wait_owned_needs_every_socket_on_the_port_to_be_the_projects() {
    let w = World::new();
    let dir = w.project("int-owned-both");
    let p = port(&w.ok_at(&dir, &["claim", "web"]));
    let mut server = listener(&dir, p, false);
    // This test process, working in the crate's folder, listens on the other family.
    let other = std::net::TcpListener::bind(("::1", p)).expect("bind [::1] on the claimed port");
    waits_for_another_folders_server(&w, &dir, p);
    // Once only the project's server listens, the port is ready.
    drop(other);
    let text = w.ok_at(&dir, &["wait", "web", "--owned", "--timeout", "5s"]);
    assert!(text.contains(&format!("pid {}", server.0.id())), "{text}");
    server.kill();
}

// python3 listeners stopped with SIGTERM/SIGKILL: Unix by nature.
#[cfg(unix)]
#[test]
fn wait_times_out_with_exit_1_and_waits_for_udp_binds() {
    let w = World::new();
    let p = free_port();
    let out = w.fails(&["wait", &p.to_string(), "--timeout", "1s", "--json"], 1);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["ready"], false);
    assert_eq!(json["reason"], format!("nothing listens on tcp port {p}"));
    // A bound UDP socket is what --proto udp waits for.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    let u = udp.local_addr().expect("addr").port();
    let text = w.ok(&["wait", &u.to_string(), "--proto", "udp", "--timeout", "5s"]);
    assert!(
        text.starts_with(&format!("udp 127.0.0.1:{u} pid {}", std::process::id())),
        "{text}"
    );
}

// python3 listeners stopped with SIGTERM/SIGKILL: Unix by nature.
#[cfg(unix)]
#[test]
fn kill_and_wait_refuse_bad_targets_and_change_nothing() {
    let w = World::new();
    w.ok(&["claim", "web"]);
    let before = w.registry_bytes();
    for args in [
        &["kill", "0"][..],
        &["kill", "70000"],
        &["kill", "a b"],
        &["kill", "nosuch"],
        &["wait", "0"],
        &["wait", "-x"],
        &["wait", "--global", "web", "--owned"],
        &["kill", "web", "--timeout", "soon"],
    ] {
        let out = w.fails(args, 2);
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("devport: "), "{args:?}: {err}");
    }
    assert_eq!(w.registry_bytes(), before);
}

// python3 listeners stopped with SIGTERM/SIGKILL: Unix by nature.
#[cfg(unix)]
#[test]
fn kill_stops_a_service_with_sigterm_and_says_what_it_stopped() {
    let w = World::new();
    let dir = w.project("int-kill");
    let p = port(&w.ok_at(&dir, &["claim", "web"]));
    let mut server = listener(&dir, p, false);
    let pid = server.0.id();
    let real = std::fs::canonicalize(&dir).expect("canonical");

    let dry = w.ok_at(&dir, &["kill", "web", "--dry-run"]);
    assert!(dry.starts_with(&format!("would stop pid {pid} (")), "{dry}");
    assert!(
        dry.ends_with(&format!("in {}, port {p}", real.display())),
        "{dry}"
    );
    assert!(exit_of(&mut server, Duration::from_millis(300)).is_none());

    let json: serde_json::Value =
        serde_json::from_str(&w.ok_at(&dir, &["kill", "web", "--json"])).expect("JSON");
    assert_eq!(json["port_free"], true);
    assert_eq!(json["forced"], false);
    assert_eq!(json["processes"][0]["pid"], pid);
    assert_eq!(json["processes"][0]["ports"][0], p);
    assert_eq!(json["processes"][0]["folder"], real.display().to_string());
    let status = exit_of(&mut server, Duration::from_secs(10)).expect("the server exited");
    assert_eq!(status.signal(), Some(15), "{status:?}");
    assert!(is_free(p));

    let out = w.fails_in(&dir, &["kill", "web"], 1);
    assert_eq!(stderr(&out), "devport: nothing listens on service web");
}

// python3 listeners stopped with SIGTERM/SIGKILL: Unix by nature.
#[cfg(unix)]
#[test]
fn kill_sends_sigkill_only_with_force() {
    let w = World::new();
    let dir = w.project("int-force");
    let p = free_port();
    let mut server = listener(&dir, p, true);
    let out = w.fails_in(&dir, &["kill", &p.to_string(), "--timeout", "1s"], 1);
    assert!(
        stderr(&out).contains(&format!(
            "port {p} is still busy 1 s after SIGTERM; run again with --force"
        )),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).starts_with(&format!("signalled pid {}", server.0.id())));
    assert!(exit_of(&mut server, Duration::from_millis(200)).is_none());
    assert!(!is_free(p));

    let text = w.ok_at(
        &dir,
        &["kill", &p.to_string(), "--timeout", "1s", "--force"],
    );
    assert!(
        text.starts_with(&format!("stopped pid {}", server.0.id())),
        "{text}"
    );
    let status = exit_of(&mut server, Duration::from_secs(10)).expect("the server exited");
    assert_eq!(status.signal(), Some(9), "{status:?}");
}

/// Red team 2, finding 7d: `--proto` with a service was silently ignored; it says so on
/// stderr (a port takes it, without a word).
#[test]
fn proto_given_with_a_service_is_ignored_with_a_warning() {
    let w = World::new();
    let dir = w.project("int-proto");
    w.ok_at(&dir, &["claim", "web"]);
    let warning = "devport: warning: --proto udp is ignored: service web uses its claim's protocols (--proto is for a PORT)";
    for args in [
        &["wait", "web", "--proto", "udp", "--timeout", "1s"][..],
        &["kill", "web", "--proto", "udp", "--dry-run"],
    ] {
        let out = w.fails_in(&dir, args, 1);
        assert_eq!(stderr(&out).lines().next(), Some(warning), "{args:?}");
        let out = w.fails_in(&dir, &[args[0], "web", "--timeout", "1s"], 1);
        assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    }
    let out = w.fails_in(&dir, &["kill", "1", "--proto", "udp"], 1);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

/// Red team 2, finding 7b: of a block's ports, the one still busy is named (the advice
/// pointed at the block's first port, already free).
#[cfg(unix)]
#[test]
fn kill_names_the_port_of_a_block_still_busy() {
    let w = World::new();
    let dir = w.project("int-busy");
    let claimed = w.ok_at(&dir, &["claim", "grpc", "--count", "2"]);
    let (first, second) = claimed.split_once(' ').map_or_else(
        || panic!("not two ports: {claimed}"),
        |(a, b)| (port(a), port(b)),
    );
    let mut quits = listener(&dir, first, false);
    let mut stays = listener(&dir, second, true);
    let out = w.fails_in(&dir, &["kill", "grpc", "--timeout", "1s"], 1);
    assert_eq!(
        stderr(&out),
        format!(
            "devport: service grpc (port {second}) is still busy 1 s after SIGTERM; run again with --force to send SIGKILL, or with a longer --timeout"
        )
    );
    assert!(exit_of(&mut quits, Duration::from_secs(10)).is_some());
    stays.kill();
}

// python3 listeners stopped with SIGTERM/SIGKILL: Unix by nature.
#[cfg(unix)]
#[test]
#[ignore = "needs root: a listener run as nobody, and devport run as nobody"]
fn kill_stops_only_the_users_own_processes_and_root_is_no_exception() {
    use std::os::unix::process::CommandExt as _;
    let w = World::new();
    let dir = w.project("int-users");
    // A listener of root's (this process): devport run as nobody cannot see its owner, and the
    // socket is root's.
    let root_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let root_port = root_listener.local_addr().expect("addr").port();
    let mut cmd = w.std_cmd_in(&dir, &["kill", &root_port.to_string()]);
    crate::support::run_as_nobody(&mut cmd, &w, &[&dir, &w.dir.path().join("state")]);
    let out = cmd.output().expect("run devport as nobody");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "tcp port {root_port} is held by a process devport cannot see: the socket was opened by user root, not by you;"
        )) && stderr(&out).contains("; nothing was stopped; "),
        "{}",
        stderr(&out)
    );
    assert!(!is_free(root_port));
    drop(root_listener);

    // nobody's listener, in `/` and then in the project itself: root refuses both, naming the
    // user, and signals nothing.
    let project = std::fs::canonicalize(&dir).expect("canonical");
    for folder in [Path::new("/"), project.as_path()] {
        let p = free_port();
        let script = format!(
            "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', {p}))\ns.listen()\nprint('ready', flush=True)\ntime.sleep(120)\n"
        );
        let mut child = Reaped(
            std::process::Command::new("python3")
                .args(["-c", &script])
                .current_dir(folder)
                .uid(65534)
                .gid(65534)
                .stdout(Stdio::piped())
                .spawn()
                .expect("python3 as nobody"),
        );
        assert_eq!(crate::support::first_line(&mut child.0), "ready");
        let out = w.fails_in(&dir, &["kill", &p.to_string()], 1);
        assert!(
            stderr(&out).contains(&format!("is held by pid {} (", child.0.id()))
                && stderr(&out).contains(") runs as user nobody, not as you;"),
            "{folder:?}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty());
        assert!(
            exit_of(&mut child, Duration::from_millis(300)).is_none(),
            "{folder:?}"
        );
    }
}

/// A project with an HTTP service, a database marked `http = false`, a block of two ports and
/// a UDP-only service, all claimed by `up`.
fn exported_project(w: &World, folder: &str) -> std::path::PathBuf {
    let dir = w.project(folder);
    std::fs::write(
        dir.join("devport.toml"),
        "name = \"Shop_Front\"\n[services.web]\n[services.db]\nhttp = false\n[services.Grpc_X]\ncount = 2\n[services.dns]\nproto = \"udp\"\n",
    )
    .expect("manifest");
    w.ok_at(&dir, &["up"]);
    dir
}

/// `SERVICE -> port` of the project in `dir`, from `list --here --json`.
fn claimed(w: &World, dir: &Path) -> std::collections::BTreeMap<String, u16> {
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

#[test]
fn export_traefik_routes_each_http_port_by_a_dns_safe_name() {
    let w = World::new();
    let dir = exported_project(&w, "front");
    let ports = claimed(&w, &dir);
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
    let (p1, p2) = (claimed(&w, &first)["web"], claimed(&w, &second)["web"]);
    let out = w.dir.path().join("proxy.yml");
    let out_arg = out.to_str().expect("utf-8 path");
    let run = || {
        let o = w
            .cmd_in(&first, &["export", "traefik", "--all", "--write", out_arg])
            .assert()
            .success()
            .get_output()
            .clone();
        assert!(stdout(&o).is_empty());
        assert_eq!(stderr(&o), format!("devport: 8 name(s) in {out_arg}"));
    };
    run();
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
    // The first checkout claimed first and keeps the plain name; the other gets a suffix.
    assert_eq!(
        url("web.shop-front.localhost"),
        format!("http://localhost:{p1}")
    );
    let other = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("rule: \"Host(`web.shop-front-"))
        .expect("a suffixed name for the second checkout");
    let host = format!("web.shop-front-{}", other.trim_end_matches("`)\""));
    assert_eq!(url(&host), format!("http://localhost:{p2}"));
    // The same names every time, from either checkout; an unchanged file is not rewritten.
    let planted = crate::support::plant_old_mtime(&out);
    run();
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
    std::fs::write(dir.join("devport.toml"), "[services.web]\nhttp = \"no\"\n").expect("manifest");
    let out = w.fails_in(&dir, &["export", "caddy"], 2);
    assert!(
        stderr(&out).contains("devport.toml: line 2, column 8"),
        "{}",
        stderr(&out)
    );
    std::fs::write(dir.join("devport.toml"), "[services.web]\n").expect("manifest");
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

#[test]
#[ignore = "needs caddy (Debian's caddy package; .ci/run installs it)"]
fn caddy_adapts_the_exported_caddyfile() {
    let w = World::new();
    let dir = exported_project(&w, "caddy-front");
    let ports = claimed(&w, &dir);
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

/// `web` claimed in `a/shop`, then in `b/shop` (which gets the name `shop-SUFFIX`), then in a
/// folder named `c/shop-SUFFIX`: the three ports, in that order, and `shop-SUFFIX`.
fn colliding_projects(w: &World) -> ([u16; 3], String) {
    let claim = |dir: &Path| crate::support::port(&w.ok_at(dir, &["claim", "web"]));
    let (a, b) = (claim(&w.project("a/shop")), claim(&w.project("b/shop")));
    let json: serde_json::Value =
        serde_json::from_str(&w.ok(&["export", "caddy", "--all", "--json"])).expect("JSON");
    let suffixed = json
        .as_array()
        .expect("routes")
        .iter()
        .find(|r| r["port"] == b)
        .and_then(|r| {
            r["host"]
                .as_str()?
                .strip_prefix("web.")?
                .strip_suffix(".localhost")
        })
        .expect("b/shop's name")
        .to_string();
    assert!(suffixed.starts_with("shop-"), "{json}");
    let c = claim(&w.project(&format!("c/{suffixed}")));
    ([a, b, c], suffixed)
}

/// Three claims, three different host names, in `--json`, the Caddyfile (one site each) and
/// Traefik's YAML (one router and one service each, each to its own port): the folder named
/// `shop-SUFFIX` keeps that name, and the checkout that had it takes a longer suffix.
#[test]
fn export_names_are_unique_when_a_folder_is_named_as_a_suffix() {
    let w = World::new();
    let ([a, b, c], suffixed) = colliding_projects(&w);
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
    assert_eq!(hosts.len(), 3, "{json}");
    assert_eq!(hosts["web.shop.localhost"], u64::from(a));
    assert_eq!(hosts[&format!("web.{suffixed}.localhost")], u64::from(c));
    let (longer, port_b) = hosts
        .iter()
        .find(|(h, _)| {
            h.starts_with(&format!("web.{suffixed}"))
                && !h.ends_with(&format!("web.{suffixed}.localhost"))
        })
        .expect("a longer name for b/shop");
    assert_eq!(*port_b, u64::from(b), "{longer}");
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
    let (ports, _) = colliding_projects(&w);
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

// python3 listeners stopped with SIGTERM/SIGKILL: Unix by nature.
#[cfg(unix)]
#[test]
fn a_port_is_waited_for_and_stopped_whatever_state_the_registry_is_in() {
    let w = World::new();
    std::fs::write(w.registry(), "{ not json").expect("corrupt registry");
    let dir = w.project("int-corrupt");
    let p = free_port();
    let mut server = listener(&dir, p, false);
    let text = w.ok_at(&dir, &["wait", &p.to_string(), "--timeout", "5s"]);
    assert!(text.contains(&format!("pid {}", server.0.id())), "{text}");
    // A service needs the registry: that is the registry's error, exit 3.
    let out = w.fails_in(&dir, &["kill", "web"], 3);
    assert!(
        stderr(&out).contains("is not valid at line 1"),
        "{}",
        stderr(&out)
    );
    assert!(exit_of(&mut server, Duration::from_millis(100)).is_none());
    let text = w.ok_at(&dir, &["kill", &p.to_string()]);
    assert!(
        text.starts_with(&format!("stopped pid {}", server.0.id())),
        "{text}"
    );
    assert!(exit_of(&mut server, Duration::from_secs(10)).is_some());
    assert_eq!(std::fs::read(w.registry()).expect("read"), b"{ not json");
}

/// `export --write` writes as `env --write` does: through the user's own symlink (the link
/// stays and its target gets the text), never into a folder every user may write.
#[cfg(unix)]
#[test]
fn export_write_keeps_the_users_symlink_and_refuses_open_folders() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = World::new();
    let dir = exported_project(&w, "link-front");
    // A link inside the project to a file inside it (a link out of it is refused: see
    // trust_owners::a_committed_link_does_not_choose_what_is_written).
    let target = dir.join("dotfiles/devport.Caddyfile");
    std::fs::create_dir_all(target.parent().expect("parent")).expect("dotfiles");
    std::fs::write(&target, "# old\n").expect("target");
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
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
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
    std::fs::write(&file, "# mine\n").expect("file");
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

/// A duration too long for any clock is a usage error, never a panic (`wait` and `kill`
/// computed `now + timeout` and overflowed).
#[test]
fn huge_timeouts_are_refused_not_a_panic() {
    let w = World::new();
    for args in [
        &["wait", "1", "--timeout", "18446744073709551615s"][..],
        &["wait", "1", "--timeout", "5000000000000000h"][..],
        &["kill", "1", "--timeout", "213503982334601d"][..],
    ] {
        let out = w.fails(args, 2);
        assert!(
            stderr(&out).contains("too long"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// A process that names itself with bytes that are not UTF-8 (`prctl(PR_SET_NAME)`) is still
/// seen, named (escaped) and stopped: its name used to hide its start time, so `kill` sent
/// nothing while saying it had.
#[cfg(target_os = "linux")]
#[test]
fn kill_stops_a_process_whose_name_is_not_utf8() {
    let w = World::new();
    let dir = w.project("shop");
    let p = free_port();
    let mut child = listener_with(
        &dir,
        p,
        "import ctypes; ctypes.CDLL(None).prctl(15, ctypes.c_char_p(b'x\\xff\\x9bA'), 0, 0, 0)",
    );
    let out = w
        .cmd(&["check", &p.to_string(), "--json"])
        .output()
        .expect("check");
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let process = check[0]["sockets"][0]["process"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(process.starts_with('x'), "the name is shown: {check}");
    let out = w
        .cmd(&["kill", &p.to_string(), "--timeout", "5s"])
        .output()
        .expect("kill");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !stdout(&out).contains('\u{9b}'),
        "escaped: {:?}",
        stdout(&out)
    );
    let status = exit_of(&mut child, Duration::from_secs(10)).expect("the listener exited");
    assert_eq!(status.signal(), Some(15), "ended by SIGTERM");
}
