//! `devport check`: the whole story of each port asked about.

use std::fmt::Write as _;

use anyhow::Result;
use devport_core::ops::check::{self, PortReport};
use devport_core::os::sockets;

use super::{Ctx, Outcome};
use crate::cli::CheckArgs;
use crate::output;

/// At most this many ports per call, so a typo like `1-65535` does not run for minutes.
const MAX_PORTS: u64 = 4096;

pub fn run(ctx: &Ctx, args: &CheckArgs) -> Result<Outcome> {
    // Counted in u64 before anything is expanded: 65,537 arguments of 1-65535 overflow a u32.
    let total: u64 = args.ports.iter().map(|r| u64::from(r.len())).sum();
    if total > MAX_PORTS {
        return Err(devport_core::Error::invalid(
            devport_core::error::Input::Argument,
            format!("{total} ports asked about; check at most {MAX_PORTS} at a time"),
        )
        .into());
    }
    let reg = ctx.store.read()?;
    let policy = ctx.policy();
    // Owners are found for every port asked about in one pass over the processes: once per
    // port, a process holding thousands of sockets made `check 1-4096` take minutes.
    let mut asked = vec![false; usize::from(u16::MAX) + 1];
    for port in args.ports.iter().flat_map(|r| r.iter()) {
        asked[usize::from(port)] = true;
    }
    let live = sockets::on_ports(&sockets::list(), |p| asked[usize::from(p)]);
    let mut reports: Vec<PortReport> = args
        .ports
        .iter()
        .flat_map(|r| r.iter())
        .map(|p| check::report(&policy, &reg, &live, p, ctx.now))
        .collect();
    devport_core::os::container::annotate(reports.iter_mut().flat_map(|r| r.sockets.iter_mut()));
    for r in &mut reports {
        r.judge();
    }
    if ctx.json {
        output::json(&reports)?;
    } else {
        let text: Vec<String> = reports.iter().map(|r| render(ctx, r, &policy)).collect();
        output::line(text.join("\n").trim_end())?;
    }
    Ok(if reports.iter().all(|r| r.usable) {
        Outcome::Success
    } else {
        Outcome::Negative
    })
}

/// Who holds the port: a claim (its checkout when it is not the main one), a lease, or no one.
fn holder(r: &PortReport) -> String {
    match (&r.claim, &r.lease) {
        (Some(c), _) => {
            format!(
                "claimed by {} ({}, {}){}",
                c.label(),
                output::port_list(c.ports()),
                c.block.proto,
                c.project_path
                    .as_ref()
                    .map_or(String::new(), |p| format!(" in {}", p.display()))
            ) + &r
                .checkout
                .as_ref()
                .filter(|name| *name != devport_core::project::MAIN_CHECKOUT)
                .map_or_else(String::new, |name| format!(" (checkout {name})"))
        }
        (None, Some(l)) => format!("leased by pid {} ({})", l.pid, output::port_list(l.ports())),
        (None, None) => "not claimed".to_string(),
    }
}

