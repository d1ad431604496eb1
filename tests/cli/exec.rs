//! `exec`: the child gets its ports and variables, its exit code is devport's, and bad
//! placeholders or a held port stop it before anything runs.

#[cfg(unix)]
use crate::support::Reaped;
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
