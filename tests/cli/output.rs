//! What reaches the terminal: control characters from files, folders and processes escaped,
//! colours the only escape sequences and only when wanted, and an unwritable stdout or stderr
//! never a panic.

#[cfg(unix)]
use std::fmt::Write as _;
#[cfg(unix)]
use std::io::BufRead as _;
#[cfg(unix)]
use std::path::PathBuf;
#[cfg(unix)]
use std::process::Output;

#[cfg(unix)]
use serde_json::Value;
#[cfg(unix)]
use serde_json::json;

use crate::support::World;
#[cfg(target_os = "linux")]
use crate::support::stderr;

/// Every kind of terminal control sequence in one name: clear screen (CSI), set the window
/// title (OSC ended by BEL), carriage return, line feed, and the one-character C1 CSI.
#[cfg(unix)]
const NASTY: &str = "x\x1b[2J\x1b]0;title\x07\r\n\u{9b}31my";
/// The same places, holding a harmless name: the output must have the same shape.
#[cfg(unix)]
const PLAIN: &str = "plain";

/// A raw control character in `bytes` (anything but LF between lines), as a description.
#[cfg(unix)]
fn raw_control(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.char_indices()
        .find(|&(_, c)| c.is_control() && c != '\n')
        .map(|(at, c)| format!("{c:?} at byte {at}"))
}

#[cfg(unix)]
fn lines(bytes: &[u8]) -> usize {
    bytes.lines().count()
}

/// One command run in a world whose names are all `name`.
#[cfg(unix)]
struct Case {
    /// What the case shows, for failure messages.
    what: &'static str,
    /// Arguments; `{port}` becomes the port of the hand-edited claim, `{name}` the name.
    args: &'static [&'static str],
    /// Changes to the world before the run.
    setup: fn(&Setup),
    /// Whether the name reaches the output (escaped) on this path.
    shows_name: bool,
    /// Whether stdout is JSON, and whether the name must parse back from it.
    json: Json,
}

#[cfg(unix)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Json {
    No,
    Parses,
    HoldsName,
}

/// A world whose registry, project folder and files hold `name` wherever a person could put
/// it: a project folder named after it with a claim of `web`, and a hand-edited claim of a
/// service `svc` of a project `name` in a folder `/nonexistent/name` that is gone, on `port`,
/// plus the same service claimed for the project folder itself. (A service name outside the
/// rules makes the registry invalid: `registry.rs` tests that every command refuses it.)
#[cfg(unix)]
struct Setup {
    world: World,
    name: String,
    dir: PathBuf,
    port: u16,
}

