//! `devport doctor`: is the registry healthy, and does every claim still hold up?

use crate::ports::sockets;
use anyhow::Result;

use super::{Ctx, Outcome};
use crate::app::output;

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let policy = ctx.policy();
    for unread in &policy.os().unread {
        output::note(&format!("not read from the OS: {unread}"));
    }
    let problems = crate::doctor::doctor(&ctx.store, &policy, &sockets::list());
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
        if problems.iter().any(crate::doctor::Problem::is_environment) {
            Outcome::Exit(crate::app::exit::ENV)
        } else if problems.is_empty() {
            Outcome::Success
        } else {
            Outcome::Negative
        },
    )
}
