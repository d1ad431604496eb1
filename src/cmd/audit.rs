//! `devport audit`: every listening socket, classified.

use anyhow::Result;
use devport_core::ops::check::{self, Finding};
use devport_core::os::sockets;

use super::{Ctx, Outcome};
use crate::output;

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let reg = ctx.store.read()?;
    let rows = check::audit(&reg, sockets::list());
    // Exit 1 when a conflict is shown, so scripts can gate on it.
    let outcome = if rows.iter().any(|r| r.finding == Finding::Conflict) {
        Outcome::Negative
    } else {
        Outcome::Success
    };
    if ctx.json {
        output::json(&rows)?;
        return Ok(outcome);
    }
    let table = rows.iter().map(|r| {
        let s = &r.socket;
        let finding = match r.finding {
            Finding::Ok => output::Cell::painted("ok", output::Paint::Green),
            Finding::Conflict => output::Cell::painted("conflict", output::Paint::Red),
            Finding::Known => "known".into(),
            Finding::Unknown => output::Cell::painted("unknown", output::Paint::Yellow),
        };
        vec![
            s.proto.to_string().into(),
            output::socket_addr(s).into(),
            match &s.container {
                Some(c) => format!("{}  {c}", output::owner(s)),
                None => output::owner(s),
            }
            .into(),
            r.claim
                .as_ref()
                .map_or_else(|| "-".into(), |c| c.label().into()),
            r.iana_service.unwrap_or("-").into(),
            finding,
        ]
    });
    output::table(
        ctx.color,
        &["PROTO", "ADDRESS", "OWNER", "CLAIM", "IANA", "FINDING"],
        table,
    )?;
    Ok(outcome)
}
