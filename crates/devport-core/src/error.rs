//! Library errors: one variant per way a request can fail, with its data, so a caller can
//! tell "the port is taken" from "no port is free" from "the claim has another shape". The
//! text of each (its `Display`) is the one line the command line prints; the exit codes are
//! the command line's business; [`Error::kind`] sorts them into the three kinds it maps.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::model::types::{PortRange, Proto};
use crate::ops::claim::Wanted;
use crate::ops::control::StopRefusal;

/// Everything that can go wrong in devport's library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value a person gave (an argument, a setting, a name) is not valid; `message` says
    /// what is wrong and how to fix it.
    #[error("{message}")]
    InvalidInput {
        /// Which kind of value.
        input: Input,
        /// What is wrong with it, and the fix.
        message: String,
    },
    /// The port asked for (or a port of its block) is claimed by another service.
    #[error(
        "port {ports} is claimed by {project}/{service}; run 'devport release {service}' {} or pick another port{}",
        project_path.as_ref().map_or_else(|| "with --global".to_string(), |p| format!("in {}", p.display())),
        if *maybe_clone { clone_hint(project, project_path.as_deref()) } else { String::new() }
    )]
    PortClaimed {
        /// The ports of the claim that holds it.
        ports: PortRange,
        /// Its project's name.
        project: String,
        /// Its project's folder (`None` for a global claim).
        project_path: Option<PathBuf>,
        /// Its service.
        service: String,
        /// Whether its folder may be another clone of the project that asked: the request came
        /// from a manifest without a `name`, and the holder's folder has a manifest of its own
        /// under another project name (a second clone goes by its folder's name). The message
        /// then says how to make them checkouts of one project.
        maybe_clone: bool,
    },
    /// A linked git worktree asked for a service whose manifest port is `strict = true`: only
    /// the main checkout uses such a port, and a worktree never takes it.
    #[error(
        "port {port} of {service} is strict = true in {}: only the main checkout{} uses it; run {service} there, or remove `strict` to give this worktree a port of its own",
        crate::project::MANIFEST,
        main.as_ref().map_or_else(String::new, |p| format!(" ({})", p.display()))
    )]
    StrictPort {
        /// The service.
        service: String,
        /// The manifest's port (`port` or `prefer`).
        port: u16,
        /// The main checkout's project folder, when it is known: the sibling's that holds the
        /// port, else the main worktree's.
        main: Option<PathBuf>,
    },
    /// The port asked for (or a port of its block) is leased by a running process.
    #[error("port {ports} is leased by pid {pid} until it exits; pick another port")]
    PortLeased {
        /// The leased ports.
        ports: PortRange,
        /// The process the lease lives with.
        pid: u32,
    },
    /// Something is bound to the port asked for (or a port of its block).
    #[error(
        "port {port} is in use: {}; stop it or pick another port",
        listener.clone().unwrap_or_else(|| format!("something is bound to it for {proto} ('devport check {port}' shows more)"))
    )]
    PortInUse {
        /// The busy port.
        port: u16,
        /// The protocol whose bind failed ([`Proto::Tcp`] or [`Proto::Udp`]).
        proto: Proto,
        /// Who listens there, in words, when that can be seen.
        listener: Option<String>,
    },
    /// The OS refuses to bind the port asked for (a privileged port, an excluded range).
    #[error("port {port} cannot be bound ({proto} on {addr}: {reason}); pick another port")]
    PortUnbindable {
        /// The port.
        port: u16,
        /// The protocol whose bind failed ([`Proto::Tcp`] or [`Proto::Udp`]).
        proto: Proto,
        /// The address the bind was tried on.
        addr: IpAddr,
        /// What the OS said.
        reason: String,
    },
    /// The service already has a claim of another shape (port, block size or protocols);
    /// [`ClaimRequest::relocate`](crate::ClaimRequest::relocate) moves it.
    #[error(
        "{project}/{service} already holds {ports} ({} port(s), {proto}); to get {wanted} instead run '{command}'",
        ports.len()
    )]
    ClaimDiffers {
        /// The project's name.
        project: String,
        /// The service.
        service: String,
        /// The ports it holds.
        ports: PortRange,
        /// The protocols it covers.
        proto: Proto,
        /// What the request asked for that it lacks.
        wanted: Wanted,
        /// The command that moves it.
        command: String,
    },
    /// No block of `count` free ports in `range` for `what`.
    #[error("{}", no_room_text(*range, *count, what, why))]
    NoFreePort {
        /// The range searched.
        range: PortRange,
        /// The block size asked for.
        count: u16,
        /// For whom.
        what: Seeker,
        /// Why.
        why: NoRoom,
    },
    /// `kill` does not stop what holds a port; nothing (more) was stopped.
    #[error("{message}")]
    StopRefused {
        /// Why.
        why: StopRefusal,
        /// The port whose holder is not stopped, when the refusal is about one.
        port: Option<u16>,
        /// The process not stopped, when it is known.
        pid: Option<u32>,
        /// The whole refusal in words, with the port and the process.
        message: String,
    },
    /// The registry file does not parse.
    #[error(
        "registry {} is not valid at line {line}, column {column}: {message}; fix it or move it away (devport never overwrites a registry it cannot read)",
        path.display()
    )]
    Corrupt {
        /// The registry file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The registry parses but holds an entry no devport writes (a hand edit).
    #[error(
        "registry {} is not valid: {message}; fix it or move it away (devport never overwrites a registry it cannot read)",
        path.display()
    )]
    Invalid {
        /// The registry file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The registry was written by a newer devport.
    #[error(
        "unsupported registry version (got {found}, supports {supported}): {}; upgrade devport or point DEVPORT_REGISTRY elsewhere",
        path.display()
    )]
    Version {
        /// The registry file.
        path: PathBuf,
        /// The version found in the file.
        found: u64,
        /// The version this build understands.
        supported: u32,
    },
    /// Another process held the registry lock for longer than the timeout.
    #[error(
        "registry lock {} is held by {} and was not released within {seconds:.1} s; wait for it to finish or raise DEVPORT_LOCK_TIMEOUT",
        path.display(),
        holder_text(*pid, name.as_deref())
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// The process that holds it, when that can be told.
        pid: Option<u32>,
        /// That process's name, when it can be read.
        name: Option<String>,
        /// How long devport waited.
        seconds: f64,
    },
    /// The user's configuration file (or another file of the environment, such as the target
    /// of a `.env` symlink) is not valid.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, with line and column when known.
        message: String,
    },
    /// A file of the project (`devport.toml`, a `.env` file) is not valid, or asks for
    /// something that cannot be done.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, with line and column when known.
        message: String,
    },
    /// A file devport would write is not safe to use: another user could have chosen it (a
    /// symlink to another user's file, a folder every user may write, a hard-linked lock).
    /// See docs/security.md.
    #[error("{message}")]
    Insecure {
        /// The file (or folder) refused.
        path: PathBuf,
        /// Why, and the fix.
        message: String,
    },
    /// A path devport reads holds something other than a regular file (a FIFO, a device, a
    /// folder).
    #[error("{what} {} is {kind}, not a regular file; remove it or point devport at a regular file", path.display())]
    NotAFile {
        /// Which file ("registry", "config file", "manifest").
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// What it is instead ("a FIFO").
        kind: &'static str,
    },
    /// A file is larger than devport will read.
    #[error("{what} {} is {size} bytes, more than the {limit} bytes devport reads; check what wrote it, then move it away", path.display())]
    TooLarge {
        /// Which file.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The registry cannot be written because a value cannot be represented in it; nothing
    /// was written.
    #[error("cannot write the registry: {message}; nothing was changed")]
    Unwritable {
        /// What the serializer said.
        message: String,
    },
    /// There is no usable home folder for the per-user files (`HOME` is relative, or unset
    /// with no home in the user database) and no other place was set.
    #[error("{message}")]
    NoHome {
        /// What is missing, and the fix.
        message: String,
    },
    /// An I/O operation failed.
    #[error("{action} {}: {err}{}", path.display(), io_hint(action, path, err))]
    Io {
        /// What devport was doing ("cannot write registry").
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error (shown in the message, so not chained again as a source).
        err: std::io::Error,
    },
}

