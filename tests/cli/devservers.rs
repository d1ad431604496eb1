//! `exec` and dev servers that ignore `PORT`: the port flag of a known server is added when the
//! command carries no port of its own (issue 19, item 5).

#![cfg(unix)]

use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{World, port, stderr, stdout};

/// A folder holding a fake `vite` that prints its arguments, for PATH.
fn fake_vite(w: &World) -> PathBuf {
    let bin = w.dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let vite = bin.join("vite");
    std::fs::write(&vite, "#!/bin/sh\necho \"$@\"\n").expect("fake vite");
    std::fs::set_permissions(&vite, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    bin
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn exec_adds_the_port_flag_of_a_known_dev_server_unless_told_not_to() {
    let w = World::new();
    let dir = w.project("devsrv");
    let path = path_with(&fake_vite(&w));
    let run = |args: &[&str]| {
        w.cmd_in(&dir, args)
            .env("PATH", &path)
            .output()
            .expect("run exec")
    };
    let out = run(&["exec", "web", "--", "vite", "--host", "127.0.0.1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let p = port(&w.ok_at(&dir, &["claim", "web"]));
    assert_eq!(
        stdout(&out),
        format!("--host 127.0.0.1 --port {p} --strictPort")
    );
    assert_eq!(
        stderr(&out),
        format!(
            "devport: added --port {p} --strictPort to the vite command line, so it serves on \
             the claimed port (--no-port-flags runs it as typed)"
        )
    );

    // As typed: with --no-port-flags, with a port of its own, with a {port} placeholder, and for
    // a subcommand that serves nothing.
    for (args, shown) in [
        (
            vec!["exec", "web", "--no-port-flags", "--", "vite", "--host"],
            "--host".to_string(),
        ),
        (
            vec!["exec", "web", "--", "vite", "--port", "3000"],
            "--port 3000".to_string(),
        ),
        (
            vec!["exec", "web", "--", "vite", "--port={port}"],
            format!("--port={p}"),
        ),
        (
            vec!["exec", "web", "--", "vite", "build"],
            "build".to_string(),
        ),
    ] {
        let out = run(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), shown, "{args:?}");
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

/// A process group that is killed when the guard drops, so a failing test leaves no server (or
/// its esbuild helper) behind.
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.0.wait();
    }
}

/// The body of `GET /` on `localhost:port`, once something answers there.
fn http_get(port: u16) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("localhost", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    Some(body)
}

#[test]
#[ignore = "needs node: installs vite from npm and runs it"]
fn real_vite_through_exec_serves_on_the_claimed_port() {
    crate::support::require_tool("npm", &["--version"]);
    let w = World::new();
    let dir = w.project("vite-app");
    let home = w.dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    std::fs::write(
        dir.join("package.json"),
        r#"{"name": "vite-app", "private": true}"#,
    )
    .expect("package.json");
    std::fs::write(
        dir.join("index.html"),
        "<p>served by devport-vite-test</p>\n",
    )
    .expect("index.html");
    let installed = std::process::Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "vite@6",
        ])
        .current_dir(&dir)
        .status()
        .expect("run npm");
    assert!(installed.success(), "npm install vite failed");

    let mut exec = w.std_cmd_in(&dir, &["exec", "web", "--", "npx", "vite"]);
    exec.env("HOME", &home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(std::process::Stdio::null())
        .process_group(0);
    let _server = Group(exec.spawn().expect("spawn devport exec"));
    let p = port(&w.ok_at(&dir, &["claim", "web"]));
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        if let Some(body) = http_get(p).filter(|b| b.contains("devport-vite-test")) {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "vite did not serve on the claimed port {p} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
}