#[cfg(unix)]
impl Setup {
    /// A project named `name`, its claim `web`, and two claims of `svc` of a project `name` on
    /// `ports`: one whose folder is gone and one in the project.
    fn new(name: &str, ports: [u16; 2]) -> Setup {
        let world = World::new();
        let dir = world.project(&format!("proj{name}"));
        let out = world.cmd_in(&dir, &["claim", "web"]).output().expect("run");
        assert!(
            out.status.success(),
            "claim web in a folder named {name:?}: {out:?}"
        );
        let port = ports[0];
        let mut reg = world.registry_json();
        let canonical = std::fs::canonicalize(&dir).expect("canonical");
        let claims = reg["claims"].as_array_mut().expect("claims");
        let stamp = claims[0]["created"].clone();
        for (project_path, service_port) in [
            (json!(format!("/nonexistent/{name}")), port),
            (json!(canonical), ports[1]),
        ] {
            claims.push(json!({
                "project": name, "project_path": project_path, "service": "svc",
                "port": service_port, "count": 1, "proto": "tcp",
                "created": stamp, "last_used": stamp,
            }));
        }
        world.file(world.registry(), reg.to_string());
        Setup {
            world,
            name: name.to_string(),
            dir,
            port,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("{port}", &self.port.to_string())
                    .replace("{name}", &self.name)
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.world.cmd_in(&self.dir, &args).output().expect("run")
    }

    /// Writes `text` into the registry's first claim's `proto`.
    fn set_proto(&self) {
        let mut reg = self.world.registry_json();
        reg["claims"][0]["proto"] = json!(self.name);
        self.world.file(self.world.registry(), reg.to_string());
    }
}

/// Two ports free a moment ago, outside the range the OS picks ports from (so no other
/// test's listener lands on them), each handed out once per test process. The harmless and
/// the hostile run of a case use the same two, so what `doctor` says of the ports themselves
/// (IANA-assigned or not) is the same for both.
#[cfg(unix)]
fn quiet_ports() -> [u16; 2] {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let base = 20_000 + u16::try_from(std::process::id() % 4_000).unwrap_or(0);
    let mut free = (0..2_000).filter_map(|_| {
        let port = base + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 6_000;
        std::net::TcpListener::bind(("127.0.0.1", port))
            .is_ok()
            .then_some(port)
    });
    [
        free.next().expect("a free port"),
        free.next().expect("a free port"),
    ]
}

/// A TOML basic string holding `text`, every control character as `\uXXXX`.
#[cfg(unix)]
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if c.is_control() || c == '"' || c == '\\' {
            let _ = write!(out, "\\u{:04X}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

#[cfg(unix)]
fn no_setup(_: &Setup) {}

#[cfg(unix)]
const CASES: &[Case] = &[
    Case {
        what: "list",
        args: &["list"],
        setup: no_setup,
        shows_name: true,
        json: Json::No,
    },
    Case {
        what: "list --json",
        args: &["list", "--json"],
        setup: no_setup,
        shows_name: false,
        json: Json::HoldsName,
    },
    Case {
        what: "claim --port on a port another project holds",
        args: &["claim", "other", "--port", "{port}"],
        setup: no_setup,
        shows_name: true,
        json: Json::No,
    },
    Case {
        what: "claim with another shape",
        args: &["claim", "web", "--count", "2"],
        setup: no_setup,
        shows_name: true,
        json: Json::No,
    },
    Case {
        what: "claim with no free block",
        args: &["claim", "other", "--range", "{port}-{port}"],
        setup: no_setup,
        shows_name: true,
        json: Json::No,
    },
    Case {
        what: "check PORT",
        args: &["check", "{port}"],
        setup: no_setup,
        shows_name: true,
        json: Json::No,
    },
    Case {
        what: "check PORT --json",
        args: &["check", "{port}", "--json"],
        setup: no_setup,
        shows_name: false,
        json: Json::HoldsName,
    },
    Case {
        what: "doctor",
        args: &["doctor"],
        setup: no_setup,
        shows_name: true,
        json: Json::No,
    },
    Case {
        what: "doctor --json",
        args: &["doctor", "--json"],
        setup: no_setup,
        shows_name: false,
        json: Json::HoldsName,
    },
    Case {
        what: "release --port",
        args: &["release", "--port", "{port}"],
        setup: no_setup,
        shows_name: true,
        json: Json::No,
    },
    Case {
        what: "release --port --json",
        args: &["release", "--port", "{port}", "--json"],
        setup: no_setup,
        shows_name: true,
        json: Json::HoldsName,
    },
    Case {
        what: "gc --dry-run",
        args: &["gc", "--dry-run"],
        setup: no_setup,
        shows_name: true,
        json: Json::No,
    },
    Case {
        what: "env",
        args: &["env"],
        setup: no_setup,
        shows_name: false,
        json: Json::No,
    },
    Case {
        what: "env --format json",
        args: &["env", "--format", "json"],
        setup: no_setup,
        shows_name: false,
        json: Json::Parses,
    },
    Case {
        what: "up with a claim the manifest does not name",
        args: &["up"],
        setup: |s| {
            s.world.manifest(&s.dir, "[services.web]\n");
        },
        shows_name: true,
        json: Json::No,
    },
    Case {
        what: "a registry whose proto is the name",
        args: &["list"],
        setup: Setup::set_proto,
        shows_name: true,
        json: Json::No,
    },
    Case {
        what: "a manifest with an unknown key",
        args: &["up"],
        setup: |s| {
            let text = format!("{} = 1\n[services.web]\n", toml_string(&s.name));
            s.world.manifest(&s.dir, text);
        },
        shows_name: true,
        json: Json::No,
    },
    Case {
        what: "a config with an unknown key",
        args: &["list"],
        setup: |s| {
            let text = format!("{} = 1\n", toml_string(&s.name));
            s.world.file(s.world.config(), text);
        },
        shows_name: true,
        json: Json::No,
    },
    Case {
        what: "a usage error quoting the argument",
        args: &["claim", "web", "--proto", "{name}"],
        setup: no_setup,
        shows_name: true,
        json: Json::No,
    },
    Case {
        what: "exec of a command that does not exist",
        args: &["exec", "web", "--", "no-such-command-{name}"],
        setup: no_setup,
        shows_name: true,
        json: Json::No,
    },
];

/// Every string inside `v`, depth first.
#[cfg(unix)]
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out);
        }),
        _ => {}
    }
}

