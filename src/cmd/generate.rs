//! `devport completions` and `devport man`: generated from the clap definitions.

use anyhow::Result;
use clap::CommandFactory as _;

use super::Outcome;
use crate::cli::Cli;

pub fn completions(shell: clap_complete::Shell) -> Result<Outcome> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "devport", &mut out);
    crate::output::text(&String::from_utf8_lossy(&out))?;
    Ok(Outcome::Success)
}

pub fn man() -> Result<Outcome> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    crate::output::text(&String::from_utf8_lossy(&out))?;
    Ok(Outcome::Success)
}
