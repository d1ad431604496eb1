//! The registry: the per-user JSON file that is the single source of truth for claims and
//! leases, and [`Store`], the only way to read and change it.
//!
//! Writers serialize on a sidecar lock file (see [`lock`]) and replace the registry atomically
//! (see [`crate::os::fsutil::write_atomic`]); readers read the file as it is, since the rename makes
//! every read see a whole version.

mod checked;
pub mod lock;

use checked::Stamp;

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::types::{PortRange, Proto};
use crate::os::fsutil;
use crate::os::platform::{Platform, PlatformInterface as _};
use crate::os::process;
use crate::store::config::Config;

/// The registry format version this build reads and writes.
pub const VERSION: u32 = 1;

/// The whole registry file, with its names held as `S`, project folders as `P` and claims' times
/// as `T`: owned ([`Registry`]), or borrowed from the text for the one-claim lookup
/// ([`Registry::find_in`]: times checked, not converted). Both are read by the same parse, so
/// they accept and refuse the same files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Registry")] // "expected struct Registry", as errors have always said
#[serde(bound(
    deserialize = "S: Deserialize<'de> + AsRef<str>, P: Deserialize<'de>, T: checked::ClaimTime<'de>"
))]
pub struct RegistryOf<S, P, T = Timestamp> {
    /// Format version; a newer one is refused, never rewritten.
    pub version: u32,
    /// Claims, sorted by port.
    #[serde(default)]
    pub claims: Vec<ClaimOf<S, P, T>>,
    /// Leases held for live processes, sorted by port.
    #[serde(default)]
    pub leases: Vec<LeaseRecord>,
    /// Keys this build does not know, kept through every rewrite (a newer devport of the same
    /// format version may have written them).
    #[serde(flatten)]
    pub extra: Extra,
}

/// The whole registry file, as read and written.
pub type Registry = RegistryOf<String, PathBuf>;

/// Unknown keys of a registry object, kept as they were.
pub type Extra = serde_json::Map<String, serde_json::Value>;

impl Default for Registry {
    fn default() -> Self {
        Registry {
            version: VERSION,
            claims: Vec::new(),
            leases: Vec::new(),
            extra: Extra::new(),
        }
    }
}

/// A project's claim on a port (or a block of consecutive ports) for one service, with its names
/// held as `S`, its folder as `P` and its times as `T` (see [`RegistryOf`]); [`Claim`] is the
/// owned claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ClaimOf<S, P, T = Timestamp> {
    /// The project's display name.
    pub project: S,
    /// The project's canonical folder; `null` for a global claim.
    pub project_path: Option<P>,
    /// The service name within the project.
    pub service: S,
    /// The ports held (written as the claim's `port`, `count` and `proto` keys).
    #[serde(flatten)]
    pub block: PortBlock,
    /// When the claim was made.
    pub created: T,
    /// When a claim of this service last returned it (refreshed at most once a day).
    pub last_used: T,
    /// Taken with an exact `--port` (or `port =` in `devport.toml`), or given the port `--prefer`
    /// (or `prefer =`) named: the port was chosen by a person, so `doctor` does not hold the
    /// policy's rules against it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    /// The name of the checkout the claim's folder is (see [`crate::project::checkout_names`]),
    /// kept from when the folder first claimed, so it does not change as other checkouts come
    /// and go; `None` in a claim written before names were kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout: Option<S>,
    /// Keys this build does not know, kept through every rewrite.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The parse of a claim, written out (serde's derive reads a `flatten`ed field through a buffer
/// of every key, a tenth of the one-claim lookup): each key once, the `checked` rules, unknown
/// keys read as the JSON values they are kept as.
impl<'de, S, P, T> Deserialize<'de> for ClaimOf<S, P, T>
where
    S: Deserialize<'de> + AsRef<str>,
    P: Deserialize<'de>,
    T: checked::ClaimTime<'de>,
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_map(checked::ClaimVisitor(std::marker::PhantomData))
    }
}

/// A project's claim on a port (or a block of consecutive ports) for one service.
pub type Claim = ClaimOf<String, PathBuf>;

fn one() -> u16 {
    1
}

/// The ports a claim or a lease holds: `count` consecutive ports from `port`, for `proto`. In
/// the file they are the record's own `port`, `count` (default 1) and `proto` (default both)
/// keys, read by the same rules for claims and leases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBlock {
    /// The first port.
    #[serde(deserialize_with = "checked::port")]
    pub port: u16,
    /// How many consecutive ports, from `port` on.
    #[serde(default = "one", deserialize_with = "checked::count")]
    pub count: u16,
    /// Protocols covered.
    #[serde(default)]
    pub proto: Proto,
}