/// What is wrong with the output of `case`, if anything.
#[cfg(unix)]
fn problems(case: &Case) -> Vec<String> {
    let ports = quiet_ports();
    let runs: Vec<(Output, Setup)> = [NASTY, PLAIN]
        .iter()
        .map(|name| {
            let setup = Setup::new(name, ports);
            (case.setup)(&setup);
            (setup.run(case.args), setup)
        })
        .collect();
    let (nasty, setup) = &runs[0];
    let (plain, _) = &runs[1];
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&nasty.stdout),
        String::from_utf8_lossy(&nasty.stderr)
    );
    let mut problems = Vec::new();
    for (stream, bytes) in [("stdout", &nasty.stdout), ("stderr", &nasty.stderr)] {
        if let Some(found) = raw_control(bytes) {
            problems.push(format!("raw {found} on {stream}"));
        }
    }
    // Shown escaped: as `\u{1b}` in messages and tables, `\u001b` in JSON. (A LF may also
    // have been turned into a space on the way, as TOML errors and usage errors do.)
    let escaped = |form: &[&str]| form.iter().all(|part| shown.contains(part));
    if case.shows_name
        && !escaped(&["x\\u{1b}[2J\\u{1b}]0;title\\u{7}\\r", "\\u{9b}31my"])
        && !escaped(&["x\\u001b[2J\\u001b]0;title\\u0007\\r\\n\\u009b31my"])
    {
        problems.push("the name is not shown escaped".into());
    }
    // Same shape as with a harmless name: same exit code, same number of lines.
    if nasty.status.code() != plain.status.code() {
        problems.push(format!(
            "exit {:?}, with a plain name {:?}",
            nasty.status.code(),
            plain.status.code()
        ));
    }
    for (stream, a, b) in [
        ("stdout", &nasty.stdout, &plain.stdout),
        ("stderr", &nasty.stderr, &plain.stderr),
    ] {
        if lines(a) != lines(b) {
            problems.push(format!(
                "{} {stream} lines, with a plain name {}",
                lines(a),
                lines(b)
            ));
        }
    }
    if let Some(line) = String::from_utf8_lossy(&nasty.stderr)
        .lines()
        .find(|l| !l.starts_with("devport: "))
    {
        problems.push(format!(
            "stderr line {line:?} is not a message of devport's"
        ));
    }
    if case.json != Json::No {
        match serde_json::from_slice::<Value>(&nasty.stdout) {
            Err(e) => problems.push(format!("JSON does not parse: {e}")),
            Ok(v) => {
                let mut all = Vec::new();
                strings(&v, &mut all);
                if case.json == Json::HoldsName && !all.iter().any(|s| s.contains(&setup.name)) {
                    problems.push("the name does not parse back from the JSON".into());
                }
            }
        }
    }
    if problems.is_empty() {
        return problems;
    }
    vec![format!("{}: {}\n{shown}", case.what, problems.join("; "))]
}

