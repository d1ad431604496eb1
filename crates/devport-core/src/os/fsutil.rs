//! Files: durable writes (the one place that replaces a file on disk), safe reads, and whether
//! a file devport did not write may be trusted.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::os::platform::{Platform, PlatformInterface as _};
use crate::os::process;

/// Makes sure devport may write files into the folder `dir`, creating it and its missing
/// parents with `mode` (less the umask) if needed: the one way devport makes a folder it writes
/// into (the registry's folder, `man --dir`); `what` names it in errors ("registry folder").
/// Refused (nothing is created):
/// - a folder in a home folder that does not exist (`HOME=/nonexistent` must not make
///   `/nonexistent`, which root could);
/// - a folder that is another user's, or would be created in one (see [`foreign_folder`]):
///   root may write anywhere, but devport does not use that power on another user's files;
/// - a path through a symlink another user made.
pub fn ensure_dir(dir: &Path, mode: u32, what: &str) -> Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    if let Some(meta) = std::fs::metadata(dir).ok().filter(|m| !m.is_dir()) {
        return Err(Error::config(
            dir,
            format!(
                "is {}, not a folder; give a folder, or a path that does not exist yet",
                if meta.is_file() {
                    "a file"
                } else {
                    file_kind(meta.file_type())
                }
            ),
        ));
    }
    if let Some(home) = missing_home(&absolute) {
        return Err(Error::config(
            dir,
            format!(
                "cannot be created: it is in the home folder {}, which does not exist; create the home folder, or set HOME to one that exists",
                home.display()
            ),
        ));
    }
    if let Some(why) = foreign_link(dir) {
        return Err(Error::Insecure {
            path: dir.to_path_buf(),
            message: format!("{what} {} cannot be used: {why}", dir.display()),
        });
    }
    // The folder itself when it exists, else the folder it would be created in.
    let Some(existing) = absolute.ancestors().find(|p| p.is_dir()) else {
        return Ok(());
    };
    if let Some(foreign) = foreign_folder(existing) {
        let what = if existing == absolute {
            format!("{what} {}", dir.display())
        } else {
            format!(
                "{what} {} would be made in {}, which",
                dir.display(),
                existing.display()
            )
        };
        return Err(Error::Insecure {
            path: existing.to_path_buf(),
            message: foreign.message(&what),
        });
    }
    if existing == absolute {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, mode);
    #[cfg(not(unix))]
    let _ = mode;
    builder
        .create(dir)
        .map_err(|e| Error::io("cannot create folder", dir, e))
}

/// The home folder, when `dir` is inside it and it does not exist.
fn missing_home(dir: &Path) -> Option<PathBuf> {
    let home = directories::BaseDirs::new()?.home_dir().to_path_buf();
    (dir.starts_with(&home) && !home.is_dir()).then_some(home)
}

/// Why this user must not create or replace files in a folder the OS may let it write: the
/// folder belongs to another user (root may write anywhere; devport does not use that power
/// on another user's folder), unless it is shared by a group (group-writable) that this user
/// is a member of by its own groups, not by being root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreign {
    /// The owner of the folder or file.
    owner: u32,
    /// The group that shares the folder, when it is shared and this user is not a member.
    group: Option<u32>,
    /// A file of another user in a folder of this user's: the file to take back with `chown`.
    reclaim: Option<PathBuf>,
}

impl Foreign {
    /// The one line that refuses `what` ("registry folder /x"): whose it is, and what to run
    /// instead.
    pub fn message(&self, what: &str) -> String {
        let me = euid();
        if let Some(gid) = self.group {
            return format!(
                "{what} is shared by the group {}, and you ({}) are not a member; run devport as a member of that group, or add {} to it if it should share this registry",
                group_name(gid),
                my_name(me),
                short_name(me),
            );
        }
        let instead = if let Some(file) = &self.reclaim {
            format!(
                "if it is yours, take it back with 'sudo chown {} {}'",
                short_name(me),
                file.display()
            )
        } else if me == 0 && self.owner != 0 {
            format!(
                "run devport as {} instead, without sudo",
                short_name(self.owner)
            )
        } else {
            "use a folder of your own instead".to_string()
        };
        format!(
            "{what} belongs to {}, not to you ({}); {instead}",
            user_name(self.owner),
            my_name(me)
        )
    }
}

