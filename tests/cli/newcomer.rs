//! The newcomer's path: messages that say what is wrong and a fix that works.

use crate::support::{World, stderr};

#[test]
fn a_block_larger_than_the_range_can_hold_names_the_largest_and_not_gc() {
    let w = World::new();
    let out = w.fails(&["claim", "big", "--count", "1000"], 1);
    let err = stderr(&out);
    assert!(err.contains("longest run of usable ports"), "{err}");
    assert!(!err.contains("gc"), "{err}");
    assert!(w.registry_bytes().is_empty());
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
fn zero_durations_say_zero_is_not_allowed() {
    let w = World::new();
    for args in [
        &["gc", "--older-than", "0d"][..],
        &["lease", "--ttl", "0s", "--pid", "1"],
    ] {
        let out = w.fails(args, 2);
        assert!(
            stderr(&out).contains("zero is not allowed"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn global_up_says_up_needs_a_project() {
    let w = World::new();
    let out = w.fails(&["--global", "up"], 2);
    let err = stderr(&out);
    assert!(
        err.contains("--global claims belong to no project"),
        "{err}"
    );
    assert!(!err.contains("no devport.toml in"), "{err}");
}

#[test]
fn lease_count_errors_speak_of_blocks_not_claims() {
    let w = World::new();
    let out = w.fails(&["lease", "--count", "5000", "--pid", "1"], 2);
    assert!(
        stderr(&out).contains("a block holds 1 to 1000"),
        "{}",
        stderr(&out)
    );
}
