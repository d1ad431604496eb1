//! Facts about processes: whether a pid is alive, and its start time (so a reused pid is told
//! apart from the process a lease was made for); and [`Pinned`], the one way devport signals a
//! process.

/// The start time of process `pid` in an OS-specific unit (Linux: clock ticks since boot, from
/// field 22 of `/proc/PID/stat`), or `None` if the process does not exist or cannot be seen.
#[cfg(target_os = "linux")]
pub fn start_time(pid: u32) -> Option<u64> {
    stat_field(&read_stat(pid)?, STAT_START_TIME)
}

/// Field 4 of `/proc/PID/stat`: the parent's pid.
#[cfg(any(target_os = "linux", test))]
const STAT_PARENT: usize = 4;
/// Field 22 of `/proc/PID/stat`: the start time, in clock ticks since boot.
#[cfg(any(target_os = "linux", test))]
const STAT_START_TIME: usize = 22;

/// The `/proc/PID/stat` line of process `pid`.
#[cfg(target_os = "linux")]
fn read_stat(pid: u32) -> Option<String> {
    read_proc_text(&format!("/proc/{pid}/stat"))
}

/// A `/proc` text file, any bytes that are not UTF-8 replaced: a process may give itself a
/// name that is not UTF-8 (`prctl(PR_SET_NAME)`), and that must neither hide its start time
/// (so a lease or `kill` would take it for gone) nor its name.
#[cfg(target_os = "linux")]
fn read_proc_text(path: &str) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Field `n` (numbered from 1, as in proc(5)) of a `/proc/PID/stat` line, for a field after
/// the command name: the one parser of that line. The command name (field 2) may contain
/// spaces and parentheses, so fields are counted after its last `)`, where field 3 starts.
#[cfg(any(target_os = "linux", test))]
fn stat_field<T: std::str::FromStr>(stat: &str, n: usize) -> Option<T> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_ascii_whitespace()
        .nth(n.checked_sub(3)?)?
        .parse()
        .ok()
}

/// The start time of process `pid` (macOS: microseconds since the Unix epoch, from
/// `proc_pidinfo`), or `None` if it is not running or cannot be seen. No process is spawned.
#[cfg(target_os = "macos")]
pub fn start_time(pid: u32) -> Option<u64> {
    crate::os::macos::bsd_info(pid).map(|(start, _)| start)
}

/// The start time of process `pid` on other Unix systems: `ps -o lstart=` text, hashed with a
/// stable hash (FNV-1a), so the value recorded in the registry means the same after an upgrade.
#[cfg(all(unix, not(any(target_os = "linux", target_os = "macos"))))]
pub fn start_time(pid: u32) -> Option<u64> {
    let out = std::process::Command::new("ps")
        .args(["-o", "lstart=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let text = text.trim();
    if !out.status.success() || text.is_empty() {
        return None;
    }
    Some(crate::model::types::fnv1a(text.as_bytes()))
}

/// The start time of process `pid` (Windows: its creation time in 100 ns units since 1601,
/// from `GetProcessTimes`), or `None` if it is not running or cannot be opened.
#[cfg(windows)]
pub fn start_time(pid: u32) -> Option<u64> {
    crate::os::winapi::process_creation_time(pid)
}

/// Whether the process `pid` that started at `start` is still running. A live process with the
/// same pid but another start time is a different process (the pid was reused).
pub fn is_alive(pid: u32, start: Option<u64>) -> bool {
    match (start_time(pid), start) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// The command name of process `pid` (Linux: `/proc/PID/comm`), or `None` where it cannot be
/// seen.
#[cfg(not(windows))]
pub fn name(pid: u32) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        let comm = read_proc_text(&format!("/proc/{pid}/comm"))?;
        Some(comm.trim_end_matches('\n').to_string())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// The most bytes of a process's arguments devport reads: far more than any container
/// forwarder's, far less than the kernel allows (`ARG_MAX`).
#[cfg(target_os = "linux")]
pub const MAX_CMDLINE: u64 = 64 * 1024;

/// The arguments of process `pid`, program name first (Linux: `/proc/PID/cmdline`, NUL
/// separated, invalid UTF-8 replaced). `None` where they cannot be seen, and for arguments over
/// [`MAX_CMDLINE`] bytes: cut short, a value could be read as another value.
#[cfg(target_os = "linux")]
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    use std::io::Read as _;
    let file = std::fs::File::open(format!("/proc/{pid}/cmdline")).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_CMDLINE + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > MAX_CMDLINE {
        return None;
    }
    Some(split_cmdline(&bytes))
}

/// The arguments of process `pid`: not read on this platform.
#[cfg(not(target_os = "linux"))]
pub fn cmdline(_pid: u32) -> Option<Vec<String>> {
    None
}

/// Every process id this process can see (Linux: the numeric entries of `/proc`).
#[cfg(target_os = "linux")]
pub fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Every process id: not listed on this platform.
#[cfg(not(target_os = "linux"))]
pub fn pids() -> Vec<u32> {
    Vec::new()
}

/// Splits `/proc/PID/cmdline` bytes at each NUL (the last argument ends with one).
#[cfg(any(target_os = "linux", test))]
pub fn split_cmdline(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
}

/// The pid of this process's parent.
#[cfg(unix)]
#[allow(
    clippy::unnecessary_wraps,
    reason = "the Windows version may find no parent"
)]
pub fn parent_pid() -> Option<u32> {
    Some(std::os::unix::process::parent_id())
}

