//! The registry is read once per command: `up`, `exec`, `env` and the claim of an existing
//! service each open the registry file for reading once (the lock file and the atomic
//! replace's temporary file are not reads of it).

use std::path::Path;

use crate::support::{World, stderr};

/// How often `devport ARGS`, run in `dir` under `strace`, opens the registry for reading.
fn registry_reads(w: &World, dir: &Path, args: &[&str]) -> usize {
    let trace = w.dir.path().join("trace");
    let mut strace_args = vec!["-f", "-qq", "-e", "trace=open,openat", "-o"];
    let trace_arg = trace.to_str().expect("UTF-8 temp path");
    strace_args.push(trace_arg);
    strace_args.push(env!("CARGO_BIN_EXE_devport"));
    strace_args.extend_from_slice(args);
    let out = w
        .program_in("strace", dir, &strace_args)
        .output()
        .expect("run strace");
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let registry = format!("\"{}\"", w.registry().display());
    let text = std::fs::read_to_string(&trace).expect("read the trace");
    let opens: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&registry) && !l.contains("O_CREAT") && !l.contains("ENOENT"))
        .collect();
    assert!(
        opens.iter().all(|l| l.contains("O_RDONLY")),
        "{args:?} opened the registry otherwise than to read it:\n{}",
        opens.join("\n")
    );
    opens.len()
}

#[test]
#[ignore = "needs strace: .ci/run installs it"]
fn up_exec_env_and_an_existing_claim_read_the_registry_once() {
    crate::support::require_tool("strace", &["-V"]);
    let w = World::new();
    let shop = w.project("shop");
    w.trusted_manifest(
        &shop,
        "[services.web]\n[services.db]\ncount = 2\n[env]\nDATABASE_URL = \"postgres://localhost:{port:db}/{project}\"\n",
    );
    // Another project's claim, so the registry holds more than this project's.
    w.ok_in("cart", &["claim", "api"]);
    w.ok_at(&shop, &["up"]);
    for args in [
        &["up"][..],
        &["up", "--json"],
        &["claim", "web"],
        &["claim", "db", "--count", "2", "--json"],
        &["exec", "web", "--", "true", "{port:db:1}"],
        &["env"],
    ] {
        assert_eq!(registry_reads(&w, &shop, args), 1, "{args:?}");
    }
}
