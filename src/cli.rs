//! The command line, declared with clap's derive API. Doc comments are the help text; this
//! file has no behaviour.

// Doc comments here are help text for people, not rustdoc: no backticks around names.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCandidates;
use devport_core::env::render::Format;
use devport_core::model::types::{PortRange, Proto};

const AFTER_LONG_HELP: &str = "\
Exit codes:
  0  success
  1  a negative answer: port not usable or taken, no free port, port held (exec), conflict (audit)
  2  bad usage or input
  3  the registry or environment failed (corrupt file, permissions, lock timeout, disk full)
  4  exec: the service's own server is already running on its port (nothing was run)

Environment:
  DEVPORT_REGISTRY      registry file (default: the per-user state folder, registry.json)
  DEVPORT_CONFIG        config file (default: the per-user config folder, config.toml)
  DEVPORT_LOCK_TIMEOUT  how long to wait for the registry lock, e.g. 10s
  DEVPORT_TRUSTED_PATHS folders whose manifests are trusted without 'devport trust' (CI),
                        separated by : (; on Windows)
  NO_COLOR              disables colours when set to anything but the empty string";

/// Stable, conflict-free ports for every local development project.
///
/// devport claim web, run inside a project, prints a port for that project's web service: the
/// same port every time, never one another project holds, never one that is busy.
#[derive(Debug, Parser)]
#[command(name = "devport", version, about, long_about, after_long_help = AFTER_LONG_HELP, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, shown under their own heading.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Registry file to use instead of the per-user one
    #[arg(long, global = true, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// Print JSON on stdout instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// When to use colours
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
    /// Act for the project that holds DIR instead of the current folder
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "global")]
    pub project: Option<PathBuf>,
    /// Act outside any project (claims that belong to no folder)
    #[arg(long, global = true)]
    pub global: bool,
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// Colours when the stream is a terminal, NO_COLOR is unset or empty and TERM is not dumb
    Auto,
    /// Always
    Always,
    /// Never
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    Claim(ClaimArgs),
    Release(ReleaseArgs),
    List(ListArgs),
    Check(CheckArgs),
    /// List every listening TCP and bound UDP socket, with owner, claim and a finding
    ///
    /// Findings: ok (claimed, bound by a process working in the project's folder), conflict
    /// (claimed by one project, bound by a process working elsewhere), known (unclaimed, but
    /// IANA-assigned or a dev-tool default), unknown (unclaimed and unassigned: worth a look).
    ///
    /// Example:
    ///   devport audit
    ///   devport audit --json | jq '.[] | select(.finding == "conflict")'
    #[command(verbatim_doc_comment)]
    Audit,
    Env(EnvArgs),
    Exec(ExecArgs),
    Up(UpArgs),
    /// Write a commented starter devport.toml in the project folder
    ///
    /// Refuses to overwrite an existing one.
    ///
    /// Example:
    ///   devport init && $EDITOR devport.toml && devport up
    #[command(verbatim_doc_comment)]
    Init,
    Lease(LeaseArgs),
    Gc(GcArgs),
    /// Check the registry and every claim's port today; exit 1 if anything needs fixing
    ///
    /// Looks at the registry file (parses, version, permissions), overlapping or duplicate
    /// claims, claims whose folder is gone, and each claimed port: bound by a process outside
    /// the project, inside the OS ephemeral or an excluded range, IANA-assigned, a dev-tool
    /// default or browser-blocked. Every finding says what to do.
    ///
    /// Example:
    ///   devport doctor
    #[command(verbatim_doc_comment)]
    Doctor,
    /// Print a shell completion script
    ///
    /// The script asks devport at each TAB, so a service argument (claim, release, exec, kill,
    /// wait) is completed with the services of the project in the current folder, and check
    /// with the ports of its claims.
    ///
    /// Example:
    ///   mkdir -p ~/.local/share/bash-completion/completions
    ///   devport completions bash > ~/.local/share/bash-completion/completions/devport
    ///   devport completions zsh > "${fpath[1]}/_devport"
    #[command(verbatim_doc_comment)]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    Man(ManArgs),
    Kill(KillArgs),
    Wait(WaitArgs),
    Export(ExportArgs),
    Trust(TrustArgs),
}

