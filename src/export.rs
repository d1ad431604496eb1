//! Reverse-proxy configurations that give each claimed port a name,
//! `SERVICE.PROJECT.localhost`: a Caddyfile ([`caddyfile`]) or a Traefik dynamic configuration
//! for its file provider ([`traefik`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::registry::Claim;
use crate::types::fnv1a;

/// The longest DNS label.
const MAX_LABEL: usize = 63;

/// One name routed to one port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The host name, e.g. `web.shop.localhost`.
    pub host: String,
    /// The port it routes to, on localhost.
    pub port: u16,
    /// The project's name, as in the registry.
    pub project: String,
    /// The project's folder (`None` for global claims).
    pub project_path: Option<PathBuf>,
    /// The service, as in the registry.
    pub service: String,
}

/// `name` as a DNS label: lower case, every character other than `a-z 0-9 -` turned into `-`,
/// runs of `-` made one, no `-` at either end, at most 63 characters; `x` when nothing is left.
pub fn dns_label(name: &str) -> String {
    let mut label = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && (label.is_empty() || label.ends_with('-'))) {
            label.push(c);
        }
    }
    label.truncate(MAX_LABEL);
    let label = label.trim_end_matches('-');
    if label.is_empty() {
        "x".to_string()
    } else {
        label.to_string()
    }
}

/// Labels for `names` (each with the key that tells it apart and its age), one per key: the
/// [`dns_label`] of the name, except that when several keys share a label, all but the oldest
/// get `-` and six hex digits of a hash of their key. A name keeps its label as others come
/// and go, unless an older one with the same label appears.
fn labels<'a>(
    names: impl IntoIterator<Item = (&'a str, String, jiff::Timestamp)>,
) -> BTreeMap<String, String> {
    let mut by_label: BTreeMap<String, Vec<(jiff::Timestamp, String)>> = BTreeMap::new();
    for (name, key, age) in names {
        let entry = by_label.entry(dns_label(name)).or_default();
        if !entry.iter().any(|(_, k)| *k == key) {
            entry.push((age, key));
        }
    }
    let mut out = BTreeMap::new();
    for (label, mut keys) in by_label {
        keys.sort();
        for (i, (_, key)) in keys.into_iter().enumerate() {
            let unique = if i == 0 {
                label.clone()
            } else {
                let suffix = format!("-{:06x}", fnv1a(key.as_bytes()) & 0xff_ffff);
                let mut base = label.clone();
                base.truncate(MAX_LABEL - suffix.len());
                format!("{}{suffix}", base.trim_end_matches('-'))
            };
            out.insert(key, unique);
        }
    }
    out
}

/// The routes of `claims`: each TCP claim's first port as `SERVICE.PROJECT.localhost`, and for
/// a block, its Nth port as `N.SERVICE.PROJECT.localhost` too. UDP-only claims are left out
/// (no HTTP there). Sorted by host.
pub fn routes(claims: &[&Claim]) -> Vec<Route> {
    let claims: Vec<&Claim> = claims.iter().copied().filter(|c| c.proto.tcp()).collect();
    let project_key = |c: &Claim| {
        c.project_path
            .as_ref()
            .map_or_else(|| "(global)".to_string(), |p| p.display().to_string())
    };
    let mut oldest: BTreeMap<String, (&str, jiff::Timestamp)> = BTreeMap::new();
    for c in &claims {
        let e = oldest
            .entry(project_key(c))
            .or_insert((&c.project, c.created));
        e.1 = e.1.min(c.created);
    }
    let projects = labels(oldest.iter().map(|(k, (name, t))| (*name, k.clone(), *t)));
    let mut routes = Vec::new();
    for (key, project_label) in &projects {
        let mine: Vec<&&Claim> = claims.iter().filter(|c| project_key(c) == *key).collect();
        let services = labels(
            mine.iter()
                .map(|c| (c.service.as_str(), c.service.clone(), c.created)),
        );
        for c in mine {
            let host = format!("{}.{project_label}.localhost", services[&c.service]);
            let route = |host: String, port| Route {
                host,
                port,
                project: c.project.clone(),
                project_path: c.project_path.clone(),
                service: c.service.clone(),
            };
            routes.push(route(host.clone(), c.port));
            if c.count > 1 {
                for (n, port) in c.ports().iter().enumerate() {
                    routes.push(route(format!("{n}.{host}"), port));
                }
            }
        }
    }
    routes.sort_by(|a, b| a.host.cmp(&b.host));
    routes
}

