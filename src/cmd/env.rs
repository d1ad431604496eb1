//! `devport env`: the project's claims as environment variables.

use anyhow::Result;
use devport::envfile::EnvFile;

use super::{Ctx, Outcome};
use crate::cli::EnvArgs;

pub fn run(ctx: &Ctx, args: &EnvArgs) -> Result<Outcome> {
    devport::envfile::validate_prefix(&args.prefix)?;
    let project = ctx.project()?;
    let file = args.write.as_deref().map(EnvFile::open).transpose()?;
    let vars = ctx.project_vars(&project, None, &args.prefix)?;
    ctx.emit_vars(&vars, args.format, file.as_ref(), false)?;
    Ok(Outcome::Success)
}
