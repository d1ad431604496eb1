//! `doctor`: checks the registry file and every claim's port as things stand today.

use std::path::Path;

use serde::Serialize;

use crate::policy::{Policy, Reason};
use crate::ports::sockets::{self, Socket};
use crate::process;
use crate::project::{FolderState, folder_state};
use crate::registry::{Claim, Store};

/// One problem, with what to do about it.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A stable code: `registry-unreadable`, `registry-permissions`, `folder-permissions`,
    /// `overlap`, `duplicate-claim`, `folder-gone`, `folder-unreadable`, `bound-by-other`, or a
    /// policy reason code (`os-ephemeral`, `iana-assigned`, ...).
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

impl Problem {
    /// Whether this finding is a failure of the environment (the registry cannot be read or
    /// parsed) rather than a problem with a claim: `doctor` then exits 3, not 1.
    pub fn is_environment(&self) -> bool {
        self.code == REGISTRY_UNREADABLE
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
    let reg = match store.read() {
        Ok(reg) => reg,
        Err(e) => {
            add(
                REGISTRY_UNREADABLE,
                e.to_string(),
                format!("fix or move {}", store.path().display()),
                None,
            );
            return problems;
        }
    };
    permissions(store.path(), &mut add);

    overlaps(&reg.claims, &mut add);
    duplicates(&reg.claims, store.path(), &mut add);

    let held = reg.held();
    let claimed_sockets = sockets::on_ports(live, |p| held.contains(p));
    for claim in &reg.claims {
        claim_problems(claim, policy, &claimed_sockets, &mut add);
    }
    problems
}

/// Claims that share ports, in O(n log n): sorted by first port, each claim is compared with
/// the claim reaching furthest among those before it, so a wide block overlapping a
/// non-adjacent claim is caught too.
fn overlaps(claims: &[Claim], add: &mut impl FnMut(&'static str, String, String, Option<&Claim>)) {
    let mut by_port: Vec<&Claim> = claims.iter().collect();
    by_port.sort_by_key(|c| c.port);
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
        if reach.is_none_or(|p| claim.ports().hi > p.ports().hi) {
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
                        claim.port
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
                        crate::claim::describe(reason)
                    ),
                    fix_move.clone(),
                    Some(claim),
                );
            }
        }
        if let Some(dir) = &claim.project_path {
            for s in live.iter().filter(|s| s.port == port) {
                if let Some(pid) = s
                    .pid
                    .filter(|&pid| process::works_in(pid, dir) == Some(false))
                {
                    let name = s.process.as_deref().unwrap_or("?");
                    add(
                        "bound-by-other",
                        format!(
                            "{} holds port {port}, but pid {pid} ({name}) outside the project has it bound",
                            claim.label()
                        ),
                        format!("stop pid {pid}, or {fix_move}"),
                        Some(claim),
                    );
                }
            }
        }
    }
}

#[cfg(unix)]
fn permissions(path: &Path, add: &mut impl FnMut(&'static str, String, String, Option<&Claim>)) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    };
    let dir = crate::fsutil::parent_dir(path);
    // A group-writable folder is a registry shared by a group on purpose: group bits are fine.
    let allowed = 0o777 & !0o077 | (crate::fsutil::private_mode(dir) & 0o070);
    let file_problem = mode(path).filter(|m| m & !allowed != 0).map(|m| {
        (
            m,
            "registry-permissions",
            "other users can read or change it",
            "chmod 600",
            path,
        )
    });
    let dir_problem = mode(dir).and_then(|m| {
        if m & 0o002 != 0 {
            Some((
                m,
                "folder-permissions",
                "any user can replace the registry",
                "chmod 700",
                dir,
            ))
        } else if m & 0o077 != 0 && m & 0o070 == 0 {
            Some((
                m,
                "folder-permissions",
                "other users can list it",
                "chmod 700",
                dir,
            ))
        } else {
            None // private, or group-shared on purpose
        }
    });
    for (m, code, risk, chmod, p) in file_problem.into_iter().chain(dir_problem) {
        add(
            code,
            format!("{} has mode {m:04o}: {risk}", p.display()),
            format!("run '{chmod} {}'", p.display()),
            None,
        );
    }
}

#[cfg(not(unix))]
fn permissions(_path: &Path, _add: &mut impl FnMut(&'static str, String, String, Option<&Claim>)) {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn claim(i: usize, port: u16, count: u16) -> Claim {
        Claim {
            project: "p".into(),
            project_path: None,
            service: format!("s{i}"),
            port,
            count,
            proto: crate::types::Proto::Tcp,
            created: jiff::Timestamp::UNIX_EPOCH,
            last_used: jiff::Timestamp::UNIX_EPOCH,
            pinned: false,
            extra: crate::registry::Extra::new(),
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
            sorted.sort_by_key(|c| c.port);
            let expected: Vec<Option<String>> = sorted
                .iter()
                .enumerate()
                .filter(|(i, c)| sorted[..*i].iter().any(|d| d.ports().overlaps(c.ports())))
                .map(|(_, c)| Some(c.service.clone()))
                .collect();
            prop_assert_eq!(flagged, expected);
        }
    }
}
