//! `devport list`: the claims, grouped by project.

use anyhow::Result;

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
    if ctx.json {
        return output::json(
            &claims
                .iter()
                .map(|c| ClaimView::new(c, None))
                .collect::<Vec<_>>(),
        )
        .map(|()| Outcome::Success);
    }
    if claims.is_empty() {
        output::note("no claims yet; run 'devport claim SERVICE' in a project");
        return Ok(Outcome::Success);
    }
    let rows = claims.iter().map(|c| {
        vec![
            output::port_list(c.ports()),
            c.service.clone(),
            output::clean(&c.project).into_owned(),
            c.proto.to_string(),
            output::local_time(c.last_used),
            c.project_path.as_ref().map_or_else(
                || "(global)".to_string(),
                |p| output::clean(&p.display().to_string()).into_owned(),
            ),
        ]
    });
    output::table(
        ctx,
        &["PORT", "SERVICE", "PROJECT", "PROTO", "LAST USED", "PATH"],
        rows,
    )?;
    Ok(Outcome::Success)
}
