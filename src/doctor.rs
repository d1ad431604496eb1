//! `doctor`: checks the registry file and every claim's port as things stand today.

use std::path::Path;

use serde::Serialize;

use crate::policy::{Policy, Reason};
use crate::ports::sockets::{self, Socket};
use crate::process;
use crate::registry::{Claim, Store};

/// One problem, with what to do about it.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A stable code: `registry-unreadable`, `registry-permissions`, `folder-permissions`,
    /// `overlap`, `duplicate-claim`, `folder-gone`, `bound-by-other`, or a policy reason code
    /// (`os-ephemeral`, `iana-assigned`, ...).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
    /// The claim concerned, if any.
    pub claim: Option<Claim>,
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
                "registry-unreadable",
                e.to_string(),
                format!("fix or move {}", store.path().display()),
                None,
            );
            return problems;
        }
    };
    permissions(store.path(), &mut add);

    let mut by_port: Vec<&Claim> = reg.claims.iter().collect();
    by_port.sort_by_key(|c| c.port);
    for pair in by_port.windows(2) {
        if pair[0].ports().overlaps(pair[1].ports()) {
            add(
                "overlap",
                format!(
                    "{} ({}) and {} ({}) share ports",
                    pair[0].label(),
                    pair[0].ports(),
                    pair[1].label(),
                    pair[1].ports()
                ),
                format!(
                    "run 'devport claim {} --move' in its project",
                    pair[1].service
                ),
                Some(pair[1]),
            );
        }
    }
    for (i, c) in reg.claims.iter().enumerate() {
        if reg.claims[..i]
            .iter()
            .any(|d| d.project_path == c.project_path && d.service == c.service)
        {
            add(
                "duplicate-claim",
                format!("{} is claimed twice", c.label()),
                format!("delete one of its entries from {}", store.path().display()),
                Some(c),
            );
        }
    }

    let held = reg.held();
    let claimed_sockets = sockets::on_ports(live, |p| held.contains(p));
    for claim in &reg.claims {
        claim_problems(claim, policy, &claimed_sockets, &mut add);
    }
    problems
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
    if claim.project_path.as_ref().is_some_and(|p| !p.exists()) {
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
