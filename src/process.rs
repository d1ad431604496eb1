//! Facts about processes: whether a pid is alive, and its start time (so a reused pid is told
//! apart from the process a lease was made for).

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
    crate::macos::bsd_info(pid).map(|(start, _)| start)
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
    Some(crate::types::fnv1a(text.as_bytes()))
}

/// The start time of process `pid` (Windows: its creation time in 100 ns units since 1601,
/// from `GetProcessTimes`), or `None` if it is not running or cannot be opened.
#[cfg(windows)]
pub fn start_time(pid: u32) -> Option<u64> {
    crate::winapi::process_creation_time(pid)
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
    crate::winapi::processes()
        .into_iter()
        .find(|p| p.pid == me)
        .map(|p| p.parent)
        // 0: no Windows parent (Wine started from a Unix shell).
        .filter(|&parent| parent != 0)
}

/// The executable name of process `pid` (`devport.exe`), if it is running.
#[cfg(windows)]
pub fn name(pid: u32) -> Option<String> {
    crate::winapi::processes()
        .into_iter()
        .find(|p| p.pid == pid)
        .map(|p| p.name)
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
/// any as root).
#[cfg(target_os = "linux")]
pub fn current_dir(pid: u32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/cwd")).ok()
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
    crate::macos::bsd_info(pid).map(|(_, uid)| uid)
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

/// Sends SIGTERM (or SIGKILL when `force`) to process `pid`. A process that has already exited
/// is not an error: it is gone, as asked.
#[cfg(unix)]
pub fn signal(pid: u32, force: bool) -> std::io::Result<()> {
    use nix::sys::signal::{Signal, kill};
    let pid =
        i32::try_from(pid).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let sig = if force {
        Signal::SIGKILL
    } else {
        Signal::SIGTERM
    };
    match kill(nix::unistd::Pid::from_raw(pid), sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(std::io::Error::from(e)),
    }
}

/// Sends a signal to process `pid`: not supported on this platform yet (Windows stops
/// processes in `control.rs`).
#[cfg(not(any(unix, windows)))]
pub fn signal(_pid: u32, _force: bool) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
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
