//! Files: durable writes (the one place that replaces a file on disk), safe reads, and whether
//! a file devport did not write may be trusted.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Creates `dir` (and its parents) if missing; a folder devport creates is private (0700).
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| Error::io("cannot create folder", dir, e))
}

/// The Unix permissions a replaced file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// Exactly these bits, whatever the umask (the registry; a file whose mode is kept).
    Exact(u32),
    /// These bits less the umask, as any new file a person creates (a new `.env`).
    Masked(u32),
}

/// Replaces `path` with `bytes` atomically: a temp file in the same folder, `sync_all`, rename
/// over the target, then an fsync of the folder. On failure the target is untouched and the
/// temp file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: FileMode) -> Result<()> {
    let dir = parent_dir(path);
    let fail = |e| Error::io("cannot write", path, e);
    let mut builder = tempfile::Builder::new();
    let prefix = temp_prefix(path);
    builder.prefix(&prefix).suffix(".tmp").rand_bytes(TEMP_RAND);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let (FileMode::Exact(bits) | FileMode::Masked(bits)) = mode;
        builder.permissions(std::fs::Permissions::from_mode(bits));
    }
    #[cfg(not(unix))]
    let _ = mode; // only the read-only bit exists there, and a fresh temp file is writable
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| fail(without_temp_path(e)))?;
    // The mode given at creation is cut by the umask; an exact mode (a group-shared registry
    // needs its g+w) is set again on the open file.
    #[cfg(unix)]
    if let FileMode::Exact(bits) = mode {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(bits))
            .map_err(fail)?;
    }
    // Through the plain file: tempfile's own writer adds the temp file's name to errors.
    tmp.as_file_mut().write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    #[cfg(not(windows))]
    tmp.persist(path).map_err(|e| fail(e.error))?;
    #[cfg(windows)]
    replace(tmp.into_temp_path(), path).map_err(fail)?;
    sync_dir(dir);
    Ok(())
}

/// Windows: moves the temp file over `path` with POSIX semantics, so a reader that has the old
/// file open keeps reading it and the rename does not fail with "Access denied". Where that is
/// not supported (before Windows 10 1607, FAT volumes, Wine) it falls back to a replacing
/// rename, retried for a bounded time while a reader still has the old file open. On failure
/// the temp file is removed (when `tmp` drops).
#[cfg(windows)]
fn replace(tmp: tempfile::TempPath, path: &Path) -> std::io::Result<()> {
    use std::os::windows::fs::OpenOptionsExt as _;
    use std::time::{Duration, Instant};
    use windows_sys::Win32::Storage::FileSystem::{
        DELETE, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidFilename))?;
    let posix = std::fs::OpenOptions::new()
        .access_mode(DELETE)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
        .open(&tmp)
        .and_then(|file| crate::winapi::rename_posix(&file, name));
    if posix.is_ok() {
        let _ = tmp.keep();
        return Ok(());
    }
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match std::fs::rename(&tmp, path) {
            Ok(()) => {
                let _ = tmp.keep();
                return Ok(());
            }
            // ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION: a reader has the old file open.
            Err(e)
                if matches!(e.raw_os_error(), Some(5 | 32))
                    && start.elapsed() < RENAME_RETRY_LIMIT =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

/// How long a replacing rename on Windows is retried while readers hold the old file.
#[cfg(windows)]
const RENAME_RETRY_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// tempfile names its temp file in its errors (`... at path "./..env.XXXX.tmp"`); the user
/// knows only the file being written, so the OS error is kept and the temp file's name dropped.
fn without_temp_path(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.split_once(" at path ") {
        Some((os_error, _)) => std::io::Error::new(e.kind(), os_error.to_string()),
        None => e,
    }
}

/// The mode for a registry file in `dir`: 0600, or 0660 when the folder is group-writable —
/// a registry shared by the users of a group, who must all be able to lock and replace it.
pub fn private_mode(dir: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let shared = std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o020 != 0);
        if shared { 0o660 } else { 0o600 }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        0o600
    }
}

