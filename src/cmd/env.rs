//! `devport env`: the project's claims as environment variables.

use anyhow::Result;
use std::path::Path;

use devport_core::env::render::Format;

use super::{Ctx, Outcome};
use crate::cli::EnvArgs;
use crate::output;

pub fn run(ctx: &Ctx, args: &EnvArgs) -> Result<Outcome> {
    devport_core::env::names::validate_prefix(&args.prefix)?;
    if let Some(path) = &args.write {
        refuse_format_with_write(ctx, args.format, path)?;
    }
    let project = ctx.project()?;
    let file = ctx.env_file(&project, args.write.as_deref())?;
    let project = ctx.exportable(&project)?;
    let reg = ctx.store.read()?;
    devport_core::ops::checkout::yielded_claims(&project, &reg, None)?
        .iter()
        .for_each(super::yielded_note);
    let mut vars = project.port_vars(&reg, None, &args.prefix, &project.env_names())?;
    let mut unset = Vec::new();
    for (name, note) in project.computed_vars(&reg, &args.prefix, &mut vars)? {
        output::note(&note);
        unset.push(name);
    }
    let none = format!(
        "the project {} has no claims; run 'devport claim SERVICE' or 'devport up' first",
        output::clean(&project.name)
    );
    super::emit_vars(
        &ctx.store,
        &vars,
        &unset,
        ctx.print_format(args.format)?,
        file.as_ref(),
        false,
        &none,
    )?;
    Ok(Outcome::Success)
}

/// `--write` merges dotenv lines into a file and prints nothing, so an output format other
/// than dotenv (`--format sh|json`, `--json`) would be silently ignored: refused (exit 2).
fn refuse_format_with_write(ctx: &Ctx, format: Option<Format>, path: &Path) -> Result<()> {
    let asked = match format {
        Some(Format::Dotenv) | None if !ctx.json => return Ok(()),
        Some(Format::Dotenv) | None => "--json".to_string(),
        Some(other) => super::format_flag(other),
    };
    Err(devport_core::Error::invalid(devport_core::error::Input::Argument, format!(
        "--write {} writes dotenv lines, so {asked} cannot apply; drop {asked} to write the file, or drop --write to print the variables",
        path.display()
    ))
    .into())
}
