//! The port rules against the data files, read here independently of `build.rs` (with the
//! `csv` crate, following `data/README.md`), and a property test through the library: random
//! claims, over random ranges, avoid lists, block sizes and protocols, never land on a port
//! those files or the OS forbid.

use std::sync::LazyLock;

use proptest::prelude::*;

use crate::model::types::{PortRange, Proto};
use crate::ops::claim::{ClaimRequest, PortChoice};
use crate::os::ranges::OsPorts;
use crate::policy::Policy;
use crate::policy::iana;
use crate::project::Project;
use crate::store::config::Config;
use crate::store::registry::Store;

/// Per port (index 0..=65535), what the data files say.
struct Tables {
    /// IANA assigns or reserves it for some protocol.
    iana: Vec<bool>,
    /// A development tool uses it by default.
    dev_tool: Vec<bool>,
    /// Browsers refuse to connect to it.
    browser: Vec<bool>,
}

fn data(name: &str) -> csv::Reader<std::fs::File> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name);
    csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `N` or `N-M`.
fn ports(text: &str) -> std::ops::RangeInclusive<usize> {
    let n = |s: &str| -> usize { s.trim().parse().unwrap_or_else(|e| panic!("{s:?}: {e}")) };
    match text.split_once('-') {
        Some((lo, hi)) => n(lo)..=n(hi),
        None => n(text)..=n(text),
    }
}

/// The single-port first column of a small table, marked per port.
fn port_column(name: &str) -> Vec<bool> {
    let mut marked = vec![false; 65536];
    for record in data(name).records() {
        let record = record.unwrap_or_else(|e| panic!("{name}: {e}"));
        for p in ports(&record[0]) {
            marked[p] = true;
        }
    }
    marked
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    // data/README.md: a row with a service name is an assignment; without one, the status is in
    // the description. Unassigned rows and de-registered, removed, deprecated or
    // de-commissioned ones leave the port free; every other row (Reserved, free text) keeps it.
    let frees = [
        "unassigned",
        "(unassigned)",
        "de-registered",
        "removed",
        "deprecated",
        "decommissioned",
        "decomissioned",
        "de-commissioned",
    ];
    let mut iana = vec![false; 65536];
    for record in data("service-names-port-numbers.csv").records() {
        let record = record.expect("IANA record");
        let (service, port, description) = (&record[0], &record[1], &record[3]);
        if port.is_empty() {
            continue; // a DNS-SD name without a port
        }
        let lower = description.trim().to_lowercase();
        if !service.is_empty() || !frees.iter().any(|f| lower.starts_with(f)) {
            for p in ports(port) {
                iana[p] = true;
            }
        }
    }
    Tables {
        iana,
        dev_tool: port_column("dev-common-ports.csv"),
        browser: port_column("browser-bad-ports.csv"),
    }
});

/// Every port, not a sample: the compiled tables say what the files say.
#[test]
fn the_compiled_tables_match_the_data_files() {
    let t = &*TABLES;
    for port in 0..=u16::MAX {
        let i = usize::from(port);
        assert_eq!(iana::taken(port).is_some(), t.iana[i], "IANA, port {port}");
        assert_eq!(
            !iana::dev_tools(port).is_empty(),
            t.dev_tool[i],
            "dev tools, port {port}"
        );
        assert_eq!(
            iana::browser_blocked(port),
            t.browser[i],
            "browsers, port {port}"
        );
    }
    // The files are what data/README.md describes, not empty or truncated.
    let count = |v: &[bool]| v.iter().filter(|&&b| b).count();
    assert!(count(&t.iana[1024..49152]) > 5000, "IANA rows are missing");
    assert!(t.iana[2276], "2276 is assigned (ibridge-mgmt)");
    assert!(t.dev_tool[5173] && t.browser[6667]);
}

/// Whether a claim made by the policy may hold `port`, by the files and the OS.
fn forbidden(port: u16, os: &OsPorts) -> Option<&'static str> {
    let t = &*TABLES;
    let i = usize::from(port);
    if t.iana[i] {
        Some("IANA-assigned or reserved")
    } else if t.dev_tool[i] {
        Some("a dev-tool default")
    } else if t.browser[i] {
        Some("browser-blocked")
    } else if os.ephemeral.contains(port) || os.reserved.iter().any(|r| r.contains(port)) {
        Some("kept by the OS")
    } else {
        None
    }
}

