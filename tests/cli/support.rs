//! The test builder: a temporary world (registry, config, project folders) and commands that
//! run the real binary in it with a clean environment.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
#[cfg(unix)]
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// A temporary world for one test. Everything lives under `dir` and goes away on drop.
pub struct World {
    pub dir: TempDir,
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::Builder::new()
            .prefix("devport-test-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("state")).expect("state dir");
        World { dir }
    }

    pub fn registry(&self) -> PathBuf {
        self.dir.path().join("state/registry.json")
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// A project folder (with a `.git` folder, so it is a project root) named `name`.
    pub fn project(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::create_dir_all(p.join(".git")).expect("project dir");
        p
    }

    /// `devport ARGS` run in `project` with this world's registry and config.
    pub fn cmd_in(&self, project: &Path, args: &[&str]) -> Command {
        Command::from_std(self.std_cmd_in(project, args))
    }

    /// The same as a plain `std::process::Command`, for spawning many at once.
    pub fn std_cmd_in(&self, project: &Path, args: &[&str]) -> std::process::Command {
        self.program_in(bin(), project, args)
    }

    /// Any program, run in `project` with this world's clean environment.
    pub fn program_in(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        project: &Path,
        args: &[&str],
    ) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        clean_env(&mut cmd);
        cmd.env("DEVPORT_REGISTRY", self.registry())
            .env("DEVPORT_CONFIG", self.config())
            .current_dir(project)
            .args(args);
        cmd
    }

    /// `devport ARGS` in the project folder `shop`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let project = self.project("shop");
        self.cmd_in(&project, args)
    }

    /// Runs a command that must succeed and returns its stdout, trimmed.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_in("shop", args)
    }

    /// Runs a command that must succeed in the project folder `project`; returns its stdout.
    /// Tests that bind the ports they claim use a project name of their own, so tests running
    /// at the same time never reach for the same port.
    pub fn ok_in(&self, project: &str, args: &[&str]) -> String {
        self.ok_at(&self.project(project), args)
    }

    /// Runs a command in `shop` that must exit with `code`; returns its output.
    pub fn fails(&self, args: &[&str], code: i32) -> Output {
        self.fails_in(&self.project("shop"), args, code)
    }

    /// Runs a command in `dir` that must exit with `code`; returns its output.
    pub fn fails_in(&self, dir: &Path, args: &[&str], code: i32) -> Output {
        self.cmd_in(dir, args)
            .assert()
            .code(code)
            .get_output()
            .clone()
    }

    /// Runs a command in `dir` that must succeed; returns its stdout, trimmed.
    pub fn ok_at(&self, dir: &Path, args: &[&str]) -> String {
        stdout(
            &self
                .cmd_in(dir, args)
                .assert()
                .success()
                .get_output()
                .clone(),
        )
    }

    /// Writes `contents` to the file `path` (relative to the world's folder, or absolute) and
    /// returns its path: `w.file("shop/devport.toml", "[services.web]\n")`.
    pub fn file(&self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(path);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Makes the folder `path` (relative to the world's folder, or absolute) and its parents,
    /// and returns its path.
    pub fn dir(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = self.dir.path().join(path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("make the folder {}: {e}", path.display()));
        path
    }

    /// `devport trust` in `dir`: what a person runs after reading the project's manifest, so
    /// `up`, `env` and `exec` export its `[env]` values and `env =` names. A changed manifest
    /// must be trusted again.
    pub fn trust(&self, dir: &Path) {
        self.cmd_in(dir, &["trust"]).assert().success();
    }

    /// Writes `text` as the manifest (`devport.toml`) of the folder `dir`; returns its path.
    pub fn manifest(&self, dir: &Path, text: impl AsRef<[u8]>) -> PathBuf {
        self.file(dir.join("devport.toml"), text)
    }

    /// Writes `text` as the manifest of `dir` and trusts it ([`World::trust`]).
    pub fn trusted_manifest(&self, dir: &Path, text: &str) {
        self.manifest(dir, text);
        self.trust(dir);
    }

    /// The registry's bytes (empty if missing).
    pub fn registry_bytes(&self) -> Vec<u8> {
        std::fs::read(self.registry()).unwrap_or_default()
    }

    /// The registry as JSON.
    pub fn registry_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.registry_bytes()).expect("registry parses")
    }
}

