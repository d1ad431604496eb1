//! Linux's own facts behind [`super::PlatformInterface`]: the kernel's record of file locks.

use std::fs::File;
use std::os::unix::fs::MetadataExt as _;

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

#[cfg(test)]
mod tests {
    use super::{FileId, parse_proc_locks};

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
}
