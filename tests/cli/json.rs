//! The `--json` output is a contract: these mirror structs reject unknown fields, so any change
//! of shape fails here and has to be made on purpose (and documented in docs/json.md).
#![allow(dead_code)] // the fields exist to be deserialized, not read

use std::collections::BTreeMap;
use std::net::TcpListener;

use serde::Deserialize;

use crate::support::{World, port};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimJson {
    project: String,
    project_path: Option<String>,
    service: String,
    port: u16,
    ports: Vec<u16>,
    proto: String,
    created: String,
    last_used: String,
    new: Option<bool>,
    live: Option<Vec<SocketJson>>,
    prefer: Option<PreferJson>,
    checkout: Option<String>,
}

/// What became of `claim --prefer P`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreferJson {
    port: u16,
    honoured: bool,
    because: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SocketJson {
    proto: String,
    address: String,
    port: u16,
    pid: Option<u32>,
    process: Option<String>,
    uid: Option<u32>,
    user: Option<String>,
    holders: Vec<HolderJson>,
    container: Option<ContainerJson>,
}

/// A process holding a socket (a shared socket has several).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolderJson {
    pid: u32,
    process: Option<String>,
    uid: Option<u32>,
    user: Option<String>,
}

/// The container end of a socket a container forwarder (`docker-proxy`) owns.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainerJson {
    ip: String,
    port: u16,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredClaimJson {
    project: String,
    project_path: Option<String>,
    service: String,
    port: u16,
    count: u16,
    proto: String,
    created: String,
    last_used: String,
    pinned: Option<bool>,
    checkout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaseRecordJson {
    port: u16,
    count: u16,
    proto: String,
    pid: u32,
    start_time: Option<u64>,
    created: String,
    expires: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IanaJson {
    service: Option<String>,
    proto: String,
    description: String,
    registered: Option<String>,
    status: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckJson {
    port: u16,
    usable: bool,
    reasons: Vec<String>,
    range: String,
    iana: Vec<IanaJson>,
    dev_tools: Vec<String>,
    browser_blocked: bool,
    os: Vec<String>,
    sockets: Vec<SocketJson>,
    claim: Option<StoredClaimJson>,
    checkout: Option<String>,
    lease: Option<LeaseRecordJson>,
    finding: Option<String>,
    running: Option<RunningJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunningJson {
    holders: Vec<String>,
    since: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditJson {
    proto: String,
    address: String,
    port: u16,
    pid: Option<u32>,
    process: Option<String>,
    uid: Option<u32>,
    user: Option<String>,
    holders: Vec<HolderJson>,
    container: Option<ContainerJson>,
    claim: Option<StoredClaimJson>,
    iana_service: Option<String>,
    finding: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaseJson {
    port: u16,
    ports: Vec<u16>,
    proto: String,
    pid: u32,
    expires: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GcJson {
    claims: Vec<(StoredClaimJson, String)>,
    leases: Vec<LeaseJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProblemJson {
    code: String,
    message: String,
    fix: String,
    claim: Option<StoredClaimJson>,
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn every_json_output_matches_its_contract() {
    let w = World::new();
    let claim: ClaimJson = parse(&w.ok(&["claim", "web", "--json"]));
    assert_eq!(claim.new, Some(true));
    let block: ClaimJson = parse(&w.ok(&["claim", "grpc", "--count", "2", "--json"]));
    assert_eq!(block.ports.len(), 2);
    let preferred: ClaimJson = parse(&w.ok(&["claim", "db", "--prefer", "1", "--json"]));
    let prefer = preferred.prefer.expect("prefer");
    assert_eq!((prefer.port, prefer.honoured), (1, false));
    // Windows has no privileged ports; there port 1 (tcpmux) is refused as browser-blocked.
    let low = if cfg!(windows) {
        "browser-blocked"
    } else {
        "privileged"
    };
    assert_eq!(prefer.because.as_deref(), Some(low));
    let _: Vec<ClaimJson> = parse(&w.ok(&["list", "--json"]));
    let _: Vec<ClaimJson> = parse(&w.ok(&["list", "--live", "--json"]));
    let lease: LeaseJson = parse(&w.ok(&["lease", "--ttl", "1h", "--json"]));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = listener.local_addr().expect("addr").port();
    for p in [claim.port, lease.port, busy, 2276, 60000] {
        let out = w
            .cmd(&["check", &p.to_string(), "--json"])
            .output()
            .expect("run");
        let reports: Vec<CheckJson> = parse(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(reports.len(), 1);
    }
    // A claimed port something listens on is judged (this test process works outside `shop`).
    let on_claim = TcpListener::bind(("127.0.0.1", claim.port)).expect("bind the claimed port");
    let out = w
        .cmd(&["check", &claim.port.to_string(), "--json"])
        .output()
        .expect("run");
    let reports: Vec<CheckJson> = parse(&String::from_utf8_lossy(&out.stdout));
    // A process's folder is seen on Linux only (elsewhere the user alone is judged, and Wine
    // gives no socket an owner at all).
    if cfg!(target_os = "linux") {
        assert_eq!(reports[0].finding.as_deref(), Some("conflict"));
        assert!(reports[0].running.is_none(), "a conflict is no own server");
        assert_eq!(reports[0].sockets[0].holders.len(), 1);
        // Claimed for the crate's folder, where this test process works: its own server.
        let crate_dir = env!("CARGO_MANIFEST_DIR");
        let own = w.ok(&["--project", crate_dir, "claim", "json-own-server"]);
        let own = crate::support::port(&own);
        let _serving = TcpListener::bind(("127.0.0.1", own)).expect("bind the own claim");
        let out = w
            .cmd(&["check", &own.to_string(), "--json"])
            .output()
            .expect("run");
        let reports: Vec<CheckJson> = parse(&String::from_utf8_lossy(&out.stdout));
        let running = reports[0].running.as_ref().expect("its own server");
        assert_eq!(running.holders.len(), 1);
        let me = format!("pid {} (", std::process::id());
        assert!(running.holders[0].starts_with(&me), "{:?}", running.holders);
        assert!(running.since.is_some());
    }
    drop(on_claim);
    let rows: Vec<AuditJson> = parse(&w.ok(&["audit", "--json"]));
    assert!(rows.iter().any(|r| r.port == busy));
    let env: BTreeMap<String, String> = parse(&w.ok(&["env", "--format", "json"]));
    assert_eq!(env.get("WEB_PORT").map(|v| port(v)), Some(claim.port));
    let _: Vec<ClaimJson> = parse(&w.ok(&["release", "web", "--json"]));
    drop(listener);
}

/// `gc` and `doctor` with something to say: a claim of a deleted folder, a dead lease that
/// had a time limit, and (on Unix) a registry other users can read. Empty arrays would match
/// any element type, so every field is checked on a real element.
#[test]
fn gc_and_doctor_shapes_with_findings() {
    let w = World::new();
    let doomed = w.project("doomed");
    w.ok_at(&doomed, &["claim", "web", "--count", "2"]);
    std::fs::remove_dir_all(&doomed).expect("rm");
    // A lease of a process that is gone (this pid with another start time), out of time too.
    let mut reg = w.registry_json();
    reg["leases"] = serde_json::json!([{
        "port": 21000, "count": 1, "proto": "tcp", "pid": std::process::id(), "start_time": 1,
        "created": "2020-01-01T00:00:00Z", "expires": "2020-01-01T01:00:00Z"
    }]);
    w.file(w.registry(), reg.to_string());

    let gc_text = w.ok(&["gc", "--dry-run", "--json"]);
    let gc: GcJson = parse(&gc_text);
    let [(claim, reason)] = &gc.claims[..] else {
        panic!("one claim to remove: {} found", gc.claims.len())
    };
    assert_eq!((claim.service.as_str(), claim.count), ("web", 2));
    assert!(
        claim
            .project_path
            .as_deref()
            .is_some_and(|p| p.ends_with("doomed"))
    );
    assert_eq!(reason, "folder-gone");
    let [lease] = &gc.leases[..] else {
        panic!("one lease to remove: {} found", gc.leases.len())
    };
    assert_eq!((lease.port, lease.pid), (21000, std::process::id()));
    assert_eq!(lease.expires.as_deref(), Some("2020-01-01T01:00:00Z"));
    // The very shape `lease --json` prints: the same keys.
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let live: serde_json::Value = parse(&w.ok(&["lease", "--ttl", "1h", "--json"]));
    let gone: serde_json::Value = parse(&gc_text);
    assert_eq!(keys(&gone["leases"][0]), keys(&live));

    #[cfg(unix)]
    std::fs::set_permissions(
        w.registry(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    let out = w.fails(&["doctor", "--json"], 1);
    let problems: Vec<ProblemJson> = parse(&String::from_utf8_lossy(&out.stdout));
    let gone = problems
        .iter()
        .find(|p| p.code == "folder-gone")
        .unwrap_or_else(|| panic!("no folder-gone finding: {}", crate::support::stdout(&out)));
    assert!(!gone.message.is_empty() && !gone.fix.is_empty());
    assert_eq!(gone.claim.as_ref().map(|c| c.port), Some(claim.port));
    #[cfg(unix)]
    assert!(
        problems
            .iter()
            .any(|p| p.code == "registry-permissions" && p.claim.is_none()),
        "{}",
        crate::support::stdout(&out)
    );
}
