//! Small value types shared by the library and the CLI. Reading them from what a person
//! typed is `input.rs`'s.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The most ports one claim or lease may hold.
pub const MAX_COUNT: u16 = 1000;

/// Which transport protocols a claim or lease covers. With the `clap` feature it is a
/// `clap::ValueEnum`, whose help is the command line's words for `--proto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Proto {
    /// TCP only (the default).
    #[default]
    #[cfg_attr(feature = "clap", value(help = "TCP only"))]
    Tcp,
    /// UDP only.
    #[cfg_attr(feature = "clap", value(help = "UDP only"))]
    Udp,
    /// TCP and UDP.
    #[cfg_attr(feature = "clap", value(help = "TCP and UDP"))]
    Both,
}

impl Proto {
    /// Whether the claim includes TCP.
    pub fn tcp(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Both)
    }
    /// Whether the claim includes UDP.
    pub fn udp(self) -> bool {
        matches!(self, Proto::Udp | Proto::Both)
    }
    #[doc(hidden)]
    /// The transports the claim covers, TCP first.
    pub fn transports(self) -> &'static [Transport] {
        match self {
            Proto::Tcp => &[Transport::Tcp],
            Proto::Udp => &[Transport::Udp],
            Proto::Both => &[Transport::Tcp, Transport::Udp],
        }
    }
    #[doc(hidden)]
    /// Whether the claim covers a socket of `transport`.
    pub fn covers(self, transport: Transport) -> bool {
        self.transports().contains(&transport)
    }
    /// The lowercase name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Both => "both",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One transport protocol: what a bind probe or a socket is (`"tcp"` or `"udp"` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Transport {
    /// The lowercase name used in messages: `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

impl From<Transport> for Proto {
    fn from(transport: Transport) -> Proto {
        match transport {
            Transport::Tcp => Proto::Tcp,
            Transport::Udp => Proto::Udp,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The range claims come from unless configured: below every OS's ephemeral range and
/// Kubernetes' `NodePort` range, above most dev-tool defaults.
pub const DEFAULT_RANGE: PortRange = PortRange::new(10000, 29999).expect("lo <= hi");

/// An inclusive range of ports `lo..=hi`, never empty: the constructors refuse `lo > hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    lo: u16,
    hi: u16,
}

// A range always holds at least one port, so an `is_empty` could only ever say false.
#[allow(clippy::len_without_is_empty)]
impl PortRange {
    /// A range from `lo` to `hi` inclusive; `None` if `lo > hi`.
    pub const fn new(lo: u16, hi: u16) -> Option<Self> {
        if lo <= hi {
            Some(PortRange { lo, hi })
        } else {
            None
        }
    }
    /// A range of one port.
    pub const fn single(port: u16) -> Self {
        PortRange { lo: port, hi: port }
    }
    /// The block of `count` consecutive ports starting at `port`; `None` when `count` is 0 or
    /// the block would run past 65535. The one place a block's last port is computed.
    pub fn block(port: u16, count: u16) -> Option<Self> {
        let hi = port.checked_add(count.checked_sub(1)?)?;
        PortRange::new(port, hi)
    }
    /// First port.
    pub const fn lo(self) -> u16 {
        self.lo
    }
    /// Last port (inclusive).
    pub const fn hi(self) -> u16 {
        self.hi
    }
    /// Whether `port` lies inside.
    pub fn contains(self, port: u16) -> bool {
        self.lo <= port && port <= self.hi
    }
    /// How many ports the range holds: 1 to 65536.
    pub fn len(self) -> u32 {
        u32::from(self.hi) - u32::from(self.lo) + 1
    }
    /// Whether the two ranges share a port.
    pub fn overlaps(self, other: PortRange) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }
    /// The ports in order.
    pub fn iter(self) -> impl Iterator<Item = u16> {
        self.lo..=self.hi
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// The longest duration devport accepts anywhere (`--timeout`, `--ttl`, `--older-than`,
/// `lock_timeout`): 100 years, so a deadline `now + duration` never overflows a clock.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(36_500 * 86_400);

/// The moment `timeout` after `start`, or the latest representable one (a timeout longer than
/// the clock can count waits "forever").
pub fn deadline(start: std::time::Instant, timeout: std::time::Duration) -> std::time::Instant {
    start
        .checked_add(timeout)
        .or_else(|| start.checked_add(MAX_DURATION))
        .unwrap_or(start)
}

/// Whether `c` can change how a terminal shows text: a control character (C0, DEL, C1), or a
/// Unicode bidirectional control (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069),
/// which reorders what follows it so that a name can read as something else. Every text from
/// a file or a process shows such characters escaped.
pub fn is_terminal_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// 64-bit FNV-1a: a hash that is the same on every build and platform, for values that are
/// stored or must not change between releases (a new claim's first port, a lease's start time
/// where only `ps` text is known, an export name's suffix).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The SHA-256 of `bytes` in lower-case hex: the content hash a trusted manifest is pinned to
/// (see [`crate::store::trust`]), which, unlike [`fnv1a`], no one can match with other content.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            use std::fmt::Write as _;
            let _ = write!(out, "{b:02x}");
            out
        })
}