/// Whether the folder `dir` is one devport may not write into for this user (see [`Foreign`]).
/// `None` for a folder of this user, a group-shared folder of one of this user's groups, a
/// folder every user may write (refused on that ground where it matters: see
/// [`in_open_folder`]), and a folder that cannot be looked at (the OS then says).
#[cfg(unix)]
pub fn foreign_folder(dir: &Path) -> Option<Foreign> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(dir).ok()?;
    let (mode, me) = (meta.mode(), euid());
    if meta.uid() == me || mode & 0o002 != 0 {
        return None;
    }
    let shared = mode & 0o020 != 0;
    if shared && is_member(meta.gid()) {
        return None;
    }
    Some(Foreign {
        owner: meta.uid(),
        group: shared.then_some(meta.gid()),
        reclaim: None,
    })
}

/// Whether the folder `dir` is one devport may not write into: never, where folders have no
/// Unix owner.
#[cfg(not(unix))]
pub fn foreign_folder(_dir: &Path) -> Option<Foreign> {
    None
}

/// Whether devport may change the existing file `path` (one of its own: the registry, its
/// lock; `meta` is its metadata) in its folder: it is this user's, or it has the group of a
/// folder shared by a group this user is a member of. A file another user made in a folder of
/// this user's (a registry `sudo devport` once wrote) is refused with the fix: take it back.
#[cfg(unix)]
pub fn foreign_file(path: &Path, meta: &std::fs::Metadata) -> Option<Foreign> {
    use std::os::unix::fs::MetadataExt as _;
    let me = euid();
    if meta.uid() == me {
        return None;
    }
    let folder = std::fs::metadata(parent_dir(path)).ok();
    let shared_gid = folder
        .as_ref()
        .filter(|f| f.mode() & 0o020 != 0)
        .map(std::os::unix::fs::MetadataExt::gid);
    if shared_gid == Some(meta.gid()) {
        // A member's file in a folder a group shares: a member may change it; anyone else
        // (root too, unless a member by its own groups) is told it is not a member.
        return (!is_member(meta.gid())).then_some(Foreign {
            owner: meta.uid(),
            group: Some(meta.gid()),
            reclaim: None,
        });
    }
    Some(Foreign {
        owner: meta.uid(),
        group: None,
        reclaim: folder
            .is_some_and(|f| f.uid() == me)
            .then(|| path.to_path_buf()),
    })
}

/// Whether devport may change an existing file of its own: always, where files have no Unix
/// owner.
#[cfg(not(unix))]
pub fn foreign_file(_path: &Path, _meta: &std::fs::Metadata) -> Option<Foreign> {
    None
}

/// This process's effective uid (0 where there are no uids).
fn euid() -> u32 {
    process::current_uid().unwrap_or(0)
}

/// Whether this process is a member of the group `gid` by its own groups (its effective group
/// or its supplementary groups: `sudo` gives root root's own groups, never the user's).
#[cfg(unix)]
fn is_member(gid: u32) -> bool {
    let gid = nix::unistd::Gid::from_raw(gid);
    if nix::unistd::getegid() == gid {
        return true;
    }
    #[cfg(not(target_vendor = "apple"))]
    {
        nix::unistd::getgroups().is_ok_and(|groups| groups.contains(&gid))
    }
    // No getgroups there: the group's member list.
    #[cfg(target_vendor = "apple")]
    {
        let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten();
        let group = nix::unistd::Group::from_gid(gid).ok().flatten();
        user.zip(group)
            .is_some_and(|(u, g)| g.mem.contains(&u.name))
    }
}

