//! The validation of user input: the parsers of the value types (`FromStr` for [`Proto`] and
//! [`PortRange`]), port numbers, block sizes, service names and durations. Each refusal is an
//! [`Error::InvalidInput`] naming the kind of input.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use jiff::SpanRelativeTo;
use jiff::fmt::friendly::SpanParser;

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
    match service_name_problem(name, "service name", "empty service name") {
        None => Ok(()),
        Some(message) => Err(Error::invalid(Input::Service, message)),
    }
}

/// What is wrong with `name` under the rules of a service name, if anything, in words that call
/// it `noun` ("project name" for a manifest's `name`); `empty` is the words for an empty one.
pub fn service_name_problem(name: &str, noun: &str, empty: &str) -> Option<String> {
    let fix = "use 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit";
    if name.is_empty() {
        return Some(format!("{empty}: {fix}"));
    }
    if name.len() > MAX_SERVICE_LEN {
        return Some(format!(
            "{noun} is {} characters long: {fix}",
            name.chars().count()
        ));
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if let Some(c) = name.chars().find(|&c| !ok_char(c)) {
        return Some(format!("invalid character {c:?} in {noun} {name:?}: {fix}"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some(format!(
            "{noun} {name:?} must start with a letter or digit: {fix}"
        ));
    }
    None
}

/// Parses a duration of user input (`--ttl`, `--timeout`, `--older-than`), not zero and at most
/// [`MAX_DURATION`]: see [`parse_length`] for what is written.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let duration = parse_length(s)?;
    if duration.is_zero() {
        return Err(Error::invalid(
            Input::Duration,
            format!(
                "invalid duration {s:?}: zero is not allowed; give a length such as 30s, 10m, 2h or 7d"
            ),
        ));
    }
    Ok(duration)
}

/// Parses a length of time that may be zero, at most [`MAX_DURATION`], in jiff's friendly
/// format: `30s`, `10m`, `2h`, `7d`, `1h30m`, `1.5h`, `500ms`, `2 weeks`, `1 hour 30 minutes`
/// (a day is 24 hours; years and months are refused, as their length varies). One rule for
/// every duration devport reads: a number without a unit is seconds, fractions allowed (`5`,
/// `2.5`). Blanks around it are ignored; a negative length is refused.
pub fn parse_length(s: &str) -> Result<Duration> {
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
    let text = s.trim();
    let bare = text.starts_with(|c: char| c.is_ascii_digit())
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let text = if bare {
        Cow::Owned(format!("{text}s"))
    } else {
        Cow::Borrowed(text)
    };
    let parser = SpanParser::new();
    let span = match parser.parse_span(text.as_bytes()) {
        Ok(span) => span,
        // Written right, but a number too big for any clock.
        Err(_)
            if parser
                .parse_span(small_numbers(&text).as_bytes())
                .is_ok_and(|span| !span.is_negative()) =>
        {
            return Err(too_long());
        }
        Err(_) => return Err(bad()),
    };
    if span.is_negative() {
        return Err(bad());
    }
    let duration = span
        .to_duration(SpanRelativeTo::days_are_24_hours())
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .ok_or_else(bad)?;
    if duration > MAX_DURATION {
        return Err(too_long());
    }
    Ok(duration)
}

/// `text` with every whole number written `1` (the digits of a fraction kept): when that
/// parses, only the size of a number was wrong.
fn small_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut whole, mut fraction) = (false, false);
    for c in text.chars() {
        if c.is_ascii_digit() && !fraction {
            if !whole {
                out.push('1');
            }
            whole = true;
            continue;
        }
        fraction = (whole && matches!(c, '.' | ',')) || (fraction && c.is_ascii_digit());
        whole = false;
        out.push(c);
    }
    out
}

/// The longest DNS label.
pub const MAX_LABEL: usize = 63;

/// `name` as a DNS label: lower case, every character other than `a-z 0-9 -` turned into `-`,
/// runs of `-` made one, no `-` at either end, at most 63 characters; `x` when nothing is left.
pub fn dns_label(name: &str) -> String {
    let mut label = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && (label.is_empty() || label.ends_with('-'))) {
            label.push(c);
        }
    }
    label.truncate(MAX_LABEL);
    let label = label.trim_end_matches('-');
    if label.is_empty() {
        "x".to_string()
    } else {
        label.to_string()
    }
}

