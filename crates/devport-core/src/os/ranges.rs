//! The port ranges the operating system keeps for itself: the ephemeral range it picks outgoing
//! ports from, reserved ports (Linux), excluded ranges (Windows) and the privileged ports.
//!
//! Reading is platform code; every parser takes text, so all of them are tested on every
//! platform from fixtures in `crates/devport-core/tests/fixtures/`.

use crate::model::types::PortRange;

/// What the OS says about ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsPorts {
    /// The range the OS picks outgoing (ephemeral) ports from.
    pub ephemeral: PortRange,
    /// Ports the OS keeps out of the ephemeral pick (Linux `ip_local_reserved_ports`).
    pub reserved: Vec<PortRange>,
    /// Ranges nothing may bind (Windows excluded port ranges).
    pub excluded: Vec<PortRange>,
    /// The first port an unprivileged user may bind (Linux `ip_unprivileged_port_start`).
    pub unprivileged_start: u16,
    /// Whether this process may bind privileged ports anyway (root).
    pub privileged_ok: bool,
    /// What could not be read from the OS, and what was assumed instead, in words (empty when
    /// everything was read). `check` and `doctor` show it.
    pub unread: Vec<String>,
}

/// The IANA dynamic range, the ephemeral default on macOS and Windows.
#[cfg(any(not(target_os = "linux"), test))]
pub const IANA_DYNAMIC: PortRange = PortRange::new(49152, 65535).expect("lo <= hi");

