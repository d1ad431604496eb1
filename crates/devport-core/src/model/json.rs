//! JSON as devport prints it: pretty, and with every control character escaped.
//!
//! `serde_json` escapes the C0 controls (U+0000–U+001F) but writes DEL (U+007F) and the C1
//! controls (U+0080–U+009F, among them U+009B, a one-character CSI) as they are. A name read
//! from a hand-edited registry or from `/proc` could then drive the terminal of whoever reads
//! the output. [`to_string_pretty`] writes those as `\u007f` / `\u009b` instead; the text
//! still parses back to the very same strings.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, PrettyFormatter};

/// Serializes `value` as pretty JSON (two-space indent, like `serde_json::to_string_pretty`)
/// with every control character — C0, DEL and C1 — escaped.
pub fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, SafeFormatter::default());
    value.serialize(&mut ser)?;
    // The serializer writes only UTF-8 (a `Serialize` impl cannot inject raw bytes), so this
    // never loses anything; `from_utf8_lossy` keeps it panic-free all the same.
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// [`PrettyFormatter`] plus `\uXXXX` escapes for DEL and the C1 controls, which `serde_json`
/// leaves raw. (It already escapes C0 itself: `\n`, `\t`, `\u001b`, …)
#[derive(Default)]
struct SafeFormatter {
    pretty: PrettyFormatter<'static>,
}

/// Whether `serde_json` would write `c` unescaped although it can change a terminal (DEL, C1,
/// a bidirectional control: see [`crate::model::types::is_terminal_control`]; C0 it escapes itself).
fn is_raw_control(c: char) -> bool {
    crate::model::types::is_terminal_control(c) && u32::from(c) >= 0x7f
}

impl Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| is_raw_control(c)) {
            writer.write_all(&rest.as_bytes()[..at])?;
            write!(writer, "\\u{:04x}", u32::from(c))?;
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        self.pretty.write_char_escape(writer, char_escape)
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every control character, and a few neighbours that must stay as they are.
    fn nasty() -> String {
        let mut s: String = (0u32..=0x20)
            .chain(0x7e..=0xa0)
            .filter_map(char::from_u32)
            .collect();
        s.push_str(
            "\x1b[2J\x1b]0;title\x07\u{9b}31m é \u{2028} \u{202e}rtl \"quoted\" back\\slash",
        );
        s
    }

    #[test]
    fn no_control_character_is_written_raw() {
        let text =
            to_string_pretty(&serde_json::json!({ "k\u{9b}ey": nasty(), "list": [nasty()] }))
                .unwrap();
        let raw: Vec<char> = text
            .chars()
            .filter(|&c| c.is_control() && c != '\n')
            .collect();
        assert!(raw.is_empty(), "raw control characters {raw:?} in {text}");
        assert!(text.contains("\\u007f") && text.contains("\\u009b") && text.contains("\\u0080"));
        assert!(text.contains("\\u009f") && text.contains("\\u001b"));
        assert!(text.contains("\\u202e") && !text.contains('\u{202e}'));
        // Neighbours of the control ranges are not escaped.
        assert!(text.contains('~') && text.contains('\u{a0}') && text.contains('é'));
    }

    #[test]
    fn parses_back_to_the_same_value() {
        let value = serde_json::json!({
            "k\u{9b}ey": nasty(),
            "list": [nasty(), "", 1, null, true, { "x": [] }],
            "plain": "web",
        });
        let text = to_string_pretty(&value).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn clean_values_look_exactly_like_serde_json_pretty() {
        let value = serde_json::json!({ "a": [1, 2, { "b": "c d" }], "e": {}, "f": [] });
        assert_eq!(
            to_string_pretty(&value).unwrap(),
            serde_json::to_string_pretty(&value).unwrap()
        );
    }
}
