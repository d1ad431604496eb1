//! Reverse-proxy configurations that give each claimed port a name,
//! `SERVICE.PROJECT.localhost`: a Caddyfile ([`caddyfile`]) or a Traefik dynamic configuration
//! for its file provider ([`traefik`]).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::model::input::{dns_label, unique_labels};
use crate::project::MAIN_CHECKOUT;
use crate::store::registry::Claim;

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

/// The host name of every TCP claim, in the order given: the one place names are made.
/// `SERVICE.PROJECT.localhost` for the main checkout of a project and
/// `SERVICE.CHECKOUT.PROJECT.localhost` for each other checkout (see
/// [`crate::project::checkout_names`]), where the checkouts of one project are the folders
/// whose project names make one label; global claims are the project `global`. Checkout names
/// are unique within their project and service labels within their folder (see
/// [`unique_labels`]), so no two claims get one host name, and no name carries a hash.
/// Checkouts are named among `all` (every claim of the registry), so a checkout's hosts are
/// the same whether it is exported alone or with every other project.
fn host_names<'c>(claims: &[&'c Claim], all: &[Claim]) -> Vec<(&'c Claim, String)> {
    let tcp: Vec<&Claim> = claims
        .iter()
        .copied()
        .filter(|c| c.block.proto.tcp())
        .collect();
    let checkouts = crate::project::claim_checkouts(all, |c| dns_label(&c.project));
    let global = all.iter().any(|c| c.project_path.is_none());
    // Each checkout's claims, by folder (as the registry wrote it, compared byte for byte).
    let mut folders: Vec<Vec<usize>> = Vec::new();
    let mut by_folder: HashMap<Option<&OsStr>, usize> = HashMap::new();
    for (i, c) in tcp.iter().enumerate() {
        let folder = c.project_path.as_deref().map(Path::as_os_str);
        let at = *by_folder.entry(folder).or_insert_with(|| {
            folders.push(Vec::new());
            folders.len() - 1
        });
        folders[at].push(i);
    }
    let mut hosts = vec![String::new(); tcp.len()];
    for mine in &folders {
        let first = tcp[mine[0]];
        let project = dns_label(&first.project);
        let checkout = first.project_path.as_deref().and_then(|path| {
            let name = checkouts.get(path)?;
            // The main checkout of a project named `global` beside global claims, which
            // have the plain name: `main` is no other checkout's name.
            (name != MAIN_CHECKOUT || (global && project == GLOBAL)).then_some(name)
        });
        let site = match checkout {
            Some(name) => format!("{name}.{project}"),
            None => project,
        };
        let plain: Vec<String> = mine
            .iter()
            .map(|&i| service_label(&tcp[i].service))
            .collect();
        let rank: Vec<(jiff::Timestamp, &str)> = mine
            .iter()
            .map(|&i| (tcp[i].created, tcp[i].service.as_str()))
            .collect();
        for (&i, service) in mine.iter().zip(unique_labels(&plain, &rank, "")) {
            hosts[i] = format!("{service}.{site}.localhost");
        }
    }
    tcp.into_iter().zip(hosts).collect()
}

/// A service's label: its [`dns_label`], with `s-` before one of digits only. A block's Nth port
/// is `N.SERVICE.SITE`, which has as many labels as another checkout's
/// `SERVICE.CHECKOUT.PROJECT`; as no service label is a number, the two never meet (a service
/// `1` in a checkout named `grpc` beside the main checkout's block `grpc`).
fn service_label(service: &str) -> String {
    let label = dns_label(service);
    if label.bytes().all(|b| b.is_ascii_digit()) {
        format!("s-{label}")
    } else {
        label
    }
}

/// The label of global claims' project.
const GLOBAL: &str = "global";

/// The routes of `claims`: each TCP claim's first port as `SERVICE.PROJECT.localhost` (see
/// [`host_names`]), and for a block, its Nth port as `N.SERVICE.PROJECT.localhost` too. UDP-only
/// claims are left out (no HTTP there). Checkouts are named among `all`, the registry's
/// claims. Sorted by host.
pub fn routes(claims: &[&Claim], all: &[Claim]) -> Vec<Route> {
    let mut routes = Vec::new();
    for (c, host) in host_names(claims, all) {
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

    fn t(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(s).unwrap_or_default()
    }

    /// Checkouts of one project (three folders named `shop`, and a project whose name makes
    /// the same label), services whose names make one label, blocks, global claims and a
    /// project named `global`, a block beside a numeric service of another checkout: no two
    /// routes share a host, the oldest checkout has the plain name, the others their folder's
    /// name made unique by age, and no name has a hash.
    #[test]
    fn routes_never_share_a_host() {
        let claim = |project: &str, path: Option<&str>, service: &str, port, count, age| Claim {
            project: project.into(),
            project_path: path.map(PathBuf::from),
            service: service.into(),
            block: crate::store::registry::PortBlock {
                port,
                count,
                proto: crate::model::types::Proto::Tcp,
            },
            created: t(age),
            last_used: t(age),
            pinned: false,
            checkout: None,
            extra: crate::store::registry::Extra::new(),
        };
        let claims = [
            claim("shop", Some("/nowhere/b/shop"), "web", 3002, 2, 2),
            claim("shop", Some("/nowhere/a/shop"), "web", 3000, 2, 1),
            claim("Shop", Some("/nowhere/c/shop"), "web", 3004, 1, 3),
            claim("shop", Some("/nowhere/d/shop-2"), "web", 3005, 1, 4),
            claim("cart", Some("/nowhere/c/x"), "web", 3010, 1, 3),
            claim("cart", Some("/nowhere/c/x"), "Web", 3011, 1, 4),
            claim("cart", Some("/nowhere/c/x"), "w.e.b", 3012, 1, 3),
            claim("global", None, "web", 3020, 1, 1),
            claim("global", Some("/nowhere/global"), "web", 3021, 1, 1),
            // The main checkout's block `grpc` (1.grpc.dns) and a service `1` in a checkout
            // named `grpc`.
            claim("dns", Some("/nowhere/dns"), "grpc", 3030, 2, 1),
            claim("dns", Some("/nowhere/wt/grpc"), "1", 3032, 1, 2),
        ];
        let refs: Vec<&Claim> = claims.iter().collect();
        let routes = routes(&refs, &claims);
        let hosts: std::collections::BTreeMap<&str, u16> =
            routes.iter().map(|r| (r.host.as_str(), r.port)).collect();
        assert_eq!(hosts.len(), routes.len(), "{routes:#?}");
        for (host, port) in [
            ("web.shop.localhost", 3000),
            ("1.web.shop.localhost", 3001),
            ("web.shop.shop.localhost", 3002),
            ("web.shop-3.shop.localhost", 3004),
            ("web.shop-2.shop.localhost", 3005),
            ("web.cart.localhost", 3010),
            ("web-2.cart.localhost", 3011),
            ("w-e-b.cart.localhost", 3012),
            ("web.global.localhost", 3020),
            ("web.main.global.localhost", 3021),
            ("1.grpc.dns.localhost", 3031),
            ("s-1.grpc.dns.localhost", 3032),
        ] {
            assert_eq!(hosts.get(host), Some(&port), "{host}: {hosts:#?}");
        }
    }
}
