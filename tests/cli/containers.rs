//! Containers named: a real process named `docker-proxy` (a python3 script, so its command
//! name is the script's file name) listening on an OS-picked loopback port with docker-proxy's
//! argument shape, and a fake Docker Engine on a Unix socket in a temporary folder, pointed at
//! by `DOCKER_HOST`.

use std::io::BufRead as _;
use std::io::Read as _;
use std::io::Write as _;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::path::PathBuf;
use std::process::Output;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use serde_json::Value;
use serde_json::json;

use crate::support::{Reaped, World, claim_port, json_of, port};

/// A process whose command name is `docker-proxy`, started with docker-proxy's arguments
/// (container end 172.17.0.2:5432), listening on 127.0.0.1 at the `-host-port` it is given: a
/// port the OS picked.
fn fake_proxy(dir: &Path) -> (Reaped, u16) {
    fake_proxy_on(dir, free_port(), |_| ())
}

/// The same, given the port, and `adjust` to change how it is run (its user; with
/// `FAKE_FORK_INTO=DIR` in its environment it forks a child that keeps the socket and works in
/// DIR, as the user `FAKE_FORK_UID` when set, and the child prints the port).
fn fake_proxy_on(
    dir: &Path,
    host_port: u16,
    adjust: impl FnOnce(&mut std::process::Command),
) -> (Reaped, u16) {
    // The system's python3 when there is one (any user may run it: one test runs the proxy
    // as another user), else the one on PATH.
    let python = if Path::new("/usr/bin/python3").exists() {
        PathBuf::from("/usr/bin/python3")
    } else {
        let found = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 is needed for this test");
        std::fs::canonicalize(String::from_utf8_lossy(&found.stdout).trim())
            .expect("python3's executable")
    };
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin folder");
    let script = bin.join("docker-proxy");
    // The interpreter by its own path (not through `env`), so the kernel names the process
    // after the script.
    std::fs::write(
        &script,
        format!(
            "#!{}\nimport ctypes, os, socket, sys, time\n\
             if os.environ.get('FAKE_NONDUMPABLE'):\n    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\n\
             s = socket.socket()\n\
             port = int(sys.argv[sys.argv.index('-host-port') + 1])\n\
             try:\n    s.bind(('127.0.0.1', port))\n    s.listen()\nexcept OSError:\n    pass\n\
             into = os.environ.get('FAKE_FORK_INTO')\n\
             if into and os.fork() == 0:\n    os.chdir(into)\n    \
             uid = os.environ.get('FAKE_FORK_UID')\n    \
             uid and (os.setgid(int(uid)), os.setuid(int(uid)))\n    \
             ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)\n    \
             os.getppid() == 1 and os._exit(0)\n    \
             print(port, flush=True)\n    time.sleep(120)\n    os._exit(0)\n\
             into or print(port, flush=True)\n\
             time.sleep(120)\n",
            python.display()
        ),
    )
    .expect("write the script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let mut cmd = std::process::Command::new(&script);
    adjust(&mut cmd);
    let mut child = cmd
        .args([
            "-proto",
            "tcp",
            "-host-ip",
            "127.0.0.1",
            "-host-port",
            &host_port.to_string(),
            "-container-ip",
            "172.17.0.2",
            "-container-port",
            "5432",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the fake docker-proxy");
    let stdout = child.stdout.take().expect("stdout");
    let reaped = Reaped(child);
    let mut first = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut first)
        .expect("read the port");
    (reaped, port(&first))
}

/// A loopback port the OS picked, free again when this returns.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an OS-picked port")
        .port()
}

/// What a fake engine does with each connection.
#[derive(Clone)]
enum Answer {
    /// Reads the request, writes these bytes, closes.
    Bytes(Vec<u8>),
    /// Accepts and never answers (the connection stays open until the test ends).
    Silent,
}

/// A fake Docker Engine on a Unix socket in `dir`: the requests it got, and its socket path.
struct Engine {
    path: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Engine {
    fn start(dir: &Path, answer: Answer) -> Engine {
        let path = dir.join("docker.sock");
        let listener = UnixListener::bind(&path).expect("bind the fake engine");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        // The thread ends with the test process; it holds only this test's socket.
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    request.push(byte[0]);
                }
                seen.lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&request).into_owned());
                match &answer {
                    Answer::Bytes(bytes) => {
                        let _ = stream.write_all(bytes);
                    }
                    Answer::Silent => held.push(stream),
                }
            }
        });
        Engine { path, requests }
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