impl PortBlock {
    /// The ports ([`PortRange::block`], clamped to 65535: a registry holding a longer block is
    /// refused when read).
    pub fn ports(&self) -> PortRange {
        PortRange::block(self.port, self.count.max(1))
            .or(PortRange::new(self.port, u16::MAX))
            .unwrap_or(PortRange::single(self.port))
    }

    /// Whether the block ends at or before port 65535.
    fn fits(self) -> bool {
        PortRange::block(self.port, self.count).is_some()
    }
}

/// A port (or block) held for a live process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// The ports held (written as the lease's `port`, `count` and `proto` keys).
    #[serde(flatten)]
    pub block: PortBlock,
    /// The process the lease lives with.
    pub pid: u32,
    /// That process's start time (see [`crate::os::process::start_time`]), so a reused pid does not
    /// keep the lease alive.
    pub start_time: Option<u64>,
    /// When the lease was made.
    #[serde(deserialize_with = "checked::time")]
    pub created: Timestamp,
    /// When the lease ends regardless of the process, if a time limit was given.
    #[serde(default, deserialize_with = "checked::time_opt")]
    pub expires: Option<Timestamp>,
    /// Keys this build does not know, kept through every rewrite.
    #[serde(flatten)]
    pub extra: Extra,
}

impl<S: AsRef<str>, P, T> ClaimOf<S, P, T> {
    /// The ports of the claim.
    pub fn ports(&self) -> PortRange {
        self.block.ports()
    }
    /// `project/service`, for messages.
    pub fn label(&self) -> String {
        format!("{}/{}", self.project.as_ref(), self.service.as_ref())
    }
}

impl ClaimOf<&str, &str, Stamp<'_>> {
    /// The claim with its names and folder copied out of the text and its times converted
    /// (`None` never happens: the times passed the check when read).
    fn into_owned(self) -> Option<Claim> {
        Some(ClaimOf {
            project: self.project.into(),
            project_path: self.project_path.map(PathBuf::from),
            service: self.service.into(),
            block: self.block,
            created: self.created.timestamp()?,
            last_used: self.last_used.timestamp()?,
            pinned: self.pinned,
            checkout: self.checkout.map(Into::into),
            extra: self.extra,
        })
    }
}

impl LeaseRecord {
    /// The ports of the lease.
    pub fn ports(&self) -> PortRange {
        self.block.ports()
    }
    /// Whether the lease still holds: its process runs and its time limit has not passed.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires.is_none_or(|t| t > now) && process::is_alive(self.pid, self.start_time)
    }
}

/// What holds a port in the registry.
#[derive(Debug, Clone, Copy)]
pub enum Holder<'a> {
    /// A project's claim.
    Claim(&'a Claim),
    /// A lease of a process.
    Lease(&'a LeaseRecord),
}

impl<'de, S, P, T> RegistryOf<S, P, T>
where
    S: AsRef<str>,
    RegistryOf<S, P, T>: Deserialize<'de>,
{
    /// Parses registry text, every rule checked; `path` is only used in errors.
    fn parse_as(bytes: &'de [u8], path: &Path) -> Result<Self> {
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u64,
        }
        let corrupt = |e: &serde_json::Error| Error::Corrupt {
            path: path.to_path_buf(),
            line: e.line().max(1),
            column: e.column().max(1),
            message: crate::error::json_message(e),
        };
        let newer = |found: u64| Error::Version {
            path: path.to_path_buf(),
            found,
            supported: VERSION,
        };
        // One UTF-8 check of the whole text up front, so the parser need not check each string
        // (text that is not UTF-8 is parsed as bytes, for the error's place).
        let parsed = match std::str::from_utf8(bytes) {
            Ok(text) => serde_json::from_str::<Self>(text),
            Err(_) => serde_json::from_slice::<Self>(bytes),
        };
        match parsed {
            Ok(reg) if reg.version == VERSION => reg.check_blocks(path).map(|()| reg),
            Ok(reg) => Err(newer(reg.version.into())),
            Err(e) => match serde_json::from_slice::<VersionOnly>(bytes) {
                Ok(v) if v.version != u64::from(VERSION) => Err(newer(v.version)),
                _ => Err(corrupt(&e)),
            },
        }
    }

    /// Refuses a claim or lease whose block runs past port 65535 (a hand edit: devport never
    /// makes one).
    fn check_blocks(&self, path: &Path) -> Result<()> {
        let bad = self
            .claims
            .iter()
            .find(|c| !c.block.fits())
            .map(|c| (format!("the claim {}", c.label()), c.block))
            .or_else(|| {
                self.leases
                    .iter()
                    .find(|l| !l.block.fits())
                    .map(|l| (format!("the lease of pid {}", l.pid), l.block))
            });
        match bad {
            None => Ok(()),
            Some((what, block)) => Err(Error::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "{what} holds {} ports from {}, past port 65535",
                    block.count, block.port
                ),
            }),
        }
    }
}

