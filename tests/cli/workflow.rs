//! `env`, `exec`, `up`, `init`, completions, man page and the examples.

use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::process::Command;

#[cfg(unix)]
use crate::support::Reaped;
use crate::support::{World, bin, port, stderr, stdout};

/// Runs a bash script in `dir`, with `devport` on PATH.
#[cfg(unix)]
fn bash(w: &World, dir: &Path, script: &str) -> std::process::Output {
    bash_cmd(w, dir, script).output().expect("bash")
}

/// The command [`bash`] runs.
#[cfg(unix)]
fn bash_cmd(w: &World, dir: &Path, script: &str) -> Command {
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = w.program_in("bash", dir, &["-c", script]);
    cmd.env("PATH", path);
    cmd
}

fn bin_dir() -> PathBuf {
    bin().parent().map(Path::to_path_buf).unwrap_or_default()
}

// bash scripts: Unix by nature.
#[cfg(unix)]
#[test]
fn env_formats_round_trip() {
    let w = World::new();
    let web = w.ok(&["claim", "web"]);
    let block = w.ok(&["claim", "api.v2", "--count", "2"]);
    let shop = w.project("shop");
    let out = bash(
        &w,
        &shop,
        r#"eval "$(devport env)"; echo "$WEB_PORT $API_V2_PORT $API_V2_PORT_1""#,
    );
    let first = block.split(' ').next().unwrap_or_default();
    let second = block.split(' ').nth(1).unwrap_or_default();
    assert_eq!(
        stdout(&out),
        format!("{web} {first} {second}"),
        "{}",
        stderr(&out)
    );

    let out = bash(
        &w,
        &shop,
        "devport env --format dotenv > .env && set -a && . ./.env && echo $WEB_PORT",
    );
    assert_eq!(stdout(&out), web);

    let json: serde_json::Value =
        serde_json::from_str(&w.ok(&["env", "--format", "json", "--prefix", "APP_"]))
            .expect("json");
    assert_eq!(json["APP_WEB_PORT"], web.as_str());
    assert_eq!(json["APP_API_V2_PORT_0"], first);
}

#[test]
fn env_write_merges_and_is_stable() {
    let w = World::new();
    let web = w.ok(&["claim", "web"]);
    let dotenv = w.project("shop").join(".env");
    std::fs::write(
        &dotenv,
        "# keep me\nDEBUG=1\nWEB_PORT=1\n\nexport OTHER='a b'\n",
    )
    .expect("write");
    w.cmd(&["env", "--write", ".env"])
        .assert()
        .success()
        .stdout("");
    let once = std::fs::read_to_string(&dotenv).expect("read");
    assert_eq!(
        once,
        format!("# keep me\nDEBUG=1\nWEB_PORT={web}\n\nexport OTHER='a b'\n")
    );
    w.cmd(&["env", "--write", ".env"]).assert().success();
    assert_eq!(
        std::fs::read_to_string(&dotenv).expect("read"),
        once,
        "second run changed the file"
    );
}