/// An HTTP/1.0 200 answer with `body`.
fn ok(body: &str) -> Answer {
    Answer::Bytes(
        format!("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{body}").into_bytes(),
    )
}

/// The engine's list with one container at 172.17.0.2 named `name`.
fn listed(name: &str) -> String {
    listed_with(name, &json!({}))
}

/// The same, the container with these labels.
fn listed_with(name: &str, labels: &Value) -> String {
    json!([
        {"Id": "x", "Names": ["/unrelated"], "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.9"}}}},
        {"Id": "y", "Names": [format!("/{name}")], "Labels": labels,
         "Ports": [{"PrivatePort": 5432, "PublicPort": 15432, "Type": "tcp"}],
         "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}}}
    ])
    .to_string()
}

/// `devport ARGS` in `shop` with `DOCKER_HOST` set; it must exit within 10 s.
fn run(w: &World, docker_host: &str, args: &[&str]) -> Output {
    w.cmd(args)
        .env("DOCKER_HOST", docker_host)
        .timeout(Duration::from_secs(10))
        .output()
        .expect("run devport")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The one line of `text` that mentions `pid`.
fn line_of(text: &str, pid: u32) -> String {
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&format!("pid {pid} ")))
        .collect();
    assert_eq!(rows.len(), 1, "one line for pid {pid}:\n{text}");
    rows[0].to_string()
}

/// No engine: a `DOCKER_HOST` socket path that does not exist.
fn no_engine(w: &World) -> String {
    format!("unix://{}", w.dir.path().join("absent.sock").display())
}

/// `check PORT` of the fake proxy with `answer` from the engine: the container end is shown,
/// unnamed, and the command ends quickly.
fn unnamed_with(answer: Answer) {
    let w = World::new();
    let engine = Engine::start(w.dir.path(), answer);
    let (proxy, p) = fake_proxy(w.dir.path());
    let started = Instant::now();
    let out = run(&w, &engine.docker_host(), &["check", &p.to_string()]);
    let took = started.elapsed();
    let row = line_of(&text(&out), proxy.0.id());
    assert!(row.ends_with("container 172.17.0.2:5432"), "{row}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(engine.requests().len(), 1, "asked once");
}

/// The `audit --json` row whose `key` is `value`, and the exit code, with the engine at
/// `docker_host`.
fn audit_row(w: &World, docker_host: &str, key: &str, value: u32) -> (Value, Option<i32>) {
    let out = run(w, docker_host, &["audit", "--json"]);
    let rows = json_of(&out);
    let row = rows
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r[key] == json!(value)))
        .unwrap_or_else(|| panic!("no row for {key} {value}: {rows}"))
        .clone();
    (row, out.status.code())
}

/// The `audit` finding and exit code for the fake proxy's port, claimed by `shop`, with the
/// engine at `docker_host`.
fn audit_finding(w: &World, docker_host: &str, pid: u32) -> (String, Option<i32>) {
    let (row, code) = audit_row(w, docker_host, "pid", pid);
    (
        row["finding"].as_str().unwrap_or_default().to_string(),
        code,
    )
}

