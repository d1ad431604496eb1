//! `devport list`: the claims, grouped by project.

use anyhow::Result;
use devport::ports::sockets;

use super::{Ctx, Outcome};
use crate::cli::ListArgs;
use crate::output::{self, ClaimView};

pub fn run(ctx: &Ctx, args: &ListArgs) -> Result<Outcome> {
    let reg = ctx.store.read()?;
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
        (&a.project, &a.project_path, a.port).cmp(&(&b.project, &b.project_path, b.port))
    });
    let held = reg.held();
    let live = args
        .live
        .then(|| sockets::on_ports(&sockets::list(), |p| held.contains(p)));
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
            ..ClaimView::new(c, None)
        })
        .collect();
    if ctx.json {
        output::json(&views)?;
        return Ok(Outcome::Success);
    }
    if claims.is_empty() {
        output::note("no claims yet; run 'devport claim SERVICE' in a project");
        return Ok(Outcome::Success);
    }
    let rows = claims.iter().zip(&views).map(|(c, view)| {
        let mut row = vec![
            output::port_list(c.ports()),
            c.service.clone(),
            c.project.clone(),
            c.proto.to_string(),
            output::local_time(c.last_used),
            c.project_path
                .as_ref()
                .map_or_else(|| "(global)".into(), |p| p.display().to_string()),
        ];
        if let Some(socks) = &view.live {
            let text: Vec<String> = socks
                .iter()
                .map(|s| {
                    format!(
                        "{} {} {}",
                        s.proto,
                        output::socket_addr(s),
                        output::owner(s)
                    )
                })
                .collect();
            row.push(if text.is_empty() {
                "idle".into()
            } else {
                text.join(", ")
            });
        }
        row
    });
    let mut header = vec!["PORT", "SERVICE", "PROJECT", "PROTO", "LAST USED", "PATH"];
    if args.live {
        header.push("LIVE");
    }
    output::table(ctx, &header, rows)?;
    Ok(Outcome::Success)
}
