//! `devport env`: the project's claims as environment variables.

use anyhow::Result;

use super::{Ctx, Outcome};
use crate::cli::EnvArgs;

pub fn run(ctx: &Ctx, args: &EnvArgs) -> Result<Outcome> {
    if !args.prefix.is_empty() {
        devport::envfile::validate_var(&args.prefix)?;
    }
    let project = ctx.project()?;
    let vars = ctx.project_vars(&project, None, &args.prefix)?;
    ctx.emit_vars(&vars, args.format, args.write.as_deref(), false)?;
    Ok(Outcome::Success)
}