/// A git repository `name` in the world with `files` committed (`.env` and logs ignored).
#[cfg(unix)]
pub fn repo(w: &World, name: &str, files: &[(&str, String)]) -> PathBuf {
    let dir = w.dir(name);
    w.file(dir.join(".gitignore"), ".env\n*.log\nnode_modules/\n");
    for (file, text) in files {
        w.file(dir.join(file), text);
    }
    git(w, &dir, &["init", "-q", "-b", "main"]);
    git(w, &dir, &["add", "."]);
    git(w, &dir, &["commit", "-q", "-m", "start"]);
    dir
}

/// `git ARGS` in `dir`, which must succeed.
#[cfg(unix)]
pub fn git(w: &World, dir: &Path, args: &[&str]) {
    let out = w
        .program_in("git", dir, args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "devport test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "devport test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .expect("git is needed for this test");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

/// The path of the binary under test.
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("devport")
}

/// Removes every variable that could make a test depend on the machine it runs on.
pub fn clean_env(cmd: &mut std::process::Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("DEVPORT_") || key == "NO_COLOR" {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", "/nonexistent-devport-test-home")
        .env("XDG_STATE_HOME", "/nonexistent-devport-test-home")
        .env("XDG_CONFIG_HOME", "/nonexistent-devport-test-home");
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// Fails the test unless the command succeeded, naming how it ended and what it printed.
/// devport says why whenever it fails, and a panic prints its message, so a Windows process
/// that fails with nothing on stderr was ended from outside (Wine, under the load of hundreds
/// of processes started at once, seen once in CI): the message says so in words
/// `ci/wine/test` knows, "the process died without a word".
#[track_caller]
pub fn assert_ok(out: &Output) {
    if out.status.success() {
        return;
    }
    let how = match out.status.code().map(i32::cast_unsigned) {
        Some(status) if cfg!(windows) && out.stderr.is_empty() => {
            format!("the process died without a word, of Windows status {status:#x}")
        }
        _ => out.status.to_string(),
    };
    panic!(
        "{how}; stderr: {:?}; stdout: {:?}",
        stderr(out),
        stdout(out)
    );
}

/// A command's stdout as JSON.
#[cfg(target_os = "linux")]
pub fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// A claim of `web` in `shop` moved to port `p` (the registry edited), so a test's server on a
/// port the OS picked is that claim's, and `list --live` watches it.
#[cfg(target_os = "linux")]
pub fn claim_port(w: &World, p: u16) {
    w.ok(&["claim", "web"]);
    let mut reg = w.registry_json();
    reg["claims"][0]["port"] = serde_json::json!(p);
    w.file(w.registry(), reg.to_string());
}

/// The first line a child prints on its piped stdout, trimmed.
#[cfg(unix)]
pub fn first_line(child: &mut std::process::Child) -> String {
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().expect("a piped stdout")),
        &mut line,
    )
    .expect("read the child's first line");
    line.trim().to_string()
}

pub fn port(text: &str) -> u16 {
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("not a port: {text:?}: {e}"))
}

/// A child process that is killed and reaped when the guard drops, so a failing test leaves no
/// process behind.
pub struct Reaped(pub std::process::Child);

impl Reaped {
    /// Kills the child now (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `cmd` as the user `nobody` (uid and gid 65534): `paths` are given to nobody and the
/// world's folder is opened for traversal, so nobody can reach them. Needs root.
#[cfg(unix)]
pub fn run_as_nobody(cmd: &mut std::process::Command, w: &World, paths: &[&Path]) {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::process::CommandExt as _;
    let nobody = Some(nix::unistd::Uid::from_raw(65534));
    let nogroup = Some(nix::unistd::Gid::from_raw(65534));
    std::fs::set_permissions(w.dir.path(), std::fs::Permissions::from_mode(0o711))
        .expect("open the world for traversal");
    for path in paths {
        nix::unistd::chown(*path, nobody, nogroup).expect("chown to nobody");
    }
    cmd.uid(65534).gid(65534);
}

/// Fails the test, naming the tool, unless `program ARGS` runs and succeeds. Tests that need a
/// tool are `#[ignore]`d with the reason and run by `.ci/run`, which installs the tool: there a
/// missing tool is a failure, never a silent pass. (The tools those tests use are Unix ones.)
#[cfg(unix)]
pub fn require_tool(program: &str, args: &[&str]) {
    let runs = std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        runs,
        "this test needs `{program}`, which does not run here; install it (.ci/run does)"
    );
}