/// Trust this project's devport.toml, so up, env and exec export its [env] values
///
/// A devport.toml is committed text: its [env] values and env = "..." names become variables
/// of your shell and of the commands exec runs, so they are exported only once you have read
/// the file and trusted it, as direnv allow does. Until then only the <SERVICE>_PORT variables
/// are exported, and stderr says what was left out. trust records the manifest's path and the
/// SHA-256 of its content in your own trust file (trusted.json beside the registry); a
/// manifest that changes must be trusted again. devport init trusts the file it writes. In
/// CI, DEVPORT_TRUSTED_PATHS lists folders whose manifests are trusted as they are.
///
/// Example:
///   less devport.toml && devport trust
///   devport trust --list
///   devport trust --revoke
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct TrustArgs {
    /// Stop trusting the manifest (this project's, or the one at PATH)
    #[arg(long, conflicts_with = "list")]
    pub revoke: bool,
    /// List the trusted manifests, and whether each is unchanged since
    #[arg(long)]
    pub list: bool,
    /// With --revoke: a manifest (or its folder) to stop trusting, even one that is gone
    #[arg(value_name = "PATH", requires = "revoke")]
    pub path: Option<PathBuf>,
}

/// Print a man page (roff) on stdout, or write them all into a folder
///
/// devport.1 covers the whole tool; devport-claim.1, devport-release.1 and so on cover one
/// command each.
///
/// Example:
///   devport man --dir ~/.local/share/man/man1
///   devport man claim | man -l -
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ManArgs {
    /// The command whose page to print (default: the page of devport itself)
    #[arg(value_name = "COMMAND", conflicts_with = "dir")]
    pub page: Option<String>,
    /// Write every page (devport.1, devport-claim.1, ...) into this folder
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Print the port of a service of this project, claiming one if needed
///
/// The same service in the same project always gets the same port. A new port comes from a
/// stable hash of project/service and is never one another claim holds, one that is busy,
/// IANA-assigned, inside the OS ephemeral range, a dev-tool default or browser-blocked.
///
/// Example:
///   PORT=$(devport claim web)
///   devport claim db --port 5432
///   devport claim grpc --count 3 --proto both
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ClaimArgs {
    /// Service name: 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit
    #[arg(add = ArgValueCandidates::new(crate::complete::services))]
    pub service: String,
    /// Take exactly this port (fails if another claim holds it or something listens on it)
    #[arg(long, value_name = "P", value_parser = parse_port, conflicts_with = "prefer", allow_negative_numbers = true)]
    pub port: Option<u16>,
    /// Try this port first, fall back to the policy's pick
    #[arg(long, value_name = "P", value_parser = parse_port, allow_negative_numbers = true)]
    pub prefer: Option<u16>,
    /// Claim N consecutive ports (printed separated by spaces)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_count, allow_negative_numbers = true)]
    pub count: u16,
    /// Protocols the ports are for
    #[arg(long, value_enum, default_value_t)]
    pub proto: Proto,
    /// Pick new ports from this range instead of the configured one, e.g. 20000-20999
    #[arg(long, value_name = "A-B", value_parser = parse_range)]
    pub range: Option<PortRange>,
    /// Give an existing claim a new port under today's policy (the old one is released)
    #[arg(long = "move")]
    pub relocate: bool,
}

/// Remove claims, or end a lease
///
/// Releasing a service that holds no claim prints a note and succeeds, so scripts may call it
/// blindly. --lease P ends the lease holding P, whichever process it is for.
///
/// Example:
///   devport release web
///   devport release --port 24117
///   devport release --all
///   devport release --lease 24117
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["services", "port", "all", "lease"]))]
pub struct ReleaseArgs {
    /// Services of this project to release
    #[arg(add = ArgValueCandidates::new(crate::complete::services))]
    pub services: Vec<String>,
    /// Release whatever claim holds this port, in any project
    #[arg(long, value_name = "P", value_parser = parse_port, allow_negative_numbers = true)]
    pub port: Option<u16>,
    /// Release every claim of this project
    #[arg(long)]
    pub all: bool,
    /// End the lease that holds this port, whichever process it is for
    #[arg(long, value_name = "P", value_parser = parse_port)]
    pub lease: Option<u16>,
}