/// A user as people know them: `alice (uid 1000)`, or `uid 1000` when the uid has no name.
fn user_name(uid: u32) -> String {
    match name_of(uid) {
        Some(name) => format!("{name} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

/// This user as people know it in "not to you (…)": `root, uid 0`, or `uid 0` with no name.
fn my_name(uid: u32) -> String {
    match name_of(uid) {
        Some(name) => format!("{name}, uid {uid}"),
        None => format!("uid {uid}"),
    }
}

/// A user's name, or `uid 1000` when the uid has no name.
fn short_name(uid: u32) -> String {
    name_of(uid).unwrap_or_else(|| format!("uid {uid}"))
}

#[cfg(unix)]
fn name_of(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

#[cfg(not(unix))]
fn name_of(_uid: u32) -> Option<String> {
    None
}

/// A group as people know it: `staff (gid 20)`, or `gid 20` when it has no name.
fn group_name(gid: u32) -> String {
    #[cfg(unix)]
    if let Some(group) = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
        .ok()
        .flatten()
    {
        return format!("{} (gid {gid})", group.name);
    }
    format!("gid {gid}")
}

/// The Unix permissions a replaced file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// Exactly these bits, whatever the umask (the registry; a file whose mode is kept).
    Exact(u32),
    /// These bits less the umask, as any new file a person creates (a new `.env`).
    Masked(u32),
    /// A file of a registry shared by a group: exactly these bits, this group, and this owner
    /// where the writer may give a file away (root; another member's write makes the file its
    /// own, with the group and mode kept, so every member can still use it).
    #[cfg(unix)]
    Shared {
        /// The mode bits.
        mode: u32,
        /// The owner to keep.
        owner: u32,
        /// The group to keep.
        group: u32,
    },
}

/// How a registry file (the registry, or a new lock) at `path` is written: in a folder shared
/// by a group (group-writable), an existing file keeps its owner, group and mode, and a new one
/// gets the folder's group and 0660; anywhere else it is this user's, 0600.
pub fn registry_mode(path: &Path) -> FileMode {
    let dir = parent_dir(path);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if let Ok(folder) = std::fs::metadata(dir)
            && folder.mode() & 0o020 != 0
        {
            return match std::fs::metadata(path) {
                Ok(file) => FileMode::Shared {
                    mode: file.mode() & 0o7777,
                    owner: file.uid(),
                    group: file.gid(),
                },
                Err(_) => FileMode::Shared {
                    mode: 0o660,
                    owner: euid(),
                    group: folder.gid(),
                },
            };
        }
    }
    FileMode::Exact(private_mode(dir))
}

/// Gives the file just created (`file`) the mode, group and (for root) owner `mode` asks for;
/// a plain mode is set exactly only for [`FileMode::Exact`] (the umask cut it at creation).
#[cfg(unix)]
pub fn apply_mode(file: &std::fs::File, mode: FileMode) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let bits = match mode {
        FileMode::Masked(_) => return Ok(()),
        FileMode::Exact(bits) => bits,
        FileMode::Shared { mode, owner, group } => {
            let me = euid();
            let owner = (me == 0 && owner != me).then(|| nix::unistd::Uid::from_raw(owner));
            nix::unistd::fchown(file, owner, Some(nix::unistd::Gid::from_raw(group)))?;
            mode
        }
    };
    file.set_permissions(std::fs::Permissions::from_mode(bits))
}

/// Where files have no Unix mode or owner, a new file is as good as it gets.
#[cfg(not(unix))]
#[allow(
    clippy::unnecessary_wraps,
    reason = "the same signature as the Unix form, which can fail"
)]
pub fn apply_mode(_file: &std::fs::File, _mode: FileMode) -> std::io::Result<()> {
    Ok(())
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
        let (FileMode::Exact(bits) | FileMode::Masked(bits) | FileMode::Shared { mode: bits, .. }) =
            mode;
        builder.permissions(std::fs::Permissions::from_mode(bits));
    }
    #[cfg(not(unix))]
    let _ = mode; // only the read-only bit exists there, and a fresh temp file is writable
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| fail(without_temp_path(e)))?;
    // The mode given at creation is cut by the umask; an exact mode (a group-shared registry
    // needs its g+w, and its group) is set again on the open file.
    #[cfg(unix)]
    apply_mode(tmp.as_file(), mode).map_err(fail)?;
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
        .and_then(|file| crate::os::winapi::rename_posix(&file, name));
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
    let shared = std::fs::metadata(dir)
        .ok()
        .and_then(|m| Platform::mode(&m))
        .is_some_and(|m| m & 0o020 != 0);
    if shared { 0o660 } else { 0o600 }
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
    // Where files have no owner (Windows), both sides are `None`.
    meta.is_file() && Platform::owner(&meta) == process::current_uid()
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

pub use crate::os::paths::parent_dir;