/// Fails the test unless this host has an IPv6 loopback (`::1`).
pub fn require_ipv6_loopback() {
    if let Err(e) = std::net::TcpListener::bind(("::1", 0)) {
        panic!(
            "this test needs an IPv6 loopback, and binding [::1]:0 failed ({e}); enable it \
             (echo 0 > /proc/sys/net/ipv6/conf/lo/disable_ipv6; .ci/run does)"
        );
    }
}

/// Runs `attempt(0)`, `attempt(1)`, ... until one returns `Some`, and fails the test after 20
/// tries. For races with the rest of the machine ("the port was taken meanwhile"): each
/// attempt picks a new port instead of giving up.
pub fn retry<T>(what: &str, mut attempt: impl FnMut(u32) -> Option<T>) -> T {
    (0..20)
        .find_map(&mut attempt)
        .unwrap_or_else(|| panic!("could not {what} in 20 attempts, each on a new port"))
}

/// Claims `service` in `dir` and binds its port on 127.0.0.1. If something else took the port
/// meanwhile, the claim moves (`claim --move`) to a new usable port and the bind is retried.
/// Used by the tests that read from /proc whether the binding process works in the project.
#[cfg(target_os = "linux")]
pub fn claim_and_bind(w: &World, dir: &Path, service: &str) -> (u16, std::net::TcpListener) {
    retry(&format!("bind the port claimed for {service}"), |i| {
        let args: &[&str] = if i == 0 {
            &["claim", service]
        } else {
            &["claim", service, "--move"]
        };
        let p = port(&w.ok_at(dir, args));
        std::net::TcpListener::bind(("127.0.0.1", p))
            .ok()
            .map(|l| (p, l))
    })
}

/// Sets the modification time of `path` to a fixed day in 2001 and returns it: a later rewrite
/// shows as a different time on any file system, however coarse its timestamps, with no sleep.
pub fn plant_old_mtime(path: &Path) -> std::time::SystemTime {
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(old))
        .expect("set the modification time");
    mtime(path)
}

/// The modification time of `path`.
pub fn mtime(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime")
}

/// Reads dotenv text as dotenv loaders do (python-dotenv, compose), independently of
/// devport's own code: `NAME=value` per line, an optional `export `, blank lines and `#`
/// comments skipped; a value in single quotes is literal, one in double quotes has `\n`, `\r`,
/// `\t`, `\"` and `\\` unescaped, a bare value ends at ` #`. Values on one line only.
pub fn dotenv(text: &str) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim_start();
        let value = if let Some(rest) = value.strip_prefix('\'') {
            rest.split_once('\'').map_or(rest, |(v, _)| v).to_string()
        } else if let Some(rest) = value.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('n') => out.push('\n'),
                        Some('r') => out.push('\r'),
                        Some('t') => out.push('\t'),
                        Some(e @ ('"' | '\\')) => out.push(e),
                        Some(e) => out.extend(['\\', e]),
                        None => out.push('\\'),
                    },
                    _ => out.push(c),
                }
            }
            out
        } else {
            value
                .split(" #")
                .next()
                .unwrap_or("")
                .trim_end()
                .to_string()
        };
        vars.push((name.trim().to_string(), value));
    }
    vars
}

// Helpers used by tests of several commands.