/// Show the claims, grouped by project, then the live leases
///
/// The table of leases (LEASES) follows the claims; with JSON output only claims are printed, and
/// --leases prints only the leases (table or JSON array).
///
/// Example:
///   devport list
///   devport list --here --json
///   devport list --leases --json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ListArgs {
    /// Only the current project's claims
    #[arg(long)]
    pub here: bool,
    /// Add who is listening on each claimed port now
    #[arg(long)]
    pub live: bool,
    /// Show the live leases instead of the claims
    #[arg(long, conflicts_with_all = ["here", "live"])]
    pub leases: bool,
}

/// Tell the whole story of ports: IANA, dev tools, browsers, OS, live sockets, devport
///
/// For each port: its RFC 6335 range, IANA assignments, known dev-tool defaults, whether
/// browsers block it, what the OS keeps it for, the sockets bound to it with their owners,
/// the devport claim or lease on it, and a verdict. A port is usable when claim would hand
/// it out by itself. Exits 0 only when every port asked about is usable.
///
/// Example:
///   devport check 2276
///   devport check 3000 8000-8010 --json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CheckArgs {
    /// Ports or ranges (A-B) to check
    #[arg(required = true, value_name = "PORT|A-B", value_parser = parse_range, allow_negative_numbers = true,
          add = ArgValueCandidates::new(crate::complete::ports))]
    pub ports: Vec<PortRange>,
}

/// Print the project's claims as environment variables
///
/// Each service becomes <SERVICE>_PORT (upper-cased, other characters turned into _); a block
/// adds <SERVICE>_PORT_0 ... beside it. env in devport.toml renames a variable. The [env]
/// table of devport.toml adds computed values, such as
/// DATABASE_URL = "postgres://app@localhost:{port:db}/{project}" ({port:SERVICE:N} is port N
/// of a block, counted from 0; {checkout} is main, or the git worktree's id; {{ and }} are
/// literal braces); one that reads a service not
/// claimed yet is left out and named on stderr. Values are quoted for each format. The [env]
/// values and env names are exported only once you have trusted the manifest (devport
/// trust); until then stderr says what was left out.
///
/// Example:
///   eval "$(devport env)"
///   devport env --format dotenv --write .env
///   echo 'eval "$(devport up)"' > .envrc && direnv allow && devport trust
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct EnvArgs {
    /// Output format [default: sh, or json when JSON output is asked for]; --write always
    /// writes dotenv
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Put this before every variable name, e.g. APP_
    #[arg(long, value_name = "P", default_value = "")]
    pub prefix: String,
    /// Merge the variables into this dotenv file (other lines are kept) instead of printing
    #[arg(long, value_name = "FILE", alias = "write-env")]
    pub write: Option<PathBuf>,
}