/// A range in the registered ports below every OS's ephemeral range, 500 to 4000 ports wide,
/// with up to three avoided ranges inside it.
fn range_and_avoid() -> impl Strategy<Value = (PortRange, Vec<PortRange>)> {
    (1024u16..=28000, 500u16..=4000).prop_flat_map(|(lo, width)| {
        let hi = lo.saturating_add(width).min(32767);
        let avoid = proptest::collection::vec((lo..=hi, 0u16..=300), 0..=3).prop_map(move |v| {
            v.into_iter()
                .filter_map(|(a, w)| PortRange::new(a, a.saturating_add(w).min(hi)))
                .collect::<Vec<_>>()
        });
        (Just(PortRange::new(lo, hi).expect("lo <= hi")), avoid)
    })
}

fn proto() -> impl Strategy<Value = Proto> {
    prop_oneof![Just(Proto::Tcp), Just(Proto::Udp), Just(Proto::Both)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    // Letters and digits only: names such as `i-` and `i_` would share the variable `I__PORT`,
    // which a project refuses (tested in trust_env).
    fn claims_avoid_forbidden_ports(
        (range, avoid) in range_and_avoid(),
        requests in proptest::collection::vec(("[a-z][a-z0-9]{0,12}", 1u16..=4, proto()), 1..=6),
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let config = Config { range, avoid: avoid.clone(), ..Config::default() };
        let store = Store::new(dir.path().join("registry.json"), config.lock_timeout);
        let os = OsPorts::read();
        let policy = Policy::new(&config, os.clone());
        let project = Project { name: "prop".into(), path: Some(dir.path().to_path_buf()), manifest: None, checkout: crate::project::Checkout::Main };
        // A real socket of the first service's protocol on the first port tried for it: the
        // probe must pass over it (a UDP claim may share a port with a TCP listener).
        let first = ("127.0.0.1", policy.start("prop", &requests[0].0));
        let (tcp, udp) = match requests[0].2 {
            Proto::Udp => (None, std::net::UdpSocket::bind(first).ok()),
            _ => (std::net::TcpListener::bind(first).ok(), None),
        };
        let busy = tcp
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .or_else(|| udp.as_ref().and_then(|s| s.local_addr().ok()))
            .map(|a| a.port());
        let mut held: Vec<PortRange> = Vec::new();
        let mut services = std::collections::HashSet::new();
        for (name, count, proto) in &requests {
            if !services.insert(name.clone()) {
                continue; // a second request for a service returns its claim
            }
            let req = ClaimRequest::new(&project, name).choice(PortChoice::Auto).count(*count).proto(*proto);
            let out = match crate::ops::claim::claim(&store, &policy, &req, jiff::Timestamp::now()) {
                Ok(out) => out,
                Err(e) => {
                    // Only when the files leave almost no room: fewer than 20 free blocks.
                    let room = (range.lo()..=range.hi().saturating_sub(count - 1))
                        .filter(|&p| (p..=p + (count - 1)).all(|q| {
                            forbidden(q, &os).is_none()
                                && !avoid.iter().any(|a| a.contains(q))
                                && !held.iter().any(|h| h.contains(q))
                        }))
                        .count();
                    prop_assert!(room < 20, "{e}, with {room} free blocks of {count} in {range}");
                    continue;
                }
            };
            let block = out.claim.ports();
            prop_assert_eq!(block.len(), u32::from(*count));
            prop_assert!(!held.iter().any(|h| h.overlaps(block)), "{} handed out twice", block);
            for p in block.iter() {
                prop_assert!(range.contains(p), "{} is outside {}", p, range);
                prop_assert!(!avoid.iter().any(|a| a.contains(p)), "{} is avoided", p);
                prop_assert!(forbidden(p, &os).is_none(), "{} is {}", p, forbidden(p, &os).unwrap_or_default());
                let shares = if tcp.is_some() { proto.tcp() } else { proto.udp() };
                prop_assert!(
                    !(shares && busy == Some(p)),
                    "{} is bound by a socket of this test, for the protocol of {}", p, name
                );
            }
            held.push(block);
        }
        drop((tcp, udp));
    }
}
