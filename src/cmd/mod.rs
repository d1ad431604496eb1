//! One file per subcommand; this module resolves the environment once into [`Ctx`] and
//! dispatches.

mod audit;
mod check;
mod claim;
mod doctor;
mod env;
mod exec;
mod export;
mod gc;
mod generate;
mod init;
mod kill;
mod lease;
mod list;
mod release;
mod trust;
mod up;
mod wait;

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use devport_core::env::dotenv::EnvFile;
use devport_core::env::render::{Format, render};
use devport_core::policy::Policy;
use devport_core::store::trust::Withheld;
use devport_core::{ClaimOutcome, ClaimRequest, Project, Proto, Store};
use jiff::Timestamp;

use crate::cli::{Cli, ColorWhen, Command, GlobalArgs};
use crate::output;

/// How a command ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: a negative answer.
    Negative,
    /// Exit with a child's status.
    Exit(u8),
}

/// Everything a command needs from the environment, read once.
pub struct Ctx {
    pub store: Store,
    pub json: bool,
    pub color: bool,
    pub now: Timestamp,
    project_dir: PathBuf,
    global: bool,
}

impl Ctx {
    fn new(args: &GlobalArgs) -> Result<Ctx> {
        let (config, warnings) = devport_core::store::config::load_user_config_with_warnings()?;
        for warning in &warnings {
            output::warn(warning);
        }
        let registry = devport_core::store::config::resolve_registry_path(args.registry.clone())?;
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let color = match args.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                var("NO_COLOR").is_none()
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
                    && std::io::stdout().is_terminal()
            }
        };
        let project_dir = match &args.project {
            Some(dir) => dir.clone(),
            None => std::env::current_dir()
                .map_err(|e| devport_core::Error::io("cannot read the current folder", ".", e))?,
        };
        Ok(Ctx {
            store: Store::open(registry, config)?,
            json: args.json,
            color: color && !args.json,
            now: Timestamp::now(),
            project_dir,
            global: args.global,
        })
    }

    /// The folder the project is looked up from.
    pub fn project_dir(&self) -> &Path {
        &self.project_dir
    }

    /// The folder a symlinked file that `project`'s command writes (`env --write`, `up --write`)
    /// must point into: the project's, or the current folder for global claims.
    pub fn write_folder(&self, project: &Project) -> PathBuf {
        project
            .path
            .clone()
            .unwrap_or_else(|| self.project_dir.clone())
    }

    /// The dotenv file `path` names for `project`'s variables (`env --write`, `up --write`),
    /// opened and checked (see [`EnvFile::open`]; a symlink is followed only into
    /// [`Ctx::write_folder`]).
    pub fn env_file(&self, project: &Project, path: Option<&Path>) -> Result<Option<EnvFile>> {
        let within = self.write_folder(project);
        Ok(path.map(|path| EnvFile::open(path, &within)).transpose()?)
    }

    /// The project the command acts for.
    pub fn project(&self) -> Result<Project> {
        if self.global {
            return Ok(Project::global());
        }
        let (project, warnings) = Project::detect_with_warnings(&self.project_dir)?;
        for warning in &warnings {
            output::warn(warning);
        }
        Ok(project)
    }

    /// `project` as far as its manifest may be exported (see [`devport_core::store::trust::exportable`]):
    /// what an untrusted manifest would have added is left out and named once on stderr, with
    /// the command that trusts it.
    pub fn exportable(&self, project: &Project) -> Result<Project> {
        let (shown, withheld) = devport_core::store::trust::exportable(&self.store, project)?;
        withheld_note(withheld.as_ref());
        Ok(shown)
    }

    /// The port policy: the configuration plus this machine's OS ranges.
    pub fn policy(&self) -> Policy {
        Policy::of_this_machine(self.store.config())
    }

    /// Claims through the library and shows its warnings on stderr (rules an exact `--port`
    /// breaks, a preferred port an existing claim is not on), and one for a range (`policy`'s,
    /// when it is not the configured one) that an existing claim lies outside of: a range
    /// only steers a new claim.
    pub fn claim(&self, policy: &Policy, req: &ClaimRequest<'_>) -> Result<ClaimOutcome> {
        let outcome = devport_core::ops::claim::claim(&self.store, policy, req, self.now)?;
        for warning in &outcome.warnings {
            output::warn(warning);
        }
        let ports = outcome.claim.ports();
        if !outcome.new
            && policy.range != self.store.config().range
            && !(policy.range.contains(ports.lo()) && policy.range.contains(ports.hi()))
        {
            output::warn(&format!(
                "{} already holds {}, outside the range {}; run '{}' to move it",
                outcome.claim.label(),
                output::port_list(ports),
                policy.range,
                devport_core::ops::claim::move_command(req, Some(policy.range))
            ));
        }
        Ok(outcome)
    }

    /// The format variables are printed in: `--format`, else JSON under `--json`, else sh.
    /// `--json` with another `--format` is refused (exit 2) rather than one of them ignored.
    pub fn print_format(&self, format: Option<Format>) -> Result<Format> {
        match format {
            Some(f) if self.json && f != Format::Json => Err(devport_core::Error::invalid(
                devport_core::error::Input::Argument,
                format!(
                    "--json and {} ask for two formats; keep one",
                    format_flag(f)
                ),
            )
            .into()),
            Some(f) => Ok(f),
            None if self.json => Ok(Format::Json),
            None => Ok(Format::Sh),
        }
    }
}