impl OsPorts {
    /// Reads this machine's settings; anything unreadable falls back to the OS default.
    #[cfg(target_os = "linux")]
    pub fn read() -> OsPorts {
        let read = |name: &str| {
            std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}")).unwrap_or_default()
        };
        OsPorts {
            ephemeral: parse_linux_port_range(&read("ip_local_port_range"))
                .unwrap_or(PortRange::new(32768, 60999).expect("lo <= hi")),
            reserved: parse_port_list(&read("ip_local_reserved_ports")),
            excluded: Vec::new(),
            unprivileged_start: read("ip_unprivileged_port_start")
                .trim()
                .parse()
                .unwrap_or(1024),
            privileged_ok: nix::unistd::geteuid().is_root(),
            unread: Vec::new(),
        }
    }

    /// Reads this machine's settings; anything unreadable falls back to the OS default.
    #[cfg(target_os = "macos")]
    pub fn read() -> OsPorts {
        let out = std::process::Command::new("sysctl")
            .args(["net.inet.ip.portrange.first", "net.inet.ip.portrange.last"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        OsPorts {
            ephemeral: parse_sysctl_port_range(&out).unwrap_or(IANA_DYNAMIC),
            reserved: Vec::new(),
            excluded: Vec::new(),
            unprivileged_start: 1024,
            privileged_ok: nix::unistd::geteuid().is_root(),
            unread: Vec::new(),
        }
    }

    /// Reads this machine's settings from one `netsh` run (Windows has no API for the dynamic
    /// and excluded port ranges). Output that cannot be read (Wine's `netsh` prints nothing)
    /// is reported in [`OsPorts::unread`], and Windows' defaults are assumed.
    #[cfg(windows)]
    pub fn read() -> OsPorts {
        from_netsh(&run_netsh())
    }

    /// Reads this machine's settings (no known source here: the IANA dynamic range).
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    pub fn read() -> OsPorts {
        OsPorts {
            ephemeral: IANA_DYNAMIC,
            reserved: Vec::new(),
            excluded: Vec::new(),
            unprivileged_start: 1024,
            privileged_ok: false,
            unread: vec![format!(
                "the ephemeral range (no source on this platform; {IANA_DYNAMIC} assumed)"
            )],
        }
    }
}

/// The commands one `netsh` run reads from its input: both ranges, then exit.
#[cfg(any(windows, test))]
const NETSH_SCRIPT: &str = "interface ipv4 show dynamicport tcp\r\ninterface ipv4 show excludedportrange protocol=tcp\r\nexit\r\n";

/// Runs `netsh` once with [`NETSH_SCRIPT`] on its input; its output, or "" if it cannot run.
/// Its error output and any handles it could inherit are not the caller's: stderr is
/// discarded and stdin is a pipe closed after the script.
#[cfg(windows)]
fn run_netsh() -> String {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let Ok(mut child) = Command::new("netsh")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return String::new();
    };
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(NETSH_SCRIPT.as_bytes());
    }
    child
        .wait_with_output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The Windows settings from the output of [`NETSH_SCRIPT`]: the dynamic range (start port and
/// count after the first two colons) and every line of two numbers (excluded ranges). Output
/// with no readable dynamic range is "unknown": the defaults are assumed and said so.
#[cfg(any(windows, test))]
pub fn from_netsh(text: &str) -> OsPorts {
    let mut unread = Vec::new();
    let ephemeral = parse_netsh_dynamic(text).unwrap_or_else(|| {
        unread.push(format!(
            "the ephemeral range (netsh printed nothing readable; Windows' default {IANA_DYNAMIC} assumed)"
        ));
        IANA_DYNAMIC
    });
    let excluded = parse_netsh_excluded(text);
    if text.trim().is_empty() {
        unread.push("the excluded port ranges (netsh printed nothing; none assumed)".to_string());
    }
    OsPorts {
        ephemeral,
        reserved: Vec::new(),
        excluded,
        unprivileged_start: 0,
        privileged_ok: true,
        unread,
    }
}

/// Linux `ip_local_port_range`: two numbers separated by white space.
#[cfg(any(target_os = "linux", test))]
pub fn parse_linux_port_range(text: &str) -> Option<PortRange> {
    let mut nums = text.split_ascii_whitespace().map(str::parse::<u16>);
    let (Some(Ok(lo)), Some(Ok(hi))) = (nums.next(), nums.next()) else {
        return None;
    };
    PortRange::new(lo, hi)
}

/// Linux `ip_local_reserved_ports`: a comma list of ports and `A-B` ranges (often empty).
#[cfg(any(target_os = "linux", test))]
pub fn parse_port_list(text: &str) -> Vec<PortRange> {
    text.split(',')
        .filter_map(|item| item.trim().parse().ok())
        .collect()
}

/// `sysctl net.inet.ip.portrange.first net.inet.ip.portrange.last` (with or without `-n`):
/// the last number on each of the two lines.
#[cfg(any(target_os = "macos", test))]
pub fn parse_sysctl_port_range(text: &str) -> Option<PortRange> {
    let mut nums = text
        .lines()
        .filter_map(|l| l.rsplit([':', ' ', '=']).next()?.trim().parse::<u16>().ok());
    PortRange::new(nums.next()?, nums.next()?)
}

/// `netsh int ipv4 show dynamicport tcp`: the numbers after the first two colons (start port,
/// number of ports). The labels are localised, so only the numbers are read.
#[cfg(any(windows, test))]
pub fn parse_netsh_dynamic(text: &str) -> Option<PortRange> {
    let mut nums = text
        .lines()
        .filter_map(|l| l.split_once(':')?.1.trim().parse::<u32>().ok());
    let (start, count) = (nums.next()?, nums.next()?);
    PortRange::block(u16::try_from(start).ok()?, u16::try_from(count).ok()?)
}

/// `netsh int ipv4 show excludedportrange protocol=tcp`: every line made of two numbers (start,
/// end), optionally followed by `*` (an administered exclusion).
#[cfg(any(windows, test))]
pub fn parse_netsh_excluded(text: &str) -> Vec<PortRange> {
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().filter(|w| *w != "*").collect();
            match words.as_slice() {
                [a, b] => PortRange::new(a.parse().ok()?, b.parse().ok()?),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap_or_default()
    }

    #[test]
    fn linux() {
        assert_eq!(
            parse_linux_port_range(&fixture("linux-ip_local_port_range.txt")),
            PortRange::new(32768, 60999)
        );
        assert_eq!(parse_linux_port_range("garbage"), None);
        let reserved = parse_port_list(&fixture("linux-ip_local_reserved_ports.txt"));
        assert_eq!(
            reserved,
            [
                PortRange::single(8080),
                PortRange::new(9000, 9002).expect("lo <= hi"),
                PortRange::single(10001)
            ]
        );
        assert!(parse_port_list("\n").is_empty());
    }

    #[test]
    fn macos() {
        assert_eq!(
            parse_sysctl_port_range(&fixture("sysctl-portrange.txt")),
            Some(IANA_DYNAMIC)
        );
        assert_eq!(
            parse_sysctl_port_range("49152\n65535\n"),
            Some(IANA_DYNAMIC)
        );
    }

    #[test]
    fn windows_from_one_netsh_run() {
        // Both answers in one output, prompts and all, as one netsh run prints them.
        let text = format!(
            "netsh>{}\r\nnetsh>{}\r\nnetsh>",
            fixture("netsh-dynamicport-en.txt"),
            fixture("netsh-excludedportrange-en.txt")
        );
        let os = from_netsh(&text);
        assert_eq!(os.ephemeral, IANA_DYNAMIC);
        assert_eq!(os.excluded.len(), 3);
        assert!(os.unread.is_empty(), "{:?}", os.unread);
        assert!(NETSH_SCRIPT.contains("dynamicport") && NETSH_SCRIPT.contains("excludedportrange"));
        // Wine's netsh prints nothing: unknown, said so, defaults assumed.
        let os = from_netsh("");
        assert_eq!((os.ephemeral, os.excluded.len()), (IANA_DYNAMIC, 0));
        assert_eq!(os.unread.len(), 2, "{:?}", os.unread);
        assert!(
            os.unread[0].contains("49152-65535 assumed"),
            "{:?}",
            os.unread
        );
        // Another machine's range, with no exclusions, is read as such.
        let os = from_netsh(&fixture("netsh-dynamicport-de.txt"));
        assert_eq!(
            os.ephemeral,
            PortRange::new(10000, 10999).expect("lo <= hi")
        );
        assert!(os.unread.is_empty(), "{:?}", os.unread);
    }

    #[test]
    fn windows() {
        assert_eq!(
            parse_netsh_dynamic(&fixture("netsh-dynamicport-en.txt")),
            Some(IANA_DYNAMIC)
        );
        assert_eq!(
            parse_netsh_dynamic(&fixture("netsh-dynamicport-de.txt")),
            PortRange::new(10000, 10999)
        );
        assert_eq!(
            parse_netsh_excluded(&fixture("netsh-excludedportrange-en.txt")),
            [
                PortRange::single(5357),
                PortRange::new(50000, 50059).expect("lo <= hi"),
                PortRange::new(50160, 50259).expect("lo <= hi")
            ]
        );
    }
}