/// Why devport must not act on the file at `path` although it exists, or `None` when it may:
/// the file belongs to another user, or it (or, for a symlink, its target) sits in a folder
/// every user may write — sticky bit or not, anyone could have put it there. A missing file is
/// `None`. Used for manifests and the user's config, which decide ports and variable names.
/// Never where files have no owner.
pub fn untrusted(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let (owner, me) = (Platform::owner(&meta)?, process::current_uid()?);
    if owner != me {
        // Root copying a user's file "in its place" would take the user's file over (under
        // `sudo -E`, the user's own trust file or config): root is told to be that user.
        let instead = if me == 0 {
            format!("run devport as {} instead, without sudo", short_name(owner))
        } else {
            "if you trust it, copy it to a file of your own in its place".to_string()
        };
        return Some(format!(
            "it belongs to uid {owner}, not to you (uid {me}); {instead}"
        ));
    }
    let real = dunce::canonicalize(path).ok()?;
    [path, real.as_path()].into_iter().find_map(in_open_folder)
}

/// Why a file at `file` (existing or not) must not be trusted because of its folder: every
/// user may write that folder, sticky bit or not. `None` when the folder is private or cannot
/// be looked at. Part of [`untrusted`]; alone, for a file devport is about to create. Never
/// where folders have no Unix mode.
pub fn in_open_folder(file: &Path) -> Option<String> {
    let dir = parent_dir(file);
    let mode = Platform::mode(&std::fs::metadata(dir).ok()?)?;
    (mode & 0o002 != 0).then(|| {
        format!(
            "it is in {}, which every user may write (mode {mode:04o}); move it into a folder only you can write",
            dir.display(),
        )
    })
}

/// Reads a TOML file with [`read_regular`] (`None` when it is missing); text that
/// is not UTF-8 is the error `bad` makes ([`Error::config`] or [`Error::manifest`]).
pub fn read_text(
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
        crate::os::winapi::rename_posix(&file, "registry.json".as_ref()).expect("rename");
        drop(file);
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "new");
        assert!(!source.exists());
    }
}

/// A file the user named for devport to write (`env --write`, `export --write`, `init`,
/// `man --dir`), checked by [`open_replaceable`]; [`Replaceable::write`] writes it.
#[derive(Debug)]
pub struct Replaceable {
    /// The path as given, for messages.
    shown: PathBuf,
    /// Which file it is (".env file"), for messages.
    what: &'static str,
    /// The folder a symlink's target must lie in.
    within: PathBuf,
    /// What is written, and how.
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// A regular file (or none yet), replaced atomically: the path, or a symlink's target.
    File {
        target: PathBuf,
        existing: Option<Vec<u8>>,
    },
    /// devport's own stdout (1) or stderr (2), named `/dev/stdout`, `/dev/fd/1` and so on:
    /// written through that very descriptor, so the caller's redirect gets the text in place,
    /// at its offset, and keeps its file.
    Stdio(u32),
    /// A FIFO, the null device or a terminal: opened for writing when it is checked (a FIFO no
    /// process reads fails then, before anything else is done) and written in place through
    /// that very open file, never replaced. Kept open until the write: closing it would send
    /// a reader end-of-file.
    Stream(std::fs::File),
}

impl Replaceable {
    /// The path as given.
    pub fn path(&self) -> &Path {
        &self.shown
    }

    /// The file's bytes; `None` when it does not exist yet, or is a stream (which has no text
    /// to keep).
    pub fn existing(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::File { existing, .. } => existing.as_deref(),
            Kind::Stdio(_) | Kind::Stream(_) => None,
        }
    }

    /// The same file checked again, with its bytes as they are now (to merge under a lock); a
    /// stream is the same open file, not opened again.
    pub fn reopen(&self) -> Result<Replaceable> {
        match &self.kind {
            Kind::Stream(file) => Ok(Replaceable {
                shown: self.shown.clone(),
                what: self.what,
                within: self.within.clone(),
                kind: Kind::Stream(
                    file.try_clone()
                        .map_err(|e| Error::io("cannot write", &self.shown, e))?,
                ),
            }),
            _ => open_replaceable(&self.shown, self.what, &self.within),
        }
    }

    /// Writes `bytes`: a regular file is replaced atomically (see [`write_atomic`]; it keeps its
    /// mode, a new one gets the umask's), a stream gets them in place.
    pub fn write(&self, bytes: &[u8]) -> Result<()> {
        let fail = |e| Error::io("cannot write", &self.shown, e);
        match &self.kind {
            Kind::File { target, .. } => write_atomic(target, bytes, kept_mode(target)),
            Kind::Stdio(fd) => {
                let mut out: Box<dyn std::io::Write> = if *fd == 2 {
                    Box::new(std::io::stderr().lock())
                } else {
                    Box::new(std::io::stdout().lock())
                };
                out.write_all(bytes)
                    .and_then(|()| out.flush())
                    .map_err(fail)
            }
            Kind::Stream(file) => {
                let mut file = file;
                std::io::Write::write_all(&mut file, bytes)
                    .and_then(|()| std::io::Write::flush(&mut file))
                    .map_err(fail)
            }
        }
    }
}