impl Registry {
    /// Parses registry text; `path` is only used in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Registry> {
        RegistryOf::parse_as(bytes, path)
    }

    /// The canonical text: pretty JSON, claims and leases sorted by port (sorted in place
    /// first), trailing newline. Fails (and nothing may be written) when a value cannot be
    /// represented, such as a project folder whose name is not valid UTF-8.
    pub fn canonical_json(&mut self) -> Result<String> {
        self.claims.sort_by(|a, b| {
            (a.block.port, &a.project_path, &a.service).cmp(&(
                b.block.port,
                &b.project_path,
                &b.service,
            ))
        });
        self.leases.sort_by_key(|l| (l.block.port, l.pid));
        // About 260 bytes a claim: sized up front, the buffer is never copied while it grows.
        let mut out = Vec::with_capacity(64 + 280 * (self.claims.len() + self.leases.len()));
        serde_json::to_writer_pretty(&mut out, self).map_err(|e| Error::Unwritable {
            message: e.to_string(),
        })?;
        out.push(b'\n');
        String::from_utf8(out).map_err(|e| Error::Unwritable {
            message: e.to_string(),
        })
    }

    /// The claim of `service` in the project at `project_path`, read from registry text: the
    /// registry is parsed (and refused) as [`Registry::parse`] does, with names and folders
    /// borrowed from the text, and only the matching claim is copied out. Text that does not
    /// mention the service at all costs one substring search and is answered "not found"
    /// unread, leaving any error to the locked write that follows.
    pub fn find_in(
        bytes: &[u8],
        path: &Path,
        project_path: Option<&Path>,
        service: &str,
    ) -> Result<Option<Claim>> {
        // A valid service name needs no escaping in JSON, so a claim of it holds this literal
        // (unless a person wrote it with \u escapes: then the locked path, which parses
        // everything, finds it). Most new services are not named anywhere in the file.
        let literal = format!("\"{service}\"");
        if memchr::memmem::find(bytes, literal.as_bytes()).is_none() {
            return Ok(None);
        }
        let Some(wanted) = project_path
            .map(Path::to_str)
            .map_or(Some(None), |p| p.map(Some))
        else {
            return Ok(None); // a path that is not UTF-8 is never stored
        };
        // Names and folders borrowed from the text (a claim 8 bytes a string smaller than with
        // `Cow`, which keeps it within what is moved without a call to `memcpy`), times checked
        // but converted for the matching claim only. A string written with escapes cannot be
        // borrowed: then, as for any error (worded by the owned parse: a folder is "a path
        // string" there), the owned parse answers.
        let owned = || {
            Ok(Registry::parse(bytes, path)?
                .find(project_path, service)
                .cloned())
        };
        let Ok(reg) = RegistryOf::<&str, &str, Stamp>::parse_as(bytes, path) else {
            return owned();
        };
        match reg
            .claims
            .into_iter()
            .find(|c| c.service == service && c.project_path == wanted)
        {
            None => Ok(None),
            Some(hit) => hit.into_owned().map_or_else(owned, |c| Ok(Some(c))),
        }
    }

    /// The claim of `service` in the project at `project_path`.
    pub fn find(&self, project_path: Option<&Path>, service: &str) -> Option<&Claim> {
        self.claims
            .iter()
            .find(|c| c.project_path.as_deref() == project_path && c.service == service)
    }

    /// What holds any port of `ports`: the first claim, else the first live lease.
    pub fn holder(&self, ports: PortRange, now: Timestamp) -> Option<Holder<'_>> {
        self.claims
            .iter()
            .find(|c| c.ports().overlaps(ports))
            .map(Holder::Claim)
            .or_else(|| {
                self.leases
                    .iter()
                    .find(|l| l.ports().overlaps(ports) && l.is_live(now))
                    .map(Holder::Lease)
            })
    }

    /// Every port held by a claim or a lease, as a set for fast membership tests. Leases are
    /// counted as recorded (a write prunes dead ones first).
    pub fn held(&self) -> HeldSet {
        let mut set = HeldSet::default();
        for range in self
            .claims
            .iter()
            .map(Claim::ports)
            .chain(self.leases.iter().map(LeaseRecord::ports))
        {
            range.iter().for_each(|p| set.insert(p));
        }
        set
    }

    /// Drops leases whose process is gone or whose time is up; returns how many.
    pub fn prune_leases(&mut self, now: Timestamp) -> usize {
        let before = self.leases.len();
        self.leases.retain(|l| l.is_live(now));
        before - self.leases.len()
    }
}

