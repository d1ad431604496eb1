//! Durations, read by one rule wherever devport reads one (`--timeout`, `--ttl`,
//! `--older-than`, `DEVPORT_LOCK_TIMEOUT`, `lock_timeout`): a number without a unit is seconds,
//! fractions allowed; jiff's friendly format for the rest; zero and bad values refused in the
//! same words.

use std::net::TcpListener;

use crate::support::{World, stderr};

/// `wait --timeout 5` was refused while `DEVPORT_LOCK_TIMEOUT=2.5` was taken: now both are
/// seconds, as is `--ttl 90`, and `kill --timeout 0.5` says how long it waited.
#[test]
fn a_number_without_a_unit_is_seconds_everywhere() {
    let w = World::new();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = listener.local_addr().expect("addr").port().to_string();
    w.ok(&["wait", &p, "--timeout", "5"]);
    w.ok(&["wait", &p, "--timeout", "2.5"]);
    let lease: serde_json::Value =
        serde_json::from_str(&w.ok(&["lease", "--ttl", "90", "--json"])).expect("JSON");
    let expires: jiff::Timestamp = lease["expires"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("an expiry");
    let left = expires.duration_since(jiff::Timestamp::now()).as_secs();
    assert!((80..=90).contains(&left), "{lease}");
    for value in ["2.5", "2.5s", "1m", "0"] {
        w.cmd(&["claim", "web"])
            .env("DEVPORT_LOCK_TIMEOUT", value)
            .assert()
            .success();
    }
    // Friendly spellings are durations too.
    w.ok(&["wait", &p, "--timeout", "1 minute"]);
    w.ok(&["gc", "--dry-run", "--older-than", "2 weeks"]);
    drop(listener);
}

/// Bad durations keep today's words, wherever they are read.
#[test]
fn bad_durations_are_refused_in_the_same_words() {
    let w = World::new();
    for (args, message) in [
        (
            &["lease", "--ttl", "5x"][..],
            "invalid duration \"5x\": write a number with s, m, h or d, e.g. 30s, 10m, 2h, 7d",
        ),
        (
            &["lease", "--ttl=-5"][..],
            "invalid duration \"-5\": write a number with s, m, h or d, e.g. 30s, 10m, 2h, 7d",
        ),
        (
            &["wait", "1", "--timeout", "1y"][..],
            "invalid duration \"1y\": write a number with s, m, h or d, e.g. 30s, 10m, 2h, 7d",
        ),
        (
            &["wait", "1", "--timeout", "0"][..],
            "invalid duration \"0\": zero is not allowed; give a length such as 30s, 10m, 2h or 7d",
        ),
        (
            &["gc", "--older-than", "36501d"][..],
            "invalid duration \"36501d\": it is too long; give at most 36500d (100 years)",
        ),
    ] {
        let out = w.fails(args, 2);
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let out = w
        .cmd(&["claim", "web"])
        .env("DEVPORT_LOCK_TIMEOUT", "2h")
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert_eq!(
        stderr(&out),
        "devport: invalid DEVPORT_LOCK_TIMEOUT \"2h\": give 0 to 3600 seconds, or a duration like 10s"
    );
}

#[test]
fn zero_durations_say_zero_is_not_allowed() {
    let w = World::new();
    for (args, option, sub) in [
        (&["gc", "--older-than", "0d"][..], "--older-than", "gc"),
        (&["lease", "--ttl", "0s", "--pid", "1"], "--ttl", "lease"),
    ] {
        let zero = args[args.iter().position(|a| *a == option).expect("option") + 1];
        w.test(args)
            .stderr(&format!(
                "devport: invalid value '{zero}' for '{option} <DUR>': invalid duration \"{zero}\": \
                 zero is not allowed; give a length such as 30s, 10m, 2h or 7d; see 'devport \
                 {sub} --help'\n"
            ))
            .status(2)
            .run();
    }
}