/// The mode to give a rewritten file: exactly its current one, else the umask's choice.
fn kept_mode(path: &Path) -> FileMode {
    match std::fs::metadata(path)
        .ok()
        .and_then(|m| Platform::mode(&m))
    {
        Some(bits) => FileMode::Exact(bits),
        None => FileMode::Masked(0o666),
    }
}

/// ENXIO: a FIFO opened for writing without blocking has no reader.
fn libc_enxio() -> i32 {
    #[cfg(unix)]
    {
        nix::errno::Errno::ENXIO as i32
    }
    #[cfg(not(unix))]
    0
}

/// Opens a stream (FIFO or device) for writing without blocking (a FIFO without a reader is
/// ENXIO, not a hang) and without becoming a controlling terminal; later writes block.
#[cfg(unix)]
fn open_stream(path: &Path) -> std::io::Result<std::fs::File> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits())
        .open(path)?;
    fcntl(&file, FcntlArg::F_SETFL(OFlag::empty()))?;
    Ok(file)
}

#[cfg(not(unix))]
fn open_stream(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).open(path)
}

/// The error of a stream that cannot be opened for writing: a FIFO no process reads, a device
/// with nothing behind it (`/dev/tty` without a terminal), or the OS's own reason.
fn stream_error(path: &Path, meta: &std::fs::Metadata, e: std::io::Error) -> Error {
    if e.raw_os_error() != Some(libc_enxio()) {
        return Error::io("cannot write", path, e);
    }
    let message = if file_kind(meta.file_type()) == "a FIFO" {
        "is a FIFO that no process is reading, so nothing was written; start its reader first"
    } else {
        "is a device with nothing behind it (for /dev/tty: devport has no terminal), so nothing was written; name a file instead"
    };
    Error::config(path, message.to_string())
}

