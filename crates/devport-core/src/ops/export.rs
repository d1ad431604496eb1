//! Reverse-proxy configurations that give each claimed port a name,
//! `SERVICE.PROJECT.localhost`: a Caddyfile ([`caddyfile`]) or a Traefik dynamic configuration
//! for its file provider ([`traefik`]).

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::model::types::fnv1a;
use crate::store::registry::Claim;

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

/// A name to make a label of, with the key that tells it apart (hashed for a suffix, and what
/// orders two names of one age) and its age.
struct Named<'a> {
    name: &'a str,
    key: &'a [u8],
    age: jiff::Timestamp,
}

/// Labels for `names`, in their order, all different: the [`dns_label`] of each name, except
/// that when several names share a label, all but the oldest get `-` and six hex digits of a
/// hash of their key. Plain labels are given out first; a suffixed label that meets any other
/// label (a project folder may well be named `shop-1258e0`) takes more digits of the hash, then
/// a counter, until it is free. A name keeps its label as others come and go, unless an older
/// one with the same label, or one whose plain label is its suffixed one, appears.
fn labels(names: &[Named<'_>]) -> Vec<String> {
    let plain: Vec<String> = names.iter().map(|n| dns_label(n.name)).collect();
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| {
        (&plain[a], names[a].age, names[a].key, a).cmp(&(&plain[b], names[b].age, names[b].key, b))
    });
    let mut taken: HashSet<String> = plain.iter().cloned().collect();
    let mut out = vec![String::new(); names.len()];
    for (at, &i) in order.iter().enumerate() {
        out[i] = if at == 0 || plain[order[at - 1]] != plain[i] {
            plain[i].clone()
        } else {
            let unique = suffixed(&plain[i], fnv1a(names[i].key), &taken);
            taken.insert(unique.clone());
            unique
        };
    }
    out
}

/// `label-HASH`, with as few of `hash`'s hex digits as keep it out of `taken` (six at least,
/// the same six as ever, then two more at a time), then `-2`, `-3` … after all sixteen; at
/// most 63 characters (`label` is cut to fit).
fn suffixed(label: &str, hash: u64, taken: &HashSet<String>) -> String {
    // The low 24 bits first: the first six digits are the suffix names have always had.
    let digits = format!("{:016x}", hash.rotate_right(24));
    let longer = (6..=16).step_by(2).map(|n| format!("-{}", &digits[..n]));
    let counted = (2u64..).map(|i| format!("-{digits}-{i}"));
    longer
        .chain(counted)
        .map(|suffix| {
            let mut base = label.to_string();
            base.truncate(MAX_LABEL - suffix.len());
            format!("{}{suffix}", base.trim_end_matches('-'))
        })
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| label.to_string())
}

/// The host name of every TCP claim, `SERVICE.PROJECT.localhost`, in the order given: the one
/// place names are made. Projects are told apart by folder (global claims are one project),
/// services within a project by name; [`labels`] keeps both sets of labels unique, so no two
/// claims get one host name.
fn host_names<'c>(claims: &[&'c Claim]) -> Vec<(&'c Claim, String)> {
    let tcp: Vec<&Claim> = claims
        .iter()
        .copied()
        .filter(|c| c.block.proto.tcp())
        .collect();
    // Each project's claims, by folder (as the registry wrote it, compared byte for byte).
    let mut projects: Vec<Vec<usize>> = Vec::new();
    let mut by_folder: HashMap<Option<&OsStr>, usize> = HashMap::new();
    for (i, c) in tcp.iter().enumerate() {
        let folder = c.project_path.as_deref().map(Path::as_os_str);
        let at = *by_folder.entry(folder).or_insert_with(|| {
            projects.push(Vec::new());
            projects.len() - 1
        });
        projects[at].push(i);
    }
    // A project is named as its first claim names it, and is as old as its oldest claim.
    let project_names: Vec<Named<'_>> = projects
        .iter()
        .map(|mine| {
            let first = tcp[mine[0]];
            Named {
                name: &first.project,
                key: first
                    .project_path
                    .as_deref()
                    .map_or(GLOBAL_KEY.as_bytes(), |p| p.as_os_str().as_encoded_bytes()),
                age: mine
                    .iter()
                    .map(|&i| tcp[i].created)
                    .min()
                    .unwrap_or(first.created),
            }
        })
        .collect();
    let mut hosts = vec![String::new(); tcp.len()];
    for (mine, project) in projects.iter().zip(labels(&project_names)) {
        let service_names: Vec<Named<'_>> = mine
            .iter()
            .map(|&i| Named {
                name: &tcp[i].service,
                key: tcp[i].service.as_bytes(),
                age: tcp[i].created,
            })
            .collect();
        for (&i, service) in mine.iter().zip(labels(&service_names)) {
            hosts[i] = format!("{service}.{project}.localhost");
        }
    }
    tcp.into_iter().zip(hosts).collect()
}

/// What global claims' project key is hashed as for a suffix.
const GLOBAL_KEY: &str = "(global)";

