//! macOS system calls behind safe functions: the only `unsafe` code for macOS, as `winapi.rs` is
//! for Windows and `signals.rs` for Unix signals. Type-checked in CI; not run by this project
//! yet (see docs/platforms.md).
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

/// The bytes of the sysctl `name` (for example `net.inet.tcp.pcblist_n`), or `None` when it
/// cannot be read. The value may grow between the size query and the read: a few tries, with
/// room to spare.
pub fn sysctl_bytes(name: &std::ffi::CStr) -> Option<Vec<u8>> {
    for _ in 0..8 {
        let mut len: libc::size_t = 0;
        // SAFETY: a NUL-terminated name, no old buffer (the call only stores the size in
        // `len`), and no new value.
        let rc = unsafe {
            libc::sysctlbyname(
                name.as_ptr(),
                std::ptr::null_mut(),
                &raw mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        if rc != 0 {
            return None;
        }
        len += len / 4 + 4096;
        let mut buf = vec![0u8; len];
        // SAFETY: `buf` has `len` writable bytes; the call writes at most `len` bytes and sets
        // `len` to the number written.
        let rc = unsafe {
            libc::sysctlbyname(
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                &raw mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        if rc == 0 {
            buf.truncate(len);
            return Some(buf);
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOMEM) {
            return None;
        }
    }
    None
}

/// The name of process `pid` (`proc_name`: its executable's name), or `None` when it is not
/// running or cannot be seen.
pub fn process_name(pid: u32) -> Option<String> {
    let pid = i32::try_from(pid).ok()?;
    // 2 * MAXCOMLEN + 1, the longest name proc_name returns.
    let mut buf = [0u8; 64];
    // SAFETY: `buf` has the stated number of writable bytes; proc_name writes at most that
    // many and returns how many it wrote.
    let written =
        unsafe { libc::proc_name(pid, buf.as_mut_ptr().cast(), u32::try_from(buf.len()).ok()?) };
    let written = usize::try_from(written).ok().filter(|&n| n > 0)?;
    let name = &buf[..written.min(buf.len())];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Some(String::from_utf8_lossy(&name[..end]).into_owned())
}