/// The pid of this process's parent (Windows: from a Toolhelp process snapshot; `None` when
/// there is none).
#[cfg(windows)]
pub fn parent_pid() -> Option<u32> {
    let me = std::process::id();
    crate::os::winapi::processes()
        .into_iter()
        .find(|p| p.pid == me)
        .map(|p| p.parent)
        // 0: no Windows parent (Wine started from a Unix shell).
        .filter(|&parent| parent != 0)
}

/// The executable name of process `pid` (`devport.exe`), if it is running.
#[cfg(windows)]
pub fn name(pid: u32) -> Option<String> {
    crate::os::winapi::processes()
        .into_iter()
        .find(|p| p.pid == pid)
        .map(|p| p.name)
}

/// Why a process is likely to exit as soon as the command it runs now is done, so that a lease
/// made for it would end at once (see [`short_lived`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    not(target_os = "linux"),
    allow(dead_code, reason = "only seen on Linux")
)]
pub enum ShortLived {
    /// A subshell (a copy of its parent shell that runs no program of its own: the parts of
    /// `$( … | … )` or `( … )`) that does not read the output of devport: it exits with the
    /// pipeline devport is in.
    Subshell,
    /// A runner that exits when the program it started does (`npm exec`, `npx`, `uvx`, …); the
    /// name is the runner's.
    Runner(String),
}

/// Process names of runners that start one program and exit when it does. npm names its
/// process after the command (`npm exec …`, `npm run …`), so the first word is compared.
#[cfg(target_os = "linux")]
const RUNNERS: &[&str] = &[
    "npm", "npx", "pnpm", "pnpx", "yarn", "bunx", "uv", "uvx", "pipx",
];

/// Field 5 of `/proc/PID/stat`: the process group.
#[cfg(target_os = "linux")]
const STAT_GROUP: usize = 5;

