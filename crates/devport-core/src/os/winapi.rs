//! Windows system calls behind safe functions: the only `unsafe` code for Windows, as
//! `signals.rs` is for Unix. Each wrapper only moves bytes and numbers across the boundary; what
//! they mean is decided by safe callers (socket tables are parsed in `ports::sockets`, where
//! the parsers are tested on every platform).
#![allow(unsafe_code)]

use std::ffi::OsString;
use std::fs::File;
use std::os::windows::ffi::{OsStrExt as _, OsStringExt as _};
use std::os::windows::io::AsRawHandle as _;

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_INSUFFICIENT_BUFFER, ERROR_INVALID_PARAMETER, FILETIME, HANDLE,
    INVALID_HANDLE_VALUE, NO_ERROR, WAIT_OBJECT_0, WAIT_TIMEOUT,
};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GetExtendedTcpTable, GetExtendedUdpTable, TCP_TABLE_OWNER_PID_LISTENER, UDP_TABLE_OWNER_PID,
};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_RENAME_INFO, FileRenameInfoEx, SetFileInformationByHandle,
};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW, TH32CS_SNAPPROCESS,
};
use windows_sys::Win32::System::Threading::{
    GetProcessTimes, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE,
    PROCESS_TERMINATE, TerminateProcess, WaitForSingleObject,
};
use windows_sys::Win32::System::WindowsProgramming::{
    FILE_RENAME_FLAG_POSIX_SEMANTICS, FILE_RENAME_FLAG_REPLACE_IF_EXISTS,
};

/// A handle closed on drop.
#[derive(Debug)]
struct Owned(HANDLE);

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: the handle was returned open by the system and is closed once, here.
        unsafe { CloseHandle(self.0) };
    }
}

/// The creation time of the running process `pid` (100 ns units since 1601, as `FILETIME`), or
/// `None` if no process with that pid is running or it cannot be opened.
pub fn process_creation_time(pid: u32) -> Option<u64> {
    let handle =
        open_process(pid, PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_SYNCHRONIZE).ok()??;
    running_since(&handle)
}

/// Opens process `pid` with `access`: `Ok(None)` when no process has that pid, an error (access
/// denied, for another user's process, a service or a protected process) when it cannot be
/// opened.
fn open_process(pid: u32, access: u32) -> std::io::Result<Option<Owned>> {
    // SAFETY: plain values in; a null handle (failure) is checked.
    let raw = unsafe { OpenProcess(access, 0, pid) };
    if raw.is_null() {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(code) if code == ERROR_INVALID_PARAMETER.cast_signed() => Ok(None),
            _ => Err(e),
        };
    }
    Ok(Some(Owned(raw)))
}

/// The creation time of the process behind `handle` (opened with `SYNCHRONIZE` and a query
/// right), or `None` if it has exited.
fn running_since(handle: &Owned) -> Option<u64> {
    // A process that has exited can still be opened while any handle to it is open: its
    // handle is then signalled.
    // SAFETY: a valid process handle and a zero timeout.
    if unsafe { WaitForSingleObject(handle.0, 0) } != WAIT_TIMEOUT {
        return None;
    }
    let mut times = [FILETIME::default(); 4];
    let [created, exited, kernel, user] = &mut times;
    // SAFETY: four valid, writable FILETIMEs for the four out-parameters.
    let ok = unsafe { GetProcessTimes(handle.0, created, exited, kernel, user) };
    (ok != 0).then(|| (u64::from(created.dwHighDateTime) << 32) | u64::from(created.dwLowDateTime))
}

/// A process opened so that it can be ended: the handle keeps its pid from being reused while
/// devport checks which process it is and terminates it.
#[derive(Debug)]
pub struct Terminable(Owned);

impl Terminable {
    /// Opens process `pid` with `PROCESS_TERMINATE | SYNCHRONIZE` and the right to read its
    /// creation time. `Ok(None)` when no process has that pid; an error of kind
    /// `PermissionDenied` when it is another user's, a service or protected.
    pub fn open(pid: u32) -> std::io::Result<Option<Terminable>> {
        Ok(open_process(
            pid,
            PROCESS_TERMINATE | PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION,
        )?
        .map(Terminable))
    }

    /// Its creation time (as [`process_creation_time`]), or `None` once it has exited.
    pub fn running_since(&self) -> Option<u64> {
        running_since(&self.0)
    }

    /// Ends it at once with `exit_code` (`TerminateProcess`: no cleanup of its own runs).
    pub fn terminate(&self, exit_code: u32) -> std::io::Result<()> {
        // SAFETY: a valid process handle opened with PROCESS_TERMINATE.
        if unsafe { TerminateProcess(self.0.0, exit_code) } == 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Waits up to `timeout` for it to exit; whether it has.
    pub fn wait(&self, timeout: std::time::Duration) -> bool {
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX - 1);
        // SAFETY: a valid process handle opened with SYNCHRONIZE.
        unsafe { WaitForSingleObject(self.0.0, ms) == WAIT_OBJECT_0 }
    }
}

/// One entry of the system's process list.
#[derive(Debug, Clone)]
pub struct ProcessEntry {
    /// Its pid.
    pub pid: u32,
    /// The pid of the process that created it (which may since have exited).
    pub parent: u32,
    /// Its executable's file name (`devport.exe`).
    pub name: String,
}

