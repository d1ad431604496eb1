//! Facts about processes: whether a pid is alive, and its start time (so a reused pid is told
//! apart from the process a lease was made for), its user, folder and arguments; and
//! [`Pinned`], the one way devport signals a process. Each OS's bodies of these facts are in
//! `os/platform/` (one file per OS), re-exported here.

pub use crate::os::platform::this::{
    cmdline, current_dir, current_uid, folder, name, parent_pid, pids, short_lived, start_time,
    started, uid,
};
// Linux only: the descriptors of a process (`/proc/PID/fd`) name its sockets.
#[cfg(target_os = "linux")]
pub use crate::os::platform::this::{fd_targets, holds_socket, socket_inode};

/// Whether the process `pid` that started at `start` is still running. A live process with the
/// same pid but another start time is a different process (the pid was reused).
pub fn is_alive(pid: u32, start: Option<u64>) -> bool {
    match (start_time(pid), start) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        (None, _) => false,
    }
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

/// Whether this platform shows where processes work ([`folder`]): Linux only.
pub const FOLDERS_VISIBLE: bool = cfg!(target_os = "linux");

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

#[cfg(test)]
mod tests {
    use super::*;

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