#[test]
fn colours_follow_the_rules() {
    let w = World::new();
    w.ok(&["claim", "web"]);
    let plain = w.ok(&["list"]);
    assert!(
        !plain.contains('\u{1b}'),
        "no colours when stdout is not a terminal"
    );
    let forced = w.ok(&["list", "--color", "always"]);
    assert!(forced.contains('\u{1b}'), "--color always colours");
    let json = w.ok(&["list", "--color", "always", "--json"]);
    assert!(!json.contains('\u{1b}'), "JSON is never coloured");
}

// A pseudo-terminal through `script`: Unix by nature.
#[cfg(unix)]
#[test]
#[ignore = "needs script (bsdutils/util-linux): runs devport on a pseudo-terminal; .ci/run installs it"]
fn colours_on_a_terminal_unless_no_color_or_a_dumb_terminal() {
    // `script` (util-linux) runs the command on a pseudo-terminal.
    crate::support::require_tool("script", &["--version"]);
    let w = World::new();
    w.ok(&["claim", "web"]);
    let shop = w.project("shop");
    let on_tty = |env: &[(&str, &str)]| {
        let line = format!("{} list", crate::support::bin().display());
        let mut cmd = w.program_in("script", &shop, &["-qec", &line, "/dev/null"]);
        cmd.env("TERM", "xterm");
        for (k, v) in env {
            cmd.env(k, v);
        }
        String::from_utf8_lossy(&cmd.output().expect("script").stdout).into_owned()
    };
    let coloured = on_tty(&[]);
    assert!(
        coloured.contains("PORT") && coloured.contains('\u{1b}'),
        "{coloured:?}"
    );
    assert!(!on_tty(&[("NO_COLOR", "1")]).contains('\u{1b}'));
    assert!(!on_tty(&[("TERM", "dumb")]).contains('\u{1b}'));
    assert!(
        on_tty(&[("NO_COLOR", "")]).contains('\u{1b}'),
        "an empty NO_COLOR does not count"
    );
}