/// Claim a service's port, then run a command with it
///
/// The command gets PORT and <SERVICE>_PORT (or, with --env NAME, NAME instead), plus the
/// variables of the project's other claims and, once the manifest is trusted (devport trust),
/// the computed values of devport.toml's [env] table (such as DATABASE_URL) and its env names.
/// {port} in an argument becomes the port,
/// {port:OTHER} the port of another claimed service and {port:OTHER:N} port N (from 0) of its
/// block, for servers that ignore PORT ({project} and {checkout} are the project's and the
/// checkout's names). A known dev server (vite, astro, next, nuxt, ng serve,
/// webpack serve, storybook, expo, rails server, manage.py runserver, flask, uvicorn, hugo …)
/// whose command carries no port of its own gets its port flag (vite: --port P --strictPort),
/// unless --no-port-flags is given. The exit
/// status is the command's. The command goes after --. If a process already listens on the
/// service's port, nothing is run: devport exits 4 when it is the service's own server (yours,
/// working in this project), else 1.
///
/// Example:
///   devport exec web -- npm run dev
///   devport exec web -- vite --port {port} --strictPort
///   devport exec api -- ./server --db-port {port:db}
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ExecArgs {
    /// Service name: 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit
    #[arg(add = ArgValueCandidates::new(crate::complete::services))]
    pub service: String,
    /// Name of the variable that carries the port, instead of <SERVICE>_PORT (PORT is set too)
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Run the command as typed: do not add the port flag of a known dev server (vite, next,
    /// ng serve, rails server, manage.py runserver … see docs/commands.md#exec)
    #[arg(long)]
    pub no_port_flags: bool,
    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Claim every service in devport.toml and print their variables
///
/// The variables are each service's <SERVICE>_PORT and the computed values of the [env]
/// table (API_URL = "http://localhost:{port:api}"); the [env] values and env names only once
/// you have trusted the manifest (devport trust). Idempotent: services already claimed
/// keep their ports. All or nothing: every service is checked first, and if any cannot be
/// claimed each one is named with its line in devport.toml and nothing is claimed. After an
/// edit of devport.toml (another port, prefer, count or proto), --move applies it. Claims of
/// this project that the manifest no longer lists are named on stderr.
///
/// Example:
///   devport up --write .env
///   eval "$(devport up)"
///   devport up --move
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct UpArgs {
    /// Output format of the variables [default: sh, or json when JSON output is asked for]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Also merge the variables into this dotenv file (other lines are kept), as env --write
    /// does
    #[arg(long, value_name = "FILE", alias = "write-env")]
    pub write: Option<PathBuf>,
    /// Apply a changed devport.toml: move each claim whose port, prefer, count or proto
    /// differs from it (unchanged claims keep their ports)
    #[arg(long = "move")]
    pub relocate: bool,
}

/// Hold ports for a running process, for parallel tests (no daemon)
///
/// The ports are held until the process exits (default: the shell or test runner that ran
/// devport; DEVPORT_LEASE_OWNER=PID, set by the npm and Python launchers, names another), or
/// until --ttl passes. Nothing else is handed them meanwhile, not even by another project's
/// claim. A warning says when devport's parent is about to exit (a subshell, npx, uvx).
///
/// Example:
///   read -r PG_PORT REDIS_PORT < <(devport lease --count 2)
///   devport lease --ttl 10m
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct LeaseArgs {
    /// Lease N consecutive ports
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_count, allow_negative_numbers = true)]
    pub count: u16,
    /// Protocols the ports are for
    #[arg(long, value_enum, default_value_t)]
    pub proto: Proto,
    /// The process the lease lives with (default: $DEVPORT_LEASE_OWNER, else devport's parent)
    #[arg(long, value_name = "PID", value_parser = parse_pid, allow_negative_numbers = true)]
    pub pid: Option<u32>,
    /// Release the ports after this long even if the process runs on (30s, 10m, 2h)
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub ttl: Option<std::time::Duration>,
    /// Pick from this range instead of the configured one
    #[arg(long, value_name = "A-B", value_parser = parse_range)]
    pub range: Option<PortRange>,
}

/// Drop claims whose project folder is gone, dead leases, and (with --older-than) old claims
///
/// Example:
///   devport gc --dry-run
///   devport gc --older-than 90d
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct GcArgs {
    /// Show what would be removed; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove claims not used for this long (e.g. 30d)
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub older_than: Option<std::time::Duration>,
}

