//! Who a lease lives with when devport is started through a launcher or a subshell: the
//! `DEVPORT_LEASE_OWNER` variable launchers set, and the warning for a parent about to exit.

use serde_json::Value;

use crate::lifecycle::sleeper;
use crate::support::{World, stderr, stdout};

const OWNER: &str = "DEVPORT_LEASE_OWNER";

fn leased_pid(out: &str) -> Value {
    let lease: Value = serde_json::from_str(out).expect("lease --json");
    lease["pid"].clone()
}

/// `devport ARGS` with `DEVPORT_LEASE_OWNER=owner`, which must exit with `code`.
fn with_owner(w: &World, owner: &str, args: &[&str], code: i32) -> std::process::Output {
    w.cmd(args)
        .env(OWNER, owner)
        .assert()
        .code(code)
        .get_output()
        .clone()
}

#[test]
fn the_owner_variable_names_the_process_the_lease_lives_with() {
    let w = World::new();
    let owner = sleeper();
    let pid = owner.0.id();
    let out = with_owner(&w, &pid.to_string(), &["lease", "--json"], 0);
    assert_eq!(leased_pid(&stdout(&out)), pid, "{out:?}");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    // `--pid` still wins over the variable, and an empty variable is no variable at all.
    let me = std::process::id();
    let explicit = with_owner(
        &w,
        &pid.to_string(),
        &["lease", "--json", "--pid", &me.to_string()],
        0,
    );
    assert_eq!(leased_pid(&stdout(&explicit)), me);
    let empty = with_owner(&w, "", &["lease", "--json"], 0);
    assert_eq!(
        leased_pid(&stdout(&empty)),
        me,
        "devport's parent is this test"
    );
}

#[test]
fn a_bad_owner_variable_is_refused_and_nothing_is_written() {
    let w = World::new();
    let mut gone = sleeper();
    let dead = gone.0.id().to_string();
    gone.kill();
    for (value, words) in [
        ("abc", "is 'abc', not a process id"),
        ("0", "is '0', not a process id"),
        ("-5", "not a process id"),
        ("99999999999", "not a process id"),
        (" 12", "not a process id"),
        ("\u{1b}[31m", "is '\\u{1b}[31m', not a process id"),
        (dead.as_str(), "which is not running"),
    ] {
        let out = with_owner(&w, value, &["lease"], 2);
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("devport: {OWNER} ")) && err.contains(words),
            "{value:?}: {err}"
        );
        assert!(err.contains("or unset it"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(stdout(&out).is_empty());
        assert!(
            w.registry_bytes().is_empty(),
            "{value:?} wrote the registry"
        );
    }
}

#[cfg(unix)]
#[test]
#[ignore = "needs root: a process of another user"]
fn an_owner_of_another_user_is_refused() {
    use std::os::unix::process::CommandExt as _;
    let w = World::new();
    let mut other = std::process::Command::new("sleep");
    other.arg("60").uid(65534).gid(65534);
    let other = crate::support::Reaped(other.spawn().expect("spawn sleep as nobody"));
    let out = with_owner(&w, &other.0.id().to_string(), &["lease"], 2);
    assert!(
        stderr(&out).contains("a process of another user (uid 65534)"),
        "{}",
        stderr(&out)
    );
    assert!(w.registry_bytes().is_empty());
}

/// `sh -c SCRIPT` in the world's project folder, with devport on the PATH.
#[cfg(target_os = "linux")]
fn shell(w: &World, program: &std::path::Path, script: &str) -> std::process::Output {
    let bin_dir = crate::support::bin()
        .parent()
        .expect("the binary's folder")
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    w.program_in(program, &w.project("shop"), &["-c", script])
        .env("PATH", path)
        .output()
        .expect("run the shell")
}

#[cfg(target_os = "linux")]
#[test]
fn a_lease_for_a_parent_about_to_exit_warns() {
    let w = World::new();
    let sh = std::path::Path::new("/bin/sh");
    let warning = "devport: warning: the lease follows devport's parent";
    // The subshell of `$( … | … )` is devport's parent and exits with the pipeline.
    let lost = shell(&w, sh, r#"P=$(devport lease | cat); echo "$P""#);
    assert!(lost.status.success(), "{lost:?}");
    let err = stderr(&lost);
    assert!(
        err.starts_with(warning) && err.contains("(a subshell") && err.contains("--pid $$"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    crate::support::port(&stdout(&lost));
    // The shell that reads devport's output is devport's parent: no warning.
    for kept in [r#"P=$(devport lease); echo "$P""#, "devport lease"] {
        let out = shell(&w, sh, kept);
        assert!(out.status.success(), "{out:?}");
        assert!(stderr(&out).is_empty(), "{kept}: {}", stderr(&out));
    }
    // The variable a launcher sets names the owner: no warning either.
    let named = w
        .program_in(
            sh,
            &w.project("shop"),
            &[
                "-c",
                &format!(
                    r#"P=$({} lease | cat); echo "$P""#,
                    crate::support::bin().display()
                ),
            ],
        )
        .env(OWNER, std::process::id().to_string())
        .output()
        .expect("run sh");
    assert!(stderr(&named).is_empty(), "{}", stderr(&named));
    // A runner (npx, uvx, …) exits when devport does: seen by its process name.
    let runner = w.dir.path().join("uvx");
    std::os::unix::fs::symlink(sh, &runner).expect("a runner named uvx");
    // Directly, or through the `sh -c 'devport' lease` that npm exec runs.
    for script in ["devport lease; true", "sh -c 'devport lease'; true"] {
        let out = shell(&w, &runner, script);
        assert!(
            stderr(&out).starts_with(warning) && stderr(&out).contains("(uvx, a runner"),
            "{script}: {}",
            stderr(&out)
        );
    }
    // A shell script under the runner (`npm run` of `P=$(devport lease); run-tests`) lives on.
    let out = shell(&w, &runner, "sh -c 'devport lease; true'; true");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn a_command_devport_runs_does_not_inherit_the_owner_variable() {
    let w = World::new();
    let out = w
        .cmd(&[
            "exec",
            "web",
            "--",
            "sh",
            "-c",
            "echo \"${DEVPORT_LEASE_OWNER-unset}\"",
        ])
        .env(OWNER, std::process::id().to_string())
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stdout(&out), "unset");
}