fn render(ctx: &Ctx, r: &PortReport, policy: &devport_core::policy::Policy) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}  {} range ({})",
        r.port,
        r.range.name(),
        r.range.ports()
    );
    let mut line = |name: &str, shown: &str| {
        let _ = writeln!(s, "  {name:<9} {shown}");
    };
    // Every value is escaped on its own, so no name from the registry or a process can drive
    // the terminal or forge a line of the report.
    let mut field = |name: &str, value: &str| line(name, &output::clean(value));
    field("iana", &iana_text(r));
    for h in &r.history {
        field(
            "",
            &format!(
                "note: {} ({})",
                h.description().replace('\n', " "),
                iana_proto(h.proto)
            ),
        );
    }
    field(
        "dev tools",
        &if r.dev_tools.is_empty() {
            "none known".to_string()
        } else {
            r.dev_tools.join("; ")
        },
    );
    field(
        "browsers",
        if r.browser_blocked {
            "blocked (WHATWG Fetch bad port)"
        } else {
            "allowed"
        },
    );
    let mut os: Vec<String> =
        r.os.iter()
            .map(|reason| reason.os_phrase(policy.os()))
            .collect();
    os.extend(policy.os().unread.iter().map(|u| format!("not read: {u}")));
    field(
        "os",
        &if os.is_empty() {
            "not reserved".to_string()
        } else {
            os.join("; ")
        },
    );
    if r.sockets.is_empty() {
        field(
            "live",
            if r.reasons.contains(&devport_core::Reason::InUse) {
                "busy (a bind failed; owner unknown)"
            } else {
                "free (tcp and udp, IPv4 and IPv6)"
            },
        );
    }
    for sock in &r.sockets {
        field("live", &output::socket_line(sock));
    }
    field("devport", &holder(r));
    if let Some(finding) = r.finding.map(check::Finding::code) {
        field(
            "owner",
            &r.why
                .as_ref()
                .map_or_else(|| finding.to_string(), |why| format!("{finding}: {why}")),
        );
    }
    let paint = if r.usable {
        output::Paint::Green
    } else {
        output::Paint::Red
    };
    line(
        "verdict",
        &output::paint(ctx.color, &output::clean(&verdict(r)), paint),
    );
    s
}

fn iana_proto(p: devport_core::policy::iana::IanaProto) -> &'static str {
    use devport_core::policy::iana::IanaProto as P;
    match p {
        P::Tcp => "tcp",
        P::Udp => "udp",
        P::Sctp => "sctp",
        P::Dccp => "dccp",
    }
}

/// IANA rows merged by (status, service, description, date): `assigned: name "desc" (tcp, udp), registered D`.
fn iana_text(r: &PortReport) -> String {
    if r.iana.is_empty() {
        return if r.range == check::Rfc6335Range::Dynamic {
            "none (dynamic range: never assigned)".into()
        } else {
            "unassigned".into()
        };
    }
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for e in &r.iana {
        let status = if e.status == devport_core::policy::iana::IanaStatus::Assigned {
            "assigned"
        } else {
            "reserved"
        };
        let mut key = format!("{status}:");
        if let Some(svc) = e.service {
            let _ = write!(key, " {svc}");
        }
        let _ = write!(key, " \"{}\"", e.description.replace('\n', " "));
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, protos)) => protos.push(iana_proto(e.proto)),
            None => groups.push((key, vec![iana_proto(e.proto)])),
        }
    }
    let date = r
        .iana
        .iter()
        .find_map(|e| e.registered)
        .map(|d| format!(", registered {d}"))
        .unwrap_or_default();
    let parts: Vec<String> = groups
        .into_iter()
        .map(|(k, protos)| format!("{k} ({})", protos.join(", ")))
        .collect();
    format!("{}{date}", parts.join("; "))
}

fn verdict(r: &PortReport) -> String {
    if r.usable {
        return "usable: claim may hand it out".into();
    }
    let codes: Vec<&str> = r.reasons.iter().map(|x| x.code()).collect();
    if let (Some(claim), Some(server)) = (&r.claim, &r.running) {
        // Its processes are on the `live` lines above.
        let since = server
            .since
            .map(|t| format!(" since {}", output::since(t)))
            .unwrap_or_default();
        return format!(
            "already running: {}'s own server{since}, not usable for another claim: {}",
            claim.label(),
            codes.join(", ")
        );
    }
    let hard = r.reasons.iter().any(|x| {
        matches!(
            x,
            devport_core::Reason::Claimed
                | devport_core::Reason::Leased
                | devport_core::Reason::InUse
        )
    });
    let hint = if hard {
        String::new()
    } else {
        format!(
            "; 'devport claim SERVICE --port {}' can still take it",
            r.port
        )
    };
    format!("not usable: {}{hint}", codes.join(", "))
}