/// Checks a file the user named for devport to write (`env --write`, `export --write`, `init`,
/// `man --dir`): the one checked path for every file devport writes besides its registry.
///
/// A path that names devport's stdout or stderr (`/dev/stdout`, `/dev/fd/2`,
/// `/proc/self/fd/1`, through any links) is written through that descriptor, in place; a FIFO,
/// the null device or a terminal is written in place; any other file that is not a regular
/// file is refused (a regular file behind another descriptor too). Nothing that is not a
/// regular file is ever replaced, so a shell's redirect keeps its file.
///
/// A regular file: a symlink is followed to its target (which is replaced, so the link stays)
/// only when that target lies inside the folder `within` (the project's, or the folder named
/// for `man --dir`): a link committed to a project must not steer a write to any file of the
/// user's (`.env` → `~/.gitconfig`); naming the target itself still works. The file is read
/// with [`read_regular`]. Refused (exit 3), as manifests are (see
/// [`untrusted`]), when another user could have chosen the file: it (or a link's target)
/// belongs to another user, it (or a link's target) is in a folder every user may write, or
/// the path goes through a symlink another user made (root's links, such as macOS's `/tmp`,
/// are trusted). Refused too: a file with other hard links (replacing it would leave them the
/// old text), a read-only file, and a folder that is another user's ([`foreign_folder`]: root
/// does not write into a user's folder), missing or not writable.
pub fn open_replaceable(path: &Path, what: &'static str, within: &Path) -> Result<Replaceable> {
    let refuse = |why: String| Error::Insecure {
        path: path.to_path_buf(),
        message: format!("{what} {} cannot be written: {why}", path.display()),
    };
    if let Some(why) = foreign_link(path) {
        return Err(refuse(why));
    }
    let shown = path.to_path_buf();
    let descriptor = names_descriptor(path);
    if let Some(fd @ (1 | 2)) = descriptor {
        return Ok(Replaceable {
            shown,
            what,
            within: within.to_path_buf(),
            kind: Kind::Stdio(fd),
        });
    }
    if let Ok(meta) = std::fs::metadata(path) {
        if let Some(fd) = descriptor.filter(|_| meta.is_file()) {
            return Err(Error::config(
                path,
                format!(
                    "is file descriptor {fd}, which is open on a regular file that devport could only replace under the program that opened it; name that file itself instead"
                ),
            ));
        }
        if !meta.is_file() && !meta.is_dir() {
            check_stream(path, &meta, what)?;
            let file = open_stream(path).map_err(|e| stream_error(path, &meta, e))?;
            return Ok(Replaceable {
                shown,
                what,
                within: within.to_path_buf(),
                kind: Kind::Stream(file),
            });
        }
    }
    let target = replaced_file(path, within, &refuse)?;
    if let Some(why) = steered_folder(&target, within) {
        return Err(refuse(why));
    }
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
    if let Some(links) = hard_links(&target) {
        return Err(refuse(format!(
            "it has {links} hard links, so replacing it would leave the other names with the old text; remove the other links (a symbolic link is followed instead)"
        )));
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
    if let Some(foreign) = foreign_folder(folder) {
        return Err(Error::Insecure {
            path: path.to_path_buf(),
            message: foreign.message(&format!(
                "{what} {} cannot be written: its folder {}",
                path.display(),
                folder.display()
            )),
        });
    }
    if let Some(e) = folder_unwritable(folder) {
        return Err(Error::io("cannot write", path, e));
    }
    Ok(Replaceable {
        shown,
        what,
        within: within.to_path_buf(),
        kind: Kind::File { target, existing },
    })
}

/// The file a write of `path` replaces: `path`, or a symlink's target when that lies inside
/// `within` (see [`open_replaceable`]); a link out of it is refused with `refuse`'s error.
fn replaced_file(path: &Path, within: &Path, refuse: &impl Fn(String) -> Error) -> Result<PathBuf> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(path.to_path_buf());
    };
    if !meta.file_type().is_symlink() {
        return Ok(path.to_path_buf());
    }
    let real = dunce::canonicalize(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::config(
            path,
            format!(
                "is a symlink to {}, which does not exist; create that file or remove the link",
                std::fs::read_link(path).unwrap_or_default().display()
            ),
        ),
        _ => Error::io("cannot follow the symlink", path, e),
    })?;
    if dunce::canonicalize(within).is_ok_and(|folder| real.starts_with(folder)) {
        return Ok(real);
    }
    Err(refuse(format!(
        "it is a symlink to {}, which is outside {}, so the link (which anyone with commit access could have made) does not choose what is written; name the file itself with --write TARGET, or remove the link",
        real.display(),
        within.display()
    )))
}

/// Why writing `path` would go out of the folder `within` through a symlinked folder inside it
/// (`sub/.env` where `sub` is a committed link to `../other`, or `sub/../.env`), if it would:
/// the rule [`replaced_file`] holds a linked file to, for the folders on the way. The folder
/// is resolved as the system resolves it; it is refused when it is really outside `within` and
/// a symlink that lies in `within` is on the way. A path that goes out with no link of the
/// project's on the way (`../other/.env`) is the user's own choice.
fn steered_folder(path: &Path, within: &Path) -> Option<String> {
    let absolute = std::path::absolute(path).ok()?;
    let folder = absolute.parent()?;
    let inside = dunce::canonicalize(within).ok()?;
    let real = dunce::canonicalize(folder).ok()?;
    if real.starts_with(&inside) {
        return None;
    }
    let link = folder.ancestors().find(|a| {
        std::fs::symlink_metadata(a).is_ok_and(|m| m.file_type().is_symlink())
            && a.parent()
                .and_then(|p| dunce::canonicalize(p).ok())
                .is_some_and(|p| p.starts_with(&inside))
    })?;
    Some(format!(
        "its folder {} goes through a symlink, {}, and is really {}, outside {}, so the link (which anyone with commit access could have made) does not choose where it is written; name the real path with --write TARGET, or remove the link",
        folder.display(),
        link.display(),
        real.display(),
        within.display()
    ))
}