/// A set of ports (a 65,536-bit bitmap).
#[derive(Clone)]
pub struct HeldSet(Box<[u64; 1024]>);

impl Default for HeldSet {
    fn default() -> Self {
        HeldSet(Box::new([0; 1024]))
    }
}

impl HeldSet {
    /// Adds a port.
    pub fn insert(&mut self, port: u16) {
        self.0[usize::from(port / 64)] |= 1 << (port % 64);
    }
    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        self.0[usize::from(port / 64)] & (1 << (port % 64)) != 0
    }

    /// Whether any port of `range` is in the set.
    pub fn any(&self, range: PortRange) -> bool {
        range.iter().any(|p| self.contains(p))
    }
}

/// The per-user registry of claims and leases: where it lives, how long a writer waits for its
/// lock, and the configuration that steers new claims. [`Store::from_env`] opens it as the
/// command line does; every write takes the lock and replaces the file atomically.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
    lock_timeout: Duration,
    config: Config,
}

impl Store {
    /// A store for the registry file at `path`, with the default configuration (see
    /// [`Store::with_config`]).
    pub fn new(path: impl Into<PathBuf>, lock_timeout: Duration) -> Self {
        Store {
            path: path.into(),
            lock_timeout,
            config: Config::default(),
        }
    }

    /// The store of the registry file at `path` with `config`, the one source of its settings:
    /// the lock timeout is the configuration's (or `DEVPORT_LOCK_TIMEOUT`'s, see
    /// [`crate::store::config::lock_timeout`]), and `config` steers new claims.
    pub fn open(path: impl Into<PathBuf>, config: Config) -> Result<Self> {
        let lock_timeout = crate::store::config::lock_timeout(&config)?;
        Ok(Store::new(path, lock_timeout).with_config(config))
    }

    /// The same store with `config` steering new claims (range, ports to avoid).
    #[must_use]
    pub fn with_config(self, config: Config) -> Self {
        Store { config, ..self }
    }

    /// The configuration that steers new claims.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The registry file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    #[doc(hidden)]
    /// Where the registry and its lock really are, after every safety rule; nothing is opened
    /// for writing before this passes.
    /// - a symlinked registry is followed (so writes replace the target and keep the link),
    ///   but only to a file this user owns; a link to another user's file is refused;
    /// - a registry in a world-writable folder is refused (anyone could swap the file); a
    ///   group-writable folder is fine, for a registry shared by a group;
    /// - the lock is the sidecar of the real file: `registry.json` → `registry.lock`, any other
    ///   name gets `.lock` appended.
    pub fn locate(&self) -> Result<Location> {
        let registry = follow(&self.path, "registry")?;
        check_folder(&registry)?;
        let lock = if registry.extension().is_some_and(|e| e == "json") {
            registry.with_extension("lock")
        } else {
            let mut name = registry.clone().into_os_string();
            name.push(".lock");
            PathBuf::from(name)
        };
        Ok(Location { registry, lock })
    }

    #[doc(hidden)]
    /// Reads the registry without locking; a missing file is an empty registry.
    pub fn read(&self) -> Result<Registry> {
        match self.read_bytes()? {
            Some(bytes) => Registry::parse(&bytes, &self.path),
            None => Ok(Registry::default()),
        }
    }

    /// Looks up one claim without locking and without copying the others (see
    /// [`Registry::find_in`]).
    pub fn find(&self, project_path: Option<&Path>, service: &str) -> Result<Option<Claim>> {
        match self.read_bytes()? {
            Some(bytes) => Registry::find_in(&bytes, &self.path, project_path, service),
            None => Ok(None),
        }
    }

    /// The registry's bytes; a registry this user may not read because another user's write
    /// took it over (`sudo -E devport claim` in the past) is named with the way back.
    fn read_bytes(&self) -> Result<Option<Vec<u8>>> {
        let location = self.locate()?;
        fsutil::read_regular(&location.registry, "registry").map_err(|e| match &e {
            Error::Io { err, .. } if err.kind() == std::io::ErrorKind::PermissionDenied => {
                check_files(&location).err().unwrap_or(e)
            }
            _ => e,
        })
    }

