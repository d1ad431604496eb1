//! `devport audit`: every listening socket, classified.

use anyhow::Result;
use devport::check::{self, Finding};
use devport::ports::sockets;

use super::{Ctx, Outcome};
use crate::output;

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let reg = ctx.store.read()?;
    let rows = check::audit(&reg, sockets::list());
    if ctx.json {
        output::json(&rows)?;
        return Ok(Outcome::Success);
    }
    let table = rows.iter().map(|r| {
        let s = &r.socket;
        let finding = match r.finding {
            Finding::Ok => output::paint(ctx, "ok", output::Paint::Green),
            Finding::Conflict => output::paint(ctx, "conflict", output::Paint::Red),
            Finding::Known => "known".to_string(),
            Finding::Unknown => output::paint(ctx, "unknown", output::Paint::Yellow),
        };
        vec![
            s.proto.to_string(),
            output::socket_addr(s),
            output::owner(s),
            r.claim
                .as_ref()
                .map_or_else(|| "-".into(), |c| output::clean(&c.label()).into_owned()),
            r.iana_service.unwrap_or("-").to_string(),
            finding,
        ]
    });
    output::table(
        ctx,
        &["PROTO", "ADDRESS", "OWNER", "CLAIM", "IANA", "FINDING"],
        table,
    )?;
    Ok(Outcome::Success)
}