/// An engine that lists container `shop-db-1`, started by `docker compose` in `dir`, with the
/// world's folder opened for traversal (a process of another user reaches the proxy script).
fn composed_engine(w: &World, dir: &Path) -> Engine {
    let engine = Engine::start(
        w.dir.path(),
        ok(&listed_with(
            "shop-db-1",
            &json!({ "com.docker.compose.project.working_dir": dir.display().to_string() }),
        )),
    );
    std::fs::set_permissions(
        w.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .expect("open the world for traversal");
    engine
}

/// A fake proxy on a port `shop` claims, for a container that an engine says `docker compose`
/// started in the project folder `folder`.
fn composed_in(w: &World, folder: &str) -> (Engine, Reaped) {
    let engine = composed_engine(w, &w.project(folder));
    let (proxy, p) = fake_proxy(w.dir.path());
    claim_port(w, p);
    (engine, proxy)
}

/// Red team 2, finding 2: a trusted forwarder speaks for itself only. A child it forked that
/// holds the same socket and works in `blog` (as the same user; with root, as nobody) is
/// judged as any process: the engine saying the container was started in `shop` does not
/// make the port shop's, and without the engine the port is not "ok" either.
fn a_forwarders_other_holders_are_judged_as_any_process(child_uid: Option<u32>) {
    let w = World::new();
    let shop = w.project("shop");
    let blog = w.project("blog");
    let engine = composed_engine(&w, &shop);
    let (proxy, p) = fake_proxy_on(w.dir.path(), free_port(), |cmd| {
        cmd.env("FAKE_FORK_INTO", &blog);
        if let Some(uid) = child_uid {
            cmd.env("FAKE_FORK_UID", uid.to_string());
        }
    });
    claim_port(&w, p);
    let why = if child_uid.is_some() {
        "runs as user nobody"
    } else {
        "works in "
    };
    for host in [engine.docker_host(), no_engine(&w)] {
        let (row, code) = audit_row(&w, &host, "port", u32::from(p));
        assert_eq!(row["finding"], json!("conflict"), "{host}: {row}");
        assert_eq!(code, Some(1), "{host}");
        assert_eq!(row["holders"].as_array().map(Vec::len), Some(2), "{row}");
        let doctor = run(&w, &host, &["doctor"]);
        assert_eq!(doctor.status.code(), Some(1), "{host}: {}", text(&doctor));
        assert!(text(&doctor).contains(why), "{}", text(&doctor));
        let wait = run(&w, &host, &["wait", "web", "--owned", "--timeout", "1s"]);
        assert_eq!(wait.status.code(), Some(1), "{host}: {}", text(&wait));
        let err = String::from_utf8_lossy(&wait.stderr);
        assert!(err.contains(why), "{err}");
    }
    drop(proxy);
}

#[test]
fn check_audit_and_list_live_show_the_container_end() {
    let w = World::new();
    let (proxy, p) = fake_proxy(w.dir.path());
    let pid = proxy.0.id();
    claim_port(&w, p);
    let host = no_engine(&w);
    let end = "container 172.17.0.2:5432";
    for args in [
        &["check", &p.to_string()][..],
        &["audit"],
        &["list", "--live"],
    ] {
        let out = run(&w, &host, args);
        let row = line_of(&text(&out), pid);
        assert!(row.contains("(docker-proxy)"), "{args:?}: {row}");
        assert!(row.contains(end), "{args:?}: {row}");
        assert!(
            !row.contains(&format!("{end} (")),
            "{args:?}: no name: {row}"
        );
    }
    let expected = json!({"ip": "172.17.0.2", "port": 5432});
    let check = json_of(&run(&w, &host, &["check", &p.to_string(), "--json"]));
    assert_eq!(check[0]["sockets"][0]["container"], expected, "{check}");
    let audit = json_of(&run(&w, &host, &["audit", "--json"]));
    let rows = audit.as_array().expect("audit rows");
    let row = rows
        .iter()
        .find(|r| r["pid"] == json!(pid))
        .expect("the proxy's row");
    assert_eq!(row["container"], expected, "{row}");
    // Other sockets carry no `container` key at all (absent, not null). (Tests running at the
    // same time have fake proxies of their own.)
    assert!(
        rows.iter()
            .filter(|r| r["process"] != json!("docker-proxy"))
            .all(|r| r.get("container").is_none()),
        "{audit}"
    );
    let list = json_of(&run(&w, &host, &["list", "--live", "--json"]));
    assert_eq!(list[0]["live"][0]["container"], expected, "{list}");
}

#[test]
fn a_plain_listener_has_no_container_and_the_engine_is_not_asked() {
    let w = World::new();
    let engine = Engine::start(w.dir.path(), ok(&listed("never")));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = listener.local_addr().expect("addr").port();
    claim_port(&w, p);
    let host = engine.docker_host();
    let check = json_of(&run(&w, &host, &["check", &p.to_string(), "--json"]));
    assert_eq!(check[0]["sockets"][0]["port"], json!(p), "{check}");
    assert!(check[0]["sockets"][0].get("container").is_none(), "{check}");
    assert!(!text(&run(&w, &host, &["check", &p.to_string()])).contains("container"));
    run(&w, &host, &["list", "--live"]);
    w.cmd(&["claim", "api"])
        .env("DOCKER_HOST", &host)
        .assert()
        .success();
    assert!(engine.requests().is_empty(), "{:?}", engine.requests());
}

#[test]
fn the_engine_names_the_container() {
    let w = World::new();
    let engine = Engine::start(w.dir.path(), ok(&listed("shop-db-1")));
    let (proxy, p) = fake_proxy(w.dir.path());
    let pid = proxy.0.id();
    claim_port(&w, p);
    let host = engine.docker_host();
    let end = "container 172.17.0.2:5432 (shop-db-1)";
    for args in [
        &["check", &p.to_string()][..],
        &["audit"],
        &["list", "--live"],
    ] {
        let row = line_of(&text(&run(&w, &host, args)), pid);
        assert!(row.contains(end), "{args:?}: {row}");
    }
    let check = json_of(&run(&w, &host, &["check", &p.to_string(), "--json"]));
    assert_eq!(
        check[0]["sockets"][0]["container"],
        json!({"ip": "172.17.0.2", "port": 5432, "name": "shop-db-1"})
    );
    let requests = engine.requests();
    assert!(!requests.is_empty());
    for r in requests {
        assert!(
            r.starts_with("GET /containers/json HTTP/1.0\r\n"),
            "read-only, one endpoint: {r:?}"
        );
    }
}

#[test]
fn control_characters_in_names_are_escaped() {
    let w = World::new();
    let name = "evil\x1b[2J\x07\u{9b}31m\nforged";
    let engine = Engine::start(w.dir.path(), ok(&listed(name)));
    let (proxy, p) = fake_proxy(w.dir.path());
    let pid = proxy.0.id();
    claim_port(&w, p);
    let host = engine.docker_host();
    for args in [
        &["check", &p.to_string()][..],
        &["audit"],
        &["list", "--live"],
    ] {
        let out = run(&w, &host, args);
        let shown = text(&out);
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{args:?}: raw control characters:\n{shown:?}"
        );
        let row = line_of(&shown, pid);
        assert!(
            row.contains("(evil\\u{1b}[2J\\u{7}\\u{9b}31m\\nforged)"),
            "{args:?}: {row}"
        );
    }
    let out = run(&w, &host, &["check", &p.to_string(), "--json"]);
    let raw = String::from_utf8_lossy(&out.stdout);
    assert!(!raw.chars().any(|c| c.is_control() && c != '\n'), "{raw:?}");
    assert_eq!(
        json_of(&out)[0]["sockets"][0]["container"]["name"],
        json!(name)
    );
}