    #[doc(hidden)]
    /// The one transaction helper for every write: checks the location, takes the lock,
    /// reads, prunes dead leases, lets `change` decide and mutate, and writes the file
    /// atomically only when its text changed. An error from `change` (or from serializing its
    /// result) leaves the file as it was.
    pub fn update<T>(
        &self,
        now: Timestamp,
        change: impl FnOnce(&mut Registry) -> Result<T>,
    ) -> Result<T> {
        self.update_with(now, change)
    }

    #[doc(hidden)]
    /// Runs `f` holding the registry's lock, without reading or writing the registry: for
    /// another read-merge-write that devport processes must not interleave (a `.env` several
    /// projects share).
    pub fn exclusive<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let _held = self.lock()?;
        f()
    }

    /// Checks the location, makes the registry's folder, and takes the lock: the start of every
    /// locked step. The lock is held until the guard is dropped.
    /// Refused before anything is created or opened for writing: a registry folder, registry
    /// or lock of another user (root acting with a user's `HOME`, through `sudo -E`, must not
    /// take the user's registry over), except another member's files in a folder shared by a
    /// group, and a registry with other hard links (a replace would split them).
    fn lock(&self) -> Result<(Location, lock::LockGuard)> {
        let location = self.locate()?;
        fsutil::ensure_dir(
            fsutil::parent_dir(&location.registry),
            0o700,
            "registry folder",
        )
        .map_err(|e| e.with_action("cannot create the registry folder"))?;
        check_files(&location)?;
        let guard = lock::acquire(&location.lock, self.lock_timeout)?;
        Ok((location, guard))
    }

    #[doc(hidden)]
    /// [`Store::update`] for a `change` with an error type of its own (such as a batch that
    /// stops on a refusal it returns otherwise).
    pub fn update_with<T, E: From<Error>>(
        &self,
        now: Timestamp,
        change: impl FnOnce(&mut Registry) -> Result<T, E>,
    ) -> Result<T, E> {
        let (location, _guard) = self.lock()?;
        let path = &location.registry;
        fsutil::remove_stale_temps(path);
        let before = fsutil::read_regular(path, "registry")?;
        let mut reg = match &before {
            Some(bytes) => Registry::parse(bytes, &self.path)?,
            None => Registry::default(),
        };
        reg.prune_leases(now);
        let value = change(&mut reg)?;
        let text = reg.canonical_json()?;
        if text.len() as u64 > fsutil::MAX_FILE_SIZE {
            return Err(E::from(Error::Unwritable {
                message: format!(
                    "the new registry would be {} bytes, more than the {} bytes devport reads back; remove claims ('devport gc') or unknown keys first",
                    text.len(),
                    fsutil::MAX_FILE_SIZE
                ),
            }));
        }
        let unchanged = before.as_deref() == Some(text.as_bytes())
            || (before.is_none() && reg == Registry::default());
        if !unchanged {
            fsutil::write_atomic(path, text.as_bytes(), fsutil::registry_mode(path))
                .map_err(|e| e.with_action("cannot write registry"))?;
        }
        Ok(value)
    }
}

/// The real files behind a [`Store`], after its safety rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file read and replaced (a symlinked registry's target).
    pub registry: PathBuf,
    /// Its sidecar lock file.
    pub lock: PathBuf,
}

/// The file a write of `path` replaces: a symlink's target (so the link is kept), but only one
/// this user owns; `path` itself otherwise. `what` names the file ("registry").
pub fn follow(path: &Path, what: &str) -> Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            let action = if what == "registry" {
                "cannot follow the registry symlink"
            } else {
                "cannot follow the symlink"
            };
            let real = dunce::canonicalize(path).map_err(|e| Error::io(action, path, e))?;
            check_owner(what, path, &real)?;
            Ok(real)
        }
        _ => Ok(path.to_path_buf()),
    }
}

/// The registry and its lock, when they exist, may be changed by this user (see
/// [`fsutil::foreign_file`]), and the registry has no other names.
fn check_files(location: &Location) -> Result<()> {
    let files = [
        (
            "registry",
            &location.registry,
            std::fs::metadata(&location.registry),
        ),
        (
            "registry lock",
            &location.lock,
            std::fs::symlink_metadata(&location.lock),
        ),
    ];
    for (what, path, meta) in files {
        if let Some(foreign) = meta.ok().and_then(|m| fsutil::foreign_file(path, &m)) {
            return Err(Error::Insecure {
                path: path.clone(),
                message: foreign.message(&format!("{what} {}", path.display())),
            });
        }
    }
    if let Some(links) = fsutil::hard_links(&location.registry) {
        return Err(Error::Insecure {
            path: location.registry.clone(),
            message: format!(
                "registry {} has {links} hard links, so replacing it would leave the other names with the old claims; remove the other names (a symbolic link to the registry is followed instead)",
                location.registry.display()
            ),
        });
    }
    Ok(())
}