/// Names on stderr, once, what an untrusted manifest was kept from exporting (see
/// [`devport_core::store::trust::exportable`]), with the command that trusts it.
pub fn withheld_note(withheld: Option<&Withheld>) {
    if let Some(withheld) = withheld {
        output::note(&withheld.to_string());
    }
}

/// Says on stderr, one line, that this checkout leaves the manifest's port of a service to
/// the main checkout and which port it uses instead (see [`devport_core::ops::checkout`]).
pub fn yielded_note(yielded: &devport_core::ops::checkout::Yielded) {
    let Some(uses) = yielded.uses.filter(|&uses| uses != yielded.port) else {
        return;
    };
    let main = yielded
        .main
        .as_ref()
        .map_or_else(String::new, |main| format!(" ({})", main.display()));
    output::note(&format!(
        "{}: port {} is for the main checkout{main}; this checkout ({}) uses {uses}",
        yielded.service, yielded.port, yielded.checkout
    ));
}

/// Prints `vars` in `format`, or merges them into the dotenv file `write` (opened with
/// [`EnvFile::open`] before anything was claimed, so a bad file stops the command early).
/// With no variables nothing is written, and stderr says so and why (`none`). The file's lines
/// of `unset` (computed variables with no value now) are removed.
pub fn emit_vars(
    store: &Store,
    vars: &[(String, String)],
    unset: &[String],
    format: Format,
    write: Option<&EnvFile>,
    print_too: bool,
    none: &str,
) -> Result<()> {
    if let Some(file) = write {
        if vars.is_empty() {
            output::note(&format!(
                "{} was not written: {none}",
                file.path().display()
            ));
        } else {
            // Read again and merged under the registry's lock, so devport processes writing one
            // shared `.env` at once do not drop each other's lines.
            let changed = store.exclusive(|| {
                let fresh = file.reopen()?;
                let merged = fresh.merged_dropping(vars, unset)?;
                if let Some(merged) = &merged {
                    fresh.write(merged)?;
                }
                Ok(merged.is_some())
            })?;
            // Nothing changed: the file is left alone, its modification time too.
            output::note(&if changed {
                format!("{} variable(s) in {}", vars.len(), file.path().display())
            } else {
                format!(
                    "{} is up to date ({} variable(s), unchanged)",
                    file.path().display(),
                    vars.len()
                )
            });
        }
    } else if vars.is_empty() {
        output::note(&format!("no variables: {none}"));
    }
    if write.is_none() || print_too {
        output::text(&render(vars, format))?;
    }
    Ok(())
}

/// `--format NAME`, as typed.
pub fn format_flag(format: Format) -> String {
    use clap::ValueEnum as _;
    format!(
        "--format {}",
        format
            .to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string())
    )
}

/// Runs the command line.
/// The protocols `kill` or `wait` look at on `target`: for a port, `--proto` (`given`, TCP when
/// not given); a service uses its claim's, so a `--proto` given with one is ignored, with a
/// warning that says so.
pub fn proto_for(target: &devport_core::ops::control::Target, given: Option<Proto>) -> Proto {
    if let (devport_core::ops::control::Target::Service(service), Some(given)) = (target, given) {
        output::warn(&format!(
            "--proto {given} is ignored: service {service} uses its claim's protocols (--proto is for a PORT)"
        ));
    }
    given.unwrap_or_default()
}

pub fn run(cli: &Cli) -> Result<Outcome> {
    // Completions and the man page need nothing from the environment (and work with a
    // broken config); every other command gets the resolved `Ctx`.
    let ctx = || Ctx::new(&cli.global);
    match &cli.command {
        Command::Claim(args) => claim::run(&ctx()?, args),
        Command::Release(args) => release::run(&ctx()?, args),
        Command::List(args) => list::run(&ctx()?, args),
        Command::Check(args) => check::run(&ctx()?, args),
        Command::Audit => audit::run(&ctx()?),
        Command::Env(args) => env::run(&ctx()?, args),
        Command::Exec(args) => exec::run(&ctx()?, args),
        Command::Up(args) => up::run(&ctx()?, args),
        Command::Init => init::run(&ctx()?),
        Command::Lease(args) => lease::run(&ctx()?, args),
        Command::Gc(args) => gc::run(&ctx()?, args),
        Command::Doctor => doctor::run(&ctx()?),
        Command::Completions { shell } => generate::completions(*shell),
        Command::Man(args) => generate::man(args),
        Command::Kill(args) => kill::run(&ctx()?, args),
        Command::Wait(args) => wait::run(&ctx()?, args),
        Command::Export(args) => export::run(&ctx()?, args),
        Command::Trust(args) => trust::run(&ctx()?, args),
    }
}