/// The routes of `claims`: each TCP claim's first port as `SERVICE.PROJECT.localhost` (see
/// [`host_names`]), and for a block, its Nth port as `N.SERVICE.PROJECT.localhost` too. UDP-only
/// claims are left out (no HTTP there). Sorted by host.
pub fn routes(claims: &[&Claim]) -> Vec<Route> {
    let mut routes = Vec::new();
    for (c, host) in host_names(claims) {
        let route = |host: String, port| Route {
            host,
            port,
            project: c.project.clone(),
            project_path: c.project_path.clone(),
            service: c.service.clone(),
        };
        if c.block.count > 1 {
            for (n, port) in c.ports().iter().enumerate() {
                routes.push(route(format!("{n}.{host}"), port));
            }
        }
        routes.push(route(host, c.block.port));
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

    fn t(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(s).unwrap_or_default()
    }

    /// `(name, key, age)` as [`Named`]s, and their labels by key.
    fn labels_of(given: &[(&str, &str, i64)]) -> std::collections::BTreeMap<String, String> {
        let named: Vec<Named<'_>> = given
            .iter()
            .map(|&(name, key, age)| Named {
                name,
                key: key.as_bytes(),
                age: t(age),
            })
            .collect();
        let keys = given.iter().map(|(_, key, _)| key.to_string());
        keys.zip(labels(&named)).collect()
    }

    #[test]
    fn colliding_names_keep_the_oldest_plain_and_suffix_the_others() {
        let got = labels_of(&[
            ("shop", "/b/shop", 2),
            ("Shop", "/a/Shop", 1),
            ("cart", "/c", 3),
        ]);
        assert_eq!(got["/a/Shop"], "shop");
        assert_eq!(got["/c"], "cart");
        let other = &got["/b/shop"];
        assert!(other.starts_with("shop-") && other.len() == 11, "{other}");
        assert_eq!(
            *other,
            format!("shop-{:06x}", fnv1a(b"/b/shop") & 0xff_ffff)
        );
        // The same inputs, in another order, give the same labels; so do equal ages, told
        // apart by key.
        let again = labels_of(&[
            ("cart", "/c", 3),
            ("Shop", "/a/Shop", 1),
            ("shop", "/b/shop", 2),
        ]);
        assert_eq!(got, again);
        let tied = labels_of(&[
            ("shop", "/b/shop", 1),
            ("Shop", "/a/Shop", 1),
            ("cart", "/c", 1),
        ]);
        assert_eq!(got, tied);
    }

    /// A folder named as another's suffixed label (`shop-1258e0`) keeps that plain label, and
    /// the suffixed one takes more digits: every label differs, whatever the order or the ages.
    #[test]
    fn a_suffix_that_meets_another_label_is_extended() {
        let suffix = format!("shop-{:06x}", fnv1a(b"/b/shop") & 0xff_ffff);
        for (age_a, age_b, age_c) in [(1, 2, 3), (3, 2, 1), (2, 3, 1)] {
            let got = labels_of(&[
                ("shop", "/a/shop", age_a),
                ("shop", "/b/shop", age_b),
                (&suffix, "/c/x", age_c),
            ]);
            assert_eq!(got["/c/x"], suffix);
            if age_a < age_b {
                // The same six digits, and two more.
                let b = &got["/b/shop"];
                assert!(b.starts_with(&suffix) && b.len() == suffix.len() + 2, "{b}");
            }
            let unique: HashSet<&String> = got.values().collect();
            assert_eq!(unique.len(), 3, "{got:?}");
            for label in got.values() {
                assert!(
                    label.len() <= MAX_LABEL && dns_label(label) == *label,
                    "{label}"
                );
            }
        }
        // The same key twice (a registry edited by hand) still gets two labels.
        let twice = labels(&[
            Named {
                name: "web",
                key: b"web",
                age: t(1),
            },
            Named {
                name: "web",
                key: b"web",
                age: t(1),
            },
        ]);
        assert_ne!(twice[0], twice[1]);
        // Every digit of the hash taken too: a counter follows.
        let taken: HashSet<String> = (6..=16)
            .step_by(2)
            .map(|n| format!("a-{}", &"0".repeat(n)))
            .collect();
        assert_eq!(suffixed("a", 0, &taken), format!("a-{}-2", "0".repeat(16)));
        // A long label is cut to fit.
        let long = "b".repeat(MAX_LABEL);
        assert_eq!(suffixed(&long, 0xabc, &HashSet::new()).len(), MAX_LABEL);
    }

    /// Projects with one name in different folders and a folder named as one of their suffixed
    /// labels, with blocks: no two routes share a host.
    #[test]
    fn routes_never_share_a_host() {
        let claim = |project: &str, path: &str, service: &str, port, count, age| Claim {
            project: project.into(),
            project_path: Some(PathBuf::from(path)),
            service: service.into(),
            block: crate::store::registry::PortBlock {
                port,
                count,
                proto: crate::model::types::Proto::Tcp,
            },
            created: t(age),
            last_used: t(age),
            pinned: false,
            extra: crate::store::registry::Extra::new(),
        };
        let suffix = format!("shop-{:06x}", fnv1a(b"/b/shop") & 0xff_ffff);
        let claims = [
            claim("shop", "/a/shop", "web", 3000, 2, 1),
            claim("shop", "/b/shop", "web", 3002, 2, 2),
            claim(&suffix, "/c/x", "web", 3004, 2, 3),
            claim(&suffix, "/c/x", "Web", 3006, 1, 4),
            claim(&suffix, "/c/x", "w.e.b", 3007, 1, 3),
        ];
        let refs: Vec<&Claim> = claims.iter().collect();
        let routes = routes(&refs);
        assert_eq!(routes.len(), 3 * 3 + 2);
        let hosts: HashSet<&str> = routes.iter().map(|r| r.host.as_str()).collect();
        assert_eq!(hosts.len(), routes.len(), "{routes:#?}");
        assert!(hosts.contains(format!("web.{suffix}.localhost").as_str()));
        assert_eq!(
            routes
                .iter()
                .find(|r| r.host == format!("web.{suffix}.localhost"))
                .map(|r| r.port),
            Some(3004)
        );
    }
}
