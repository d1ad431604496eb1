//! Reading TOML values with messages in the user's words: a value is read as [`Raw`] (never
//! a type error from serde), then checked by hand, so TOML reports where a bad value is and the
//! message says what is wrong ("prefer must be a port number 1-65535, not a string"). The
//! manifest (`project.rs`) and the user's config (`config.rs`) build their deserializers on it,
//! and read their tables with `toml_table!`, which refuses an unknown key in the same words.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess,
    Visitor,
};

/// Any TOML value, read without a type error: a list holds `E`s, a table is read as `M`.
/// Which value a key needs is then checked by hand, with a message in the user's words.
pub enum Raw<E = IgnoredAny, M = IgnoredAny> {
    /// A whole number.
    Int(i128),
    /// A string.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// A number with a fraction.
    Float,
    /// An array.
    List(Vec<E>),
    /// A table.
    Table(M),
}

impl<E, M> Raw<E, M> {
    /// The kind of value, as a person would call it.
    pub fn kind(&self) -> &'static str {
        match self {
            Raw::Int(_) => "a whole number",
            Raw::Str(_) => "a string",
            Raw::Bool(_) => "true or false",
            Raw::Float => "a decimal number",
            Raw::List(_) => "a list",
            Raw::Table(_) => "a table",
        }
    }
}

impl<'de, E: Deserialize<'de>, M: Deserialize<'de>> Deserialize<'de> for Raw<E, M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<E, M>(PhantomData<(E, M)>);
        impl<'de, E: Deserialize<'de>, M: Deserialize<'de>> Visitor<'de> for V<E, M> {
            type Value = Raw<E, M>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a TOML value")
            }
            fn visit_bool<X: serde::de::Error>(self, v: bool) -> Result<Self::Value, X> {
                Ok(Raw::Bool(v))
            }
            fn visit_i64<X: serde::de::Error>(self, v: i64) -> Result<Self::Value, X> {
                Ok(Raw::Int(v.into()))
            }
            fn visit_u64<X: serde::de::Error>(self, v: u64) -> Result<Self::Value, X> {
                Ok(Raw::Int(v.into()))
            }
            fn visit_f64<X: serde::de::Error>(self, _: f64) -> Result<Self::Value, X> {
                Ok(Raw::Float)
            }
            fn visit_str<X: serde::de::Error>(self, v: &str) -> Result<Self::Value, X> {
                Ok(Raw::Str(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Raw::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                M::deserialize(MapAccessDeserializer::new(map)).map(Raw::Table)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Reads the value of `key` and checks it with `check`, whose error becomes the message.
pub fn field<'de, D, T, E, M>(
    d: D,
    key: &str,
    check: impl FnOnce(Raw<E, M>, &str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: Deserialize<'de>,
    M: Deserialize<'de>,
{
    let raw = Raw::<E, M>::deserialize(d)?;
    check(raw, key).map_err(D::Error::custom)
}

/// What a value is, for "KEY must be ..., not WHAT"; a string of digits gets a hint.
pub fn not<E, M>(raw: &Raw<E, M>) -> String {
    match raw {
        Raw::Int(n) => n.to_string(),
        Raw::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            format!("a string (write {s} without quotes)")
        }
        other => other.kind().to_string(),
    }
}

/// A string; `what` describes the value wanted ("a duration like \"10s\"").
pub fn string<'de, D: Deserializer<'de>>(d: D, key: &str, what: &str) -> Result<String, D::Error> {
    field(d, key, |raw: Raw, key| match raw {
        Raw::Str(s) => Ok(s),
        other => Err(format!("{key} must be {what}, not {}", other.kind())),
    })
}

/// A key of a table whose keys are `0`, read as the one of them it is; any other key is refused
/// with the keys the table has ("unknown key `prot`, expected one of `port`, `prefer`, …"), at
/// the key's line and column (TOML gives the position of a key that fails to read).
pub struct Known(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Known {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for Known {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<X: serde::de::Error>(self, v: &str) -> Result<Self::Value, X> {
        self.0.iter().copied().find(|&key| key == v).ok_or_else(|| {
            let keys: Vec<String> = self.0.iter().map(|key| format!("`{key}`")).collect();
            X::custom(format!(
                "unknown key `{v}`, expected one of {}",
                keys.join(", ")
            ))
        })
    }
}

/// Writes the `Deserialize` of a TOML table read into `$type` (which has a `Default`): each key
/// read by its rule (a `deserialize_with` function), so an error carries the value's line and
/// column, and an unknown key refused by [`Known`] in the user's words. TOML itself refuses a
/// key given twice.
macro_rules! toml_table {
    ($type:ty { $($key:literal => $field:ident: $value:ty = $rule:expr),+ $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                const KEYS: &[&str] = &[$($key),+];
                struct TableVisitor;
                impl<'de> serde::de::Visitor<'de> for TableVisitor {
                    type Value = $type;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a table")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$type, A::Error> {
                        let mut table = <$type>::default();
                        while let Some(key) =
                            map.next_key_seed($crate::model::toml_value::Known(KEYS))?
                        {
                            $(if key == $key {
                                struct Rule($value);
                                impl<'de> serde::Deserialize<'de> for Rule {
                                    fn deserialize<D: serde::Deserializer<'de>>(
                                        d: D,
                                    ) -> Result<Self, D::Error> {
                                        ($rule)(d).map(Rule)
                                    }
                                }
                                table.$field = map.next_value::<Rule>()?.0;
                            })+
                        }
                        Ok(table)
                    }
                }
                d.deserialize_struct(stringify!($type), KEYS, TableVisitor)
            }
        }
    };
}
pub(crate) use toml_table;