/// How many names the regular file at `path` has, when it has more than one.
pub fn hard_links(path: &Path) -> Option<u64> {
    std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .and_then(|m| Platform::links(&m))
        .filter(|&n| n > 1)
}

/// Whether devport may write in place into the stream `meta` describes: a FIFO (by the rules of
/// files: not another user's, not in a folder every user may write), the null device, or a
/// terminal of devport's ([`known_devices`]). Anything else that is not a regular file (a disk,
/// another device, a socket) is refused.
fn check_stream(path: &Path, meta: &std::fs::Metadata, what: &'static str) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
        let kind = meta.file_type();
        if kind.is_fifo() {
            return match untrusted(path) {
                None => Ok(()),
                Some(why) => Err(Error::Insecure {
                    path: path.to_path_buf(),
                    message: format!("{what} {} cannot be written: {why}", path.display()),
                }),
            };
        }
        // Known by its device number, never by opening it: opening some devices acts (a
        // watchdog starts counting), and root may open any.
        if kind.is_char_device() && known_devices().contains(&meta.rdev()) {
            return Ok(());
        }
        if kind.is_char_device() || kind.is_block_device() {
            return Err(Error::config(
                path,
                format!(
                    "is a device, and devport writes {what}s only to regular files, /dev/stdout, /dev/stderr, /dev/null, a FIFO or your terminal; name a regular file instead"
                ),
            ));
        }
    }
    Err(Error::NotAFile {
        what,
        path: path.to_path_buf(),
        kind: file_kind(meta.file_type()),
    })
}

/// The devices devport writes in place: the null device, the controlling terminal (`/dev/tty`)
/// and the terminal that devport's stdin, stdout or stderr is.
#[cfg(unix)]
fn known_devices() -> Vec<u64> {
    use std::io::IsTerminal as _;
    let terminals = [
        std::io::stdin().is_terminal().then_some("/dev/fd/0"),
        std::io::stdout().is_terminal().then_some("/dev/fd/1"),
        std::io::stderr().is_terminal().then_some("/dev/fd/2"),
    ];
    ["/dev/null", "/dev/tty"]
        .into_iter()
        .chain(terminals.into_iter().flatten())
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| std::os::unix::fs::MetadataExt::rdev(&m))
        .collect()
}

/// The descriptor of this process that `path` names, through any chain of symlinks:
/// `/dev/stdout` (1), `/dev/stderr` (2), `/dev/stdin` (0), `/dev/fd/N`, `/proc/self/fd/N`.
#[cfg(unix)]
fn names_descriptor(path: &Path) -> Option<u32> {
    let mut current = std::path::absolute(path).ok()?;
    for _ in 0..40 {
        if let Some(fd) = descriptor_name(&current) {
            return Some(fd);
        }
        let link = std::fs::read_link(&current).ok()?;
        current = parent_dir(&current).join(link);
    }
    None
}

/// Where there are no descriptor names.
#[cfg(not(unix))]
fn names_descriptor(_path: &Path) -> Option<u32> {
    None
}

/// The descriptor a name of one stands for (see [`names_descriptor`]).
#[cfg(unix)]
fn descriptor_name(path: &Path) -> Option<u32> {
    let text = path.to_str()?;
    match text {
        "/dev/stdin" => return Some(0),
        "/dev/stdout" => return Some(1),
        "/dev/stderr" => return Some(2),
        _ => {}
    }
    let own = format!("/proc/{}/fd/", std::process::id());
    [
        "/dev/fd/",
        "/proc/self/fd/",
        "/proc/thread-self/fd/",
        own.as_str(),
    ]
    .iter()
    .find_map(|prefix| text.strip_prefix(prefix)?.parse().ok())
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

/// Why this user may not create files in `folder`, if it may not (where access rights are not
/// Unix modes, the write itself will say).
fn folder_unwritable(folder: &Path) -> Option<std::io::Error> {
    Platform::unwritable(folder, true)
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