/// What to do about an I/O error: the registry's own advice only for the registry (its
/// location is a setting); for any other file, its own permissions when it was being read and
/// its folder's when it was being written.
fn io_hint(action: &str, path: &std::path::Path, e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let folder = || {
        let dir = crate::os::paths::parent_dir(path);
        std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
    };
    match e.kind() {
        K::PermissionDenied | K::ReadOnlyFilesystem if action.contains("registry") => {
            "; check the permissions of the registry's folder, or point DEVPORT_REGISTRY at a writable place".into()
        }
        K::PermissionDenied if is_read(action) => {
            "; check that you may read it and enter every folder above it ('ls -ld' shows their owners and modes)".into()
        }
        K::PermissionDenied => format!(
            "; check that you may write to the folder {} ('ls -ld' shows its owner and mode)",
            folder().display()
        ),
        K::ReadOnlyFilesystem => format!(
            "; the folder {} is on a read-only file system",
            folder().display()
        ),
        K::StorageFull | K::QuotaExceeded => "; free some space and run the command again".into(),
        K::FileTooLarge => "; the file would pass the file-size limit of this process (see 'ulimit -f'); raise the limit and run the command again".into(),
        _ => String::new(),
    }
}

/// The holder of the registry lock in [`Error::LockTimeout`]'s words: "pid 1234 (name)",
/// "pid 1234" or "an unknown process".
fn holder_text(pid: Option<u32>, name: Option<&str>) -> String {
    match (pid, name) {
        (Some(pid), Some(name)) => format!("pid {pid} ({name})"),
        (Some(pid), None) => format!("pid {pid}"),
        (None, _) => "an unknown process".to_string(),
    }
}