pub fn audit_rows(w: &World, port: u16) -> Vec<Value> {
    // audit exits 1 when it shows a conflict; either way stdout is the JSON.
    let out = w.cmd(&["audit", "--json"]).output().expect("run audit");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v.as_array()
        .map(|a| a.iter().filter(|r| r["port"] == port).cloned().collect())
        .unwrap_or_default()
}

/// A project folder `name` with a manifest of two services (`db` a block of two) and `[env]`.
pub fn project(w: &World, name: &str, env: &str) -> PathBuf {
    let dir = w.project(name);
    let manifest = format!(
        "[services.api]\n[services.db]\ncount = 2\n\n[env]\nAPI_URL = \"http://localhost:{{port:api}}\"\nDATABASE_URL = \"postgres://app@localhost:{{port:db}}/{{project}}\"\nREPLICA = \"localhost:{{port:db:1}}\"\n{env}\n"
    );
    w.trusted_manifest(&dir, &manifest);
    dir
}

/// Ten claims, so the registry is larger than one 1 KiB block.
pub fn ten_claims() -> World {
    let w = World::new();
    for i in 0..10 {
        w.ok(&["claim", &format!("s{i}")]);
    }
    w
}

/// A python3 child working in `dir` that binds `port` on 127.0.0.1 (TCP), prints `ready` and
/// sleeps; `ignore_term` makes it ignore SIGTERM.
#[cfg(unix)]
pub fn listener(dir: &Path, port: u16, ignore_term: bool) -> Reaped {
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
pub fn listener_with(dir: &Path, port: u16, prelude: &str) -> Reaped {
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
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.0.stdout.as_mut().expect("stdout")),
        &mut line,
    )
    .expect("read the child's first line");
    assert_eq!(line.trim(), "ready", "the python3 listener did not start");
    child
}

/// A loopback port the OS picked, free again when this returns.
#[cfg(unix)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an OS-picked port")
        .port()
}

