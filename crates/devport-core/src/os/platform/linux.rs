//! Linux behind the platform interface: processes, their folders and descriptors as `/proc`
//! shows them, and the kernel's record of file locks (`/proc/locks`).

use std::fs::File;
use std::os::unix::fs::MetadataExt as _;

pub use super::unix::{current_uid, parent_pid};
use crate::os::process::ShortLived;

/// The pid holding a `FLOCK` on `file`, by the kernel's record (`/proc/locks`).
pub fn lock_holder(file: &File) -> Option<u32> {
    let meta = file.metadata().ok()?;
    let dev = meta.dev();
    let id = FileId {
        major: nix::sys::stat::major(dev),
        minor: nix::sys::stat::minor(dev),
        inode: meta.ino(),
    };
    parse_proc_locks(&std::fs::read_to_string("/proc/locks").ok()?, id)
}

/// A file as `/proc/locks` names it: device major and minor, and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    major: u64,
    minor: u64,
    inode: u64,
}

/// The pid holding a `FLOCK` on the file `id`, from `/proc/locks` text
/// (`1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`: major and minor in hex, inode in
/// decimal). Inodes repeat across file systems, so the device must match too.
fn parse_proc_locks(text: &str, id: FileId) -> Option<u32> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (kind, pid, file) = (f.get(1)?, f.get(4)?, f.get(5)?);
        let mut parts = file.split(':');
        let major = u64::from_str_radix(parts.next()?, 16).ok()?;
        let minor = u64::from_str_radix(parts.next()?, 16).ok()?;
        let inode: u64 = parts.next()?.parse().ok()?;
        (*kind == "FLOCK"
            && FileId {
                major,
                minor,
                inode,
            } == id)
            .then(|| pid.parse().ok())
            .flatten()
    })
}

/// The start time of process `pid` in an OS-specific unit (Linux: clock ticks since boot, from
/// field 22 of `/proc/PID/stat`), or `None` if the process does not exist or cannot be seen.
pub fn start_time(pid: u32) -> Option<u64> {
    stat_field(&read_stat(pid)?, STAT_START_TIME)
}

/// When process `pid` started by the wall clock: its start in clock ticks after boot (field 22
/// of `/proc/PID/stat`) added to the boot time (`btime` in `/proc/stat`); `None` when either
/// cannot be read.
pub fn started(pid: u32) -> Option<jiff::Timestamp> {
    let ticks = start_time(pid)?;
    let boot: i64 = read_proc_text("/proc/stat")?
        .lines()
        .find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())?;
    let hz = rustix::param::clock_ticks_per_second().max(1);
    let seconds = boot.checked_add(i64::try_from(ticks / hz).ok()?)?;
    let nanos = i32::try_from((ticks % hz) * 1_000_000_000 / hz).ok()?;
    jiff::Timestamp::new(seconds, nanos).ok()
}

/// Field 4 of `/proc/PID/stat`: the parent's pid.
const STAT_PARENT: usize = 4;
/// Field 22 of `/proc/PID/stat`: the start time, in clock ticks since boot.
const STAT_START_TIME: usize = 22;

/// The `/proc/PID/stat` line of process `pid`.
fn read_stat(pid: u32) -> Option<String> {
    read_proc_text(&format!("/proc/{pid}/stat"))
}

/// A `/proc` text file, any bytes that are not UTF-8 replaced: a process may give itself a
/// name that is not UTF-8 (`prctl(PR_SET_NAME)`), and that must neither hide its start time
/// (so a lease or `kill` would take it for gone) nor its name.
fn read_proc_text(path: &str) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Field `n` (numbered from 1, as in proc(5)) of a `/proc/PID/stat` line, for a field after
/// the command name: the one parser of that line. The command name (field 2) may contain
/// spaces and parentheses, so fields are counted after its last `)`, where field 3 starts.
fn stat_field<T: std::str::FromStr>(stat: &str, n: usize) -> Option<T> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_ascii_whitespace()
        .nth(n.checked_sub(3)?)?
        .parse()
        .ok()
}

/// The command name of process `pid` (`/proc/PID/comm`), or `None` where it cannot be seen.
pub fn name(pid: u32) -> Option<String> {
    let comm = read_proc_text(&format!("/proc/{pid}/comm"))?;
    Some(comm.trim_end_matches('\n').to_string())
}

/// The most bytes of a process's arguments devport reads: far more than any container
/// forwarder's, far less than the kernel allows (`ARG_MAX`).
pub const MAX_CMDLINE: u64 = 64 * 1024;

/// The arguments of process `pid`, program name first (Linux: `/proc/PID/cmdline`, NUL
/// separated, invalid UTF-8 replaced). `None` where they cannot be seen, and for arguments over
/// [`MAX_CMDLINE`] bytes: cut short, a value could be read as another value.
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

