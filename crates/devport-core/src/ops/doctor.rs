//! `doctor`: checks the registry file and every claim's port as things stand today.

use std::path::Path;

use serde::Serialize;

use crate::ops::owner::Why;
use crate::os::platform::{Platform, PlatformInterface as _};
use crate::os::sockets::{self, Socket};
use crate::policy::{Policy, Reason};
use crate::project::{FolderState, folder_state};
use crate::store::registry::{Claim, Store};

/// One problem, with what to do about it.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A stable code: `registry-unreadable`, `folder-world-writable`, `registry-unwritable`,
    /// `registry-permissions`, `folder-permissions`, `lock-permissions`, `trust-permissions`,
    /// `pool-empty`, `overlap`, `duplicate-claim`, `folder-gone`, `folder-unreadable`,
    /// `bound-by-other`, or a policy reason code (`os-ephemeral`, `iana-assigned`, ...).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
    /// The claim concerned, if any.
    pub claim: Option<Claim>,
}

/// The code of the finding that the registry cannot be read or parsed.
const REGISTRY_UNREADABLE: &str = "registry-unreadable";
/// The code of the finding that every user may write the registry's folder (claims refuse it).
const FOLDER_WORLD_WRITABLE: &str = "folder-world-writable";
/// The code of the finding that the registry's folder cannot be written (every claim fails).
const REGISTRY_UNWRITABLE: &str = "registry-unwritable";

impl Problem {
    /// Whether this finding is a failure of the environment (the registry cannot be read or
    /// written, or its folder is refused) rather than a problem with a claim: `doctor` then
    /// exits 3, not 1, as a claim would.
    pub fn is_environment(&self) -> bool {
        [
            REGISTRY_UNREADABLE,
            FOLDER_WORLD_WRITABLE,
            REGISTRY_UNWRITABLE,
        ]
        .contains(&self.code)
    }
}

/// Rules a claim made by the policy must still meet; a pinned claim (chosen with `--port`) only
/// has to stay out of the OS's own ranges.
const POLICY_RULES: &[Reason] = &[
    Reason::OsEphemeral,
    Reason::OsExcluded,
    Reason::OsReserved,
    Reason::IanaAssigned,
    Reason::IanaReserved,
    Reason::DevToolDefault,
    Reason::BrowserBlocked,
    Reason::Avoided,
];

/// Every problem found; empty means healthy.
pub fn doctor(store: &Store, policy: &Policy, live: &[Socket]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut add = |code, message: String, fix: String, claim: Option<&Claim>| {
        problems.push(Problem {
            code,
            message,
            fix,
            claim: claim.cloned(),
        });
    };
    pool(policy, &mut add);
    let reg = match store.read() {
        Ok(reg) => reg,
        Err(e) => {
            if !world_writable(store.path(), &mut add) {
                add(
                    REGISTRY_UNREADABLE,
                    e.to_string(),
                    format!("fix or move {}", store.path().display()),
                    None,
                );
            }
            return problems;
        }
    };
    if let Ok(location) = store.locate() {
        writable(&location.registry, &mut add);
        permissions(&location.registry, &location.lock, &mut add);
    }
    if let Some((path, mode)) = crate::store::trust::file(store)
        .ok()
        .and_then(|p| crate::store::trust::others_may_write(&p).map(|m| (p, m)))
    {
        add(
            "trust-permissions",
            format!(
                "{} has mode {mode:04o}: other users can trust a manifest in your name, so devport does not use it",
                path.display()
            ),
            format!(
                "run 'chmod 600 {}' if you wrote every entry, else move it away and trust your projects again",
                path.display()
            ),
            None,
        );
    }

    overlaps(&reg.claims, &mut add);
    duplicates(&reg.claims, store.path(), &mut add);

    let held = reg.held();
    let mut claimed_sockets = sockets::on_ports(live, |p| held.contains(p));
    // A port a container forwarder holds belongs to the container, not to the forwarder.
    crate::os::container::annotate(&mut claimed_sockets);
    for claim in &reg.claims {
        claim_problems(claim, policy, &claimed_sockets, &mut add);
    }
    problems
}

