//! Borrowed mirrors of the registry types for the one-claim lookup ([`super::Registry::find_in`]).
//!
//! Every claim is checked as strictly as the full parse checks it (the same field types and
//! the same `checked` rules; unknown keys are read as the JSON values the full parse keeps), but
//! nothing is copied: names stay borrowed from the text and times are only checked, not
//! converted. This must never accept what the full parse refuses; where it is stricter (a
//! duplicate key, a time in a form devport never writes) the caller falls back to the full
//! parse, which gives the answer or the error.

use std::borrow::Cow;
use std::fmt;

use jiff::Timestamp;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::{Claim, Extra, LeaseRecord, checked};
use crate::model::types::Proto;

/// The registry as the lookup reads it.
#[derive(Deserialize)]
pub struct RegistryRef<'a> {
    pub version: u64,
    #[serde(borrow, default)]
    pub claims: Vec<ClaimRef<'a>>,
    #[serde(default)]
    pub leases: Vec<LeaseRecord>,
    /// Unknown keys, read (as the full parse reads them) only to be checked.
    #[serde(flatten)]
    pub _extra: Extra,
}

impl RegistryRef<'_> {
    /// Whether every block ends by port 65535 (see `Registry::check_blocks`).
    pub fn blocks_fit(&self) -> bool {
        self.claims.iter().all(|c| super::fits(c.port, c.count))
            && self.leases.iter().all(|l| super::fits(l.port, l.count))
    }
}

/// A claim as the lookup reads it.
pub struct ClaimRef<'a> {
    pub project: Cow<'a, str>,
    pub project_path: Option<Cow<'a, str>>,
    pub service: Cow<'a, str>,
    pub port: u16,
    pub count: u16,
    pub proto: Proto,
    pub created: Stamp<'a>,
    pub last_used: Stamp<'a>,
    pub pinned: bool,
}

impl ClaimRef<'_> {
    /// The claim as the full parse gives it, less unknown keys (a lookup never writes); `None`
    /// only if a time that passed the check does not convert (then the full parse decides).
    pub fn into_owned(self) -> Option<Claim> {
        Some(Claim {
            created: self.created.timestamp()?,
            last_used: self.last_used.timestamp()?,
            project: self.project.into_owned(),
            project_path: self.project_path.map(|p| p.into_owned().into()),
            service: self.service.into_owned(),
            port: self.port,
            count: self.count,
            proto: self.proto,
            pinned: self.pinned,
            extra: Extra::new(),
        })
    }
}

/// A time, checked but kept as its text: converting every claim's two times was a quarter of
/// the lookup, and only the matching claim's are needed.
pub struct Stamp<'a>(Cow<'a, str>);

impl Stamp<'_> {
    fn timestamp(&self) -> Option<Timestamp> {
        self.0.parse().ok()
    }
}

impl<'de> Deserialize<'de> for Stamp<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Text::deserialize(d)?.0;
        if !is_canonical_utc(&text) {
            // Any other form is checked by the parser the full parse uses.
            text.parse::<Timestamp>().map_err(de::Error::custom)?;
        }
        Ok(Stamp(text))
    }
}

/// Whether `s` is a UTC time in the form devport writes (`2026-11-27T23:20:50.944594Z`, the
/// fraction optional, up to 9 digits) and names a real instant. A strict subset of what the
/// full parse accepts: years 1-9998 only (the parser's range ends in 9999), no leap second.
fn is_canonical_utc(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b.get(range)?.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return false;
    };
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return false;
    }
    let rest = &b[19..];
    let zone_ok = match rest {
        [b'Z'] => true,
        [b'.', digits @ .., b'Z'] => {
            (1..=9).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    zone_ok
        && (1..=9998).contains(&year)
        && (1..=12).contains(&month)
        && (1..=days).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60
}

/// A JSON string, borrowed from the text when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A field read through one of the `checked` rules.
macro_rules! checked_field {
    ($name:ident, $rule:path) => {
        struct $name(u16);
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $rule(d).map($name)
            }
        }
    };
}
checked_field!(Port, checked::port);
checked_field!(Count, checked::count);

impl<'de: 'a, 'a> Deserialize<'de> for ClaimRef<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ClaimVisitor(std::marker::PhantomData))
    }
}

struct ClaimVisitor<'a>(std::marker::PhantomData<&'a ()>);