/// Temp files for `path` are `.NAME.XXXXXX.tmp` beside it.
fn temp_prefix(path: &Path) -> String {
    format!(
        ".{}.",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    )
}

/// Removes temp files that a writer of `path` killed mid-write left behind. Call it only while
/// holding the lock that every writer of `path` takes, so no live writer's file is removed.
pub fn remove_stale_temps(path: &Path) {
    let prefix = temp_prefix(path);
    let Ok(entries) = std::fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let random = name
            .strip_prefix(prefix.as_str())
            .and_then(|rest| rest.strip_suffix(".tmp"));
        let ours = random
            .is_some_and(|r| r.len() == TEMP_RAND && r.bytes().all(|b| b.is_ascii_alphanumeric()));
        if ours && is_own_regular_file(&entry.path()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// How many random characters a temp file's name has (`.NAME.XXXXXX.tmp`).
const TEMP_RAND: usize = 6;

/// A regular file (not a link, not a folder) that this user owns: the only kind of leftover
/// temp file devport may remove. In a folder shared by a group, another member's file is
/// theirs to clean up.
fn is_own_regular_file(path: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        meta.is_file() && meta.uid() == nix::unistd::geteuid().as_raw()
    }
    #[cfg(not(unix))]
    meta.is_file()
}

/// The most bytes devport reads from one file: far above any real registry, manifest, config or
/// `.env` file, and low enough that a link to `/dev/zero` or a runaway file cannot exhaust
/// memory.
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// The one way devport reads a file it may not have created (the registry, a config, a
/// manifest, a `.env` file): opened without blocking (a FIFO cannot hang it) and without
/// becoming a controlling terminal, checked with `fstat` to be a regular file, and refused above
/// [`MAX_FILE_SIZE`]. A missing file is `Ok(None)`. `what` names the file in errors
/// ("registry", "config file").
pub fn read_regular(path: &Path, what: &'static str) -> Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use nix::fcntl::OFlag;
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits());
    }
    // Windows: a writer may replace the file while it is read here, so deletion is shared
    // (std's default too, made explicit because the replace depends on it).
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt as _;
        use windows_sys::Win32::Storage::FileSystem::{
            FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
        };
        options.share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        // Windows refuses to open a folder as a file ("Access denied"): say what it is.
        #[cfg(windows)]
        Err(_) if path.is_dir() => {
            return Err(Error::NotAFile {
                what,
                path: path.to_path_buf(),
                kind: "a folder",
            });
        }
        Err(e) => return Err(Error::io(read_action(what), path, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::io(read_action(what), path, e))?;
    if !meta.is_file() {
        return Err(Error::NotAFile {
            what,
            path: path.to_path_buf(),
            kind: file_kind(meta.file_type()),
        });
    }
    let too_large = |size: u64| Error::TooLarge {
        what,
        path: path.to_path_buf(),
        size,
        limit: MAX_FILE_SIZE,
    };
    if meta.len() > MAX_FILE_SIZE {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(read_action(what), path, e))?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(Some(bytes))
}

fn read_action(what: &'static str) -> &'static str {
    match what {
        "registry" => "cannot read registry",
        "config file" => "cannot read config file",
        "manifest" => "cannot read manifest",
        _ => "cannot read",
    }
}

/// A file type in words, for "X is a FIFO, not a regular file".
fn file_kind(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

pub(crate) use crate::paths::parent_dir;

/// Why devport must not act on the file at `path` although it exists, or `None` when it may:
/// the file belongs to another user, or it (or, for a symlink, its target) sits in a folder
/// every user may write — sticky bit or not, anyone could have put it there. A missing file is
/// `None`. Used for manifests and the user's config, which decide ports and variable names.
#[cfg(unix)]
pub fn untrusted(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).ok()?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Some(format!(
            "it belongs to uid {}, not to you (uid {me}); if you trust it, copy it to a file of your own in its place",
            meta.uid()
        ));
    }
    let real = dunce::canonicalize(path).ok()?;
    [path, real.as_path()].into_iter().find_map(in_open_folder)
}