fn check_owner(what: &str, link: &Path, real: &Path) -> Result<()> {
    let Ok(meta) = std::fs::metadata(real) else {
        return Ok(());
    };
    let (Some(owner), Some(me)) = (Platform::owner(&meta), process::current_uid()) else {
        return Ok(());
    };
    if owner != me {
        return Err(Error::Insecure {
            path: link.to_path_buf(),
            message: format!(
                "{what} {} is a symlink to {}, which belongs to uid {owner} (you are uid {me}); remove the link or point it at a file of your own",
                link.display(),
                real.display(),
            ),
        });
    }
    Ok(())
}

fn check_folder(path: &Path) -> Result<()> {
    match shared_folder(path) {
        None => Ok(()),
        Some(shared) => Err(Error::Insecure {
            message: format!(
                "registry folder {} is writable by every user (mode {:04o}), so anyone could replace the registry; {}",
                shared.dir.display(),
                shared.mode,
                shared.fix
            ),
            path: shared.dir.to_path_buf(),
        }),
    }
}

/// A registry folder every user may write (see [`shared_folder`]).
pub struct SharedFolder<'a> {
    /// The folder.
    pub dir: &'a Path,
    /// Its mode bits.
    pub mode: u32,
    /// What to do, safe to follow.
    pub fix: String,
}