/// Whether process `pid` (devport's parent, which a lease would follow) is likely to exit as
/// soon as devport does. Linux only, and a heuristic: it sees a runner by its process name, and
/// a subshell — the same program with the same arguments as its own parent, not a process group
/// leader — that does not hold devport's stdout pipe open for reading (`P=$(devport lease |
/// cat)`). It does not see a subshell whose output is a file or a terminal.
#[cfg(target_os = "linux")]
pub fn short_lived(pid: u32) -> Option<ShortLived> {
    let stat = read_stat(pid)?;
    let parent: u32 = stat_field(&stat, STAT_PARENT)?;
    // A runner starts devport through `sh -c 'devport' lease` (npm exec): look past that shell.
    let through_shell = runs_one_command(pid).then_some(parent);
    for runner in std::iter::once(pid).chain(through_shell) {
        let word = name(runner)?
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        if RUNNERS.contains(&word.as_str()) {
            return Some(ShortLived::Runner(word));
        }
    }
    let group: u32 = stat_field(&stat, STAT_GROUP)?;
    let exe = |p: u32| std::fs::read_link(format!("/proc/{p}/exe")).ok();
    let subshell = group != pid
        && exe(pid).is_some_and(|e| Some(e) == exe(parent))
        && cmdline(pid).is_some_and(|c| Some(c) == cmdline(parent));
    let my_pipe = std::fs::read_link("/proc/self/fd/1")
        .ok()
        .filter(|target| target.to_string_lossy().starts_with("pipe:"))?;
    (subshell && !reads(pid, &my_pipe)).then_some(ShortLived::Subshell)
}

/// Whether process `pid` is a shell started as `SHELL -c SCRIPT` where the script is one simple
/// command (no `;`, `&`, `|`, `$`, parentheses, backquotes or newlines): it exits with that
/// command.
#[cfg(target_os = "linux")]
fn runs_one_command(pid: u32) -> bool {
    const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash"];
    let Some(args) = cmdline(pid) else {
        return false;
    };
    let program = args
        .first()
        .map_or("", |p| p.rsplit('/').next().unwrap_or(p));
    SHELLS.contains(&program.trim_start_matches('-'))
        && args.get(1).is_some_and(|a| a == "-c")
        && args
            .get(2)
            .is_some_and(|script| !script.contains([';', '&', '|', '$', '(', ')', '`', '\n']))
}

/// Whether process `pid` has the pipe `pipe` (a `/proc/PID/fd` link target) open for reading.
#[cfg(target_os = "linux")]
fn reads(pid: u32, pipe: &std::path::Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| target == pipe)
            && read_proc_text(&format!(
                "/proc/{pid}/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .and_then(|info| {
                let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
                i32::from_str_radix(flags.trim(), 8).ok()
            })
            .is_some_and(|flags| {
                use nix::fcntl::OFlag;
                OFlag::from_bits_retain(flags) & OFlag::O_ACCMODE == OFlag::O_RDONLY
            })
    })
}

/// Whether process `pid` is likely to exit as soon as devport does: not seen on this platform.
#[cfg(not(target_os = "linux"))]
pub fn short_lived(_pid: u32) -> Option<ShortLived> {
    None
}

/// The pid of this process's parent: not known on this platform, so callers ask for an
/// explicit pid.
#[cfg(not(any(unix, windows)))]
pub fn parent_pid() -> Option<u32> {
    None
}

/// Whether this platform shows where processes work ([`folder`]): Linux only.
pub const FOLDERS_VISIBLE: bool = cfg!(target_os = "linux");

/// The folder that says where process `pid` works: its own current folder when it can be
/// seen, else the nearest ancestor's that can be (a parent's folder never overrides the
/// process's own). Returns the pid whose folder it is with the folder; `None` when neither it
/// nor any ancestor's folder can be seen (another user's processes, or a platform without
/// `/proc`).
#[cfg(target_os = "linux")]
pub fn folder(pid: u32) -> Option<(u32, std::path::PathBuf)> {
    nearest_folder(pid, current_dir, |p| {
        stat_field(&read_stat(p)?, STAT_PARENT)
    })
}

/// The folder of process `pid`: not visible on this platform.
#[cfg(not(target_os = "linux"))]
pub fn folder(_pid: u32) -> Option<(u32, std::path::PathBuf)> {
    None
}