/// A range from which no claim can be made: the config's `range` must change.
fn pool(policy: &Policy, add: &mut impl FnMut(&'static str, String, String, Option<&Claim>)) {
    if let Some(why) = policy.empty_pool() {
        add(
            "pool-empty",
            format!(
                "no port in the configured range {} can be handed out: {why}",
                policy.range
            ),
            format!(
                "set range in the config file to another range, such as the default {}",
                crate::store::config::DEFAULT_RANGE
            ),
            None,
        );
    }
}

/// Reports a registry folder every user may write, which claims refuse (so the registry is not
/// read either); true when it did.
fn world_writable(
    path: &Path,
    add: &mut impl FnMut(&'static str, String, String, Option<&Claim>),
) -> bool {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let Some(shared) = crate::store::registry::shared_folder(&real) else {
        return false;
    };
    add(
        FOLDER_WORLD_WRITABLE,
        format!(
            "registry folder {} has mode {:04o}: every user can write it, so anyone could replace the registry, and claims refuse it",
            shared.dir.display(),
            shared.mode
        ),
        shared.fix,
        None,
    );
    true
}

/// Reports a registry folder this user cannot write (every claim would fail), tested without
/// writing anything. A folder not made yet is fine: the first claim makes it.
fn writable(registry: &Path, add: &mut impl FnMut(&'static str, String, String, Option<&Claim>)) {
    let dir = crate::os::fsutil::parent_dir(registry);
    if !dir.is_dir() {
        return;
    }
    if let Some(e) = Platform::unwritable(dir, false) {
        add(
            REGISTRY_UNWRITABLE,
            format!(
                "registry folder {} cannot be written ({}), so every claim and release would fail",
                dir.display(),
                e
            ),
            format!(
                "make {} writable for your user, or use --registry (or DEVPORT_REGISTRY) with a file in a folder you can write",
                dir.display()
            ),
            None,
        );
    }
}

/// Claims that share ports, in O(n log n): sorted by first port, each claim is compared with
/// the claim reaching furthest among those before it, so a wide block overlapping a
/// non-adjacent claim is caught too.
fn overlaps(claims: &[Claim], add: &mut impl FnMut(&'static str, String, String, Option<&Claim>)) {
    let mut by_port: Vec<&Claim> = claims.iter().collect();
    by_port.sort_by_key(|c| c.block.port);
    let mut reach: Option<&Claim> = None;
    for &claim in &by_port {
        if let Some(prev) = reach.filter(|p| p.ports().overlaps(claim.ports())) {
            add(
                "overlap",
                format!(
                    "{} ({}) and {} ({}) share ports",
                    prev.label(),
                    prev.ports(),
                    claim.label(),
                    claim.ports()
                ),
                format!(
                    "run 'devport claim {} --move' in its project",
                    claim.service
                ),
                Some(claim),
            );
        }
        if reach.is_none_or(|p| claim.ports().hi() > p.ports().hi()) {
            reach = Some(claim);
        }
    }
}

/// Services claimed more than once in one project, in O(n log n).
fn duplicates(
    claims: &[Claim],
    registry: &Path,
    add: &mut impl FnMut(&'static str, String, String, Option<&Claim>),
) {
    let mut seen = std::collections::BTreeSet::new();
    for claim in claims {
        if !seen.insert((&claim.project_path, &claim.service)) {
            add(
                "duplicate-claim",
                format!("{} is claimed twice", claim.label()),
                format!("delete one of its entries from {}", registry.display()),
                Some(claim),
            );
        }
    }
}

/// The problems of one claim's ports today; `live` holds the sockets on claimed ports, with
/// owners.
fn claim_problems(
    claim: &Claim,
    policy: &Policy,
    live: &[Socket],
    add: &mut impl FnMut(&'static str, String, String, Option<&Claim>),
) {
    let place = claim.project_path.as_ref().map_or_else(
        || "with --global".to_string(),
        |p| format!("in {}", p.display()),
    );
    let fix_move = format!("run 'devport claim {} --move' {place}", claim.service);
    if let Some(dir) = &claim.project_path {
        match folder_state(dir) {
            FolderState::Present => {}
            FolderState::Gone => {
                add(
                    "folder-gone",
                    format!(
                        "{} belongs to a folder that no longer exists",
                        claim.label()
                    ),
                    "run 'devport gc'".into(),
                    Some(claim),
                );
                return;
            }
            FolderState::Unreadable(e) => {
                add(
                    "folder-unreadable",
                    format!(
                        "{} belongs to {}, which cannot be looked at ({e}); 'devport gc' keeps it",
                        claim.label(),
                        dir.display()
                    ),
                    format!(
                        "run 'devport doctor' as a user who can open {}, or 'devport release --port {}' if the project is gone",
                        dir.display(),
                        claim.block.port
                    ),
                    Some(claim),
                );
                return;
            }
        }
    }
    for port in claim.ports().iter() {
        for reason in policy.static_reasons(port) {
            let applies = if claim.pinned {
                reason.is_os()
            } else {
                POLICY_RULES.contains(&reason)
            };
            if applies && reason != Reason::Privileged {
                add(
                    reason.code(),
                    format!(
                        "{} holds port {port}, which is {}",
                        claim.label(),
                        reason.description()
                    ),
                    fix_move.clone(),
                    Some(claim),
                );
            }
        }
        for s in live.iter().filter(|s| s.port == port) {
            let (crate::ops::check::Finding::Conflict, Some(why)) =
                crate::ops::check::claimed_finding(s, claim)
            else {
                continue;
            };
            let fix = match &why {
                Why::ContainerElsewhere { .. } => {
                    format!("stop that container ('docker ps' shows which), or {fix_move}")
                }
                Why::OtherUser { user, .. } => {
                    format!("stop it as user {user} (or ask them to), or {fix_move}")
                }
                _ => match s.pid {
                    Some(pid) => format!("stop pid {pid}, or {fix_move}"),
                    None => fix_move.clone(),
                },
            };
            add(
                "bound-by-other",
                format!("{} holds port {port}, but {why}", claim.label()),
                fix,
                Some(claim),
            );
        }
    }
}

/// Modes that let other users read or change the registry or its lock, or list its folder. A
/// group-writable folder is a registry shared by a group on purpose: group bits are fine then.
/// Nothing where files have no Unix mode.
fn permissions(
    path: &Path,
    lock: &Path,
    add: &mut impl FnMut(&'static str, String, String, Option<&Claim>),
) {
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .and_then(|m| Platform::mode(&m))
            .map(|m| m & 0o777)
    };
    let dir = crate::os::fsutil::parent_dir(path);
    let group = crate::os::fsutil::private_mode(dir) & 0o070;
    let allowed = 0o700 | group;
    // Tighten only the bits that are wrong, so a group-shared registry stays shared.
    let chmod = if group == 0 {
        "chmod 600"
    } else {
        "chmod o-rwx"
    };
    let mut found = Vec::new();
    if let Some(m) = mode(path).filter(|m| m & !allowed != 0) {
        let risk = if m & !allowed & 0o022 != 0 {
            "other users can change it"
        } else {
            "it is readable by other users"
        };
        found.push((m, "registry-permissions", risk, chmod, path));
    }
    if let Some(m) = mode(lock).filter(|m| m & !allowed & 0o022 != 0) {
        found.push((
            m,
            "lock-permissions",
            "other users can write it, and so name a false holder of the lock",
            chmod,
            lock,
        ));
    }
    if let Some(m) = mode(dir).filter(|m| m & 0o077 != 0 && m & 0o070 == 0) {
        found.push((
            m,
            "folder-permissions",
            "other users can list it",
            "chmod 700",
            dir,
        ));
    }
    for (m, code, risk, chmod, p) in found {
        add(
            code,
            format!("{} has mode {m:04o}: {risk}", p.display()),
            format!("run '{chmod} {}'", p.display()),
            None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn claim(i: usize, port: u16, count: u16) -> Claim {
        Claim {
            project: "p".into(),
            project_path: None,
            service: format!("s{i}"),
            block: crate::store::registry::PortBlock {
                port,
                count,
                proto: crate::model::types::Proto::Tcp,
            },
            created: jiff::Timestamp::UNIX_EPOCH,
            last_used: jiff::Timestamp::UNIX_EPOCH,
            pinned: false,
            checkout: None,
            extra: crate::store::registry::Extra::new(),
        }
    }

    proptest! {
        /// The sweep flags exactly the claims that share a port with a claim before them in
        /// port order, as comparing every pair would.
        #[test]
        fn overlap_sweep_matches_every_pair(blocks in prop::collection::vec((20000u16..20100, 1u16..20), 0..40)) {
            let claims: Vec<Claim> = blocks.iter().enumerate().map(|(i, &(p, n))| claim(i, p, n)).collect();
            let mut flagged = Vec::new();
            overlaps(&claims, &mut |_, _, _, c: Option<&Claim>| flagged.push(c.map(|c| c.service.clone())));
            let mut sorted: Vec<&Claim> = claims.iter().collect();
            sorted.sort_by_key(|c| c.block.port);
            let expected: Vec<Option<String>> = sorted
                .iter()
                .enumerate()
                .filter(|(i, c)| sorted[..*i].iter().any(|d| d.ports().overlaps(c.ports())))
                .map(|(_, c)| Some(c.service.clone()))
                .collect();
            prop_assert_eq!(flagged, expected);
        }
    }

    use crate::ops::claim::tests::{Fixture, t0};

    fn codes(problems: &[Problem]) -> Vec<&'static str> {
        problems.iter().map(|p| p.code).collect()
    }

    /// Adds `claim` to the registry as it is, past the checks a claim makes.
    fn plant(f: &Fixture, claim: Claim) {
        f.store
            .update(t0(), |reg| {
                reg.claims.push(claim);
                Ok(())
            })
            .expect("write");
    }

    #[test]
    fn a_healthy_registry_has_no_problems() {
        let f = Fixture::new();
        f.claim("web", t0());
        f.claim("db", t0());
        assert!(doctor(&f.store, &f.policy, &[]).is_empty());
    }

    #[test]
    fn an_unreadable_registry_is_an_environment_problem() {
        let f = Fixture::new();
        f.claim("web", t0());
        std::fs::write(f.store.path(), "{ not json").expect("write");
        let problems = doctor(&f.store, &f.policy, &[]);
        assert_eq!(codes(&problems), ["registry-unreadable"]);
        assert!(problems[0].is_environment());
    }

    #[test]
    fn a_claim_of_a_deleted_folder_is_flagged_with_gc_as_the_fix() {
        let f = Fixture::new();
        let gone = Fixture::new();
        let doomed = gone.project.clone();
        crate::ops::claim::claim(
            &f.store,
            &f.policy,
            &crate::ops::claim::tests::request(&doomed, "api"),
            t0(),
        )
        .expect("claim");
        drop(gone);
        let problems = doctor(&f.store, &f.policy, &[]);
        assert_eq!(codes(&problems), ["folder-gone"]);
        assert_eq!(problems[0].fix, "run 'devport gc'");
        assert!(!problems[0].is_environment());
    }

    #[test]
    fn overlaps_duplicates_and_forbidden_ports_are_flagged_unless_pinned() {
        let f = Fixture::new();
        let web = f.claim("web", t0());
        // Another service on the same port, the same service twice, and a claim of an IANA port.
        plant(
            &f,
            Claim {
                service: "api".into(),
                ..web.clone()
            },
        );
        plant(&f, web.clone());
        let iana = Claim {
            service: "db".into(),
            block: crate::store::registry::PortBlock {
                port: 2301, // IANA: cpq-wbem
                ..web.block
            },
            ..web.clone()
        };
        plant(&f, iana.clone());
        let problems = doctor(&f.store, &f.policy, &[]);
        let mut found = codes(&problems);
        found.sort_unstable();
        assert_eq!(
            found,
            ["duplicate-claim", "iana-assigned", "overlap", "overlap"],
            "{problems:?}"
        );
        let fix = &problems
            .iter()
            .find(|p| p.code == "iana-assigned")
            .expect("iana")
            .fix;
        assert!(fix.contains("devport claim db --move"), "{fix}");
        // Chosen with --port (pinned), an IANA port is the user's call.
        f.store
            .update(t0(), |reg| {
                reg.claims = vec![
                    web.clone(),
                    Claim {
                        pinned: true,
                        ..iana
                    },
                ];
                Ok(())
            })
            .expect("write");
        assert!(doctor(&f.store, &f.policy, &[]).is_empty());
    }

    // Whether a process works inside a project is read from /proc (Linux only).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_claimed_port_bound_from_outside_the_project_is_flagged() {
        let f = Fixture::new();
        let (port, listener) = crate::ops::claim::tests::claim_and_bind(&f, "bound");
        let live = sockets::list();
        let problems = doctor(&f.store, &f.policy, &live);
        assert_eq!(codes(&problems), ["bound-by-other"], "{problems:?}");
        assert!(
            problems[0]
                .message
                .contains(&format!("pid {}", std::process::id())),
            "{}",
            problems[0].message
        );
        drop(listener);
        assert!(
            doctor(&f.store, &f.policy, &sockets::list()).is_empty(),
            "port {port}"
        );
    }

    // Unix only: files have no Unix mode elsewhere.
    #[cfg(unix)]
    #[test]
    fn a_registry_other_users_can_read_is_flagged_with_chmod() {
        use std::os::unix::fs::PermissionsExt as _;
        let f = Fixture::new();
        f.claim("web", t0());
        std::fs::set_permissions(f.store.path(), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        let problems = doctor(&f.store, &f.policy, &[]);
        assert_eq!(codes(&problems), ["registry-permissions"]);
        assert!(
            problems[0].fix.starts_with("run 'chmod 600 "),
            "{}",
            problems[0].fix
        );
    }
}