#[test]
fn an_engine_that_never_answers_costs_at_most_the_timeout() {
    unnamed_with(Answer::Silent);
}

#[test]
fn garbage_answers_name_nothing() {
    for answer in [
        ok("not json"),
        ok("{\"message\": \"page not found\"}"),
        Answer::Bytes(
            format!("HTTP/1.0 500 Internal Server Error\r\n\r\n{}", listed("no")).into_bytes(),
        ),
        Answer::Bytes(b"\x00\x01garbage".to_vec()),
        Answer::Bytes(Vec::new()),
    ] {
        unnamed_with(answer);
    }
}

#[test]
fn a_huge_answer_is_not_read_to_the_end() {
    // A valid list that would name the container, padded past devport's 4 MiB bound.
    let body = format!("{}{}", listed("too-far"), " ".repeat(5 * 1024 * 1024));
    unnamed_with(ok(&body));
}

#[test]
fn only_unix_sockets_are_asked() {
    let w = World::new();
    let (proxy, p) = fake_proxy(w.dir.path());
    let file = w.dir.path().join("not-a-socket");
    w.file(&file, "HTTP/1.0 200 OK\r\n\r\n[]");
    for host in [
        format!("unix://{}", file.display()),
        "tcp://127.0.0.1:9".to_string(),
        "ssh://nobody@localhost".to_string(),
    ] {
        let row = line_of(
            &text(&run(&w, &host, &["check", &p.to_string()])),
            proxy.0.id(),
        );
        assert!(row.ends_with("container 172.17.0.2:5432"), "{host}: {row}");
    }
}

#[test]
#[ignore = "needs root: a socket owned by the user nobody"]
fn an_engine_socket_of_another_user_is_not_trusted() {
    let w = World::new();
    let engine = Engine::start(w.dir.path(), ok(&listed("planted")));
    nix::unistd::chown(
        &engine.path,
        Some(nix::unistd::Uid::from_raw(65534)),
        Some(nix::unistd::Gid::from_raw(65534)),
    )
    .expect("chown to nobody");
    let (proxy, p) = fake_proxy(w.dir.path());
    let row = line_of(
        &text(&run(&w, &engine.docker_host(), &["check", &p.to_string()])),
        proxy.0.id(),
    );
    assert!(row.ends_with("container 172.17.0.2:5432"), "{row}");
    assert!(engine.requests().is_empty());
}