/// Whether an [`Error::Io`] action reads (a file, a folder or a link) rather than writes.
fn is_read(action: &str) -> bool {
    ["cannot read", "cannot follow", "cannot open project folder"]
        .iter()
        .any(|read| action.starts_with(read))
}

/// What kind of failure an [`Error`] is, for a caller that answers each kind differently (the
/// command line gives each its exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A negative answer: the port is taken, busy or unbindable, no port is free, the claim has
    /// another shape, or a stop is refused.
    Refused,
    /// Bad input: an argument, a setting, a name or a manifest is not valid.
    Usage,
    /// The registry, a file or the operating system failed.
    Environment,
}

/// The end of [`Error::PortClaimed`]'s message when the holder may be another clone: the
/// manifest's `name` makes clones in folders of other names checkouts of one project, so the
/// pinned port stays the main checkout's and this one gets its own.
fn clone_hint(project: &str, folder: Option<&std::path::Path>) -> String {
    folder.map_or_else(String::new, |folder| {
        format!(
            "; if {} is another clone of this project, add name = \"{project}\" to this {}: clones with one name are checkouts of one project, and each other checkout gets a port of its own",
            folder.display(),
            crate::project::MANIFEST
        )
    })
}
impl Error {
    /// The kind of this error: one arm per variant, so a new variant cannot be added without
    /// choosing its kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::PortClaimed { .. }
            | Error::PortLeased { .. }
            | Error::PortInUse { .. }
            | Error::PortUnbindable { .. }
            | Error::ClaimDiffers { .. }
            | Error::StrictPort { .. }
            | Error::NoFreePort { .. }
            | Error::StopRefused { .. } => ErrorKind::Refused,
            Error::InvalidInput { .. } | Error::Manifest { .. } => ErrorKind::Usage,
            Error::Config { .. }
            | Error::Corrupt { .. }
            | Error::Invalid { .. }
            | Error::Version { .. }
            | Error::LockTimeout { .. }
            | Error::Insecure { .. }
            | Error::NotAFile { .. }
            | Error::TooLarge { .. }
            | Error::Unwritable { .. }
            | Error::NoHome { .. }
            | Error::Io { .. } => ErrorKind::Environment,
        }
    }

    /// The same error with another action for an [`Error::Io`] (a write of the registry names
    /// the registry, so the advice fits).
    #[must_use]
    pub fn with_action(self, action: &'static str) -> Self {
        match self {
            Error::Io { path, err, .. } => Error::Io { action, path, err },
            other => other,
        }
    }

    /// Builds an [`Error::Config`].
    pub fn config(path: &Path, message: String) -> Self {
        Error::Config {
            path: path.to_path_buf(),
            message,
        }
    }

    /// Builds an [`Error::Manifest`].
    pub fn manifest(path: &Path, message: String) -> Self {
        Error::Manifest {
            path: path.to_path_buf(),
            message,
        }
    }

    /// Builds an [`Error::InvalidInput`].
    pub fn invalid(input: Input, message: impl Into<String>) -> Self {
        Error::InvalidInput {
            input,
            message: message.into(),
        }
    }

    /// Builds an [`Error::Io`].
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            err: source,
        }
    }
}

/// "line L, column C" of byte `offset` in `text` (1-based; columns count characters).
pub fn position(text: &str, offset: usize) -> String {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
    format!("line {line}, column {column}")
}

