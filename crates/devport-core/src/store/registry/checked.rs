//! The field rules of the registry's JSON, used by the derived parse of [`super::Claim`] and
//! [`super::LeaseRecord`] (`deserialize_with`), so every command agrees on whether a registry is
//! valid (and errors carry the line and column of the bad value).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use jiff::Timestamp;
use serde::de::{self, Deserialize as _, Deserializer, Error as _, MapAccess, Visitor};

use super::{ClaimOf, Extra, PortBlock};
use crate::model::input::{dns_label, service_name_problem};
use crate::model::types::Proto;

use crate::model::types::MAX_COUNT;

/// A port: 1-65535.
pub fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    match u16::deserialize(d)? {
        0 => Err(D::Error::custom("port 0 is not a port (ports are 1-65535)")),
        p => Ok(p),
    }
}

/// A block's length: 1 to [`MAX_COUNT`].
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let n = u16::deserialize(d)?;
    if (1..=MAX_COUNT).contains(&n) {
        Ok(n)
    } else {
        Err(D::Error::custom(format!(
            "count {n} is not 1 to {MAX_COUNT}"
        )))
    }
}

/// A time, as jiff's own `Deserialize` reads it (the same expectation and errors), but the form
/// devport writes is converted by [`Canonical`] instead of jiff's general parser, which was a
/// quarter of the time to read a registry.
pub fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    d.deserialize_str(TimeVisitor)
}

/// [`time`] for an optional time (`null` is none).
pub fn time_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    Ok(Option::<TimeField<Timestamp>>::deserialize(d)?.map(|t| t.0))
}

struct TimeVisitor;

impl Visitor<'_> for TimeVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a timestamp string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        timestamp(v).map_err(E::custom)
    }
}

/// The instant `text` names: [`Canonical`]'s arithmetic for the form devport writes, jiff's
/// parser for any other.
fn timestamp(text: &str) -> Result<Timestamp, jiff::Error> {
    Canonical::read(text)
        .and_then(|c| c.timestamp())
        .map_or_else(|| text.parse(), Ok)
}

/// A time checked by the rule of [`time`] but kept as its text, borrowed from the registry: the
/// one-claim lookup converts only the matching claim's times (converting every claim's was 4%
/// of the lookup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp<'a>(&'a str);

impl Stamp<'_> {
    /// The instant; `None` never happens for a stamp that was read (the text passed the check).
    pub fn timestamp(self) -> Option<Timestamp> {
        timestamp(self.0).ok()
    }
}

/// How a claim holds its times, read by the rule of [`time`]: converted ([`Timestamp`]) or
/// only checked ([`Stamp`]).
pub trait ClaimTime<'de>: Sized {
    /// Reads a time.
    fn read<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

impl<'de> ClaimTime<'de> for Timestamp {
    fn read<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        time(d)
    }
}

impl<'de: 'a, 'a> ClaimTime<'de> for Stamp<'a> {
    fn read<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Text with escapes is refused here (as a borrowed name is): the owned parse reads it.
        let text = <&str>::deserialize(d)?;
        if Canonical::read(text).is_none() {
            text.parse::<Timestamp>().map_err(D::Error::custom)?;
        }
        Ok(Stamp(text))
    }
}

/// A time field, read by [`ClaimTime::read`].
struct TimeField<T>(T);

impl<'de, T: ClaimTime<'de>> de::Deserialize<'de> for TimeField<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::read(d).map(TimeField)
    }
}

/// A field read through one of the rules above.
macro_rules! checked_field {
    ($name:ident, $type:ty, $rule:path) => {
        struct $name($type);
        impl<'de> de::Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $rule(d).map($name)
            }
        }
    };
}
checked_field!(Port, u16, port);
checked_field!(Count, u16, count);

/// Sets a field once; a second value for it is an error.
fn once<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::duplicate_field(name));
    }
    Ok(())
}

/// A claim's service name, under the rules `claim` holds it to (a name devport never writes is
/// a hand edit): it reaches shell completions and the commands `doctor` suggests, so a name
/// such as `x;touch f` is refused with the registry, not passed on.
struct Service<S>(S);