/// Every process id this process can see (Linux: the numeric entries of `/proc`).
pub fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Splits `/proc/PID/cmdline` bytes at each NUL (the last argument ends with one).
fn split_cmdline(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
}

/// Process names of runners that start one program and exit when it does. npm names its
/// process after the command (`npm exec …`, `npm run …`), so the first word is compared.
const RUNNERS: &[&str] = &[
    "npm", "npx", "pnpm", "pnpx", "yarn", "bunx", "uv", "uvx", "pipx",
];

/// Field 5 of `/proc/PID/stat`: the process group.
const STAT_GROUP: usize = 5;

/// Whether process `pid` (devport's parent, which a lease would follow) is likely to exit as
/// soon as devport does. Linux only, and a heuristic: it sees a runner by its process name, and
/// a subshell — the same program with the same arguments as its own parent, not a process group
/// leader — that does not hold devport's stdout pipe open for reading (`P=$(devport lease |
/// cat)`). It does not see a subshell whose output is a file or a terminal.
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

/// The folder that says where process `pid` works: its own current folder when it can be
/// seen, else the nearest ancestor's that can be (a parent's folder never overrides the
/// process's own). Returns the pid whose folder it is with the folder; `None` when neither it
/// nor any ancestor's folder can be seen (another user's processes, or a platform without
/// `/proc`).
pub fn folder(pid: u32) -> Option<(u32, std::path::PathBuf)> {
    nearest_folder(pid, current_dir, |p| {
        stat_field(&read_stat(p)?, STAT_PARENT)
    })
}

/// The first of `pid` and its ancestors (at most 64 steps, stopping below pid 1) whose folder
/// `cwd` can read, with that folder; `parent` gives a process's parent.
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

/// The user id that owns process `pid` (Linux: its real user id, from the `Uid:` line of
/// `/proc/PID/status`; other Unix systems: `ps -o uid=`), or `None` where it cannot be seen.
/// Not the owner of `/proc/PID`: that is root for any process that made itself non-dumpable
/// (`prctl(PR_SET_DUMPABLE, 0)`), which would let any user's process pass for root's.
pub fn uid(pid: u32) -> Option<u32> {
    status_uid(&read_proc_text(&format!("/proc/{pid}/status"))?)
}

/// The real user id in a `/proc/PID/status` text: the first number of its `Uid:` line (then
/// come the effective, saved and file-system ids).
fn status_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Whether process `pid` has the socket with inode `inode` open (one of its descriptors, see
/// [`fd_targets`], is `socket:[INODE]`). `false` when its descriptors cannot be read.
pub fn holds_socket(pid: u32, inode: u64) -> bool {
    fd_targets(pid).is_some_and(|targets| targets.iter().any(|t| socket_inode(t) == Some(inode)))
}

/// The socket inode a `/proc/PID/fd` link's target names (`socket:[12345]`), if it names one.
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

    /// A child started now started now by the wall clock (to a clock tick and a second of
    /// boot-time rounding), not at boot or in the future.
    #[test]
    fn a_process_started_by_the_wall_clock() {
        let before = jiff::Timestamp::now();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("spawn sleep");
        let started = started(child.id());
        let after = jiff::Timestamp::now();
        let _ = child.kill();
        let _ = child.wait();
        let started = started.expect("the child's start");
        let slack = jiff::SignedDuration::from_secs(2);
        assert!(
            started >= before - slack && started <= after + slack,
            "{before} <= {started} <= {after}"
        );
        assert_eq!(super::started(u32::MAX), None);
    }

    #[test]
    fn proc_locks_match_device_and_inode() {
        let text = "1: POSIX  ADVISORY  WRITE 99 fd:01:777 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 55 08:01:777 0 EOF\n\
                    3: FLOCK  ADVISORY  WRITE 1234 fd:01:777 0 EOF\n";
        let id = |major, minor, inode| FileId {
            major,
            minor,
            inode,
        };
        // The same inode on another device (08:01) is another file.
        assert_eq!(parse_proc_locks(text, id(0xfd, 1, 777)), Some(1234));
        assert_eq!(parse_proc_locks(text, id(8, 1, 777)), Some(55));
        assert_eq!(parse_proc_locks(text, id(0xfd, 2, 777)), None);
        assert_eq!(parse_proc_locks(text, id(0xfd, 1, 778)), None);
    }

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

    #[test]
    fn this_process_arguments() {
        let mine: Vec<String> = std::env::args().collect();
        assert_eq!(cmdline(std::process::id()), Some(mine));
        assert_eq!(cmdline(u32::MAX), None);
        assert!(pids().contains(&std::process::id()));
    }

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