/// Why a file at `file` (existing or not) must not be trusted because of its folder: every
/// user may write that folder, sticky bit or not. `None` when the folder is private or cannot
/// be looked at. Part of [`untrusted`]; alone, for a file devport is about to create.
#[cfg(unix)]
pub fn in_open_folder(file: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let dir = parent_dir(file);
    let mode = std::fs::metadata(dir).ok()?.mode();
    (mode & 0o002 != 0).then(|| {
        format!(
            "it is in {}, which every user may write (mode {:04o}); move it into a folder only you can write",
            dir.display(),
            mode & 0o7777
        )
    })
}

/// Why devport must not act on the file at `path`: never, where files have no Unix owner.
#[cfg(not(unix))]
pub fn untrusted(_path: &Path) -> Option<String> {
    None
}

/// Why a file must not be trusted because of its folder: never, where folders have no Unix
/// mode.
#[cfg(not(unix))]
pub fn in_open_folder(_file: &Path) -> Option<String> {
    None
}

/// Reads a TOML file with [`read_regular`] (`None` when it is missing); text that
/// is not UTF-8 is the error `bad` makes ([`Error::config`] or [`Error::manifest`]).
pub(crate) fn read_text(
    path: &Path,
    what: &'static str,
    bad: fn(&Path, String) -> Error,
) -> Result<Option<String>> {
    let Some(bytes) = read_regular(path, what)? else {
        return Ok(None);
    };
    String::from_utf8(bytes).map(Some).map_err(|e| {
        bad(
            path,
            format!(
                "byte {} is not valid UTF-8; save the file as UTF-8",
                e.utf8_error().valid_up_to() + 1
            ),
        )
    })
}

#[cfg(unix)]
fn sync_dir(dir: &Path) {
    // Makes the rename durable. A folder that cannot be opened for sync (some network file
    // systems) still holds the new file, so this is best effort.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

#[cfg(all(test, windows))]
mod windows_tests {
    use std::io::Read as _;

    use super::{FileMode, write_atomic};

    /// The registry is replaced while another process reads it: the reader keeps the old
    /// bytes, new readers get the new ones, and the writer never sees "Access denied".
    #[test]
    #[ignore = "Wine: no POSIX rename, and a replacing rename is refused while a reader has the file open"]
    fn replace_while_a_reader_has_the_file_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("registry.json");
        write_atomic(&path, b"old", FileMode::Exact(0o600)).expect("first write");
        let mut reader = std::fs::File::open(&path).expect("open for reading");
        for round in 0..20 {
            write_atomic(
                &path,
                format!("new {round}").as_bytes(),
                FileMode::Exact(0o600),
            )
            .expect("replace while read");
        }
        let mut old = String::new();
        reader.read_to_string(&mut old).expect("read old");
        assert_eq!(old, "old");
        assert_eq!(std::fs::read_to_string(&path).expect("read new"), "new 19");
    }

    /// The POSIX-semantics rename itself (Windows 10 1607+ on NTFS).
    #[test]
    #[ignore = "Wine: SetFileInformationByHandle(FileRenameInfoEx) fails with ERROR_INVALID_PARAMETER"]
    fn posix_rename_replaces_an_open_file() {
        use std::os::windows::fs::OpenOptionsExt as _;
        use windows_sys::Win32::Storage::FileSystem::{
            DELETE, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("registry.json");
        let source = dir.path().join("registry.json.tmp");
        std::fs::write(&target, "old").expect("write target");
        std::fs::write(&source, "new").expect("write source");
        let _reader = std::fs::File::open(&target).expect("open target");
        let file = std::fs::OpenOptions::new()
            .access_mode(DELETE)
            .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
            .open(&source)
            .expect("open source");
        crate::winapi::rename_posix(&file, "registry.json".as_ref()).expect("rename");
        drop(file);
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "new");
        assert!(!source.exists());
    }
}

