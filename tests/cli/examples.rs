//! The recipes in examples/: each runs as documented against the real binary.

use std::path::Path;
use std::path::PathBuf;

use crate::support::{World, bin_dir, stderr, stdout};
#[cfg(unix)]
use crate::support::{bash, bash_cmd};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

// bash scripts: Unix by nature.
#[cfg(unix)]
#[test]
fn example_setup_script_is_idempotent() {
    let w = World::new();
    let shop = w.project("shop");
    w.file(shop.join(".env"), "COMPOSE_PROJECT_NAME=shop\n");
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
    let shim = w.dir("shim");
    w.file(shim.join("vite"), "#!/bin/sh\necho vite \"$@\"\n");
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
