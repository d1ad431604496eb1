//! The validation of user input: the parsers of the value types (`FromStr` for [`Proto`] and
//! [`PortRange`]), port numbers, block sizes, service names and durations. Each refusal is an
//! [`Error::InvalidInput`] naming the kind of input.

use std::str::FromStr;

use crate::error::{Error, Input, Result};
use crate::model::types::{MAX_COUNT, MAX_DURATION, PortRange, Proto};

impl FromStr for Proto {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "both" => Ok(Proto::Both),
            _ => Err(Error::invalid(
                Input::Proto,
                format!("invalid protocol {s:?}: use tcp, udp or both"),
            )),
        }
    }
}

impl FromStr for PortRange {
    type Err = Error;
    /// Parses `P` or `A-B` (both ports 1-65535, `A <= B`).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                Input::Range,
                format!("invalid port range {s:?}: write A-B with 1 <= A <= B <= 65535"),
            )
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
        _ => Err(Error::invalid(
            Input::Port,
            format!("invalid port {s:?}: a port is a whole number from 1 to 65535"),
        )),
    }
}

/// Checks a block size: 1 to [`MAX_COUNT`] ports.
pub fn check_count(count: u16) -> Result<()> {
    if (1..=MAX_COUNT).contains(&count) {
        Ok(())
    } else {
        Err(Error::invalid(
            Input::Count,
            format!("invalid count {count}: a block holds 1 to {MAX_COUNT} consecutive ports"),
        ))
    }
}

/// The longest accepted service name.
pub const MAX_SERVICE_LEN: usize = 64;

/// Checks a service name: 1-64 characters of `A-Z a-z 0-9 . _ -`, starting with a letter or
/// digit.
pub fn validate_service(name: &str) -> Result<()> {
    let fix = "use 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit";
    if name.is_empty() {
        return Err(Error::invalid(
            Input::Service,
            format!("empty service name: {fix}"),
        ));
    }
    if name.len() > MAX_SERVICE_LEN {
        return Err(Error::invalid(
            Input::Service,
            format!(
                "service name is {} characters long: {fix}",
                name.chars().count()
            ),
        ));
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if let Some(c) = name.chars().find(|&c| !ok_char(c)) {
        return Err(Error::invalid(
            Input::Service,
            format!("invalid character {c:?} in service name {name:?}: {fix}"),
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            Input::Service,
            format!("service name {name:?} must start with a letter or digit: {fix}"),
        ));
    }
    Ok(())
}

/// Parses a duration such as `30s`, `10m`, `2h`, `7d` or `1h30m`, at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let too_long = || {
        Error::invalid(
            Input::Duration,
            format!("invalid duration {s:?}: it is too long; give at most 36500d (100 years)"),
        )
    };
    let bad = || {
        Error::invalid(
            Input::Duration,
            format!(
                "invalid duration {s:?}: write a number with s, m, h or d, e.g. 30s, 10m, 2h, 7d"
            ),
        )
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
        return Err(Error::invalid(
            Input::Duration,
            format!(
                "invalid duration {s:?}: zero is not allowed; give a length such as 30s, 10m, 2h or 7d"
            ),
        ));
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
    use crate::model::types::{Transport, deadline};
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
        let covered = |p: Proto| [Transport::Tcp, Transport::Udp].map(|t| p.covers(t));
        assert_eq!(covered(Proto::Tcp), [true, false]);
        assert_eq!(covered(Proto::Udp), [false, true]);
        assert_eq!(covered(Proto::Both), [true, true]);
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