/// Opens a file the user named for devport to replace (`env --write`, `export --write`): a
/// symlink is followed to its target (which is replaced, so the link stays); the file is read
/// with [`read_regular`] (a FIFO or a folder is an error, never a hang). Refused (exit 3), as
/// manifests are (see [`untrusted`]), when another user could have chosen the file: it (or a
/// link's target) belongs to another user, it (or a link's target) is in a folder every user
/// may write, or the path goes through a symlink another user made (root's links, such as
/// macOS's `/tmp`, are trusted). Writing there would change a file with this user's rights
/// that this user never chose. Gives the file to replace and its bytes (`None` when it does
/// not exist yet).
pub fn open_replaceable(path: &Path, what: &'static str) -> Result<(PathBuf, Option<Vec<u8>>)> {
    let refuse = |why: String| Error::Insecure {
        path: path.to_path_buf(),
        message: format!("{what} {} cannot be written: {why}", path.display()),
    };
    if let Some(why) = foreign_link(path) {
        return Err(refuse(why));
    }
    let target = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            dunce::canonicalize(path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::config(
                    path,
                    format!(
                        "is a symlink to {}, which does not exist; create that file or remove the link",
                        std::fs::read_link(path).unwrap_or_default().display()
                    ),
                ),
                _ => Error::io("cannot follow the symlink", path, e),
            })?
        }
        _ => path.to_path_buf(),
    };
    let untrusted = untrusted(path)
        .map(|why| match target.as_path() {
            real if real == path => why,
            real => format!("it is a symlink to {}; {why}", real.display()),
        })
        .or_else(|| in_open_folder(path));
    if let Some(why) = untrusted {
        return Err(refuse(why));
    }
    let existing = read_regular(&target, what)?;
    if existing.is_some() && read_only(&target) {
        return Err(Error::config(
            path,
            "is read-only, so devport leaves it alone; make it writable (chmod u+w) if devport should update it".to_string(),
        ));
    }
    // The folder must be there and writable now, so a command that claims first and writes
    // last fails before it claims, not after.
    let folder = parent_dir(&target);
    if !folder.is_dir() {
        return Err(Error::config(
            path,
            format!(
                "cannot be written: the folder {} does not exist; create it first",
                folder.display()
            ),
        ));
    }
    if let Some(e) = folder_unwritable(folder) {
        return Err(Error::io("cannot write", path, e));
    }
    Ok((target, existing))
}

/// Whether the file at `path` is marked read-only for its owner (mode without `u+w`; on
/// Windows the read-only attribute): someone asked that it not be changed.
fn read_only(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o200 == 0)
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly())
    }
}

/// Why this user may not create files in `folder`, if it may not.
#[cfg(unix)]
fn folder_unwritable(folder: &Path) -> Option<std::io::Error> {
    nix::unistd::access(
        folder,
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
    )
    .err()
    .map(std::io::Error::from)
}

/// Why this user may not create files in `folder`: the write itself will say, where access
/// rights are not Unix modes.
#[cfg(not(unix))]
fn folder_unwritable(_folder: &Path) -> Option<std::io::Error> {
    None
}

/// Why `path` may not be used because it goes through a symlink that another user made (a
/// link of this user's or root's is fine), if it does.
#[cfg(unix)]
fn foreign_link(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let me = nix::unistd::geteuid().as_raw();
    let absolute = std::path::absolute(path).ok()?;
    absolute.ancestors().find_map(|p| {
        let meta = std::fs::symlink_metadata(p).ok()?;
        (meta.file_type().is_symlink() && meta.uid() != me && meta.uid() != 0).then(|| {
            let link = if p == absolute {
                "it".to_string()
            } else {
                p.display().to_string()
            };
            format!(
                "{link} is a symlink that uid {} made, not you (uid {me}); write to a path of your own instead",
                meta.uid()
            )
        })
    })
}

/// Why `path` may not be used because of a symlink another user made: never, where files have
/// no Unix owner.
#[cfg(not(unix))]
fn foreign_link(_path: &Path) -> Option<String> {
    None
}