/// Turns a TOML error into one line naming the line and column: its `message` for
/// [`Error::Config`] or [`Error::Manifest`]. The words are TOML's (for the syntax) or devport's
/// own (a value's rule, an unknown key: see [`crate::model::toml_value`]); a message of several
/// lines (a syntax error and what was expected; a key with a line break) is given as one,
/// each line break a space.
pub fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let message: String = e
        .message()
        .trim()
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    match e.span() {
        Some(span) => format!("{}: {message}", position(text, span.start)),
        None => message,
    }
}

/// A JSON error's message without its position (which errors give as line and column of
/// their own) and in the user's words, not Rust's: "expected struct Record" is "expected an
/// object", "expected u16" is "expected a whole number from 0 to 65535", "invalid type: map" is
/// "invalid type: an object". serde names the kinds of value in its own vocabulary; this is the
/// one place that vocabulary is put in the user's words, read in one pass after "expected " and
/// "invalid type: ".
pub fn json_message(e: &serde_json::Error) -> String {
    const MARKERS: [&str; 2] = ["expected ", "invalid type: "];
    let text = e.to_string();
    let mut rest = text.split(" at line ").next().unwrap_or_default();
    let mut out = String::with_capacity(rest.len() + 32);
    while let Some((i, marker)) = MARKERS
        .iter()
        .filter_map(|m| rest.find(m).map(|i| (i, m)))
        .min()
    {
        let (before, after) = rest.split_at(i + marker.len());
        out.push_str(before);
        let (len, plain) = serde_kind(after);
        out.push_str(&plain);
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// The kind of value serde names at the start of `text` ("struct Claim", "a map", "u16", …) in the user's words, with the length of serde's words; any other word as it is.
fn serde_kind(text: &str) -> (usize, String) {
    let word_end = |s: &str| {
        s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let end = word_end(text);
    let phrase = |words: &str, plain: &str| {
        text.starts_with(words)
            .then(|| (words.len(), plain.to_string()))
    };
    let kind = match &text[..end] {
        // `struct Name`: the name is Rust's, not the user's.
        "struct" if text[end..].starts_with(' ') => Some((
            end + 1 + word_end(&text[end + 1..]),
            "an object".to_string(),
        )),
        "struct" | "map" => Some((end, "an object".to_string())),
        "sequence" => Some((end, "a list".to_string())),
        "a" => phrase("a map", "an object").or_else(|| phrase("a sequence", "a list")),
        "u8" => Some(whole(end, 0, u8::MAX.into())),
        "u16" => Some(whole(end, 0, u16::MAX.into())),
        "u32" => Some(whole(end, 0, u32::MAX.into())),
        "u64" | "usize" => Some(whole(end, 0, u64::MAX.into())),
        "i32" => Some(whole(end, i32::MIN.into(), i32::MAX.into())),
        "i64" | "isize" => Some(whole(end, i64::MIN.into(), i64::MAX.into())),
        "f32" | "f64" => Some((end, "a number".to_string())),
        _ => None,
    };
    kind.unwrap_or_else(|| (end, text[..end].to_string()))
}

/// "a whole number from LO to HI", for serde's `len` bytes of a type's name.
fn whole(len: usize, lo: i128, hi: i128) -> (usize, String) {
    (len, format!("a whole number from {lo} to {hi}"))
}

/// Which kind of value an [`Error::InvalidInput`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// A port number or a block of ports.
    Port,
    /// A port range (`--range`).
    Range,
    /// A block size (`--count`).
    Count,
    /// A protocol name.
    Proto,
    /// A service name.
    Service,
    /// A duration (`--ttl`, `--older-than`, a lock timeout).
    Duration,
    /// An environment variable's name or value in `[env]` or a `.env` file.
    Variable,
    /// A setting from the environment (`DEVPORT_REGISTRY`, `DEVPORT_LOCK_TIMEOUT`) or the
    /// registry's location.
    Setting,
    /// The project folder.
    Folder,
    /// Another argument of the command line.
    Argument,
}

/// Why [`Error::NoFreePort`]: the fix differs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoRoom {
    /// No port of the range may be handed out at all.
    EmptyRange(Unusable),
    /// The block is longer than the longest run of usable ports in the range.
    TooLong {
        /// The longest run there.
        longest: u32,
    },
    /// Claims and leases hold the ports a block would need.
    Held,
    /// Other processes use the ports a block would need, now.
    Busy,
}

/// Why no port of a range may be handed out ([`NoRoom::EmptyRange`]); its `Display` is the
/// reason in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unusable {
    /// The range lies inside this OS ephemeral range, which the OS hands to outgoing
    /// connections.
    Ephemeral(PortRange),
    /// Every port of the range is reserved, assigned, avoided or blocked.
    RuledOut,
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Ephemeral(ephemeral) => write!(
                f,
                "it lies inside the OS ephemeral range {ephemeral}, which the OS hands to outgoing connections"
            ),
            Unusable::RuledOut => f.write_str(
                "every port there is reserved, assigned, avoided or blocked (see 'devport check PORT')",
            ),
        }
    }
}

