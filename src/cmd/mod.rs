//! One file per subcommand; this module resolves the environment once into [`Ctx`] and
//! dispatches.

mod audit;
mod check;
mod claim;
mod list;
mod release;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use devport::{Config, OsPorts, Policy, Project, Store};
use jiff::Timestamp;

use crate::cli::{Cli, ColorWhen, Command, GlobalArgs};

/// How a command ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: a negative answer.
    Negative,
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
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let config_path = var("DEVPORT_CONFIG")
            .map(PathBuf::from)
            .or_else(default_config_path);
        let config = match &config_path {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        let lock_timeout = match var("DEVPORT_LOCK_TIMEOUT") {
            Some(v) => parse_timeout(&v.to_string_lossy())?,
            None => config.lock_timeout,
        };
        let registry = match args.registry.clone().or_else(|| var("DEVPORT_REGISTRY").map(PathBuf::from)) {
            Some(path) => path,
            None => default_registry_path().ok_or_else(|| {
                devport::Error::Usage("cannot find a home folder for the registry; set DEVPORT_REGISTRY to a file path".into())
            })?,
        };
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

    /// The project the command acts for.
    pub fn project(&self) -> Result<Project> {
        if self.global {
            return Ok(Project::global());
        }
        Ok(Project::detect(&self.project_dir)?)
    }

    /// The port policy: the configuration plus this machine's OS ranges.
    pub fn policy(&self) -> Policy {
        Policy::new(&self.config, OsPorts::read())
    }
}

/// `DEVPORT_LOCK_TIMEOUT`: a duration (`10s`, `1m`) or a number of seconds.
fn parse_timeout(text: &str) -> Result<Duration> {
    if let Ok(secs) = text.trim().parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Ok(Duration::from_secs_f64(secs));
    }
    devport::types::parse_duration(text).map_err(|_| {
        devport::Error::Usage(format!(
            "invalid DEVPORT_LOCK_TIMEOUT {text:?}: give seconds or a duration like 10s"
        ))
        .into()
    })
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "devport")
}

/// `$XDG_STATE_HOME/devport/registry.json` on Linux, the local data folder elsewhere.
fn default_registry_path() -> Option<PathBuf> {
    let dirs = project_dirs()?;
    let dir = dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir());
    Some(dir.join("registry.json"))
}

fn default_config_path() -> Option<PathBuf> {
    Some(project_dirs()?.config_dir().join("config.toml"))
}

/// Runs the command line.
pub fn run(cli: Cli) -> Result<Outcome> {
    let ctx = Ctx::new(&cli.global)?;
    match cli.command {
        Command::Claim(args) => claim::run(&ctx, &args),
        Command::Release(args) => release::run(&ctx, &args),
        Command::List(args) => list::run(&ctx, &args),
        Command::Check(args) => check::run(&ctx, &args),
        Command::Audit => audit::run(&ctx),
    }
}
