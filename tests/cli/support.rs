//! The test builder: a temporary world (registry, config, project folders) and commands that
//! run the real binary in it with a clean environment.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
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

    /// `devport trust` in `dir`: what a person runs after reading the project's manifest, so
    /// `up`, `env` and `exec` export its `[env]` values and `env =` names. A changed manifest
    /// must be trusted again.
    pub fn trust(&self, dir: &Path) {
        self.cmd_in(dir, &["trust"]).assert().success();
    }

    /// Writes `text` as the manifest of `dir` and trusts it ([`World::trust`]).
    pub fn trusted_manifest(&self, dir: &Path, text: &str) {
        std::fs::write(dir.join("devport.toml"), text).expect("manifest");
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
    std::fs::write(w.registry(), reg.to_string()).expect("write registry");
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
