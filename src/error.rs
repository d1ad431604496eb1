//! Library errors. Each one knows its exit code (see [`Error::exit_code`]).

use std::path::{Path, PathBuf};

/// Exit code for a negative answer: the port is not usable, the requested port is taken.
pub const EXIT_NEGATIVE: u8 = 1;
/// Exit code for bad usage or input.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a failure of the registry or the environment.
pub const EXIT_ENV: u8 = 3;

/// Everything that can go wrong in devport's library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input that a person typed is not valid.
    #[error("{0}")]
    Usage(String),
    /// A well-formed request that cannot be granted (port taken, busy, no free port).
    #[error("{0}")]
    Refused(String),
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
        "registry lock {} is held by {holder} and was not released within {seconds:.1} s; wait for it to finish or raise DEVPORT_LOCK_TIMEOUT",
        path.display()
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// Who holds it ("pid 1234" or "an unknown process").
        holder: String,
        /// How long devport waited.
        seconds: f64,
    },
    /// A configuration or manifest file is invalid.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, with line and column when known.
        message: String,
        /// Exit code: 3 for the user's config, 2 for a project manifest.
        code: u8,
    },
    /// The registry's location is not safe to use (see the README's security section).
    #[error("{0}")]
    Insecure(String),
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
/// location is a setting), the folder's permissions for any other file.
fn io_hint(action: &str, path: &std::path::Path, e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let folder = || {
        let dir = crate::fsutil::parent_dir(path);
        std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
    };
    match e.kind() {
        K::PermissionDenied | K::ReadOnlyFilesystem if action.contains("registry") => {
            "; check the permissions of the registry's folder, or point DEVPORT_REGISTRY at a writable place".into()
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

impl Error {
    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            Error::Refused(_) => EXIT_NEGATIVE,
            Error::Config { code, .. } => *code,
            Error::Corrupt { .. }
            | Error::Version { .. }
            | Error::LockTimeout { .. }
            | Error::Insecure(_)
            | Error::NotAFile { .. }
            | Error::Invalid { .. }
            | Error::Unwritable { .. }
            | Error::TooLarge { .. }
            | Error::Io { .. } => EXIT_ENV,
        }
    }

    /// The same error with another action for an [`Error::Io`] (a write of the registry names
    /// the registry, so the advice fits).
    #[must_use]
    pub(crate) fn with_action(self, action: &'static str) -> Self {
        match self {
            Error::Io { path, err, .. } => Error::Io { action, path, err },
            other => other,
        }
    }

    /// Builds an [`Error::Io`].
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            err: source,
        }
    }
}

/// "line L, column C" of byte `offset` in `text` (1-based; columns count characters).
pub(crate) fn position(text: &str, offset: usize) -> String {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
    format!("line {line}, column {column}")
}

/// Turns a TOML error into one line naming the file, line and column.
pub fn toml_error(path: &Path, text: &str, e: &toml::de::Error, code: u8) -> Error {
    let message = e
        .message()
        .trim()
        .replace('\n', " ")
        .replace("unknown field", "unknown key");
    let message = match e.span() {
        Some(span) => format!("{}: {message}", position(text, span.start)),
        None => message,
    };
    Error::Config {
        path: path.to_path_buf(),
        message,
        code,
    }
}

/// Result with devport's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