const HEADER: &str = "SERVICE.PROJECT.localhost for each claimed port.\n\
# Generated: run the command again rather than editing this file.\n";

/// A Caddyfile: one site per route, `reverse_proxy localhost:PORT`. Caddy serves `.localhost`
/// names over HTTPS with its local CA.
pub fn caddyfile(routes: &[Route]) -> String {
    let mut out = format!("# devport export caddy: {HEADER}");
    for r in routes {
        let _ = write!(
            out,
            "\n{} {{\n\treverse_proxy localhost:{}\n}}\n",
            r.host, r.port
        );
    }
    out
}

/// A Traefik dynamic configuration (file provider, YAML): a router matching `Host(...)` and a
/// service for each route, both named after the host with `.` turned into `_`.
pub fn traefik(routes: &[Route]) -> String {
    let mut out = format!("# devport export traefik: {HEADER}http:\n");
    if routes.is_empty() {
        out.push_str("  routers: {}\n  services: {}\n");
        return out;
    }
    let name = |r: &Route| r.host.replace('.', "_");
    out.push_str("  routers:\n");
    for r in routes {
        let _ = write!(
            out,
            "    {n}:\n      rule: \"Host(`{h}`)\"\n      service: {n}\n",
            n = name(r),
            h = r.host
        );
    }
    out.push_str("  services:\n");
    for r in routes {
        let _ = write!(
            out,
            "    {}:\n      loadBalancer:\n        servers:\n          - url: \"http://localhost:{}\"\n",
            name(r),
            r.port
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn labels_are_dns_safe_and_stable(name in "\\PC{0,80}") {
            let label = dns_label(&name);
            prop_assert!(!label.is_empty() && label.len() <= MAX_LABEL);
            prop_assert!(label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert!(!label.starts_with('-') && !label.ends_with('-'));
            prop_assert_eq!(dns_label(&name), label.clone());
            prop_assert_eq!(dns_label(&label), label);
        }
    }

    #[test]
    fn names_map_to_labels() {
        for (name, label) in [
            ("web", "web"),
            ("Web_API.v2", "web-api-v2"),
            ("--a__b--", "a-b"),
            ("Straße", "stra-e"),
            ("日本", "x"),
            (&"a".repeat(70), &"a".repeat(63)),
        ] {
            assert_eq!(dns_label(name), label, "{name}");
        }
    }

    #[test]
    fn colliding_names_keep_the_oldest_plain_and_suffix_the_others() {
        let t = |s: i64| jiff::Timestamp::from_second(s).unwrap_or_default();
        let got = labels([
            ("shop", "/b/shop".to_string(), t(2)),
            ("Shop", "/a/Shop".to_string(), t(1)),
            ("cart", "/c".to_string(), t(3)),
        ]);
        assert_eq!(got["/a/Shop"], "shop");
        assert_eq!(got["/c"], "cart");
        let other = &got["/b/shop"];
        assert!(other.starts_with("shop-") && other.len() == 11, "{other}");
        // The same inputs, in another order, give the same labels.
        let again = labels([
            ("cart", "/c".to_string(), t(3)),
            ("Shop", "/a/Shop".to_string(), t(1)),
            ("shop", "/b/shop".to_string(), t(2)),
        ]);
        assert_eq!(got, again);
    }
}
