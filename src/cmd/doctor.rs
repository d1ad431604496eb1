//! `devport doctor`: is the registry healthy, and does every claim still hold up?

use anyhow::Result;
use devport_core::os::sockets;

use super::{Ctx, Outcome};
use crate::output;

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let policy = ctx.policy();
    for unread in &policy.os().unread {
        output::note(&format!("not read from the OS: {unread}"));
    }
    let problems = devport_core::ops::doctor::doctor(&ctx.store, &policy, &sockets::list());
    if ctx.json {
        output::json(&problems)?;
    } else if problems.is_empty() {
        output::line(&format!(
            "registry {}: no problems found",
            output::clean(&ctx.store.path().display().to_string())
        ))?;
    } else {
        let text: Vec<String> = problems
            .iter()
            .map(|p| {
                format!(
                    "{}: {}\n  fix: {}",
                    p.code,
                    output::clean(&p.message),
                    output::clean(&p.fix)
                )
            })
            .collect();
        output::line(&text.join("\n"))?;
    }
    Ok(
        if problems
            .iter()
            .any(devport_core::ops::doctor::Problem::is_environment)
        {
            Outcome::Exit(crate::exit::ENV)
        } else if problems.is_empty() {
            Outcome::Success
        } else {
            Outcome::Negative
        },
    )
}
