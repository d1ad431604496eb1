//! `devport list`: the claims, grouped by project, and the live leases.

use anyhow::Result;
use devport_core::os::sockets;

use devport_core::Claim;
use devport_core::store::registry::LeaseRecord;

use super::lease::LeaseView;
use super::{Ctx, Outcome};
use crate::cli::ListArgs;
use crate::output::{self, ClaimView};

pub fn run(ctx: &Ctx, args: &ListArgs) -> Result<Outcome> {
    let reg = ctx.store.read()?;
    // Recorded leases whose process is gone are dropped by the next write: not shown.
    let live_leases =
        || -> Vec<&LeaseRecord> { reg.leases.iter().filter(|l| l.is_live(ctx.now)).collect() };
    if args.leases {
        return show_leases(ctx, &live_leases());
    }
    let here = if args.here {
        Some(ctx.project()?.path)
    } else {
        None
    };
    let mut claims: Vec<_> = reg
        .claims
        .iter()
        .filter(|c| here.as_ref().is_none_or(|p| &c.project_path == p))
        .collect();
    claims.sort_by(|a, b| {
        (&a.project, &a.project_path, a.block.port).cmp(&(
            &b.project,
            &b.project_path,
            b.block.port,
        ))
    });
    // Checkouts are named among all of a project's claims, so `--here` names them the same.
    let checkouts = devport_core::project::claim_checkouts(&reg.claims, |c| c.project.clone());
    let held = reg.held();
    let live = args.live.then(|| {
        let mut socks = sockets::on_ports(&sockets::list(), |p| held.contains(p));
        devport_core::os::container::annotate(&mut socks);
        socks
    });
    let views: Vec<ClaimView> = claims
        .iter()
        .map(|c| ClaimView {
            live: live.as_ref().map(|socks| {
                socks
                    .iter()
                    .filter(|s| c.ports().contains(s.port))
                    .cloned()
                    .collect()
            }),
            checkout: c
                .project_path
                .as_deref()
                .and_then(|p| checkouts.get(p).cloned()),
            ..ClaimView::new(c, None)
        })
        .collect();
    if ctx.json {
        output::json(&views)?;
        return Ok(Outcome::Success);
    }
    if claims.is_empty() {
        output::note("no claims yet; run 'devport claim SERVICE' in a project");
    } else {
        claim_table(ctx, args, &claims, &views)?;
    }
    // Leases belong to processes, not projects: shown with every claim, not with --here.
    let leases = if args.here { Vec::new() } else { live_leases() };
    if !leases.is_empty() {
        output::line(if claims.is_empty() {
            "LEASES"
        } else {
            "\nLEASES"
        })?;
        lease_table(ctx, &leases)?;
    }
    Ok(Outcome::Success)
}

fn claim_table(ctx: &Ctx, args: &ListArgs, claims: &[&Claim], views: &[ClaimView]) -> Result<()> {
    // The CHECKOUT column, when a project listed has several checkouts (`claims` is sorted by
    // project, then folder).
    let several = claims
        .windows(2)
        .any(|w| w[0].project == w[1].project && w[0].project_path != w[1].project_path);
    let rows = claims.iter().zip(views).map(|(c, view)| {
        let mut row = vec![
            output::port_list(c.ports()),
            c.service.clone(),
            c.project.clone(),
        ];
        if several {
            row.push(view.checkout.clone().unwrap_or_else(|| "-".into()));
        }
        row.extend([
            c.block.proto.to_string(),
            output::local_time(c.last_used),
            c.project_path
                .as_ref()
                .map_or_else(|| "(global)".into(), |p| p.display().to_string()),
        ]);
        if let Some(socks) = &view.live {
            let text: Vec<String> = socks.iter().map(output::socket_line).collect();
            row.push(if text.is_empty() {
                "idle".into()
            } else {
                text.join(", ")
            });
        }
        row
    });
    let mut header = vec!["PORT", "SERVICE", "PROJECT"];
    if several {
        header.push("CHECKOUT");
    }
    header.extend(["PROTO", "LAST USED", "PATH"]);
    if args.live {
        header.push("LIVE");
    }
    output::table(ctx.color, &header, rows)
}

/// `list --leases`: the live leases alone, as a table or a JSON array.
fn show_leases(ctx: &Ctx, leases: &[&LeaseRecord]) -> Result<Outcome> {
    if ctx.json {
        output::json(&leases.iter().map(|l| LeaseView::new(l)).collect::<Vec<_>>())?;
    } else if leases.is_empty() {
        output::note("no live leases");
    } else {
        lease_table(ctx, leases)?;
    }
    Ok(Outcome::Success)
}

fn lease_table(ctx: &Ctx, leases: &[&LeaseRecord]) -> Result<()> {
    let rows = leases.iter().map(|l| {
        vec![
            output::port_list(l.ports()),
            l.block.proto.to_string(),
            l.pid.to_string(),
            devport_core::os::process::name(l.pid)
                .map_or_else(|| "-".into(), |n| output::clean(&n).into_owned()),
            l.expires
                .map_or_else(|| "when the process exits".into(), output::local_time),
        ]
    });
    output::table(
        ctx.color,
        &["PORT", "PROTO", "PID", "PROCESS", "EXPIRES"],
        rows,
    )
}
