//! `exec`: the child gets its ports and variables, its exit code is devport's, bad
//! placeholders or a held port stop it before anything runs, and a known dev server that
//! ignores `PORT` gets its port flag unless the command carries a port of its own.

#[cfg(unix)]
use std::io::{Read as _, Write as _};
#[cfg(unix)]
use std::os::unix::process::CommandExt as _;
#[cfg(unix)]
use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::time::{Duration, Instant};

#[cfg(unix)]
use crate::support::{Reaped, chmod};
use crate::support::{World, hold, port, refused, stderr, stdout, usage_error};

/// `exec` arguments take `{port:SERVICE:N}` and `{{`/`}}` as `[env]` values do, and a bad one is refused
/// before anything is claimed or run.
#[cfg(unix)]
#[test]
fn exec_arguments_read_a_place_in_a_block() {
    let w = World::new();
    let dir = w.project("xshop");
    w.manifest(&dir, "[services.api]\n[services.db]\ncount = 2\n");
    for (arg, words) in [
        ("{port:db:1}", "not claimed yet"),
        ("{port:}", "empty service name"),
    ] {
        let out = w.fails_in(&dir, &["exec", "api", "--", "echo", arg], 2);
        assert!(stderr(&out).contains(words), "{arg}: {}", stderr(&out));
        assert!(
            w.registry_bytes().is_empty(),
            "{arg}: claimed before refusing"
        );
    }
    w.ok_at(&dir, &["up"]);
    let db: u16 = w
        .ok_at(&dir, &["claim", "db", "--count", "2"])
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("db's first port");
    let out = w.ok_at(
        &dir,
        &[
            "exec",
            "api",
            "--",
            "echo",
            "{port:db:0} {port:db:1} {port:api:0} {{port}} {{{port}}} {project} {\"a\": 1} ${PORT}",
        ],
    );
    let api = port(&w.ok_at(&dir, &["claim", "api"]));
    // `{{` and `}}` are literal braces, as in `[env]`, so a literal `{port}` can be passed; a
    // brace that opens no placeholder is the command's own.
    assert_eq!(
        out.trim(),
        format!(
            "{db} {} {api} {{port}} {{{api}}} xshop {{\"a\": 1}} ${{PORT}}",
            db + 1
        )
    );
    let out = w.fails_in(&dir, &["exec", "api", "--", "echo", "{port:db:2}"], 2);
    assert!(
        stderr(&out).contains("numbered from 0 to 1"),
        "{}",
        stderr(&out)
    );
    // A place that is not one number is named as such, not as a place outside the block.
    let out = w.fails_in(&dir, &["exec", "api", "--", "echo", "{port:db:1:2}"], 2);
    let err = stderr(&out);
    assert!(
        err.contains("argument 2 of the command") && err.contains("'1:2' where a port's place"),
        "{err}"
    );
    assert!(!err.contains("numbered from"), "{err}");
}

#[test]
fn exec_without_the_double_dash_shows_the_command_with_it() {
    let w = World::new();
    let err = usage_error(
        &w,
        &["exec", "web", "echo", "hi there"],
        "put the command after --: devport exec web -- echo 'hi there'",
        "exec",
    );
    assert!(err.contains("unexpected argument 'echo'"), "{err}");
    usage_error(
        &w,
        &["exec", "web"],
        "the command goes after --, e.g. devport exec web -- npm run dev",
        "exec",
    );
    // An option devport does not know is not passed on as the command.
    let err = usage_error(&w, &["exec", "web", "--bogus", "x"], "'--bogus'", "exec");
    assert!(!err.contains("after --"), "{err}");
}

#[test]
fn exec_refuses_to_run_when_the_port_is_held() {
    let w = World::new();
    let shop = w.project("busyexec");
    let first = w.ok_at(&shop, &["claim", "web"]);
    let bin = crate::support::bin();
    let bin = bin.to_str().expect("utf-8 path");
    // The command claims `ran`: the registry shows whether it ran.
    let args = ["exec", "web", "--", bin, "claim", "ran"];
    let listener = hold(port(&first));
    let out = w.fails_in(&shop, &args, 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "web's port {first} is in use by {}",
            crate::support::own_pid_text()
        )),
        "{err}"
    );
    assert!(err.contains("nothing was run"), "{err}");
    assert!(!w.registry_json().to_string().contains("\"ran\""), "it ran");
    drop(listener);
    w.cmd_in(&shop, &args).assert().success();
    assert!(
        w.registry_json().to_string().contains("\"ran\""),
        "it did not run"
    );
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
fn exec_checks_placeholders_before_claiming() {
    let w = World::new();
    let shop = w.project("shop");
    let err = refused(&w, &shop, &["exec", "web", "--", "echo", "{port:nope}"], 2);
    assert!(
        err.contains("nope") && err.contains("devport claim nope"),
        "{err}"
    );
    assert!(!w.registry().exists());
    // In the manifest but not claimed yet: still refused before claiming.
    w.manifest(&shop, "[services.web]\n[services.db]\n");
    let err = refused(&w, &shop, &["exec", "web", "--", "echo", "x{port:db}"], 2);
    assert!(err.contains("devport up"), "{err}");
    assert!(!w.registry().exists());
    let db = port(&w.ok(&["claim", "db"]));
    let mut args = vec!["exec", "web", "--"];
    args.extend(crate::support::ECHO);
    args.extend(["{port:db}", "{port:web}={port}"]);
    let out = w.ok(&args);
    let web = port(&w.ok(&["claim", "web"]));
    assert_eq!(out, format!("{db} {web}={web}"));
}