/// Every process, from one Toolhelp snapshot (names of every user's processes are visible;
/// no process needs to be opened). Empty if the snapshot fails.
pub fn processes() -> Vec<ProcessEntry> {
    // SAFETY: plain values in; INVALID_HANDLE_VALUE (failure) is checked.
    let raw = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0) };
    if raw == INVALID_HANDLE_VALUE || raw.is_null() {
        return Vec::new();
    }
    let snapshot = Owned(raw);
    let mut entry = PROCESSENTRY32W {
        dwSize: u32::try_from(std::mem::size_of::<PROCESSENTRY32W>()).unwrap_or(0),
        ..PROCESSENTRY32W::default()
    };
    let mut out = Vec::new();
    // SAFETY: a valid snapshot handle and an entry whose dwSize is set, as the calls require.
    let mut ok = unsafe { Process32FirstW(snapshot.0, &raw mut entry) };
    while ok != 0 {
        let len = entry
            .szExeFile
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(entry.szExeFile.len());
        out.push(ProcessEntry {
            pid: entry.th32ProcessID,
            parent: entry.th32ParentProcessID,
            name: OsString::from_wide(&entry.szExeFile[..len])
                .to_string_lossy()
                .into_owned(),
        });
        // SAFETY: as above.
        ok = unsafe { Process32NextW(snapshot.0, &raw mut entry) };
    }
    out
}

/// Which socket table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Listening TCP sockets with owner pids (`MIB_TCPTABLE_OWNER_PID` or the IPv6 form).
    TcpListeners,
    /// Bound UDP sockets with owner pids (`MIB_UDPTABLE_OWNER_PID` or the IPv6 form).
    Udp,
}

/// The raw bytes of a socket table for `family` (`AF_INET` 2 or `AF_INET6` 23), as
/// `GetExtendedTcpTable` / `GetExtendedUdpTable` fill them in; `None` if the call fails.
pub fn socket_table(table: Table, family: u16) -> Option<Vec<u8>> {
    let mut size: u32 = 0;
    // The table can grow between the size query and the read: a few tries.
    for _ in 0..8 {
        // u32 storage keeps the rows aligned as the system writes them.
        let mut buf = vec![0u32; (size as usize).div_ceil(4).max(1)];
        let mut len = u32::try_from(buf.len() * 4).ok()?;
        let ptr = buf.as_mut_ptr().cast();
        // SAFETY: `ptr` points to `len` writable bytes; the call writes at most `len` bytes and
        // sets `len` to the size needed when that is not enough.
        let rc = unsafe {
            match table {
                Table::TcpListeners => GetExtendedTcpTable(
                    ptr,
                    &raw mut len,
                    0,
                    u32::from(family),
                    TCP_TABLE_OWNER_PID_LISTENER,
                    0,
                ),
                Table::Udp => GetExtendedUdpTable(
                    ptr,
                    &raw mut len,
                    0,
                    u32::from(family),
                    UDP_TABLE_OWNER_PID,
                    0,
                ),
            }
        };
        match rc {
            NO_ERROR => {
                let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).collect();
                return Some(bytes[..(len as usize).min(bytes.len())].to_vec());
            }
            ERROR_INSUFFICIENT_BUFFER => size = len.max(size + 4096),
            _ => return None,
        }
    }
    None
}

/// Renames the open `file` to `name` in its own folder, replacing a file of that name with
/// POSIX semantics: the replaced file's readers keep reading it, and new opens see the new
/// file at once. `file` must be open with `DELETE` access. Needs Windows 10 1607 or later and
/// NTFS; elsewhere the error is returned for the caller's fallback.
pub fn rename_posix(file: &File, name: &std::ffi::OsStr) -> std::io::Result<()> {
    let wide: Vec<u16> = name.encode_wide().collect();
    let name_bytes = wide.len() * 2;
    let header = std::mem::offset_of!(FILE_RENAME_INFO, FileName);
    // The name is followed by a terminating NUL; u64 storage keeps the struct aligned.
    let size = header + name_bytes + 2;
    let mut buf = vec![
        0u64;
        size.div_ceil(8)
            .max(std::mem::size_of::<FILE_RENAME_INFO>() / 8)
    ];
    let info = buf.as_mut_ptr().cast::<FILE_RENAME_INFO>();
    let too_long = || std::io::Error::from(std::io::ErrorKind::InvalidFilename);
    let name_len = u32::try_from(name_bytes).map_err(|_| too_long())?;
    let size = u32::try_from(size).map_err(|_| too_long())?;
    // SAFETY: `buf` holds `size` zeroed, aligned bytes: the fields are written in place, the
    // name right after the header (inside the buffer), and the call reads `size` bytes.
    let ok = unsafe {
        (*info).Anonymous.Flags =
            FILE_RENAME_FLAG_POSIX_SEMANTICS | FILE_RENAME_FLAG_REPLACE_IF_EXISTS;
        (*info).FileNameLength = name_len;
        std::ptr::copy_nonoverlapping(
            wide.as_ptr(),
            (&raw mut (*info).FileName).cast::<u16>(),
            wide.len(),
        );
        SetFileInformationByHandle(file.as_raw_handle(), FileRenameInfoEx, info.cast(), size)
    };
    if ok == 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}
