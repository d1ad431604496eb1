//! `wait`: for a port to be served (by the project with `--owned`), with a timeout.

#[cfg(unix)]
use std::path::Path;
#[cfg(unix)]
use std::process::Stdio;
#[cfg(unix)]
use std::time::Duration;
#[cfg(unix)]
use std::time::Instant;

#[cfg(unix)]
use crate::support::{Reaped, exit_of, free_port, listener, port, stdout};
use crate::support::{World, stderr};

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
fn a_port_is_waited_for_and_stopped_whatever_state_the_registry_is_in() {
    let w = World::new();
    w.file(w.registry(), "{ not json");
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