/// The first of `pid` and its ancestors (at most 64 steps, stopping below pid 1) whose folder
/// `cwd` can read, with that folder; `parent` gives a process's parent.
#[cfg(any(target_os = "linux", test))]
fn nearest_folder(
    pid: u32,
    cwd: impl Fn(u32) -> Option<std::path::PathBuf>,
    parent: impl Fn(u32) -> Option<u32>,
) -> Option<(u32, std::path::PathBuf)> {
    let mut current = pid;
    for _ in 0..64 {
        if let Some(dir) = cwd(current) {
            return Some((current, dir));
        }
        current = parent(current).filter(|&p| p > 1)?;
    }
    None
}

/// The current folder of process `pid`, when it can be seen (Linux: this user's processes, or
/// any as root). A process whose main thread has exited while other threads run shows no
/// folder of its own: one of its other threads' is read (threads share the folder).
#[cfg(target_os = "linux")]
pub fn current_dir(pid: u32) -> Option<std::path::PathBuf> {
    match std::fs::read_link(format!("/proc/{pid}/cwd")) {
        Ok(dir) => Some(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            other_threads(pid).find_map(|task| std::fs::read_link(format!("{task}/cwd")).ok())
        }
        Err(_) => None,
    }
}

/// The `/proc/PID/task/TID` folders of process `pid`'s threads other than its main one.
#[cfg(target_os = "linux")]
fn other_threads(pid: u32) -> impl Iterator<Item = String> {
    let main = pid.to_string();
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(move |tid| *tid != main)
        .map(move |tid| format!("/proc/{pid}/task/{tid}"))
}

/// What process `pid`'s descriptors point at (the targets of its `/proc/PID/fd` links), or
/// `None` when they cannot be read. A process whose main thread has exited while other threads
/// run shows no descriptors of its own: one of its other threads' are read (threads share
/// them), so such a process is still seen holding its sockets.
#[cfg(target_os = "linux")]
pub fn fd_targets(pid: u32) -> Option<Vec<std::path::PathBuf>> {
    let read = |dir: &str| -> Option<Vec<std::path::PathBuf>> {
        Some(
            std::fs::read_dir(format!("{dir}/fd"))
                .ok()?
                .flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .collect(),
        )
    };
    let own = read(&format!("/proc/{pid}"))?;
    if !own.is_empty() {
        return Some(own);
    }
    Some(
        other_threads(pid)
            .find_map(|task| read(&task).filter(|fds| !fds.is_empty()))
            .unwrap_or(own),
    )
}

/// The current folder of process `pid`: not visible on this platform.
#[cfg(not(target_os = "linux"))]
pub fn current_dir(_pid: u32) -> Option<std::path::PathBuf> {
    None
}

/// The user id that owns process `pid` (Linux: its real user id, from the `Uid:` line of
/// `/proc/PID/status`; other Unix systems: `ps -o uid=`), or `None` where it cannot be seen.
/// Not the owner of `/proc/PID`: that is root for any process that made itself non-dumpable
/// (`prctl(PR_SET_DUMPABLE, 0)`), which would let any user's process pass for root's.
#[cfg(target_os = "linux")]
pub fn uid(pid: u32) -> Option<u32> {
    status_uid(&read_proc_text(&format!("/proc/{pid}/status"))?)
}

/// The real user id in a `/proc/PID/status` text: the first number of its `Uid:` line (then
/// come the effective, saved and file-system ids).
#[cfg(any(target_os = "linux", test))]
fn status_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The user id that owns process `pid` (macOS: from `proc_pidinfo`).
#[cfg(target_os = "macos")]
pub fn uid(pid: u32) -> Option<u32> {
    crate::os::macos::bsd_info(pid).map(|(_, uid)| uid)
}

