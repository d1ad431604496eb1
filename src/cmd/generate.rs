//! `devport completions` and `devport man`: generated from the clap definitions.

use std::path::Path;

use anyhow::Result;
use clap::CommandFactory as _;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, roman};

use super::Outcome;
use crate::cli::{Cli, ManArgs};
use crate::output;

/// The completion script of `shell`: it asks `devport` (found on `PATH`) at each TAB, so
/// commands, options and values are completed as `devport --help` shows them, and a service
/// argument with the current project's services (see [`crate::complete`]).
pub fn completions(shell: clap_complete::Shell) -> Result<Outcome> {
    use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};
    let completer: &dyn EnvCompleter = match shell {
        clap_complete::Shell::Bash => &Bash,
        clap_complete::Shell::Elvish => &Elvish,
        clap_complete::Shell::Fish => &Fish,
        clap_complete::Shell::PowerShell => &Powershell,
        clap_complete::Shell::Zsh => &Zsh,
        _ => {
            return Err(devport_core::Error::invalid(
                devport_core::error::Input::Argument,
                format!(
                    "no completion script for {shell}; give bash, zsh, fish, powershell or elvish"
                ),
            )
            .into());
        }
    };
    let mut out = Vec::new();
    completer.write_registration(
        crate::complete::VAR,
        "devport",
        "devport",
        "devport",
        &mut out,
    )?;
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    if shell == clap_complete::Shell::Zsh {
        // Installed as `_devport` in `$fpath`, the file is the body of a function zsh loads at
        // the first TAB: it must complete then too, not only register for the next TAB.
        out.extend_from_slice(
            b"if [ \"$funcstack[1]\" = \"_devport\" ]; then\n    _clap_dynamic_completer_devport \"$@\"\nfi\n",
        );
    }
    crate::output::text(&String::from_utf8_lossy(&out))?;
    Ok(Outcome::Success)
}

/// `devport man [COMMAND]` prints one page; `devport man --dir DIR` writes them all.
pub fn man(args: &ManArgs) -> Result<Outcome> {
    let pages = pages();
    if let Some(dir) = &args.dir {
        write_all(&pages, dir)?;
        return Ok(Outcome::Success);
    }
    let wanted = args
        .page
        .as_deref()
        .map_or_else(|| "devport".to_string(), |p| format!("devport-{p}"));
    let page = pages
        .iter()
        .find(|c| page_name(c) == wanted)
        .ok_or_else(|| {
            let commands: Vec<&str> = pages.iter().skip(1).map(clap::Command::get_name).collect();
            devport_core::Error::invalid(devport_core::error::Input::Argument, format!(
                "no man page for {:?}: give one of {}, or nothing for the page of devport itself",
                args.page.as_deref().unwrap_or_default(),
                commands.join(", ")
            ))
        })?;
    output::text(&String::from_utf8_lossy(&render(page)?))?;
    Ok(Outcome::Success)
}

/// Writes every page into `dir` (created if missing), each file by the rules of `--write`
/// (see [`devport_core::os::fsutil::open_replaceable`]), all checked before any is written.
fn write_all(pages: &[clap::Command], dir: &Path) -> Result<()> {
    devport_core::os::fsutil::ensure_dir(dir, 0o777, "man page folder")?;
    let files = pages
        .iter()
        .map(|page| {
            let path = dir.join(format!("{}.1", page_name(page)));
            devport_core::os::fsutil::open_replaceable(&path, "man page", dir)
        })
        .collect::<devport_core::error::Result<Vec<_>>>()?;
    for (page, file) in pages.iter().zip(&files) {
        file.write(&render(page)?)?;
    }
    output::note(&format!(
        "wrote {} man pages (devport.1, devport-claim.1, ...) into {}",
        pages.len(),
        dir.display()
    ));
    Ok(())
}

/// The command and each visible subcommand, built, so that every one knows its page name
/// (`devport-claim`) and its usage line (`devport claim`), and carries the global options.
fn pages() -> Vec<clap::Command> {
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    let mut pages = vec![root.clone()];
    pages.extend(root.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    pages
}

/// `devport` for the root, `devport-claim` for `claim`.
fn page_name(cmd: &clap::Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

/// One page. `clap_mangen` renders the title, synopsis, options and the list of commands; the
/// description and the text after the options are rendered here, so that examples and tables
/// keep their lines when `man` fills paragraphs.
fn render(cmd: &clap::Command) -> std::io::Result<Vec<u8>> {
    let man = Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    let mut description = Roff::new();
    description.control("SH", ["DESCRIPTION"]);
    if let Some(text) = cmd.get_long_about().or_else(|| cmd.get_about()) {
        help_roff(&mut description, &text.to_string());
    }
    description.to_writer(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    if let Some(text) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        let mut extra = Roff::new();
        help_roff(&mut extra, &text.to_string());
        extra.to_writer(&mut out)?;
    }
    if cmd.get_version().is_some() {
        man.render_version_section(&mut out)?;
    }
    Ok(out)
}

/// Help text as roff. A line ending in `:` followed by indented lines is a section heading
/// (`Example:`, `Exit codes:`); an indented line with two spaces inside it is a table row
/// (`  0  success`), set as a tagged paragraph; other indented lines are examples, kept
/// verbatim; everything else is running text, and a blank line starts a paragraph.
fn help_roff(roff: &mut Roff, text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    let mut verbatim = false;
    for (i, line) in lines.iter().enumerate() {
        let indented = line.starts_with(' ');
        let item = line.trim();
        let example = indented && !is_row(item);
        if verbatim && !example {
            roff.control("fi", []).control("RE", []);
            verbatim = false;
        }
        if item.is_empty() {
            roff.control("PP", []);
        } else if !indented
            && item.ends_with(':')
            && lines.get(i + 1).is_some_and(|next| next.starts_with(' '))
        {
            let heading = item.trim_end_matches(':').to_uppercase();
            roff.control("SH", [heading.as_str()]);
        } else if indented && is_row(item) {
            let (tag, body) = item.split_once("  ").unwrap_or((item, ""));
            roff.control("TP", []);
            roff.text([roman(tag)]);
            roff.text([roman(body.trim())]);
        } else if example {
            if !verbatim {
                roff.control("RS", ["4"]).control("nf", []);
                verbatim = true;
            }
            roff.text([roman(item)]);
        } else {
            roff.text([roman(*line)]);
        }
    }
    if verbatim {
        roff.control("fi", []).control("RE", []);
    }
}

/// Whether an indented help line is a table row: two columns apart by two spaces or more.
fn is_row(item: &str) -> bool {
    item.contains("  ")
}