#[test]
fn env_name_collision_is_exit_2() {
    let w = World::new();
    w.ok(&["claim", "api.v2"]);
    // Refused when the second claim is made, before it is written (tests/cli/trust_env.rs
    // covers `env` on claims that already clash).
    let out = w.fails(&["claim", "api_v2"], 2);
    let err = stderr(&out);
    assert!(
        err.contains("api.v2") && err.contains("api_v2") && err.contains("API_V2_PORT"),
        "{err}"
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

const MANIFEST: &str = r#"name = "shop"

[services.web]
prefer = 23456

[services.db]
port = 25432

[services.grpc]
count = 3

[services.dns]
proto = "udp"
env = "RESOLVER_PORT"
"#;

#[test]
fn up_claims_the_manifest_and_is_idempotent() {
    let w = World::new();
    let shop = w.project("shop");
    w.trusted_manifest(&shop, MANIFEST);
    w.ok(&["claim", "old"]);
    let out = w
        .cmd(&["up", "--format", "dotenv"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stderr(&out).contains("shop/old") && stderr(&out).contains("devport release old"),
        "{}",
        stderr(&out)
    );
    let first = stdout(&out);
    let vars: std::collections::BTreeMap<String, String> =
        crate::support::dotenv(&first).into_iter().collect();
    assert_eq!(vars.get("DB_PORT").map(String::as_str), Some("25432"));
    assert!(
        vars.contains_key("WEB_PORT")
            && vars.contains_key("RESOLVER_PORT")
            && vars.contains_key("GRPC_PORT_2"),
        "{first}"
    );
    assert!(!vars.contains_key("OLD_PORT"));
    let reg = w.registry_json();
    let claims = reg["claims"].as_array().cloned().unwrap_or_default();
    let get = |s: &str| {
        claims
            .iter()
            .find(|c| c["service"] == s)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(get("grpc")["count"], 3);
    assert_eq!(get("dns")["proto"], "udp");
    let again = w.ok(&["up", "--format", "dotenv"]);
    assert_eq!(again, first);
    // --write-env merges into a dotenv file.
    w.cmd(&["up", "--write-env", ".env"]).assert().success();
    let written = std::fs::read_to_string(shop.join(".env")).expect("read");
    assert_eq!(written.trim(), first);
}

#[test]
fn broken_manifests_name_line_and_column() {
    let w = World::new();
    let shop = w.project("shop");
    for (text, needle) in [
        (
            "name = \"shop\"\n[services.web]\nprot = 1\n",
            "line 3, column 1",
        ),
        ("[services.web]\nport = \"x\"\n", "line 2"),
        ("[services.web\n", "line 1"),
    ] {
        std::fs::write(shop.join("devport.toml"), text).expect("manifest");
        let out = w.fails(&["up"], 2);
        let err = stderr(&out);
        assert!(
            err.contains(needle) && err.contains("devport.toml"),
            "{text:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert!(w.registry_bytes().is_empty());
}

#[test]
fn init_writes_once() {
    let w = World::new();
    let out: serde_json::Value = serde_json::from_str(&w.ok(&["init", "--json"])).expect("json");
    assert!(
        out["path"]
            .as_str()
            .is_some_and(|p| Path::new(p).ends_with("shop/devport.toml")),
        "{out}"
    );
    let path = w.project("shop").join("devport.toml");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains("name = \"shop\""));
    w.cmd(&["up"]).assert().success();
    // The commented [env] example is valid once uncommented.
    let uncommented = text
        .replace("# [env]", "[env]")
        .replace("# API_URL", "API_URL")
        .replace("# DATABASE_URL", "DATABASE_URL");
    std::fs::write(&path, uncommented).expect("write");
    // The edit changed what was trusted: its values wait for 'devport trust'.
    let out = w.cmd(&["up", "--format", "dotenv"]).assert().success();
    let out = out.get_output();
    assert!(!stdout(out).contains("DATABASE_URL"), "{}", stdout(out));
    assert!(
        stderr(out).contains("changed since you trusted it"),
        "{}",
        stderr(out)
    );
    w.trust(&w.project("shop"));
    let env = w.ok(&["up", "--format", "dotenv"]);
    assert!(
        env.contains("DATABASE_URL=postgres://app@localhost:"),
        "{env}"
    );
    std::fs::write(&path, &text).expect("write");
    w.cmd(&["init"]).assert().code(2);
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
}

#[test]
fn completions_and_man_page() {
    let w = World::new();
    let script = w.ok(&["completions", "bash"]);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("devport.bash");
    std::fs::write(&file, script).expect("write");
    // bash checks the syntax where there is one (Unix).
    #[cfg(unix)]
    assert!(
        Command::new("bash")
            .arg("-n")
            .arg(&file)
            .status()
            .expect("bash")
            .success()
    );
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        assert!(!w.ok(&["completions", shell]).is_empty());
    }
    let man = w.ok(&["man"]);
    assert!(
        man.starts_with(".ie") || man.starts_with(".TH"),
        "{}",
        &man[..40.min(man.len())]
    );
    assert!(man.contains(".TH devport 1"));
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

// bash scripts: Unix by nature.
#[cfg(unix)]
#[test]
fn example_setup_script_is_idempotent() {
    let w = World::new();
    let shop = w.project("shop");
    std::fs::write(shop.join(".env"), "COMPOSE_PROJECT_NAME=shop\n").expect("env");
    let script = examples().join("setup.sh");
    let first = bash(&w, &shop, &format!("bash {}", script.display()));
    assert!(first.status.success(), "{}", stderr(&first));
    let env_once = std::fs::read_to_string(shop.join(".env")).expect("read");
    let second = bash(&w, &shop, &format!("bash {}", script.display()));
    assert_eq!(stdout(&second), stdout(&first));
    assert_eq!(
        std::fs::read_to_string(shop.join(".env")).expect("read"),
        env_once
    );
    assert!(env_once.starts_with("COMPOSE_PROJECT_NAME=shop\n"));
    assert!(stdout(&first).contains(&format!("http://127.0.0.1:{}", w.ok(&["claim", "web"]))));
}

#[test]
fn example_compose_file_reads_the_env_devport_writes() {
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    w.ok(&["claim", "db"]);
    w.cmd(&["env", "--format", "dotenv", "--write", ".env"])
        .assert()
        .success();
    let written: Vec<String> =
        crate::support::dotenv(&std::fs::read_to_string(shop.join(".env")).expect("read"))
            .into_iter()
            .map(|(k, _)| k)
            .collect();
    let sample: Vec<String> =
        crate::support::dotenv(&std::fs::read_to_string(examples().join(".env")).expect("read"))
            .into_iter()
            .map(|(k, _)| k)
            .collect();
    let compose = std::fs::read_to_string(examples().join("docker-compose.yml")).expect("read");
    let used: Vec<&str> = compose
        .split("${")
        .skip(1)
        .filter_map(|s| s.split([':', '}']).next())
        .collect();
    assert!(!used.is_empty());
    for var in used {
        assert!(
            written.iter().any(|k| k == var),
            "{var} is not in the .env devport writes"
        );
        assert!(
            sample.iter().any(|k| k == var),
            "{var} is not in examples/.env"
        );
    }
}

// bash scripts: Unix by nature.
#[cfg(unix)]
#[test]
#[ignore = "needs make; .ci/run installs it"]
fn example_makefile() {
    crate::support::require_tool("make", &["--version"]);
    let w = World::new();
    let shop = w.project("shop");
    let web = w.ok(&["claim", "web"]);
    let out = bash(
        &w,
        &shop,
        &format!("make -s -f {} ports", examples().join("Makefile").display()),
    );
    assert_eq!(stdout(&out), format!("web: {web}"), "{}", stderr(&out));
}

// bash scripts: Unix by nature.
#[cfg(unix)]
#[test]
fn example_package_json() {
    let w = World::new();
    let shop = w.project("shop");
    let web = w.ok(&["claim", "web"]);
    let pkg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("package.json")).expect("read"),
    )
    .expect("json");
    let ports = pkg["scripts"]["ports"].as_str().expect("ports script");
    assert_eq!(stdout(&bash(&w, &shop, ports)), format!("WEB_PORT={web}"));
    // The dev script with a stand-in `vite` on PATH that prints its arguments.
    let shim = w.dir.path().join("shim");
    std::fs::create_dir_all(&shim).expect("shim dir");
    std::fs::write(shim.join("vite"), "#!/bin/sh\necho vite \"$@\"\n").expect("shim");
    #[cfg(unix)]
    std::fs::set_permissions(
        shim.join("vite"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let dev = pkg["scripts"]["dev"].as_str().expect("dev script");
    let out = bash(&w, &shop, &format!("PATH={}:$PATH; {dev}", shim.display()));
    assert_eq!(
        stdout(&out),
        format!("vite --port {web} --strictPort"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn example_library_program() {
    let exe = bin_dir()
        .join("examples")
        .join(format!("claim{}", std::env::consts::EXE_SUFFIX));
    let w = World::new();
    let shop = w.project("shop");
    let out = if exe.exists() {
        w.program_in(&exe, &shop, &[])
            .output()
            .expect("run example")
    } else {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/devport-core/Cargo.toml");
        let manifest = manifest.to_string_lossy();
        let args = [
            "run",
            "--quiet",
            "--example",
            "claim",
            "--manifest-path",
            &*manifest,
        ];
        w.program_in(env!("CARGO"), &shop, &args)
            .output()
            .expect("cargo run --example claim")
    };
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), w.ok(&["claim", "web"]));
}

#[cfg(unix)]
#[test]
fn env_write_respects_the_umask_and_keeps_a_files_mode() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = World::new();
    let shop = w.project("shop");
    w.ok(&["claim", "web"]);
    let out = bash(&w, &shop, "umask 077 && devport env --write new.env");
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = |name: &str| {
        std::fs::metadata(shop.join(name)).map_or(0, |m| m.permissions().mode() & 0o777)
    };
    assert_eq!(mode("new.env"), 0o600, "a new file follows the umask");
    std::fs::write(shop.join("old.env"), "A=1\n").expect("write");
    std::fs::set_permissions(shop.join("old.env"), std::fs::Permissions::from_mode(0o640))
        .expect("chmod");
    let out = bash(&w, &shop, "umask 077 && devport env --write old.env");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode("old.env"), 0o640, "a rewritten file keeps its mode");
}

/// The test-suite recipe of docs/recipes.md: two runs at once lease different ports, wait for their own
/// server, pass, and leave no lease behind once they exit.
#[cfg(unix)]
#[test]
#[ignore = "needs python3 (installed by .ci/run)"]
fn example_test_suite_leases_and_waits() {
    let w = World::new();
    let shop = w.project("shop");
    let script = format!("bash {}", examples().join("test-suite.sh").display());
    let runs: Vec<_> = (0..2)
        .map(|_| {
            bash_cmd(&w, &shop, &script)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("bash")
        })
        .collect();
    let mut ports = Vec::new();
    for run in runs {
        let out = run.wait_with_output().expect("wait");
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("pid "),
            "wait names the server: {}",
            stderr(&out)
        );
        let port = stdout(&out)
            .trim()
            .strip_prefix("tests passed on port ")
            .expect("the script's last line")
            .to_string();
        ports.push(port);
    }
    assert_ne!(ports[0], ports[1], "parallel runs got the same port");
    // Both scripts are gone, so their leases are dead: a write prunes them.
    w.ok(&["claim", "web"]);
    let leases = w.ok(&["list", "--leases", "--json"]);
    assert_eq!(leases.trim(), "[]", "{leases}");
}