/// The child's status once it exits (within 10 s), else `None` (it keeps running).
#[cfg(unix)]
pub fn exit_of(child: &mut Reaped, within: Duration) -> Option<std::process::ExitStatus> {
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

/// The name the OS gives [`sleeper`]'s process.
#[cfg(unix)]
pub const SLEEPER_NAME: &str = "sleep";

/// The name the OS gives [`sleeper`]'s process.
#[cfg(windows)]
pub const SLEEPER_NAME: &str = "cmd";

/// A child process that lives until killed.
#[cfg(unix)]
pub fn sleeper() -> Reaped {
    Reaped(
        std::process::Command::new("sleep")
            .arg("60")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep"),
    )
}

/// A child process that lives until killed: `pause`, waiting on a pipe nobody writes to.
#[cfg(windows)]
pub fn sleeper() -> Reaped {
    Reaped(
        std::process::Command::new("cmd")
            .args(["/c", "pause"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn cmd /c pause"),
    )
}

/// Asserts that a usage error is one line, names `wanted`, points at `devport SUB --help` and
/// changed nothing on disk.
pub fn usage_error(w: &World, args: &[&str], wanted: &str, sub: &str) -> String {
    let out = w.fails(args, 2);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(wanted), "{args:?}: {err}");
    let help = if sub.is_empty() {
        "devport --help".to_string()
    } else {
        format!("devport {sub} --help")
    };
    assert!(err.ends_with(&format!("see '{help}'")), "{args:?}: {err}");
    assert!(!err.contains("tip:"), "{args:?}: {err}");
    assert!(stdout(&out).is_empty(), "{args:?}");
    assert!(w.registry_bytes().is_empty(), "{args:?} wrote the registry");
    err
}

/// Binds `port` on IPv4 loopback in this test process: "someone else" for a project folder
/// the test process does not work in.
pub fn hold(port: u16) -> TcpListener {
    TcpListener::bind(("127.0.0.1", port)).expect("bind the claimed port")
}

/// Words that belong to the parser's internals, not to a message for a person.
pub const INTERNALS: &[&str] = &[
    "u16",
    "u32",
    "i64",
    "untagged",
    "variant",
    "ServiceSpec",
    "PortOrRange",
    "struct",
    "invalid type",
    "expected a map",
    "Option",
];

/// The error is one line, names the file and the position, says `words`, leaks nothing.
pub fn assert_one_line(err: &str, file: &Path, at: &str, words: &str, input: &str) {
    let err = err.trim_end();
    assert!(!err.contains('\n'), "{input:?}: not one line: {err}");
    assert!(
        err.contains(&file.display().to_string()),
        "{input:?}: file not named: {err}"
    );
    assert!(err.contains(at), "{input:?}: want {at:?}: {err}");
    assert!(err.contains(words), "{input:?}: want {words:?}: {err}");
    for word in INTERNALS {
        assert!(!err.contains(word), "{input:?}: leaks {word:?}: {err}");
    }
}

/// A bad input and what devport must say about it: the file's text, where the message must
/// point (`"line 2, column 8"`) and words it must contain.
pub type BadInput = (&'static str, &'static str, &'static str);

/// Writes each bad input of `cases` to `file` and runs `devport ARGS` in `dir`: each run must
/// exit with `code`, print one line naming the file, the place and the words (and no parser
/// internals), print nothing on stdout and leave the registry as it was.
pub fn assert_bad_inputs(
    w: &World,
    file: &Path,
    cases: &[BadInput],
    dir: &Path,
    args: &[&str],
    code: i32,
) {
    for (text, at, words) in cases {
        w.file(file, text);
        let before = w.registry_bytes();
        let out = w.fails_in(dir, args, code);
        assert_one_line(&stderr(&out), file, at, words, text);
        assert!(out.stdout.is_empty(), "{args:?} {text:?}: printed {out:?}");
        assert_eq!(
            w.registry_bytes(),
            before,
            "{args:?} {text:?}: wrote the registry"
        );
    }
}

/// The project name of every claim in the registry, by service.
pub fn names(w: &World) -> Vec<(String, String)> {
    key_pairs(&w.registry_json()["claims"], "service", "project")
}

/// The values of the keys `a` and `b` (strings) of each object of the JSON list `list`, sorted.
pub fn key_pairs(list: &serde_json::Value, a: &str, b: &str) -> Vec<(String, String)> {
    let text = |c: &serde_json::Value, key: &str| {
        c[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in {c}"))
            .to_string()
    };
    let mut pairs: Vec<(String, String)> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| (text(c, a), text(c, b)))
        .collect();
    pairs.sort();
    pairs
}

#[cfg(unix)]
pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A port the policy hands out by itself (claimed in a project of its own, then released), so
/// every static rule allows it.
pub fn policy_port(w: &World, project: &str) -> u16 {
    let dir = w.project(project);
    let p = port(&w.ok_at(&dir, &["claim", "scratch"]));
    w.ok_at(&dir, &["release", "scratch"]);
    p
}

/// Runs `devport ARGS` in `dir`; it must exit with `code` and leave the registry as it was.
pub fn refused(w: &World, dir: &Path, args: &[&str], code: i32) -> String {
    let before = w.registry_bytes();
    let out = w.fails_in(dir, args, code);
    assert_eq!(
        w.registry_bytes(),
        before,
        "devport {args:?} changed the registry"
    );
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("Error {") && !err.contains("Usage("), "{err}");
    err
}

#[cfg(unix)]
pub fn chown(path: &Path, uid: u32, gid: u32) {
    nix::unistd::chown(
        path,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    )
    .expect("chown");
}

#[cfg(unix)]
pub const NOBODY: u32 = 65534;

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub fn codes(doctor_json: &Value) -> Vec<String> {
    doctor_json
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["code"].as_str().expect("code").to_string())
        .collect()
}

pub fn claim_count(w: &World) -> usize {
    w.registry_json()["claims"].as_array().map_or(0, Vec::len)
}

/// A world whose registry holds two claims.
pub fn web_and_db() -> World {
    let w = World::new();
    w.ok(&["claim", "web"]);
    w.ok(&["claim", "db"]);
    w
}

/// Whether this test runs under Wine rather than on Windows: the Wine prefix's own programs
/// are there (checked so a Wine gap is asserted as one, never passed over silently).
#[cfg(windows)]
pub fn under_wine() -> bool {
    let root = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\windows".into());
    std::path::Path::new(&root)
        .join(r"system32\wineboot.exe")
        .is_file()
}

/// Not Windows, so not Wine.
#[cfg(not(windows))]
pub fn under_wine() -> bool {
    false
}

/// The owner `check --json` and `audit --json` must show for a socket of this process: its
/// pid, except under Wine, whose socket tables give every socket owner pid 0, which devport
/// shows as "owner not visible" (null).
pub fn own_pid_json() -> Value {
    if under_wine() {
        Value::Null
    } else {
        Value::from(std::process::id())
    }
}

/// The owner as the text reports show it (see [`own_pid_json`]).
pub fn own_pid_text() -> String {
    if under_wine() {
        "owner not visible".to_string()
    } else {
        format!("pid {}", std::process::id())
    }
}

/// A command that prints its arguments: `echo`, which on Windows is built into `cmd`.
#[cfg(unix)]
pub const ECHO: [&str; 1] = ["echo"];

/// A command that prints its arguments: `echo`, which on Windows is built into `cmd`.
#[cfg(windows)]
pub const ECHO: [&str; 3] = ["cmd", "/c", "echo"];

/// Runs a bash script in `dir`, with `devport` on PATH.
#[cfg(unix)]
pub fn bash(w: &World, dir: &Path, script: &str) -> std::process::Output {
    bash_cmd(w, dir, script).output().expect("bash")
}

/// The command [`bash`] runs.
#[cfg(unix)]
pub fn bash_cmd(w: &World, dir: &Path, script: &str) -> std::process::Command {
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = w.program_in("bash", dir, &["-c", script]);
    cmd.env("PATH", path);
    cmd
}

pub fn bin_dir() -> PathBuf {
    bin().parent().map(Path::to_path_buf).unwrap_or_default()
}

/// One run of the binary in a [`World`], in the style of just's `Test`: the arguments, the
/// environment, and the exact stdout, stderr and exit status it must give (by default: no
/// output and exit 0). In the expected text `{world}` stands for the world's folder, so a
/// message naming a file is written out in full: `w.test(&["list"]).stderr("devport:
/// {world}/state/registry.json: …\n").status(3).run()`.
#[must_use = "a Test does nothing until `run`"]
pub struct Test<'w> {
    world: &'w World,
    cmd: Command,
    stdout: String,
    stderr: String,
    status: i32,
}