#[test]
fn a_claimed_container_port_is_not_a_conflict_because_of_the_proxy() {
    // docker-proxy works in the daemon's folder, never the project's: that says nothing about
    // the container. (The fake proxy works in this test's folder, outside the project.)
    let w = World::new();
    let (proxy, p) = fake_proxy(w.dir.path());
    claim_port(&w, p);
    assert_eq!(
        audit_finding(&w, &no_engine(&w), proxy.0.id()),
        ("ok".to_string(), Some(0))
    );
}

#[test]
fn compose_s_working_folder_decides_ok_or_conflict() {
    for (folder, expected) in [("shop", ("ok", 0)), ("elsewhere", ("conflict", 1))] {
        let w = World::new();
        let (engine, proxy) = composed_in(&w, folder);
        let (finding, code) = audit_finding(&w, &engine.docker_host(), proxy.0.id());
        assert_eq!(
            (finding.as_str(), code),
            (expected.0, Some(expected.1)),
            "{folder}"
        );
    }
}

#[test]
#[ignore = "needs root: a docker-proxy of root's, seen by devport running as the user nobody"]
fn a_proxy_whose_owner_is_not_visible_is_found_by_its_arguments() {
    // The usual case: Docker's proxies are root's, and a user cannot see which process holds
    // the socket, only every process's arguments.
    let w = World::new();
    let (proxy, p) = fake_proxy(w.dir.path());
    let engine = Engine::start(w.dir.path(), ok(&listed("shop-db-1")));
    // As /var/run/docker.sock is for members of the group docker: root's, and writable by them.
    std::fs::set_permissions(
        &engine.path,
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .expect("chmod the socket");
    let shop = w.project("shop");
    let mut cmd = w.std_cmd_in(&shop, &["check", &p.to_string()]);
    cmd.env("DOCKER_HOST", engine.docker_host());
    crate::support::run_as_nobody(&mut cmd, &w, &[&shop, &w.dir.path().join("state")]);
    let out = cmd.output().expect("run devport as nobody");
    let shown = text(&out);
    assert!(
        !shown.contains(&format!("pid {}", proxy.0.id())),
        "nobody cannot see root's process: {shown}"
    );
    let row = shown
        .lines()
        .find(|l| l.contains(&format!("127.0.0.1:{p}")))
        .unwrap_or_else(|| panic!("no live line for {p}: {shown}"));
    assert!(row.contains("owner not visible"), "{row}");
    // The engine's socket is root's: trusted, so the name is shown too.
    assert!(
        row.ends_with("container 172.17.0.2:5432 (shop-db-1)"),
        "{row}"
    );
}

#[test]
#[ignore = "needs root: a docker-proxy of another user that names root's socket"]
fn a_forwarder_of_another_user_cannot_speak_for_a_socket() {
    let w = World::new();
    // Root's listener (this test), invisible to nobody; a "docker-proxy" of uid 65533 (it
    // cannot bind the port, which is taken) says it listens there.
    let root_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = root_listener.local_addr().expect("addr").port();
    std::fs::set_permissions(
        w.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .expect("open the world for traversal");
    let (_liar, _) = fake_proxy_on(w.dir.path(), p, |cmd| {
        std::os::unix::process::CommandExt::uid(cmd, 65533);
        std::os::unix::process::CommandExt::gid(cmd, 65533);
    });
    let shop = w.project("shop");
    let mut cmd = w.std_cmd_in(&shop, &["check", &p.to_string()]);
    cmd.env("DOCKER_HOST", no_engine(&w));
    crate::support::run_as_nobody(&mut cmd, &w, &[&shop, &w.dir.path().join("state")]);
    let out = cmd.output().expect("run devport as nobody");
    let shown = text(&out);
    let row = shown
        .lines()
        .find(|l| l.contains(&format!("127.0.0.1:{p}")))
        .unwrap_or_else(|| panic!("no live line for {p}: {shown}"));
    assert!(row.contains("owner not visible"), "{row}");
    assert!(!row.contains("container"), "{row}");
    drop(root_listener);
}

/// `doctor` and `wait --owned` follow audit's rule for a container's port: the folder
/// `docker compose` ran from decides, not the proxy's own folder; and when the engine does not
/// say, `wait --owned` cannot tell and does not count the port as this project's.
#[test]
fn doctor_and_wait_owned_judge_a_container_by_its_compose_folder() {
    for (folder, mine) in [("shop", true), ("elsewhere", false)] {
        let w = World::new();
        let (engine, _proxy) = composed_in(&w, folder);
        let doctor = run(&w, &engine.docker_host(), &["doctor", "--json"]);
        let codes: Vec<Value> = json_of(&doctor)
            .as_array()
            .map(|rows| rows.iter().map(|r| r["code"].clone()).collect())
            .unwrap_or_default();
        assert_eq!(
            codes.contains(&json!("bound-by-other")),
            !mine,
            "{folder}: {codes:?}"
        );
        if !mine {
            assert!(
                text(&doctor).contains("docker compose in")
                    && text(&doctor).contains("stop that container"),
                "{}",
                text(&doctor)
            );
        }
        let wait = run(
            &w,
            &engine.docker_host(),
            &["wait", "web", "--owned", "--timeout", "1s"],
        );
        assert_eq!(wait.status.code(), Some(i32::from(!mine)), "{folder}");
        if mine {
            assert!(
                text(&wait).contains("container 172.17.0.2:5432 (shop-db-1)"),
                "{}",
                text(&wait)
            );
        }
    }
    // No engine: the proxy's folder says nothing about the container, so `--owned` cannot tell.
    let w = World::new();
    let (_proxy, p) = fake_proxy(w.dir.path());
    claim_port(&w, p);
    let wait = run(
        &w,
        &no_engine(&w),
        &["wait", "web", "--owned", "--timeout", "1s"],
    );
    assert_eq!(wait.status.code(), Some(1));
    let err = String::from_utf8_lossy(&wait.stderr);
    assert!(err.contains("cannot tell which folder started it"), "{err}");
}

/// Any user can name a process `docker-proxy` and give it docker-proxy's arguments: one of the
/// user nobody (made non-dumpable, so `/proc/PID` itself says root), on a port `shop` claims,
/// with an engine that lists a matching container `docker compose` started in `shop`, is not
/// taken for a container forwarder. It is another user's process: `audit` says conflict,
/// `doctor` reports it, `kill` refuses it for being nobody's (not "stop the container"), and
/// `wait --owned` does not count it.
#[test]
#[ignore = "needs root: a fake docker-proxy run as the user nobody"]
fn a_forwarder_of_another_user_is_not_trusted_for_its_name() {
    let w = World::new();
    let shop = w.project("shop");
    let engine = composed_engine(&w, &shop);
    let (proxy, p) = fake_proxy_on(w.dir.path(), free_port(), |cmd| {
        std::os::unix::process::CommandExt::uid(cmd, 65534);
        std::os::unix::process::CommandExt::gid(cmd, 65534);
        cmd.env("FAKE_NONDUMPABLE", "1");
    });
    let pid = proxy.0.id();
    claim_port(&w, p);
    let host = engine.docker_host();
    assert_eq!(
        audit_finding(&w, &host, pid),
        ("conflict".to_string(), Some(1))
    );
    let audit = json_of(&run(&w, &host, &["audit", "--json"]));
    let row = audit
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["pid"] == json!(pid)))
        .cloned()
        .unwrap_or_default();
    assert!(row.get("container").is_none(), "{row}");
    let doctor = run(&w, &host, &["doctor", "--json"]);
    assert_eq!(doctor.status.code(), Some(1), "{}", text(&doctor));
    assert!(
        text(&doctor).contains("bound-by-other") && text(&doctor).contains("runs as user nobody"),
        "{}",
        text(&doctor)
    );
    let kill = run(&w, &host, &["kill", "web", "--dry-run"]);
    let err = String::from_utf8_lossy(&kill.stderr);
    assert_eq!(kill.status.code(), Some(1), "{err}");
    assert!(
        err.contains("runs as user nobody, not as you") && !err.contains("stop the container"),
        "{err}"
    );
    let wait = run(&w, &host, &["wait", "web", "--owned", "--timeout", "1s"]);
    assert_eq!(wait.status.code(), Some(1), "{}", text(&wait));
    drop(proxy);
}

#[test]
fn a_forwarders_child_in_another_folder_is_not_the_containers() {
    a_forwarders_other_holders_are_judged_as_any_process(None);
}

#[test]
#[ignore = "needs root: a docker-proxy of root's whose child runs as the user nobody"]
fn a_forwarders_child_of_another_user_is_not_the_containers() {
    a_forwarders_other_holders_are_judged_as_any_process(Some(65534));
}