/// Labels that are all different, for things whose wished-for labels are `plain` (each a
/// [`dns_label`]), ranked by `rank` (the older first). The first of each plain label keeps it,
/// unless it is `reserved`; every other takes `-2`, `-3` … (the first that is no one's plain
/// label, not `reserved` and not given out yet), `plain` cut to fit 63 characters. Ties of
/// rank go to the earlier place, so the same input always gives the same labels.
pub fn unique_labels<R: Ord>(plain: &[String], rank: &[R], reserved: &str) -> Vec<String> {
    let mut order: Vec<usize> = (0..plain.len()).collect();
    order.sort_by(|&a, &b| (&plain[a], &rank[a], a).cmp(&(&plain[b], &rank[b], b)));
    let mut taken: std::collections::HashSet<String> = plain.iter().cloned().collect();
    taken.insert(reserved.to_string());
    let mut out = vec![String::new(); plain.len()];
    for (at, &i) in order.iter().enumerate() {
        let first = plain[i] != reserved && (at == 0 || plain[order[at - 1]] != plain[i]);
        out[i] = if first {
            plain[i].clone()
        } else {
            let free = (2..=u32::MAX)
                .map(|n| {
                    let suffix = format!("-{n}");
                    let mut base = plain[i].clone();
                    base.truncate(MAX_LABEL - suffix.len());
                    format!("{}{suffix}", base.trim_end_matches('-'))
                })
                .find(|label| !taken.contains(label))
                .unwrap_or_default();
            taken.insert(free.clone());
            free
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    proptest::proptest! {
        #[test]
        fn labels_are_dns_safe_and_stable(name in "\\PC{0,80}") {
            let label = dns_label(&name);
            proptest::prop_assert!(!label.is_empty() && label.len() <= MAX_LABEL);
            proptest::prop_assert!(label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            proptest::prop_assert!(!label.starts_with('-') && !label.ends_with('-'));
            proptest::prop_assert_eq!(dns_label(&name), label.clone());
            proptest::prop_assert_eq!(dns_label(&label), label);
        }
    }

    #[test]
    fn names_map_to_labels() {
        for (name, label) in [
            ("web", "web"),
            ("Web_API.v2", "web-api-v2"),
            ("--a__b--", "a-b"),
            ("Straße", "stra-e"),
            ("日本", "x"),
            (&"a".repeat(70), &"a".repeat(63)),
        ] {
            assert_eq!(dns_label(name), label, "{name}");
        }
    }

    /// Wished-for labels that meet: the oldest keeps its label, the others take the first
    /// free `-N` by age (a thing whose own label is `shop-2` keeps it), the reserved label
    /// goes to no one, and the same input in any order gives the same labels.
    #[test]
    fn unique_labels_keep_the_oldest_plain_and_number_the_others() {
        let plain = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        let got = unique_labels(
            &plain(&["shop", "shop", "shop-2", "shop", "main", "cart"]),
            &[2, 1, 5, 3, 1, 1],
            "main",
        );
        assert_eq!(
            got,
            ["shop-3", "shop", "shop-2", "shop-4", "main-2", "cart"]
        );
        let long = "b".repeat(MAX_LABEL);
        let got = unique_labels(&plain(&[&long, &long]), &[1, 1], "");
        assert_eq!((got[0].len(), got[1].len()), (MAX_LABEL, MAX_LABEL));
        assert!(got[1].ends_with("-2"), "{got:?}");
    }
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
        // One rule everywhere: a number without a unit is seconds, fractions allowed.
        let secs = |s: f64| Some(Duration::from_secs_f64(s));
        for (text, want) in [
            ("10", secs(10.0)),
            (" 2.5 ", secs(2.5)),
            ("90s", secs(90.0)),
            ("5m", secs(300.0)),
            ("1.5h", secs(5400.0)),
            ("7d", secs(7.0 * 86_400.0)),
            ("2 weeks", secs(14.0 * 86_400.0)),
            ("1 hour 30 minutes", secs(5400.0)),
            ("500ms", secs(0.5)),
        ] {
            assert_eq!(parse_duration(text).ok(), want, "{text}");
        }
        assert_eq!(parse_length("0").ok(), Some(Duration::ZERO));
        for bad in [
            "",
            "0s",
            "0",
            "5x",
            "s",
            "-5s",
            "5s ago",
            "1y",
            "2mo",
            "PT5M",
            "5.",
            ".5",
            "1.2.3",
            "1e3",
            "1h 1h",
            "1.5d",
            "1.0000000001s",
        ] {
            let e = parse_duration(bad).expect_err(bad).to_string();
            assert!(!e.contains("too long"), "{bad}: {e}");
        }
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(parse_duration("36500d").ok(), Some(MAX_DURATION));
        for long in [
            "36501d",
            "36500d1s",
            "18446744073709551615s",
            "99999999999999999999s",
            "5000000000000000h",
            "213503982334601d",
            "9999999d",
            "1 hour 99999999999999999999 minutes",
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