/// The folder of the registry `path` when every user may write it, with the fix: tightening
/// the folder is safe advice only for a private folder of one's own; a sticky or foreign folder
/// (/tmp) is shared on purpose, and a private subfolder is the fix. Claims refuse such a
/// folder, and `doctor` reports it, with this one fix. Never where folders have no Unix mode.
pub fn shared_folder(path: &Path) -> Option<SharedFolder<'_>> {
    let dir = fsutil::parent_dir(path);
    let meta = std::fs::metadata(dir).ok()?;
    let mode = Platform::mode(&meta)?;
    if mode & 0o002 == 0 {
        return None;
    }
    let owner = Platform::owner(&meta);
    let own = owner.is_some() && owner == process::current_uid();
    let fix = if own && mode & 0o1000 == 0 {
        format!(
            "run 'chmod o-w {}' if the folder is yours alone",
            dir.display()
        )
    } else if owner == Some(0) && mode & 0o1000 != 0 {
        // A sticky folder of root's (/tmp): a folder made there stays its maker's.
        let user = std::env::var("USER").unwrap_or_else(|_| "me".into());
        let private = dir.join(format!("devport-{user}"));
        format!(
            "keep the registry in a private folder instead: 'mkdir -m 700 {}' and use --registry {}",
            private.display(),
            private
                .join(path.file_name().unwrap_or("registry.json".as_ref()))
                .display()
        )
    } else {
        // Anything made inside another user's open folder could be replaced by that user.
        match crate::store::config::default_registry_path().filter(|p| !p.starts_with(dir)) {
            Some(default) => format!(
                "keep the registry in a folder of your own, not inside this one: the default {} (without --registry and DEVPORT_REGISTRY), or a private folder in your home",
                default.display()
            ),
            None => {
                "keep the registry in a private folder in your own home folder, not inside this one"
                    .to_string()
            }
        }
    };
    Some(SharedFolder { dir, mode, fix })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn claim(port: u16, service: &str) -> Claim {
        Claim {
            project: "shop".into(),
            project_path: Some(PathBuf::from("/src/shop")),
            service: service.into(),
            block: PortBlock {
                port,
                count: 1,
                proto: Proto::Tcp,
            },
            created: Timestamp::UNIX_EPOCH,
            last_used: Timestamp::UNIX_EPOCH,
            pinned: false,
            checkout: None,
            extra: Extra::new(),
        }
    }

    fn json(reg: &mut Registry) -> String {
        reg.canonical_json().expect("serializes")
    }

    #[test]
    fn round_trip_sorted() {
        let mut reg = Registry {
            claims: vec![claim(20000, "b"), claim(10000, "a")],
            ..Registry::default()
        };
        let text = json(&mut reg);
        assert!(text.ends_with("}\n"));
        let back = Registry::parse(text.as_bytes(), Path::new("r.json")).ok();
        assert_eq!(
            back.map(|r| r.claims.iter().map(|c| c.block.port).collect::<Vec<_>>()),
            Some(vec![10000, 20000])
        );
    }

    #[test]
    fn errors_name_line_and_version() {
        let e = Registry::parse(
            b"{\n  \"version\": 1,\n  \"claims\": [oops]\n}",
            Path::new("r.json"),
        );
        assert!(matches!(e, Err(Error::Corrupt { line: 3, .. })), "{e:?}");
        let e = Registry::parse(
            br#"{"version": 99, "claims": "whatever"}"#,
            Path::new("r.json"),
        );
        assert!(matches!(e, Err(Error::Version { found: 99, .. })), "{e:?}");
        let e = Registry::parse(br#"{"version": 99}"#, Path::new("r.json"));
        assert!(matches!(e, Err(Error::Version { found: 99, .. })), "{e:?}");
    }

    #[test]
    fn find_in_agrees_with_a_full_parse() {
        let mut global = claim(10002, "tool");
        global.project_path = None;
        let mut odd = claim(10003, "web.v2");
        odd.project_path = Some(PathBuf::from("/src/a \"quoted\" \\ path"));
        let mut reg = Registry {
            claims: vec![claim(10000, "a"), claim(10001, "web.v2"), global, odd],
            ..Registry::default()
        };
        let text = json(&mut reg);
        let p = Path::new("r.json");
        for (path, service) in [
            (Some("/src/shop"), "a"),
            (Some("/src/shop"), "web.v2"),
            (Some("/src/a \"quoted\" \\ path"), "web.v2"),
            (Some("/src/shop"), "absent"),
            (None, "tool"),
            (Some("/src/shop"), "tool"),
            (None, "a"),
        ] {
            let path = path.map(Path::new);
            let fast = Registry::find_in(text.as_bytes(), p, path, service)
                .ok()
                .flatten();
            assert_eq!(fast.as_ref(), reg.find(path, service), "{service}");
        }
        assert!(matches!(
            Registry::find_in(
                b"{\"version\": 1, \"claims\": [{\"service\": \"a\"},}",
                p,
                None,
                "a"
            ),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(
            Registry::find_in(
                b"{\"version\": 99, \"claims\": [{\"service\": \"a\"}]}",
                p,
                None,
                "a"
            ),
            Err(Error::Version { .. })
        ));
    }

    /// The lookup reads with the parse's own rules, so it refuses what the parse refuses with
    /// the same words, and returns the claim the parse finds, unknown keys and all.
    #[test]
    fn find_in_refuses_and_finds_as_the_parse_does() {
        let p = Path::new("r.json");
        let claim = |fields: &str| {
            format!(
                r#"{{"version": 1, "claims": [{{"project": "shop", "project_path": "/src/shop", "service": "web", "port": 10000, "created": "2026-01-01T00:00:00Z", "last_used": "2026-01-01T00:00:00Z"{fields}}}], "leases": []}}"#
            )
        };
        for text in [
            claim(r#", "project_path": 5"#),
            claim(r#", "count": 0"#),
            claim(r#", "count": 65535"#),
            claim(r#", "proto": "sctp""#),
            claim(r#", "last_used": "yesterday""#),
            claim(r#", "pinned": "yes""#),
            claim(r#", "big": 1e400"#),
            claim(r#", "s\u0065rvice": "web""#),
            claim("").replace("\"port\": 10000", "\"port\": 65535, \"count\": 2"),
        ] {
            let parsed = Registry::parse(text.as_bytes(), p)
                .map(|_| ())
                .map_err(|e| e.to_string());
            let looked = Registry::find_in(text.as_bytes(), p, Some(Path::new("/src/shop")), "web")
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert!(parsed.is_err(), "{text}");
            assert_eq!(looked, parsed, "{text}");
        }
        for text in [
            claim(r#", "note": [1, {"a": null}]"#),
            claim(r#", "created": "2026-01-01T01:00:00+01:00""#)
                .replace(r#""created": "2026-01-01T00:00:00Z", "#, ""),
            claim("").replace("/src/shop", "/src/\\u0073hop"),
            claim("").replace("00:00:00Z\", \"last", "00:00:00\\u005a\", \"last"),
        ] {
            let full = Registry::parse(text.as_bytes(), p).expect("parses");
            let found = Registry::find_in(text.as_bytes(), p, Some(Path::new("/src/shop")), "web")
                .expect("parses");
            assert_eq!(
                found.as_ref(),
                full.find(Some(Path::new("/src/shop")), "web"),
                "{text}"
            );
            assert!(found.is_some(), "{text}");
        }
    }

    #[test]
    fn unknown_keys_survive_a_rewrite() {
        let text = r#"{"version": 1, "future": {"a": [1, 2]}, "claims": [
            {"project": "shop", "project_path": "/src/shop", "service": "web", "port": 10000,
             "created": "2026-01-01T00:00:00Z", "last_used": "2026-01-01T00:00:00Z", "color": "blue"}],
            "leases": [{"port": 20000, "pid": 1, "start_time": null, "created": "2026-01-01T00:00:00Z",
             "expires": null, "note": 7}]}"#;
        let mut reg = Registry::parse(text.as_bytes(), Path::new("r.json")).expect("parses");
        let out = json(&mut reg);
        let value: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(value["future"]["a"][1], 2, "{out}");
        assert_eq!(value["claims"][0]["color"], "blue", "{out}");
        assert_eq!(value["leases"][0]["note"], 7, "{out}");
        let mut again = Registry::parse(out.as_bytes(), Path::new("r.json")).expect("parses");
        assert_eq!(json(&mut again), out);
    }

    #[test]
    fn out_of_range_values_are_refused_with_their_place() {
        for (bad, line) in [
            ("\"port\": 0", 3),
            ("\"port\": 70000", 3),
            ("\"port\": 1, \"count\": 0", 3),
            ("\"port\": 1, \"count\": 5000", 3),
        ] {
            let text = format!(
                "{{\"version\": 1, \"claims\": [\n{{\"project\": \"a\", \"project_path\": null, \"service\": \"a\",\n {bad}, \"created\": \"2026-01-01T00:00:00Z\", \"last_used\": \"2026-01-01T00:00:00Z\"}}]}}"
            );
            let e = Registry::parse(text.as_bytes(), Path::new("r.json"));
            assert!(
                matches!(e, Err(Error::Corrupt { line: l, column, .. }) if l == line && column >= 1),
                "{bad}: {e:?}"
            );
        }
        // An empty file reports column 1, not 0: columns are 1-based.
        let e = Registry::parse(b"", Path::new("r.json"));
        assert!(
            matches!(
                e,
                Err(Error::Corrupt {
                    line: 1,
                    column: 1,
                    ..
                })
            ),
            "{e:?}"
        );
    }

    #[test]
    fn held_set() {
        let reg = Registry {
            claims: vec![Claim {
                block: PortBlock {
                    count: 3,
                    ..claim(100, "a").block
                },
                ..claim(100, "a")
            }],
            ..Registry::default()
        };
        let held = reg.held();
        assert!(held.any(PortRange::single(102)));
        assert!(!held.any(PortRange::single(103)));
        assert!(held.any(PortRange::new(90, 100).expect("lo <= hi")));
    }

    fn arb_claim() -> impl Strategy<Value = Claim> {
        (
            "[a-z][a-z0-9._-]{0,10}",
            1u16..=65000,
            1u16..5,
            prop_oneof![Just(Proto::Tcp), Just(Proto::Udp), Just(Proto::Both)],
            any::<bool>(),
            0i64..4_000_000_000,
        )
            .prop_map(|(service, port, count, proto, global, secs)| Claim {
                project_path: (!global).then(|| PathBuf::from(format!("/p/{service}"))),
                block: PortBlock { port, count, proto },
                created: Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH),
                last_used: Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH),
                ..claim(port, &service)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Registry::parse(&bytes, Path::new("r.json"));
        }

        #[test]
        fn write_then_read_round_trips(claims in proptest::collection::vec(arb_claim(), 0..20)) {
            let mut reg = Registry { claims, ..Registry::default() };
            let text = json(&mut reg);
            let mut back = Registry::parse(text.as_bytes(), Path::new("r.json")).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(json(&mut back), text);
            prop_assert_eq!(back.claims.len(), reg.claims.len());
        }

        /// A project folder whose name is not UTF-8 cannot be stored: serializing fails (so no
        /// write happens) instead of producing anything at all.
        // Unix only: the name is made of raw bytes (OsStringExt).
        #[cfg(unix)]
        #[test]
        fn non_utf8_paths_never_serialize(
            claims in proptest::collection::vec(arb_claim(), 0..8),
            name in proptest::collection::vec(any::<u8>(), 1..12),
            at in any::<prop::sample::Index>(),
        ) {
            use std::os::unix::ffi::OsStringExt as _;
            let mut bad = claim(4242, "web");
            let mut raw = b"/p/".to_vec();
            raw.extend(&name);
            raw.push(0xff);
            bad.project_path = Some(PathBuf::from(std::ffi::OsString::from_vec(raw)));
            let mut all = claims;
            let i = at.index(all.len() + 1);
            all.insert(i, bad);
            let mut reg = Registry { claims: all, ..Registry::default() };
            let refused = matches!(reg.canonical_json(), Err(Error::Unwritable { .. }));
            prop_assert!(refused);
        }
    }
}