/// The user id that owns process `pid`, from `ps -o uid=`.
#[cfg(all(unix, not(any(target_os = "linux", target_os = "macos"))))]
pub fn uid(pid: u32) -> Option<u32> {
    let out = std::process::Command::new("ps")
        .args(["-o", "uid=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The user id that owns process `pid`: not visible on this platform.
#[cfg(not(unix))]
pub fn uid(_pid: u32) -> Option<u32> {
    None
}

/// The effective user id of this process (`None` where there are no Unix users).
#[allow(
    clippy::unnecessary_wraps,
    reason = "None where there are no Unix users"
)]
pub fn current_uid() -> Option<u32> {
    #[cfg(unix)]
    return Some(nix::unistd::geteuid().as_raw());
    #[cfg(not(unix))]
    None
}

/// A process pinned so that a signal reaches it and never one that took its pid since: the
/// process found holding a socket, checked again once pinned ([`Pinned::open`]).
///
/// On Linux a pidfd (`pidfd_open`, Linux 5.3) names the process itself, and signals go through
/// it (`pidfd_send_signal`): once that process is gone they reach nothing. Where there is no
/// pidfd (older kernels, or a sandbox that refuses the call), on macOS and on other Unix
/// systems, the start time is read before and after the check and compared again right before
/// each signal. On Windows an open process handle keeps the pid from being reused at all.
#[derive(Debug)]
pub struct Pinned {
    #[cfg(not(windows))]
    pid: u32,
    /// The start time read around the check: compared again before each signal when there is
    /// no pidfd.
    #[cfg(not(windows))]
    start: Option<u64>,
    #[cfg(target_os = "linux")]
    pidfd: Option<std::os::fd::OwnedFd>,
    #[cfg(windows)]
    handle: crate::os::winapi::Terminable,
}

impl Pinned {
    /// Pins process `pid`, then asks `holds` (given the pid) whether it still holds what it
    /// was found holding: asked after pinning, the answer is about the pinned process.
    /// `Ok(None)` when it does not (it exited, let go, or its pid now names another process).
    /// An error when it cannot be pinned: its start time cannot be read or changed during the
    /// check (Unix without pidfd), or it may not be opened to end it (Windows: kind
    /// `PermissionDenied` for another user's process, a service or a protected process).
    pub fn open(pid: u32, holds: impl FnOnce(u32) -> bool) -> std::io::Result<Option<Pinned>> {
        #[cfg(target_os = "linux")]
        {
            use rustix::process::{Pid, PidfdFlags, pidfd_open};
            let raw = i32::try_from(pid).ok().and_then(Pid::from_raw);
            match raw.map(|p| pidfd_open(p, PidfdFlags::empty())) {
                Some(Ok(fd)) => {
                    return Ok(holds(pid).then_some(Pinned {
                        pid,
                        start: None,
                        pidfd: Some(fd),
                    }));
                }
                Some(Err(rustix::io::Errno::SRCH)) | None => return Ok(None),
                // ENOSYS before Linux 5.3, EPERM from a seccomp filter: by start time.
                Some(Err(_)) => {}
            }
        }
        #[cfg(windows)]
        {
            let Some(handle) = crate::os::winapi::Terminable::open(pid)? else {
                return Ok(None);
            };
            let running = handle.running_since().is_some();
            Ok((running && holds(pid)).then_some(Pinned { handle }))
        }
        #[cfg(not(windows))]
        Pinned::by_start_time(pid, holds)
    }

    /// Pins process `pid` by its start time, read before and after `holds` asks about it: the
    /// same start time on both sides means the same process held it.
    #[cfg(not(windows))]
    fn by_start_time(pid: u32, holds: impl FnOnce(u32) -> bool) -> std::io::Result<Option<Pinned>> {
        let before = start_time(pid);
        let held = holds(pid);
        let after = start_time(pid);
        if !held {
            return Ok(None);
        }
        match (before, after) {
            (Some(before), Some(after)) if before == after => Ok(Some(Pinned {
                pid,
                start: Some(before),
                #[cfg(target_os = "linux")]
                pidfd: None,
            })),
            _ => Err(std::io::Error::other(
                "its start time cannot be read, or changed while it was checked",
            )),
        }
    }

    /// Sends SIGTERM (or SIGKILL when `force`) to the pinned process. One that has exited is
    /// not an error: it is gone, as asked, and nothing is sent (whatever runs under its pid now
    /// is left alone).
    #[cfg(unix)]
    pub fn signal(&self, force: bool) -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.pidfd {
            use rustix::process::{Signal, pidfd_send_signal};
            let sig = if force { Signal::KILL } else { Signal::TERM };
            return match pidfd_send_signal(fd, sig) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        if !is_alive(self.pid, self.start) {
            return Ok(());
        }
        let pid = i32::try_from(self.pid)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        let sig = if force {
            nix::sys::signal::Signal::SIGKILL
        } else {
            nix::sys::signal::Signal::SIGTERM
        };
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(e) => Err(std::io::Error::from(e)),
        }
    }

    /// Ends the pinned process at once with `TerminateProcess` (exit code 1, as `taskkill /f`
    /// leaves): Windows has no SIGTERM, so only `force` is supported. One that has exited is
    /// not an error.
    #[cfg(windows)]
    pub fn signal(&self, force: bool) -> std::io::Result<()> {
        if !force {
            return Err(std::io::Error::from(std::io::ErrorKind::Unsupported));
        }
        match self.handle.terminate(1) {
            Err(_) if self.handle.running_since().is_none() => Ok(()),
            other => other,
        }
    }

    /// Waits up to `timeout` for the pinned process to exit; whether it has.
    #[cfg(windows)]
    pub fn wait(&self, timeout: std::time::Duration) -> bool {
        self.handle.wait(timeout)
    }
}

