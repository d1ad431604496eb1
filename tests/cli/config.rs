//! `config.toml`: it changes the policy, and its errors say what is wrong where, in the user's
//! words; a config others may write is skipped.

#[cfg(unix)]
use serde_json::Value;

use crate::support::{BadInput, World, assert_bad_inputs, port, stderr};
#[cfg(unix)]
use crate::support::{chmod, json, stdout};

/// Bad configs, each with where the message must point and what it must say.
const BAD_CONFIGS: &[BadInput] = &[
    (
        "range = \"abc\"\n",
        "line 1, column 9",
        "range must be a range of ports like \"10000-29999\"",
    ),
    ("\nrange = \"9-1\"\n", "line 2, column 9", "not \"9-1\""),
    ("range = 10000\n", "line 1, column 9", "not a whole number"),
    (
        "avoid = [0, 70000]\n",
        "line 1, column 9",
        "avoid entry 1 must be a port 1-65535 or a range like \"5000-5010\", not 0",
    ),
    (
        "avoid = [5000, 70000]\n",
        "line 1, column 9",
        "avoid entry 2 must be a port",
    ),
    ("avoid = [0]\n", "line 1, column 9", "not 0"),
    (
        "avoid = [\"6000-5000\"]\n",
        "line 1, column 9",
        "not \"6000-5000\"",
    ),
    (
        "avoid = 5000\n",
        "line 1, column 9",
        "avoid must be a list of ports and ranges",
    ),
    (
        "allow_assigned = \"yes\"\n",
        "line 1, column 18",
        "allow_assigned must be true or false, not a string",
    ),
    (
        "\n\nlock_timeout = \"soon\"\n",
        "line 3, column 16",
        "lock_timeout must be a duration like \"10s\"",
    ),
    (
        "lock_timeout = \"2h\"\n",
        "line 1, column 16",
        "at most 3600 s",
    ),
    (
        "lock_timeout = 5\n",
        "line 1, column 16",
        "not a whole number",
    ),
    (
        "colour = true\n",
        "line 1, column 1",
        "unknown key `colour`",
    ),
    (
        "range = \"20000-20099\"\nrnage = 1\n",
        "line 2, column 1",
        "unknown key `rnage`",
    ),
];

#[test]
fn config_changes_the_policy_and_bad_config_is_exit_3() {
    let w = World::new();
    w.file(
        w.config(),
        "range = \"20000-20099\"\navoid = [\"20000-20049\"]\n",
    );
    let p = port(&w.ok(&["claim", "web"]));
    assert!((20050..=20099).contains(&p), "{p}");
    // Every command that reads the config refuses a bad one the same way as `claim`.
    let shop = w.project("shop");
    for args in [
        &["list"][..],
        &["gc"],
        &["check", "3000"],
        &["lease", "--pid", "1"],
    ] {
        assert_bad_inputs(&w, &w.config(), BAD_CONFIGS, &shop, args, 3);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_range_inside_the_ephemeral_range_says_so() {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").expect("read");
    let mut bounds = text
        .split_whitespace()
        .map(|n| n.parse::<u32>().expect("port"));
    let (lo, hi) = (bounds.next().expect("lo"), bounds.next().expect("hi"));
    let range = format!("{}-{}", lo + 10, (lo + 500).min(hi));
    let w = World::new();
    let out = w.fails(&["claim", "web", "--range", &range], 1);
    assert!(
        stderr(&out).contains("inside the OS ephemeral range"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_errors_say_what_is_wrong_where_in_the_users_words() {
    let w = World::new();
    let shop = w.project("shop");
    assert_bad_inputs(&w, &w.config(), BAD_CONFIGS, &shop, &["claim", "web"], 3);
}

/// The user's config in a world-writable folder is skipped too: its range does not apply.
// Folder modes and owners: Unix by nature.
#[cfg(unix)]
#[test]
fn a_config_in_a_world_writable_folder_is_skipped() {
    let w = World::new();
    let shared = w.dir("shared");
    let config = shared.join("config.toml");
    w.file(&config, "range = \"12000-12005\"\n");
    let outside = |w: &World| {
        let out = w
            .cmd(&["check", "15000", "--json"])
            .env("DEVPORT_CONFIG", &config)
            .output()
            .expect("run");
        let reasons = json(&stdout(&out))[0]["reasons"].clone();
        (
            reasons
                .as_array()
                .expect("reasons")
                .contains(&Value::from("outside-range")),
            stderr(&out),
        )
    };
    // The control: a private folder's config is used.
    assert!(outside(&w).0, "the config of a private folder was not used");
    chmod(&shared, 0o777);
    let (used, err) = outside(&w);
    assert!(!used, "the config of a world-writable folder was used");
    assert!(err.contains("skipped config"), "{err}");
}

#[test]
fn a_config_lock_timeout_past_the_bound_is_refused() {
    let w = World::new();
    w.file(w.config(), "lock_timeout = \"2d\"\n");
    let out = w.fails(&["claim", "web"], 3);
    assert!(stderr(&out).contains("3600"), "{}", stderr(&out));
}

/// A config file devport may not read gets advice about reading it, not about writing.
#[cfg(unix)]
#[test]
fn an_unreadable_config_gets_advice_about_reading() {
    let w = World::new();
    let shop = w.project("shop");
    w.file(w.config(), "");
    chmod(&w.config(), 0o000);
    let mut cmd = w.std_cmd_in(&shop, &["list"]);
    if nix::unistd::geteuid().is_root() {
        // Root reads any file; nobody cannot read its own file of mode 000.
        crate::support::run_as_nobody(&mut cmd, &w, &[&w.config()]);
    }
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot read config file") && err.contains("config.toml"),
        "{err}"
    );
    assert!(err.contains("check that you may read it"), "{err}");
    assert!(!err.contains("write"), "{err}");
}