/// Sets a field once; a second value for it is an error, as in the full parse.
fn once<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::duplicate_field(name));
    }
    Ok(())
}

impl<'de: 'a, 'a> Visitor<'de> for ClaimVisitor<'a> {
    type Value = ClaimRef<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a claim")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut project = None;
        let mut project_path: Option<Option<Text>> = None;
        let mut service = None;
        let mut port = None;
        let mut count = None;
        let mut proto = None;
        let mut created = None;
        let mut last_used = None;
        let mut pinned = None;
        while let Some(key) = map.next_key::<Text>()? {
            match key.0.as_ref() {
                "project" => once(&mut project, map.next_value::<Text>()?, "project")?,
                "project_path" => once(&mut project_path, map.next_value()?, "project_path")?,
                "service" => once(&mut service, map.next_value::<Text>()?, "service")?,
                "port" => once(&mut port, map.next_value::<Port>()?.0, "port")?,
                "count" => once(&mut count, map.next_value::<Count>()?.0, "count")?,
                "proto" => once(&mut proto, map.next_value::<Proto>()?, "proto")?,
                "created" => once(&mut created, map.next_value::<Stamp>()?, "created")?,
                "last_used" => once(&mut last_used, map.next_value::<Stamp>()?, "last_used")?,
                "pinned" => once(&mut pinned, map.next_value::<bool>()?, "pinned")?,
                // Read as the full parse keeps it, so a value it refuses is refused here too.
                _ => drop(map.next_value::<serde_json::Value>()?),
            }
        }
        let missing = de::Error::missing_field;
        Ok(ClaimRef {
            project: project.ok_or_else(|| missing("project"))?.0,
            project_path: project_path.flatten().map(|t| t.0),
            service: service.ok_or_else(|| missing("service"))?.0,
            port: port.ok_or_else(|| missing("port"))?,
            count: count.unwrap_or(1),
            proto: proto.unwrap_or_default(),
            created: created.ok_or_else(|| missing("created"))?,
            last_used: last_used.ok_or_else(|| missing("last_used"))?,
            pinned: pinned.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_canonical_utc;
    use jiff::Timestamp;

    /// The quick check accepts only what the full parser accepts too.
    #[test]
    fn the_quick_time_check_is_a_subset_of_the_parser() {
        let cases = [
            ("2026-11-27T23:20:50.944594Z", true),
            ("2026-11-27T23:20:50Z", true),
            ("2024-02-29T00:00:00.123456789Z", true),
            ("2023-02-29T00:00:00Z", false),
            ("1900-02-29T00:00:00Z", false),
            ("2000-02-29T00:00:00Z", true),
            ("2026-13-01T00:00:00Z", false),
            ("2026-00-01T00:00:00Z", false),
            ("2026-04-31T00:00:00Z", false),
            ("2026-01-01T24:00:00Z", false),
            ("2026-01-01T23:60:00Z", false),
            ("2026-01-01T23:59:60Z", false),
            ("2026-01-01T23:59:59.Z", false),
            ("2026-01-01T23:59:59.1234567890Z", false),
            ("2026-01-01T23:59:59", false),
            ("2026-01-01T23:59:59+00:00", false),
            ("2026-01-01t23:59:59z", false),
            ("9999-12-31T23:59:59Z", false),
            ("0000-01-01T00:00:00Z", false),
            ("+2026-01-01T00:00:00Z", false),
            ("2026-01-01T00:00:00ZZ", false),
            ("", false),
            ("2026-1-01T00:00:00Z", false),
        ];
        for (text, quick) in cases {
            assert_eq!(is_canonical_utc(text), quick, "{text}");
            if quick {
                assert!(text.parse::<Timestamp>().is_ok(), "{text}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Any time of the canonical shape, with every field anywhere in 00-99 (and years
        /// across the whole range), is accepted by the quick check only if the parser accepts it.
        #[test]
        fn the_quick_check_never_accepts_what_the_parser_refuses(
            year in 0u32..10000, month in 0u32..100, day in 0u32..100,
            hour in 0u32..100, minute in 0u32..100, second in 0u32..100,
            fraction in proptest::option::of("[0-9]{0,10}"),
        ) {
            let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
            let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z");
            if is_canonical_utc(&text) {
                proptest::prop_assert!(text.parse::<Timestamp>().is_ok(), "{}", text);
            }
        }
    }
}
