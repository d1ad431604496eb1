//! macOS system calls behind safe functions: the only `unsafe` code for macOS, as `winapi.rs` is
//! for Windows and `signals.rs` for Unix signals. Type-checked in CI; not run by this project
//! yet (see the README's platform notes).
#![allow(unsafe_code)]

/// What `proc_pidinfo(PROC_PIDTBSDINFO)` says of process `pid`: its start time in microseconds
/// since the Unix epoch (stable for the life of the process, so a reused pid is told apart)
/// and its owner's uid. `None` when the process is not running or cannot be seen.
pub fn bsd_info(pid: u32) -> Option<(u64, u32)> {
    let pid = i32::try_from(pid).ok()?;
    let size = i32::try_from(std::mem::size_of::<libc::proc_bsdinfo>()).ok()?;
    let mut info = std::mem::MaybeUninit::<libc::proc_bsdinfo>::zeroed();
    // SAFETY: `info` is a `proc_bsdinfo` of `size` bytes, and proc_pidinfo writes at most
    // `size` bytes into the buffer it is given.
    let written = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDTBSDINFO,
            0,
            info.as_mut_ptr().cast(),
            size,
        )
    };
    if written != size {
        return None;
    }
    // SAFETY: the buffer started zeroed (a valid `proc_bsdinfo`, all integers) and proc_pidinfo
    // filled all of it.
    let info = unsafe { info.assume_init() };
    let start = info
        .pbi_start_tvsec
        .checked_mul(1_000_000)?
        .checked_add(info.pbi_start_tvusec)?;
    Some((start, info.pbi_uid))
}