/// Help and version that cannot be written (a full disk) fail as any other output does: a line
/// on stderr and exit 3, never a silent 0.
#[cfg(target_os = "linux")]
#[test]
fn help_and_version_into_a_full_device_fail() {
    let w = World::new();
    for args in ["--help", "--version", "-V", "claim --help", "help exec"] {
        let out = w
            .program_in(
                "sh",
                &w.project("shop"),
                &["-c", &format!("\"$0\" {args} > /dev/full")],
            )
            .arg(crate::support::bin())
            .output()
            .expect("sh");
        assert_eq!(out.status.code(), Some(3), "{args}: {out:?}");
        assert_eq!(
            stderr(&out),
            "devport: cannot write to standard output: No space left on device (os error 28)",
            "{args}"
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_stderr_that_cannot_be_written_never_makes_devport_panic() {
    let w = World::new();
    for (args, code) in [
        (&["claim", "_bad"][..], 2),
        (&["list", "--bogus"], 2),
        (&["check", "0"], 2),
        (&["claim", "web"], 0),
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = w
            .std_cmd_in(&w.project("shop"), args)
            .stderr(full)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}

#[cfg(unix)]
#[test]
fn every_text_path_escapes_control_characters() {
    let problems: Vec<String> = CASES.iter().flat_map(problems).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[cfg(unix)]
#[test]
fn colours_are_the_only_escape_sequences() {
    let setup = Setup::new(NASTY, quiet_ports());
    for args in [
        &["list", "--color", "always"][..],
        &["check", "{port}", "--color", "always"],
    ] {
        let out = setup.run(args);
        // Take out devport's own colours (SGR: ESC [ digits m); nothing else may remain.
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        let sgr_count = text.matches("\x1b[").count();
        for code in ["0", "1", "31", "32", "33", "39", "22"] {
            text = text.replace(&format!("\x1b[{code}m"), "");
        }
        assert!(sgr_count > 0, "{args:?}: no colours at all:\n{text}");
        assert!(
            raw_control(text.as_bytes()).is_none(),
            "{args:?}:\n{text:?}"
        );
    }
}

/// Names that come from the system: `/proc/PID/comm` (Linux only).
#[cfg(target_os = "linux")]
mod from_processes {
    use std::io::BufRead as _;
    use std::path::Path;
    use std::process::{Output, Stdio};

    use serde_json::{Value, json};

    use super::{raw_control, strings};
    use crate::support::{Reaped, World, port};

    /// Asserts that neither stream of `out` holds a raw control character.
    fn assert_no_raw_control(what: &str, out: &Output) {
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            if let Some(found) = raw_control(bytes) {
                panic!(
                    "{what}: raw {found} on {stream}:\n{}",
                    String::from_utf8_lossy(bytes)
                );
            }
        }
    }

    /// A process whose name holds ESC, BEL, LF and U+009B: a symlink to python3 so named,
    /// working in `project` and bound to a loopback port the OS picked.
    fn nasty_process(dir: &Path, project: &Path) -> (Reaped, u16, String) {
        let real = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 is needed for this test");
        let real = std::fs::canonicalize(String::from_utf8_lossy(&real.stdout).trim())
            .expect("python3's executable");
        // /proc/PID/comm keeps 15 bytes and devport trims its end: keep the name short, with a
        // plain last character.
        let name = "p\x1b[2J\n\x07\u{9b}y".to_string();
        let link = dir.join(&name);
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let mut child = std::process::Command::new(&link)
            .args([
                "-c",
                "import socket, sys, time\n\
                 s = socket.socket()\n\
                 s.bind(('127.0.0.1', 0))\n\
                 s.listen()\n\
                 print(s.getsockname()[1], flush=True)\n\
                 time.sleep(120)\n",
            ])
            .current_dir(project)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn python3");
        let stdout = child.stdout.take().expect("stdout");
        let reaped = Reaped(child);
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .expect("read port");
        (reaped, port(&first), name)
    }

    #[test]
    fn process_names_from_the_system_are_escaped() {
        let w = World::new();
        let project = w.project("shop");
        let (child, p, name) = nasty_process(w.dir.path(), &project);
        let pid = child.0.id();
        // A claim on the port, so `list --live` shows the socket too.
        w.ok_at(&project, &["claim", "web"]);
        let mut reg = w.registry_json();
        reg["claims"][0]["port"] = json!(p);
        w.file(w.registry(), reg.to_string());
        let escaped = "p\\u{1b}[2J\\n\\u{7}\\u{9b}y";
        for args in [
            &["check", &p.to_string()][..],
            &["audit"],
            &["list", "--live"],
            &["wait", &p.to_string()],
            &["kill", &p.to_string(), "--dry-run"],
        ] {
            let out = w.cmd_in(&project, args).output().expect("run");
            assert_no_raw_control(&format!("{args:?}"), &out);
            let text = String::from_utf8_lossy(&out.stdout);
            let rows: Vec<&str> = text
                .lines()
                .filter(|l| l.contains(&format!("pid {pid}")))
                .collect();
            assert_eq!(rows.len(), 1, "{args:?}: one line for the process:\n{text}");
            assert!(rows[0].contains(escaped), "{args:?}: {}", rows[0]);
        }
        for args in [
            &["check", &p.to_string(), "--json"][..],
            &["audit", "--json"],
            &["list", "--live", "--json"],
            &["wait", &p.to_string(), "--json"],
            &["kill", &p.to_string(), "--dry-run", "--json"],
        ] {
            let out = w.cmd_in(&project, args).output().expect("run");
            assert_no_raw_control(&format!("{args:?}"), &out);
            let v: Value = serde_json::from_slice(&out.stdout).expect("json");
            let mut all = Vec::new();
            strings(&v, &mut all);
            assert!(
                all.contains(&name),
                "{args:?}: the name does not parse back: {v}"
            );
        }
        drop(child);
    }
}