impl<'de, S: de::Deserialize<'de> + AsRef<str>> de::Deserialize<'de> for Service<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = S::deserialize(d)?;
        match service_name_problem(name.as_ref(), "service name", "empty service name") {
            None => Ok(Service(name)),
            Some(problem) => Err(D::Error::custom(problem)),
        }
    }
}

/// A claim's checkout name: a DNS label, as devport makes them (it is part of host names
/// `export` writes).
struct CheckoutName<S>(S);

impl<'de, S: de::Deserialize<'de> + AsRef<str>> de::Deserialize<'de> for CheckoutName<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = S::deserialize(d)?;
        if dns_label(name.as_ref()) == name.as_ref() {
            Ok(CheckoutName(name))
        } else {
            Err(D::Error::custom(format!(
                "checkout name {:?} must be a DNS label: a-z, 0-9 and -, at most 63 characters",
                name.as_ref()
            )))
        }
    }
}

/// The visitor of [`ClaimOf`]'s `Deserialize`.
pub struct ClaimVisitor<S, P, T>(pub PhantomData<(S, P, T)>);

impl<'de, S, P, T> Visitor<'de> for ClaimVisitor<S, P, T>
where
    S: de::Deserialize<'de> + AsRef<str>,
    P: de::Deserialize<'de>,
    T: ClaimTime<'de>,
{
    type Value = ClaimOf<S, P, T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct Claim")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut project = None;
        let mut project_path: Option<Option<P>> = None;
        let mut service = None;
        let mut port = None;
        let mut count = None;
        let mut proto = None;
        let mut created = None;
        let mut last_used = None;
        let mut pinned = None;
        let mut checkout = None;
        let mut extra = Extra::new();
        while let Some(key) = map.next_key::<Key>()? {
            match key.0.as_ref() {
                "project" => once(&mut project, map.next_value()?, "project")?,
                "project_path" => once(&mut project_path, map.next_value()?, "project_path")?,
                "service" => once(&mut service, map.next_value::<Service<S>>()?.0, "service")?,
                "port" => once(&mut port, map.next_value::<Port>()?.0, "port")?,
                "count" => once(&mut count, map.next_value::<Count>()?.0, "count")?,
                "proto" => once(&mut proto, map.next_value::<Proto>()?, "proto")?,
                "created" => once(&mut created, map.next_value::<TimeField<T>>()?.0, "created")?,
                "last_used" => once(
                    &mut last_used,
                    map.next_value::<TimeField<T>>()?.0,
                    "last_used",
                )?,
                "pinned" => once(&mut pinned, map.next_value::<bool>()?, "pinned")?,
                "checkout" => once(
                    &mut checkout,
                    map.next_value::<CheckoutName<S>>()?.0,
                    "checkout",
                )?,
                _ => {
                    extra.insert(key.0.into_owned(), map.next_value()?);
                }
            }
        }
        let missing = de::Error::missing_field;
        Ok(ClaimOf {
            project: project.ok_or_else(|| missing("project"))?,
            project_path: project_path.flatten(),
            service: service.ok_or_else(|| missing("service"))?,
            block: PortBlock {
                port: port.ok_or_else(|| missing("port"))?,
                count: count.unwrap_or(1),
                proto: proto.unwrap_or_default(),
            },
            created: created.ok_or_else(|| missing("created"))?,
            last_used: last_used.ok_or_else(|| missing("last_used"))?,
            pinned: pinned.unwrap_or_default(),
            checkout,
            extra,
        })
    }
}

/// A key, borrowed from the text when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_identifier(V)
    }
}

/// A UTC time in the form devport writes (`2026-11-27T23:20:50.944594Z`, the fraction optional,
/// up to 9 digits), its fields checked. A strict subset of what jiff's parser accepts, and the
/// same instant (property-tested below): years 1-9998 only (the parser's range ends in 9999), no
/// leap second.
struct Canonical<'a> {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// The fraction's digits (0-9 of them), read only by [`Canonical::timestamp`].
    fraction: &'a [u8],
}