#[test]
fn exec_env_may_not_take_another_services_variable() {
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "db"]);
    let err = refused(
        &w,
        &shop,
        &["exec", "web", "--env", "DB_PORT", "--", "true"],
        2,
    );
    assert!(err.contains("--env DB_PORT") && err.contains("db"), "{err}");
    assert_eq!(
        w.registry_json()["claims"].as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn exec_passes_the_port_and_the_exit_code() {
    let w = World::new();
    let shop = w.project("execshop");
    // {port} substitution, PORT and WEB_PORT in the environment, exit code passed through.
    let out = w
        .cmd_in(
            &shop,
            &[
                "exec",
                "web",
                "--",
                #[cfg(unix)]
                "sh",
                #[cfg(unix)]
                "-c",
                #[cfg(unix)]
                "echo {port} $PORT $WEB_PORT; exit 7",
                #[cfg(windows)]
                "cmd",
                #[cfg(windows)]
                "/c",
                #[cfg(windows)]
                "echo {port} %PORT% %WEB_PORT%& exit 7",
            ],
        )
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(7));
    let words: Vec<String> = stdout(&out).split(' ').map(String::from).collect();
    assert_eq!(words.len(), 3);
    assert!(words.iter().all(|x| *x == words[0]), "{words:?}");
    port(&words[0]);
}

/// A real child binds the port `exec` gives it on 127.0.0.1, and this test connects to it.
#[cfg(unix)]
#[test]
#[ignore = "needs python3 (a real server run by exec); .ci/run installs it"]
fn exec_runs_a_real_server_on_the_port() {
    crate::support::require_tool("python3", &["--version"]);
    let w = World::new();
    let shop = w.project("execshop");
    let p = port(&w.ok_at(&shop, &["claim", "web"]));
    let script = "import os, socket\ns = socket.socket()\ns.bind(('127.0.0.1', int(os.environ['PORT'])))\ns.listen(1)\nprint('ready', flush=True)\nc, _ = s.accept()\nc.sendall(b'hello from devport exec')\nc.close()\n";
    let mut child = Reaped(
        w.std_cmd_in(&shop, &["exec", "web", "--", "python3", "-c", script])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let mut reader = std::io::BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut reader, &mut line).expect("ready line");
    assert_eq!(line.trim(), "ready", "the server run by exec did not start");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", p)).expect("connect to the child");
    let mut got = String::new();
    std::io::Read::read_to_string(&mut stream, &mut got).expect("read");
    assert_eq!(got, "hello from devport exec");
    assert!(child.0.wait().expect("wait").success());
}

#[test]
fn exec_other_ports_and_missing_command() {
    let w = World::new();
    let db = w.ok(&["claim", "db"]);
    let out = w
        .cmd(&[
            "exec",
            "web",
            "--env",
            "HTTP_PORT",
            "--",
            #[cfg(unix)]
            "sh",
            #[cfg(unix)]
            "-c",
            #[cfg(unix)]
            "echo $HTTP_PORT $DB_PORT {port:db}",
            #[cfg(windows)]
            "cmd",
            #[cfg(windows)]
            "/c",
            #[cfg(windows)]
            "echo %HTTP_PORT% %DB_PORT% {port:db}",
        ])
        .output()
        .expect("run");
    let words: Vec<String> = stdout(&out).split(' ').map(String::from).collect();
    assert_eq!(words[1..], [db.clone(), db]);
    let out = w.fails(&["exec", "web", "--", "devport-no-such-command-xyz"], 127);
    assert!(
        stderr(&out).contains("command not found: devport-no-such-command-xyz"),
        "{}",
        stderr(&out)
    );
    w.cmd(&["exec", "web", "--", "echo", "{port:nope}"])
        .assert()
        .code(2);
}

/// A folder holding a fake `vite` that prints its arguments, for PATH.
#[cfg(unix)]
fn fake_vite(w: &World) -> PathBuf {
    let bin = w.dir("bin");
    let vite = bin.join("vite");
    w.file(&vite, "#!/bin/sh\necho \"$@\"\n");
    chmod(&vite, 0o755);
    bin
}

#[cfg(unix)]
fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[cfg(unix)]
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
#[cfg(unix)]
struct Group(std::process::Child);

#[cfg(unix)]
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
#[cfg(unix)]
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

#[cfg(unix)]
#[test]
#[ignore = "needs node: installs vite from npm and runs it"]
fn real_vite_through_exec_serves_on_the_claimed_port() {
    crate::support::require_tool("npm", &["--version"]);
    let w = World::new();
    let dir = w.project("vite-app");
    let home = w.dir("home");
    w.file(
        dir.join("package.json"),
        r#"{"name": "vite-app", "private": true}"#,
    );
    w.file(
        dir.join("index.html"),
        "<p>served by devport-vite-test</p>\n",
    );
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