/// Stop what listens on a port, or on a service's ports in this project
///
/// Sends SIGTERM, waits up to --timeout for the port to be free, then gives up, or with
/// --force sends SIGKILL. Prints what it stopped: pid, process, folder. Refuses pid 1, other
/// users' processes (root may, and is told whose), processes it cannot see and the proxies of
/// Docker and Podman (stop the container instead); then nothing is stopped. Exit 0 when the port is free afterwards, 1 when nothing listened, it refused or the
/// port is still busy. Windows has no SIGTERM: there it ends a process only with --force
/// (TerminateProcess, at once, without the process's own cleanup), refuses without it, and
/// refuses the System process and processes it may not open (another user's, a service).
///
/// Example:
///   devport kill 3000
///   devport kill web --dry-run
///   devport kill web --timeout 10s --force
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct KillArgs {
    /// A port number, or a service of this project (all of its ports)
    #[arg(value_name = "PORT|SERVICE", add = ArgValueCandidates::new(crate::complete::services))]
    pub target: String,
    /// How long to wait for the port to be free after SIGTERM
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Send SIGKILL to what is still running after --timeout (Windows: end it at once with
    /// TerminateProcess, then wait up to --timeout)
    #[arg(long)]
    pub force: bool,
    /// Show what would be stopped; stop nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Protocols to look at for a PORT (a service uses its claim's); `None` when not given, so
    /// a service can say it ignores it
    #[arg(long, value_enum, help = for_a_port("Protocols to look at for a PORT"))]
    pub proto: Option<Proto>,
}

/// Wait until a service's ports (or a port) accept connections, then print who serves them
///
/// A TCP port is ready once a connection to it is accepted, a UDP port once it is bound. A
/// service that holds no claim yet is waited for too. With --owned, a port counts only when
/// every socket on it (IPv4 and IPv6) is this project's: every process holding it yours and
/// working inside this project's folder, so a stale server from another checkout or user is
/// not taken for yours. Exit 0 when ready, 1 at --timeout.
///
/// Example:
///   devport exec web -- npm run dev & devport wait web --owned
///   devport wait 5432 --timeout 1m && psql -p 5432
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct WaitArgs {
    /// A port number, or a service of this project (all of its ports)
    #[arg(value_name = "PORT|SERVICE", add = ArgValueCandidates::new(crate::complete::services))]
    pub target: String,
    /// Give up after this long
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Only a port whose every socket is this project's counts
    #[arg(long)]
    pub owned: bool,
    /// Protocols to wait for on a PORT (a service uses its claim's); `None` when not given, so
    /// a service can say it ignores it
    #[arg(long, value_enum, help = for_a_port("Protocols to wait for on a PORT"))]
    pub proto: Option<Proto>,
}

/// Print a reverse-proxy configuration that names each claimed port
///
/// Routes SERVICE.PROJECT.localhost to each claimed TCP port of this project (--all: of every
/// project), for Caddy (a Caddyfile, with HTTPS from Caddy's local CA) or Traefik (a dynamic
/// configuration for its file provider, YAML). Names are made DNS-safe: lower case, other
/// characters than a-z 0-9 - become -. A checkout other than the project's main one (a git
/// worktree, a second clone) gets SERVICE.CHECKOUT.PROJECT.localhost, CHECKOUT being the
/// worktree's id or the clone's folder name; names that would meet are numbered (-2, -3) by
/// age. A block of ports also gets N.SERVICE.PROJECT.localhost for its Nth port.
/// Services with http = false in devport.toml are left out. --write replaces a file
/// atomically, so caddy run --watch or Traefik's file provider picks changes up.
///
/// Example:
///   devport export caddy --write Caddyfile && caddy run --watch
///   devport export traefik --all --write ~/.config/traefik/devport.yml
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ExportArgs {
    /// The proxy to write for
    #[arg(value_enum)]
    pub proxy: Proxy,
    /// Every project in the registry, not only this one
    #[arg(long)]
    pub all: bool,
    /// Replace this file (atomically) instead of printing
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

/// The proxies `export` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Proxy {
    /// A Caddyfile
    Caddy,
    /// A Traefik dynamic configuration (file provider, YAML)
    Traefik,
}

/// The help of a `--proto` that applies to a port only and is optional (a service uses its
/// claim's): `WHAT (a service uses its claim's) [default: tcp]`, the default generated from
/// [`Proto`]'s, as clap shows one.
fn for_a_port(what: &str) -> String {
    format!(
        "{what} (a service uses its claim's) [default: {}]",
        Proto::default()
    )
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    devport_core::model::input::parse_duration(s).map_err(|e| e.to_string())
}

fn parse_port(s: &str) -> Result<u16, String> {
    devport_core::model::input::parse_port(s).map_err(|e| e.to_string())
}

fn parse_range(s: &str) -> Result<PortRange, String> {
    s.parse().map_err(|e: devport_core::Error| e.to_string())
}

fn parse_pid(s: &str) -> Result<u32, String> {
    s.parse().ok().filter(|&pid| pid > 0).ok_or_else(|| {
        format!("invalid process id {s:?}: give the number of a running process, e.g. $$")
    })
}

fn parse_count(s: &str) -> Result<u16, String> {
    let bad = || {
        format!(
            "invalid count {s:?}: a block holds 1 to {} consecutive ports",
            devport_core::model::types::MAX_COUNT
        )
    };
    let n: u16 = s.parse().map_err(|_| bad())?;
    devport_core::model::input::check_count(n)
        .map(|()| n)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
