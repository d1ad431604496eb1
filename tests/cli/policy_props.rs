//! Property test through the library: random claims never land on a port the policy forbids.

use devport::ports::iana;
use devport::{ClaimRequest, Config, OsPorts, Policy, PortChoice, Project, Proto, Store};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    #[test]
    // Letters and digits only: names such as `i-` and `i_` would share the variable `I__PORT`,
    // which a project refuses (tested in trust_env).
    fn claims_avoid_forbidden_ports(names in proptest::collection::hash_set("[a-z0-9][a-z0-9]{0,20}", 80..100)) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let store = Store::new(dir.path().join("registry.json"), Config::default().lock_timeout);
        let os = OsPorts::read();
        let policy = Policy::new(&Config::default(), os.clone());
        let project = Project { name: "prop".into(), path: Some(dir.path().to_path_buf()), manifest: None };
        // Real listeners on the first candidate of every other name: the probe must skip them.
        let listeners: Vec<std::net::TcpListener> = names
            .iter()
            .step_by(2)
            .filter_map(|n| std::net::TcpListener::bind(("127.0.0.1", policy.start("prop", n))).ok())
            .collect();
        let busy: Vec<u16> = listeners.iter().filter_map(|l| l.local_addr().ok()).map(|a| a.port()).collect();
        prop_assert!(!busy.is_empty());
        let mut seen = std::collections::HashSet::new();
        for name in &names {
            let req = ClaimRequest { project: &project, service: name, choice: PortChoice::Auto, count: 1, proto: Proto::Tcp, relocate: false };
            let out = devport::claim(&store, &policy, &req, jiff::Timestamp::now()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let p = out.claim.port;
            prop_assert!(seen.insert(p), "port {} handed out twice", p);
            prop_assert!(iana::taken(p).is_none(), "{} is IANA-assigned or reserved", p);
            prop_assert!(iana::dev_tools(p).is_empty(), "{} is a dev-tool default", p);
            prop_assert!(!iana::browser_blocked(p), "{} is browser-blocked", p);
            prop_assert!(!os.ephemeral.contains(p), "{} is ephemeral", p);
            prop_assert!(!os.reserved.iter().any(|r| r.contains(p)), "{} is OS-reserved", p);
            prop_assert!(!busy.contains(&p), "{} is bound by a listener of this test", p);
        }
    }
}
