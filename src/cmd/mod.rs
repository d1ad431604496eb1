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
mod up;
mod wait;

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use devport::envfile::{self, EnvFile, Format};
use devport::fsutil::FileMode;
use devport::{ClaimOutcome, ClaimRequest, Config, OsPorts, Policy, Project, Store};
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
    pub config: Config,
    pub json: bool,
    pub color: bool,
    pub now: Timestamp,
    project_dir: PathBuf,
    global: bool,
}

impl Ctx {
    fn new(args: &GlobalArgs) -> Result<Ctx> {
        let (config, warnings) = devport::config::load_user_config_with_warnings()?;
        for warning in &warnings {
            output::warn(warning);
        }
        let lock_timeout = devport::config::lock_timeout(&config)?;
        let registry = devport::config::resolve_registry_path(args.registry.clone())?;
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
                .map_err(|e| devport::Error::io("cannot read the current folder", ".", e))?,
        };
        Ok(Ctx {
            store: Store::new(registry, lock_timeout),
            config,
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

    /// The port policy: the configuration plus this machine's OS ranges.
    pub fn policy(&self) -> Policy {
        Policy::new(&self.config, OsPorts::read())
    }

    /// Claims through the library and shows the warnings of an exact `--port` on stderr.
    pub fn claim(&self, policy: &Policy, req: &ClaimRequest<'_>) -> Result<ClaimOutcome> {
        let outcome = devport::claim(&self.store, policy, req, self.now)?;
        for warning in &outcome.warnings {
            output::warn(warning);
        }
        Ok(outcome)
    }

    /// The environment variables of `project`'s claims (or only of `services`, when given).
    pub fn project_vars(
        &self,
        project: &Project,
        services: Option<&[&str]>,
        prefix: &str,
    ) -> Result<Vec<(String, String)>> {
        let reg = self.store.read()?;
        let mut claims: Vec<&devport::Claim> = reg
            .claims
            .iter()
            .filter(|c| {
                c.project_path == project.path
                    && services.is_none_or(|s| s.contains(&c.service.as_str()))
            })
            .collect();
        // By service name: a moved port does not reorder the lines of a .env file.
        claims.sort_by(|a, b| a.service.cmp(&b.service));
        Ok(envfile::vars(&claims, &project.env_names(), prefix)?)
    }

    /// Prints `vars` in `format`, or merges them into the dotenv file `write` (opened with
    /// [`EnvFile::open`] before anything was claimed, so a bad file stops the command early).
    pub fn emit_vars(
        &self,
        vars: &[(String, String)],
        format: Format,
        write: Option<&EnvFile>,
        print_too: bool,
    ) -> Result<()> {
        if let Some(file) = write {
            if let Some(merged) = file.merged(vars)? {
                let target = file.target();
                devport::fsutil::write_atomic(target, &merged, file_mode(target))?;
            }
            output::note(&format!(
                "{} variable(s) in {}",
                vars.len(),
                file.path().display()
            ));
        }
        if write.is_none() || print_too {
            let format = if self.json { Format::Json } else { format };
            output::text(&envfile::render(vars, format))?;
        }
        Ok(())
    }
}

/// The mode to give a rewritten file: exactly its current one, else the umask's choice.
fn file_mode(path: &Path) -> FileMode {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        return FileMode::Exact(
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777,
        );
    }
    let _ = path;
    FileMode::Masked(0o666)
}

/// Runs the command line.
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
        Command::Man => generate::man(),
        Command::Kill(args) => kill::run(&ctx()?, args),
        Command::Wait(args) => wait::run(&ctx()?, args),
        Command::Export(args) => export::run(&ctx()?, args),
    }
}
