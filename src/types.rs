//! Small value types shared by the library and the CLI, with their parsers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which transport protocols a claim or lease covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP only (the default).
    #[default]
    Tcp,
    /// UDP only.
    Udp,
    /// TCP and UDP.
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
    /// The transports the claim covers, TCP first.
    pub fn transports(self) -> &'static [Transport] {
        match self {
            Proto::Tcp => &[Transport::Tcp],
            Proto::Udp => &[Transport::Udp],
            Proto::Both => &[Transport::Tcp, Transport::Udp],
        }
    }
    /// Whether the claim covers a socket of `transport`, named as a live socket names it
    /// (`tcp` or `udp`, see `ports::sockets::Socket::proto`).
    pub fn covers(self, transport: &str) -> bool {
        self.transports().iter().any(|t| t.as_str() == transport)
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

impl FromStr for Proto {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "both" => Ok(Proto::Both),
            _ => Err(Error::Usage(format!(
                "invalid protocol {s:?}: use tcp, udp or both"
            ))),
        }
    }
}

/// One transport protocol: what a bind probe or a socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

impl FromStr for PortRange {
    type Err = Error;
    /// Parses `P` or `A-B` (both ports 1-65535, `A <= B`).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Usage(format!(
                "invalid port range {s:?}: write A-B with 1 <= A <= B <= 65535"
            ))
        };
        match s.split_once('-') {
            None => Ok(PortRange::single(parse_port(s)?)),
            Some((a, b)) => {
                if a.is_empty() || b.contains('-') {
                    return Err(bad());
                }
                PortRange::new(parse_port(a)?, parse_port(b)?).ok_or_else(bad)
            }
        }
    }
}

/// Parses a port number 1-65535.
pub fn parse_port(s: &str) -> Result<u16> {
    match s.trim().parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(u16::try_from(p).unwrap_or(u16::MAX)),
        _ => Err(Error::Usage(format!(
            "invalid port {s:?}: a port is a whole number from 1 to 65535"
        ))),
    }
}

/// The most ports one claim or lease may hold.
pub const MAX_COUNT: u16 = 1000;

/// Checks a block size: 1 to [`MAX_COUNT`] ports.
pub fn check_count(count: u16) -> Result<()> {
    if (1..=MAX_COUNT).contains(&count) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid count {count}: a block holds 1 to {MAX_COUNT} consecutive ports"
        )))
    }
}

/// The longest accepted service name.
pub const MAX_SERVICE_LEN: usize = 64;

/// Checks a service name: 1-64 characters of `A-Z a-z 0-9 . _ -`, starting with a letter or
/// digit.
pub fn validate_service(name: &str) -> Result<()> {
    let fix = "use 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit";
    if name.is_empty() {
        return Err(Error::Usage(format!("empty service name: {fix}")));
    }
    if name.len() > MAX_SERVICE_LEN {
        return Err(Error::Usage(format!(
            "service name is {} characters long: {fix}",
            name.chars().count()
        )));
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if let Some(c) = name.chars().find(|&c| !ok_char(c)) {
        return Err(Error::Usage(format!(
            "invalid character {c:?} in service name {name:?}: {fix}"
        )));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Error::Usage(format!(
            "service name {name:?} must start with a letter or digit: {fix}"
        )));
    }
    Ok(())
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

/// Parses a duration such as `30s`, `10m`, `2h`, `7d` or `1h30m`, at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let too_long = || {
        Error::Usage(format!(
            "invalid duration {s:?}: it is too long; give at most 36500d (100 years)"
        ))
    };
    let bad = || {
        Error::Usage(format!(
            "invalid duration {s:?}: write a number with s, m, h or d, e.g. 30s, 10m, 2h, 7d"
        ))
    };
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        if digits.is_empty() {
            return Err(bad());
        }
        // Only digits are left in `digits`: a number that does not fit is too long.
        let n: u64 = digits.parse().map_err(|_| too_long())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(too_long)?;
    }
    if !digits.is_empty() || s.trim().is_empty() {
        return Err(bad());
    }
    if total == 0 {
        return Err(Error::Usage(format!(
            "invalid duration {s:?}: zero is not allowed; give a length such as 30s, 10m, 2h or 7d"
        )));
    }
    let duration = std::time::Duration::from_secs(total);
    if duration > MAX_DURATION {
        return Err(too_long());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ports_and_ranges() {
        assert_eq!(parse_port("8080").ok(), Some(8080));
        for bad in ["0", "65536", "-1", "abc", ""] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
        assert_eq!("10-20".parse::<PortRange>().ok(), PortRange::new(10, 20));
        assert_eq!("7".parse::<PortRange>().ok(), Some(PortRange::single(7)));
        for bad in ["80-70", "1-2-3", "-5", "5-", "a-b"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad}");
        }
        assert_eq!(PortRange::new(20, 10), None);
        assert_eq!(PortRange::new(0, 65535).map(PortRange::len), Some(65536));
        assert_eq!(PortRange::single(7).len(), 1);
    }

    #[test]
    fn blocks() {
        assert_eq!(PortRange::block(8000, 1), Some(PortRange::single(8000)));
        assert_eq!(PortRange::block(8000, 3), PortRange::new(8000, 8002));
        assert_eq!(PortRange::block(65535, 1), Some(PortRange::single(65535)));
        assert_eq!(PortRange::block(65534, 3), None);
        assert_eq!(PortRange::block(8000, 0), None);
    }

    #[test]
    fn protos_cover_their_transports() {
        let covered = |p: Proto| ["tcp", "udp", "sctp", ""].map(|t| p.covers(t));
        assert_eq!(covered(Proto::Tcp), [true, false, false, false]);
        assert_eq!(covered(Proto::Udp), [false, true, false, false]);
        assert_eq!(covered(Proto::Both), [true, true, false, false]);
        assert_eq!(Proto::Both.transports(), [Transport::Tcp, Transport::Udp]);
        assert_eq!(Transport::Udp.to_string(), "udp");
    }

    #[test]
    fn service_names() {
        for good in ["web", "api.v2", "db_1", "9lives", &"a".repeat(64)] {
            assert!(validate_service(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a/b", "a\u{7}", "é", "-x", ".x", &"a".repeat(65)] {
            assert!(validate_service(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("30s").ok(),
            Some(std::time::Duration::from_secs(30))
        );
        assert_eq!(
            parse_duration("1h30m").ok(),
            Some(std::time::Duration::from_secs(5400))
        );
        for bad in ["", "0s", "10", "5x", "s", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_duration("36500d").ok(), Some(MAX_DURATION));
        for long in [
            "36501d",
            "36500d1s",
            "18446744073709551615s",
            "99999999999999999999s",
            "5000000000000000h",
        ] {
            let e = parse_duration(long).expect_err(long).to_string();
            assert!(e.contains("too long"), "{long}: {e}");
        }
        // Any accepted duration makes a deadline, and a longer one saturates instead of
        // overflowing.
        let now = std::time::Instant::now();
        assert_eq!(deadline(now, MAX_DURATION), now + MAX_DURATION);
        assert!(deadline(now, std::time::Duration::MAX) >= now + MAX_DURATION);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in ".{0,40}") {
            let _ = parse_port(&s);
            let _ = s.parse::<PortRange>();
            let _ = validate_service(&s);
            let _ = parse_duration(&s);
            let _ = s.parse::<Proto>();
        }
    }
}