impl World {
    /// `devport ARGS` in the project folder `shop`, checked by [`Test::run`].
    pub fn test(&self, args: &[&str]) -> Test<'_> {
        self.test_in(&self.project("shop"), args)
    }

    /// `devport ARGS` in `dir`, checked by [`Test::run`].
    pub fn test_in(&self, dir: &Path, args: &[&str]) -> Test<'_> {
        Test {
            world: self,
            cmd: self.cmd_in(dir, args),
            stdout: String::new(),
            stderr: String::new(),
            status: 0,
        }
    }
}

impl Test<'_> {
    /// Sets an environment variable for the run.
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// The exact stdout the run must give.
    pub fn stdout(mut self, text: &str) -> Self {
        self.stdout = self.expand(text);
        self
    }

    /// The exact stderr the run must give.
    pub fn stderr(mut self, text: &str) -> Self {
        self.stderr = self.expand(text);
        self
    }

    /// The exit status the run must give.
    pub fn status(mut self, code: i32) -> Self {
        self.status = code;
        self
    }

    fn expand(&self, text: &str) -> String {
        text.replace("{world}", &self.world.dir.path().display().to_string())
    }

    /// Runs the command and checks stdout, stderr and the exit status exactly; returns the
    /// output.
    pub fn run(mut self) -> Output {
        let out = self.cmd.output().expect("run devport");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(stderr, self.stderr, "stderr of {:?}", self.cmd);
        assert_eq!(stdout, self.stdout, "stdout of {:?}", self.cmd);
        assert_eq!(
            out.status.code(),
            Some(self.status),
            "status of {:?}",
            self.cmd
        );
        out
    }
}