/// For whom [`Error::NoFreePort`] found no ports; its `Display` is the words of the message
/// ("shop/web", "a lease").
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Seeker {
    /// A claim of a service.
    Service {
        /// The project's name.
        project: String,
        /// The service.
        service: String,
    },
    /// A lease.
    Lease,
}

impl std::fmt::Display for Seeker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seeker::Service { project, service } => write!(f, "{project}/{service}"),
            Seeker::Lease => f.write_str("a lease"),
        }
    }
}

/// The text of [`Error::NoFreePort`], with the fix that applies.
fn no_room_text(range: PortRange, count: u16, what: &Seeker, why: &NoRoom) -> String {
    match why {
        NoRoom::EmptyRange(why) => format!(
            "no port in the range {range} can be handed out for {what}: {why}; pick another range with --range or in the config, such as the default {}",
            crate::model::types::DEFAULT_RANGE
        ),
        NoRoom::TooLong { longest } => format!(
            "no block of {count} consecutive ports fits in {range} for {what}: the longest run of usable ports there is {longest}; ask for at most {longest} ports, or pick a wider range with --range or in the config"
        ),
        NoRoom::Held => format!(
            "no free block of {count} port(s) in {range} for {what}: claims and leases hold the ports it would need; free some with 'devport gc' or 'devport release', or pick a wider range with --range"
        ),
        NoRoom::Busy => format!(
            "no free block of {count} port(s) in {range} for {what}: the ports it would need are in use by other processes now; stop them ('devport audit' shows them) or pick a wider range with --range"
        ),
    }
}

/// Result with devport's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::json_message;

    /// serde's names for kinds of value are put in the user's words, wherever they stand in the
    /// message, and other words are left alone.
    #[test]
    fn json_messages_name_kinds_of_value_in_the_users_words() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Record {
            port: u16,
            tags: Vec<String>,
        }
        for (text, want) in [
            ("1", "invalid type: integer `1`, expected struct Record"),
            ("{\"port\": []}", "invalid type: sequence, expected u16"),
            ("{\"port\": {}}", "invalid type: map, expected u16"),
            ("{\"port\": null}", "invalid type: null, expected u16"),
            (
                "{\"port\": 1, \"tags\": {}}",
                "invalid type: map, expected a sequence",
            ),
            (
                "{\"port\": \"x\"}",
                "invalid type: string \"x\", expected u16",
            ),
            (
                "{\"port\": 70000}",
                "invalid value: integer `70000`, expected u16",
            ),
        ] {
            let e = serde_json::from_str::<Record>(text).expect_err(text);
            assert!(
                e.to_string().starts_with(want),
                "serde's own words changed: {e}"
            );
        }
        let plain =
            |text: &str| json_message(&serde_json::from_str::<Record>(text).expect_err(text));
        assert_eq!(plain("1"), "invalid type: integer `1`, expected an object");
        assert_eq!(
            plain("{\"port\": []}"),
            "invalid type: a list, expected a whole number from 0 to 65535"
        );
        assert_eq!(
            plain("{\"port\": {}}"),
            "invalid type: an object, expected a whole number from 0 to 65535"
        );
        assert_eq!(
            plain("{\"port\": null}"),
            "invalid type: null, expected a whole number from 0 to 65535"
        );
        assert_eq!(
            plain("{\"port\": 1, \"tags\": {}}"),
            "invalid type: an object, expected a list"
        );
        assert_eq!(
            plain("{\"port\": \"x\"}"),
            "invalid type: string \"x\", expected a whole number from 0 to 65535"
        );
        assert_eq!(
            plain("{\"port\": 70000}"),
            "invalid value: integer `70000`, expected a whole number from 0 to 65535"
        );
    }
}