/// Whether process `pid` has the socket with inode `inode` open (one of its descriptors, see
/// [`fd_targets`], is `socket:[INODE]`). `false` when its descriptors cannot be read.
#[cfg(target_os = "linux")]
pub fn holds_socket(pid: u32, inode: u64) -> bool {
    fd_targets(pid).is_some_and(|targets| targets.iter().any(|t| socket_inode(t) == Some(inode)))
}

/// The socket inode a `/proc/PID/fd` link's target names (`socket:[12345]`), if it names one.
#[cfg(target_os = "linux")]
pub fn socket_inode(target: &std::path::Path) -> Option<u64> {
    target
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_count_after_the_command_name() {
        let line = "1234 (my (odd) proc) S 77 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(stat_field(line, STAT_START_TIME), Some(987_654_u64));
        assert_eq!(stat_field(line, STAT_PARENT), Some(77_u32));
        assert_eq!(stat_field(line, 3), Some('S'));
        assert_eq!(stat_field::<u64>("garbage", STAT_START_TIME), None);
        assert_eq!(stat_field::<u64>(line, 2), None);
        assert_eq!(stat_field::<u64>(line, 99), None);
    }

    #[test]
    fn cmdline_arguments() {
        assert_eq!(
            split_cmdline(b"docker-proxy\0-container-port\x005432\0\0x\xff\0"),
            ["docker-proxy", "-container-port", "5432", "", "x\u{fffd}"]
        );
        assert!(split_cmdline(b"").is_empty());
        assert_eq!(split_cmdline(b"no-nul"), ["no-nul"]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_arguments() {
        let mine: Vec<String> = std::env::args().collect();
        assert_eq!(cmdline(std::process::id()), Some(mine));
        assert_eq!(cmdline(u32::MAX), None);
        assert!(pids().contains(&std::process::id()));
    }

    #[test]
    fn this_process_is_alive() {
        let me = std::process::id();
        let start = start_time(me);
        assert!(start.is_some());
        assert!(is_alive(me, start));
        assert!(!is_alive(me, start.map(|s| s.wrapping_add(1))));
    }

    /// Pins `pid` by pidfd (or by its start time) as holding the socket `inode`.
    #[cfg(target_os = "linux")]
    fn pin(pid: u32, inode: u64, by_start_time: bool) -> Option<Pinned> {
        let holds = |pid| holds_socket(pid, inode);
        if by_start_time {
            Pinned::by_start_time(pid, holds)
        } else {
            Pinned::open(pid, holds)
        }
        .expect("pin")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_is_pinned_while_it_holds_its_socket_and_signalled_through_the_pin() {
        use std::os::unix::process::ExitStatusExt as _;
        for by_start_time in [false, true] {
            let (mut holder, _, inode) = testing::holder();
            let pid = holder.id();
            assert!(
                pin(pid, inode + 1, by_start_time).is_none(),
                "another socket"
            );
            let pinned = pin(pid, inode, by_start_time).expect("pinned");
            // This kernel has pidfds: the first pin is one.
            assert_eq!(pinned.pidfd.is_some(), !by_start_time);
            pinned.signal(false).expect("SIGTERM");
            let status = holder.ended().expect("ended");
            assert_eq!(status.signal(), Some(15), "{by_start_time}");
            // Gone (and reaped): nothing is sent, nothing fails, nothing is pinned.
            pinned.signal(true).expect("nothing to signal");
            assert!(pin(pid, inode, by_start_time).is_none());
        }
    }

    /// The race of issue 17: a process is seen holding the socket, exits, and another takes
    /// its pid, before it is pinned or before the signal. The new process is never signalled.
    #[cfg(target_os = "linux")]
    #[test]
    #[ignore = "needs root: steers a new process onto a freed pid (/proc/sys/kernel/ns_last_pid)"]
    fn a_reused_pid_is_never_signalled_through_a_pin() {
        testing::reused_pid_race(
            |trial, pid, _, inode| {
                let by_start_time = trial % 2 == 1;
                // Past a clock tick, so the next process at this pid has another start time
                // (how finely start times tell processes apart is the fallback's limit).
                std::thread::sleep(std::time::Duration::from_millis(30));
                let pinned = pin(pid, inode, by_start_time).expect("pinned");
                (pinned, by_start_time, pid, inode)
            },
            |trial, (pinned, by_start_time, pid, inode)| {
                assert!(pin(pid, inode, by_start_time).is_none(), "trial {trial}");
                pinned.signal(false).expect("signal");
                pinned.signal(true).expect("signal");
            },
        );
    }

    #[cfg(windows)]
    #[test]
    fn a_finished_child_is_dead_and_this_process_is_named() {
        // (parent_pid is tested through the real binary: `lease` without `--pid`.)
        let mut child = std::process::Command::new("cmd")
            .args(["/c", "exit 0"])
            .spawn()
            .expect("spawn cmd");
        let pid = child.id();
        let _ = child.wait();
        // The Child still holds a handle to the exited process: it must not count as alive.
        assert_eq!(start_time(pid), None);
        assert!(name(std::process::id()).is_some_and(|n| {
            std::path::Path::new(&n)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("exe"))
        }));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_folder_and_user() {
        let cwd = std::env::current_dir().unwrap_or_default();
        assert_eq!(folder(std::process::id()), Some((std::process::id(), cwd)));
        assert_eq!(uid(std::process::id()), current_uid());
        assert_eq!(folder(u32::MAX), None);
    }

    #[test]
    fn the_own_folder_decides_and_an_ancestor_only_when_it_cannot_be_seen() {
        // 30 -> 20 -> 10 -> 1; 30's folder visible, 20's not, 10's visible.
        let cwd = |pid| match pid {
            30 => Some(std::path::PathBuf::from("/blog")),
            10 => Some(std::path::PathBuf::from("/shop")),
            _ => None,
        };
        let parent = |pid| match pid {
            30 => Some(20),
            20 => Some(10),
            10 => Some(1),
            _ => None,
        };
        assert_eq!(nearest_folder(30, cwd, parent), Some((30, "/blog".into())));
        assert_eq!(nearest_folder(20, cwd, parent), Some((10, "/shop".into())));
        // pid 1's folder never vouches, and a chain with none visible is unknown.
        assert_eq!(
            nearest_folder(5, |p| (p == 1).then(|| "/".into()), |_| Some(1)),
            None
        );
        assert_eq!(nearest_folder(7, |_| None, |p| Some(p + 1)), None);
    }

    #[test]
    fn the_real_user_id_is_read_from_the_status() {
        let status =
            "Name:\tx\nUmask:\t0022\nUid:\t65534\t0\t0\t0\nGid:\t65534\t65534\t65534\t65534\n";
        assert_eq!(status_uid(status), Some(65534));
        assert_eq!(status_uid("Name:\tx\n"), None);
        assert_eq!(status_uid("Uid:\tx\n"), None);
    }
}

/// Processes for the tests of pinning: one holding a listening socket, and one started at a
/// chosen pid.
#[cfg(all(test, target_os = "linux"))]
pub mod testing {
    use std::process::{Child, Command, Stdio};

    /// A child process, killed and reaped on drop.
    pub struct Guard(Child);

    impl Guard {
        /// Its pid.
        pub fn id(&self) -> u32 {
            self.0.id()
        }

        /// Kills it (SIGKILL) and reaps it now, so that its pid is free to be taken.
        pub fn kill(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }

        /// How it ended, waiting up to 10 s; `None` while it keeps running.
        pub fn ended(&mut self) -> Option<std::process::ExitStatus> {
            for _ in 0..200 {
                if let Some(status) = self.0.try_wait().expect("try_wait") {
                    return Some(status);
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            None
        }

        /// Whether it is still running 100 ms from now (a signal sent to it has arrived).
        pub fn running(&mut self) -> bool {
            std::thread::sleep(std::time::Duration::from_millis(100));
            self.0.try_wait().expect("try_wait").is_none()
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            self.kill();
        }
    }

    /// `sleep 60` holding, as its stdin, a listening TCP socket on 127.0.0.1 that this process
    /// no longer holds: the child, the port and the socket's inode.
    pub fn holder() -> (Guard, u16, u64) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let child = Guard(
            Command::new("sleep")
                .arg("60")
                .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
                .spawn()
                .expect("spawn sleep"),
        );
        let inode = std::fs::read_link(format!("/proc/{}/fd/0", child.id()))
            .ok()
            .and_then(|target| super::socket_inode(&target))
            .expect("the socket's inode");
        (child, port, inode)
    }

    /// Runs 20 trials of the reused-pid race: `before` is given the trial number, the pid,
    /// port and socket inode of a new socket holder, which is then killed while another
    /// process is steered onto its pid; `after` is given the trial number and what `before`
    /// returned, and must not signal that other process. Fails if fewer than 15 trials really
    /// reused the pid, so it cannot pass without running the race.
    pub fn reused_pid_race<T>(
        mut before: impl FnMut(u32, u32, u16, u64) -> T,
        mut after: impl FnMut(u32, T),
    ) {
        let mut reused = 0;
        for trial in 0..20 {
            let (mut holder, port, inode) = holder();
            let pid = holder.id();
            let kept = before(trial, pid, port, inode);
            holder.kill();
            let Some(mut innocent) = spawn_at(pid) else {
                continue;
            };
            reused += 1;
            after(trial, kept);
            assert!(
                innocent.running(),
                "trial {trial}: the process that took pid {pid} was signalled"
            );
        }
        assert!(
            reused >= 15,
            "a new process took the freed pid in only {reused} of 20 trials: the race was not run"
        );
    }

    /// `sleep 60` started at `pid`, steered there through `/proc/sys/kernel/ns_last_pid` (needs
    /// root); `None` when another process took the pid first. One steering at a time.
    pub fn spawn_at(pid: u32) -> Option<Guard> {
        static STEERING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = STEERING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for _ in 0..20 {
            std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string())
                .expect("write /proc/sys/kernel/ns_last_pid (as root)");
            let child = Guard(
                Command::new("sleep")
                    .arg("60")
                    .spawn()
                    .expect("spawn sleep"),
            );
            if child.id() == pid {
                return Some(child);
            }
            drop(child);
            if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return None;
            }
        }
        None
    }
}