impl<'a> Canonical<'a> {
    /// The fields of `s` if it is in the form devport writes and names a real instant; `None`
    /// for any other text, which jiff's parser then reads.
    fn read(s: &'a str) -> Option<Canonical<'a>> {
        let b = s.as_bytes();
        let num = |range: std::ops::Range<usize>| -> Option<u32> {
            b.get(range)?.iter().try_fold(0u32, |n, &c| {
                c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
            })
        };
        let sep = |i: usize, c: u8| b.get(i) == Some(&c);
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
            return None;
        }
        let fraction = match &b[19..] {
            [b'Z'] => &[],
            [b'.', digits @ .., b'Z']
                if (1..=9).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) =>
            {
                digits
            }
            _ => return None,
        };
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days_in_month = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let valid = (1..=9998).contains(&year)
            && (1..=12).contains(&month)
            && (1..=days_in_month).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60;
        valid.then_some(Canonical {
            year,
            month,
            day,
            hour,
            minute,
            second,
            fraction,
        })
    }

    /// The instant (`None` never happens: years 1-9998 are within jiff's range).
    fn timestamp(&self) -> Option<Timestamp> {
        // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let (era, year_of_era) = (y / 400, y % 400);
        let day_of_year =
            (153 * ((i64::from(self.month) + 9) % 12) + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = era * 146_097 + day_of_era - 719_468;
        let seconds = days * 86_400
            + i64::from(self.hour) * 3_600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        let nanos = (0..9).fold(0, |n, i| {
            n * 10 + self.fraction.get(i).map_or(0, |&c| i32::from(c - b'0'))
        });
        Timestamp::new(seconds, nanos).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::Canonical;
    use jiff::Timestamp;

    fn canonical_utc(s: &str) -> Option<Timestamp> {
        Canonical::read(s).and_then(|c| c.timestamp())
    }

    /// The quick reading accepts only what the full parser accepts too, as the same instant.
    #[test]
    fn the_quick_time_reading_is_a_subset_of_the_parser() {
        let cases = [
            ("2026-11-27T23:20:50.944594Z", true),
            ("2026-11-27T23:20:50Z", true),
            ("2024-02-29T00:00:00.123456789Z", true),
            ("1970-01-01T00:00:00Z", true),
            ("1969-12-31T23:59:59.5Z", true),
            ("0001-01-01T00:00:00Z", true),
            ("9998-12-31T23:59:59.999999999Z", true),
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
            ("2026-01-01T00:00:00.1x3Z", false),
            ("", false),
            ("2026-1-01T00:00:00Z", false),
        ];
        for (text, quick) in cases {
            let fast = canonical_utc(text);
            assert_eq!(fast.is_some(), quick, "{text}");
            if quick {
                assert_eq!(fast, text.parse::<Timestamp>().ok(), "{text}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Any time of the canonical shape, with every field anywhere in 00-99 (and years
        /// across the whole range), is read by the quick reading only if the parser reads it,
        /// as the same instant.
        #[test]
        fn the_quick_reading_agrees_with_the_parser(
            year in 0u32..10000, month in 0u32..100, day in 0u32..100,
            hour in 0u32..100, minute in 0u32..100, second in 0u32..100,
            fraction in proptest::option::of("[0-9]{0,10}"),
        ) {
            let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
            let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z");
            if let Some(fast) = canonical_utc(&text) {
                proptest::prop_assert_eq!(Some(fast), text.parse::<Timestamp>().ok(), "{}", text);
            }
        }

        /// Every instant devport can write is read back by the quick reading.
        #[test]
        fn every_written_time_is_read_quickly(
            // 0001-01-01T00:00:00Z to 9998-12-31T23:59:59Z
            seconds in -62_135_596_800i64..=253_370_764_799,
            nanos in 0i32..1_000_000_000,
        ) {
            let t = Timestamp::new(seconds, nanos).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let text = t.to_string();
            proptest::prop_assert_eq!(canonical_utc(&text), Some(t), "{}", text);
        }
    }
}
