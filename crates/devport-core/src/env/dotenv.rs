//! The `.env` codec: reading dotenv text the way loaders read it, quoting a value so that
//! every reader reads it back unchanged, and merging variables into an existing `.env` file
//! without disturbing its other lines.

use std::ops::Range;
use std::path::Path;

use crate::error::{Error, Result};

/// Whether a value needs no quotes, in a shell or a dotenv file: letters, digits and
/// `. _ - / : @ % + , =` (a port, a URL without a query), never empty.
pub(super) fn is_plain(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@%+,=".contains(c))
}

/// Why `value` cannot be written to a `.env` file so that every reader reads it back the same
/// (`set -a; . .env` in sh, docker compose, python-dotenv, Node's dotenv), if it cannot: a
/// backslash (python-dotenv unescapes it even in single quotes, sh does not; before a closing
/// quote it swallows the next line), `${` (compose and python-dotenv expand it even in single
/// quotes), a control character (a value is one line), or a `'` together with `$`, a backtick
/// or `"` (the `'` needs double quotes, where sh runs `$(…)` and backticks and readers disagree
/// on `\"`).
pub fn dotenv_problem(value: &str) -> Option<&'static str> {
    if value.contains('\\') {
        Some(
            "it holds a backslash, which .env readers (sh, docker compose, python-dotenv, Node's dotenv) read differently",
        )
    } else if value.contains("${") {
        Some("it holds ${, which docker compose and python-dotenv expand even in single quotes")
    } else if value.chars().any(char::is_control) {
        Some("it holds a control character; a value is one line of printable text")
    } else if value.contains('\'') && value.contains(['$', '`', '"']) {
        Some(
            "it holds ' together with $, ` or \", which no quoting lets every .env reader (sh, docker compose, python-dotenv, Node's dotenv) read back the same",
        )
    } else {
        None
    }
}

/// A value as dotenv loaders and `set -a; . .env` read it back unchanged: bare when plain; in
/// single quotes, where nothing is special, when it holds no `'`; else (a `'` without `$`,
/// backticks, `"` or `\`: see [`dotenv_problem`]) in double quotes. A value with a
/// [`dotenv_problem`] is refused before anything is written; should one arrive here anyway it
/// is written in double quotes with `\`, `"`, newline, CR and tab escaped.
pub(super) fn dotenv_quote(value: &str) -> String {
    if is_plain(value) {
        value.to_string()
    } else if fits_single(value, '\'') {
        format!("'{value}'")
    } else {
        double_quoted(value)
    }
}

/// Whether `value` reads back unchanged in double quotes in every reader: nothing there that
/// sh or a dotenv reader would expand or unescape.
fn fits_double(value: &str) -> bool {
    !value.contains(['\\', '"', '$', '`']) && !value.chars().any(char::is_control)
}

/// Whether `value` reads back unchanged between two `quote`s that escape nothing.
fn fits_single(value: &str, quote: char) -> bool {
    !value.contains([quote, '\\']) && !value.chars().any(char::is_control)
}

/// `value` in double quotes with the escapes [`parse`] reads back.
fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str(r#"\""#),
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\t' => out.push_str(r"\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The raw text (quotes included) that sets `value` in an existing entry quoted with `quote`:
/// in the same quotes when the value can be written there, else as [`dotenv_quote`] writes it.
fn requoted(value: &str, quote: Option<u8>) -> String {
    match quote {
        None if is_plain(value) => value.to_string(),
        Some(b'"') if fits_double(value) => format!("\"{value}\""),
        Some(b'\'') if fits_single(value, '\'') => format!("'{value}'"),
        // Never into backticks: `set -a; . .env` runs what is between them.
        _ => dotenv_quote(value),
    }
}

/// The UTF-8 byte-order mark some editors put at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One logical entry of a dotenv file: a line, or an assignment whose quoted value spans
/// several lines. `span` covers it with its line ending.
#[derive(Debug)]
struct Entry {
    span: Range<usize>,
    assign: Option<Assign>,
}

/// `[export ]NAME=VALUE`: where the name and the raw value (quotes included) are.
#[derive(Debug)]
struct Assign {
    name: Range<usize>,
    value: Range<usize>,
    quote: Option<u8>,
}

/// A quoted value that is never closed: where its quote opens.
#[derive(Debug)]
struct Unclosed {
    line: usize,
    column: usize,
    name: String,
}

/// Dotenv text cut into entries the way dotenv loaders (docker compose, python-dotenv, Node's
/// dotenv, dotenvy) read it: lines ended by `\n`, `\r\n` or a lone `\r` (python-dotenv and
/// Node's dotenv end a line at a bare CR), an optional BOM, blank lines and `#` comments,
/// `export ` before a name, values bare (to a ` #` comment or the line's end), in single quotes
/// or backticks (literal, may span lines) or in double quotes (`\` escapes, may span lines).
/// Works on bytes, so text that is not UTF-8 passes through unchanged.
struct Dotenv<'a> {
    text: &'a [u8],
    bom: bool,
    entries: Vec<Entry>,
    /// A quote that is never closed; the text from its line on is one plain entry.
    unclosed: Option<Unclosed>,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

impl<'a> Dotenv<'a> {
    fn parse(text: &'a [u8]) -> Dotenv<'a> {
        let bom = text.starts_with(BOM);
        let mut doc = Dotenv {
            text,
            bom,
            entries: Vec::new(),
            unclosed: None,
        };
        let mut pos = if bom { BOM.len() } else { 0 };
        while pos < text.len() {
            match doc.entry(pos) {
                Ok(entry) => {
                    pos = entry.span.end;
                    doc.entries.push(entry);
                }
                Err(unclosed) => {
                    doc.unclosed = Some(unclosed);
                    doc.entries.push(Entry {
                        span: pos..text.len(),
                        assign: None,
                    });
                    break;
                }
            }
        }
        doc
    }

    /// The end of the line holding `pos`, past its ending (`\n`, `\r\n` or a lone `\r`).
    fn line_end(&self, pos: usize) -> usize {
        match memchr::memchr2(b'\r', b'\n', &self.text[pos..]) {
            None => self.text.len(),
            Some(i) => pos + i + self.ending_at(pos + i).len(),
        }
    }

    /// The line ending that starts at `i`, a `\r` or `\n` byte.
    fn ending_at(&self, i: usize) -> &'static [u8] {
        match self.text[i] {
            b'\r' if self.text.get(i + 1) == Some(&b'\n') => b"\r\n",
            b'\r' => b"\r",
            _ => b"\n",
        }
    }

    /// Where each line ending of the text starts, in order.
    fn endings(&self) -> impl Iterator<Item = usize> {
        memchr::memchr2_iter(b'\r', b'\n', self.text)
            .filter(|&i| !(self.text[i] == b'\n' && i > 0 && self.text[i - 1] == b'\r'))
    }

    fn skip_blanks(&self, mut pos: usize) -> usize {
        while self.text.get(pos).copied().is_some_and(is_blank) {
            pos += 1;
        }
        pos
    }

    /// The entry starting at `start`, the first byte of a line.
    fn entry(&self, start: usize) -> std::result::Result<Entry, Unclosed> {
        let end = self.line_end(start);
        let plain = Entry {
            span: start..end,
            assign: None,
        };
        let Some(name) = self.name(start) else {
            return Ok(plain);
        };
        let eq = self.skip_blanks(name.end);
        if self.text.get(eq) != Some(&b'=') {
            return Ok(plain);
        }
        let v = self.skip_blanks(eq + 1);
        if let Some(q @ (b'"' | b'\'' | b'`')) = self.text.get(v).copied() {
            let close = self.closing(v + 1, q).ok_or_else(|| Unclosed {
                line: self.endings().take_while(|&i| i < v).count() + 1,
                column: String::from_utf8_lossy(&self.text[start..v])
                    .chars()
                    .count()
                    + 1,
                name: String::from_utf8_lossy(&self.text[name.clone()]).into_owned(),
            })?;
            return Ok(Entry {
                span: start..self.line_end(close),
                assign: Some(Assign {
                    name,
                    value: v..close + 1,
                    quote: Some(q),
                }),
            });
        }
        // A bare value ends at a `#` after a blank, or the line's end; blanks around it are
        // not part of it.
        let stop = (v..end)
            .find(|&i| {
                matches!(self.text[i], b'\r' | b'\n')
                    || (self.text[i] == b'#' && is_blank(self.text[i - 1]))
            })
            .unwrap_or(end);
        let mut value_end = stop;
        while value_end > v && is_blank(self.text[value_end - 1]) {
            value_end -= 1;
        }
        Ok(Entry {
            span: start..end,
            assign: Some(Assign {
                name,
                value: v..value_end,
                quote: None,
            }),
        })
    }

    /// The name of an assignment line starting at `start`, after blanks and an `export `.
    fn name(&self, start: usize) -> Option<Range<usize>> {
        let first = self.skip_blanks(start);
        let word = |from: usize| {
            let len = self.text[from..]
                .iter()
                .take_while(|&&b| {
                    !matches!(
                        b,
                        b'=' | b'#' | b' ' | b'\t' | b'\r' | b'\n' | b'"' | b'\'' | b'`'
                    )
                })
                .count();
            (len > 0).then_some(from..from + len)
        };
        let name = word(first)?;
        if &self.text[name.clone()] == b"export" {
            let after = self.skip_blanks(name.end);
            if after > name.end
                && let Some(real) = word(after)
            {
                return Some(real);
            }
        }
        Some(name)
    }

    /// The position of the quote `q` closing a value that starts at `from`.
    fn closing(&self, from: usize, q: u8) -> Option<usize> {
        let mut i = from;
        while i < self.text.len() {
            match self.text[i] {
                b'\\' if q == b'"' => i += 2,
                b if b == q => return Some(i),
                _ => i += 1,
            }
        }
        None
    }

    /// The line ending of the file, for lines added to it: the one most of its lines end with
    /// (`\n`, `\r\n` or `\r`), the first of them on a tie; `\n` for a file of one line.
    fn ending(&self) -> &'static [u8] {
        let mut seen: Vec<(&'static [u8], usize)> = Vec::with_capacity(3);
        for i in self.endings() {
            let ending = self.ending_at(i);
            match seen.iter_mut().find(|(e, _)| *e == ending) {
                Some((_, n)) => *n += 1,
                None => seen.push((ending, 1)),
            }
        }
        // `max_by_key` keeps the last of equals: look from the end for the first.
        seen.iter()
            .rev()
            .max_by_key(|(_, n)| *n)
            .map_or(b"\n", |(e, _)| *e)
    }

    fn assigns(&self) -> impl Iterator<Item = &Assign> {
        self.entries.iter().filter_map(|e| e.assign.as_ref())
    }
}

/// Merges `vars` into dotenv text. Every entry that sets one of them gets the new value in
/// place, keeping its form: leading blanks, `export `, the blanks around `=`, its quotes, a
/// trailing comment and its line ending. Every other byte is kept as it was (comments, blank
/// lines, other variables, multi-line values, a BOM, bytes that are not UTF-8, each line's own
/// ending). Variables not yet set are appended, with the ending most of the file's lines use
/// (a CRLF file stays CRLF). Merging the
/// same variables twice gives the same text. A quoted value that is never closed is an error
/// (exit 2) naming `path`, line and column: where the value ends is unclear, so nothing is
/// changed. The entries that set any of `drop` are removed (devport's variables that have no
/// value now: an old value would be wrong).
pub fn merge(
    existing: &[u8],
    vars: &[(String, String)],
    drop: &[String],
    path: &Path,
) -> Result<Vec<u8>> {
    let doc = Dotenv::parse(existing);
    if let Some(u) = &doc.unclosed {
        return Err(Error::manifest(
            path,
            format!(
                "line {}, column {}: the quoted value of {} is never closed; add the closing quote, then run the command again",
                u.line, u.column, u.name
            ),
        ));
    }
    let value_of = |name: &[u8]| {
        vars.iter()
            .find(|(k, _)| k.as_bytes() == name)
            .map(|(_, v)| v)
    };
    let mut out = Vec::with_capacity(existing.len() + 32 * vars.len());
    if doc.bom {
        out.extend_from_slice(BOM);
    }
    for entry in &doc.entries {
        if entry.assign.as_ref().is_some_and(|a| {
            drop.iter()
                .any(|d| d.as_bytes() == &existing[a.name.clone()])
        }) {
            continue;
        }
        let update = entry
            .assign
            .as_ref()
            .and_then(|a| Some((a, value_of(&existing[a.name.clone()])?)));
        let Some((a, value)) = update else {
            out.extend_from_slice(&existing[entry.span.clone()]);
            continue;
        };
        out.extend_from_slice(&existing[entry.span.start..a.value.start]);
        out.extend_from_slice(requoted(value, a.quote).as_bytes());
        let tail = &existing[a.value.end..entry.span.end];
        // `NAME= # note` had an empty value: keep the comment a comment.
        if a.quote.is_none() && tail.first() == Some(&b'#') {
            out.push(b' ');
        }
        out.extend_from_slice(tail);
    }
    let ending = doc.ending();
    let mut added: Vec<&str> = Vec::new();
    for (k, v) in vars {
        if doc
            .assigns()
            .any(|a| existing[a.name.clone()] == *k.as_bytes())
            || added.contains(&k.as_str())
        {
            continue;
        }
        if !out.is_empty() && !out.ends_with(b"\n") && !out.ends_with(b"\r") && out != BOM {
            out.extend_from_slice(ending);
        }
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(dotenv_quote(v).as_bytes());
        out.extend_from_slice(ending);
        added.push(k);
    }
    Ok(out)
}

/// Reads dotenv text into (name, value) pairs, as dotenv loaders do (see [`merge`] for the
/// syntax): quotes removed, `\n`, `\r`, `\t`, `\"` and `\\` in double quotes unescaped. Text
/// after a quote that is never closed is skipped. The tests read written files back with it.
#[cfg(test)]
pub(super) fn parse(text: &str) -> Vec<(String, String)> {
    let doc = Dotenv::parse(text.as_bytes());
    doc.assigns()
        .map(|a| {
            let name = text[a.name.clone()].to_string();
            let raw = &text[a.value.clone()];
            let value = match a.quote {
                Some(b'"') => unescape(&raw[1..raw.len() - 1]),
                Some(_) => raw[1..raw.len() - 1].to_string(),
                None => raw.to_string(),
            };
            (name, value)
        })
        .collect()
}

#[cfg(test)]
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(c @ ('"' | '\\')) => out.push(c),
            Some(c) => {
                out.push('\\');
                out.push(c);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A dotenv file to merge variables into, opened and checked before anything is claimed or
/// written.
#[derive(Debug)]
pub struct EnvFile {
    /// The file, checked, with its bytes.
    file: crate::os::fsutil::Replaceable,
}

impl EnvFile {
    /// Opens `path` by the rules of every file devport writes
    /// ([`crate::os::fsutil::open_replaceable`]: another user's file, link or folder, a folder every
    /// user may write, a hard-linked file are refused; `/dev/stdout`, a FIFO or a terminal is
    /// written in place; a symlink is followed only to a file inside `within`, the project's
    /// folder); an existing file must parse (see [`merge`]).
    pub fn open(path: &Path, within: &Path) -> Result<EnvFile> {
        let file = EnvFile {
            file: crate::os::fsutil::open_replaceable(path, ".env file", within)?,
        };
        file.merged(&[])?;
        Ok(file)
    }

    /// The same file checked again, with its bytes as they are now (a stream is the same open
    /// file: see [`crate::os::fsutil::Replaceable::reopen`]); it must still parse.
    pub fn reopen(&self) -> Result<EnvFile> {
        let file = EnvFile {
            file: self.file.reopen()?,
        };
        file.merged(&[])?;
        Ok(file)
    }

    /// The path as given.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Writes `bytes` (from [`EnvFile::merged`]) by the file's kind (see
    /// [`crate::os::fsutil::Replaceable::write`]).
    pub fn write(&self, bytes: &[u8]) -> Result<()> {
        self.file.write(bytes)
    }

    /// The new contents with `vars` merged in, or `None` when they would not change.
    pub fn merged(&self, vars: &[(String, String)]) -> Result<Option<Vec<u8>>> {
        self.merged_dropping(vars, &[])
    }

    /// The same, with the lines that set any of `drop` removed (see [`merge`]).
    pub fn merged_dropping(
        &self,
        vars: &[(String, String)],
        drop: &[String],
    ) -> Result<Option<Vec<u8>>> {
        let existing = self.file.existing().unwrap_or_default();
        let merged = merge(existing, vars, drop, self.file.path())?;
        Ok((merged != existing).then_some(merged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fmt::Write as _;

    /// [`super::merge`] with nothing to drop.
    fn merge(existing: &[u8], vars: &[(String, String)], path: &Path) -> Result<Vec<u8>> {
        super::merge(existing, vars, &[], path)
    }

    fn merged(text: &str, vars: &[(&str, &str)]) -> String {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let out = merge(text.as_bytes(), &vars, Path::new(".env")).expect("merges");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn merge_keeps_other_lines_and_is_idempotent() {
        let existing = "# settings\nDEBUG=1\nexport WEB_PORT=1\n\nNAME='x y'\n";
        let vars = [("WEB_PORT", "24117"), ("DB_PORT", "24118")];
        let once = merged(existing, &vars);
        assert_eq!(
            once,
            "# settings\nDEBUG=1\nexport WEB_PORT=24117\n\nNAME='x y'\nDB_PORT=24118\n"
        );
        assert_eq!(merged(&once, &vars), once);
        assert_eq!(
            parse(&once)
                .iter()
                .find(|(k, _)| k == "NAME")
                .map(|(_, v)| v.as_str()),
            Some("x y")
        );
    }

    #[test]
    fn merge_respects_the_dotenv_syntax() {
        let vars = [("WEB_PORT", "7")];
        // A line inside a multi-line value belongs to that value.
        for cert in [
            "CERT=\"-----BEGIN\nWEB_PORT=1\n-----END\"\n",
            "CERT='-----BEGIN\nWEB_PORT=1\n-----END'\n",
            "CERT=`-----BEGIN\nWEB_PORT=1\n-----END`\n",
            "CERT=`it's \"x\"\nWEB_PORT=1\n`\n",
            "CERT=\"a \\\" b\nWEB_PORT=1\n\\\\\"\n",
        ] {
            assert_eq!(
                merged(cert, &vars),
                format!("{cert}WEB_PORT=7\n"),
                "{cert:?}"
            );
        }
        // Each updated line keeps its form: blanks, export, quotes, comment, ending.
        assert_eq!(
            merged("  export\tWEB_PORT = \"1\" # web\r\n", &vars),
            "  export\tWEB_PORT = \"7\" # web\r\n"
        );
        assert_eq!(
            merged("WEB_PORT='1\n2'\nA=1\n", &vars),
            "WEB_PORT='7'\nA=1\n"
        );
        assert_eq!(merged("WEB_PORT= # none\n", &vars), "WEB_PORT= 7 # none\n");
        assert_eq!(merged("WEB_PORT=1#x\n", &vars), "WEB_PORT=7\n");
        // Every line setting it is updated; none is dropped.
        assert_eq!(
            merged("WEB_PORT=1\nWEB_PORT=2", &vars),
            "WEB_PORT=7\nWEB_PORT=7"
        );
        // A CRLF file stays wholly CRLF, appended lines included.
        assert_eq!(merged("A=1\r\nB=2", &vars), "A=1\r\nB=2\r\nWEB_PORT=7\r\n");
        // A lone CR ends a line (python-dotenv, Node's dotenv): the next line is its own.
        assert_eq!(
            merged("WEB_PORT=1\rSECRET=hunter2\nOTHER=x\n", &vars),
            "WEB_PORT=7\rSECRET=hunter2\nOTHER=x\n"
        );
        assert_eq!(
            merged("A=1\rWEB_PORT='1'\r\r\nB=2", &vars),
            "A=1\rWEB_PORT='7'\r\r\nB=2"
        );
        // Appended lines end as most lines do, the first kind on a tie.
        assert_eq!(
            merged("A=1\rB=2\rC=3\n", &vars),
            "A=1\rB=2\rC=3\nWEB_PORT=7\r"
        );
        assert_eq!(merged("A=1\nB=2\r", &vars), "A=1\nB=2\rWEB_PORT=7\n");
        assert_eq!(merged("A=1\r", &vars), "A=1\rWEB_PORT=7\r");
        // A backtick value is literal and may span lines, as in Node's dotenv; the new value
        // is not written in backticks, which `set -a; . .env` would run as a command.
        assert_eq!(
            merged("WEB_PORT=`1\n2` # x\nB=3\n", &vars),
            "WEB_PORT=7 # x\nB=3\n"
        );
        // A BOM stays, and the first line after it is updated, not duplicated.
        assert_eq!(
            merged("\u{feff}WEB_PORT=1\nA=2\n", &vars),
            "\u{feff}WEB_PORT=7\nA=2\n"
        );
        assert_eq!(merged("\u{feff}", &vars), "\u{feff}WEB_PORT=7\n");
        assert_eq!(merged("", &vars), "WEB_PORT=7\n");
        // Bytes that are not UTF-8 are kept as they are.
        let latin1 = b"NAME=caf\xe9\nWEB_PORT=1 # \xff\n";
        let out = merge(
            latin1,
            &[("WEB_PORT".into(), "7".into())],
            Path::new(".env"),
        )
        .expect("merges");
        assert_eq!(out, b"NAME=caf\xe9\nWEB_PORT=7 # \xff\n");
    }

    #[test]
    fn unclosed_quote_is_refused_with_its_place() {
        let e = merge(b"A=1\n  B=\"x\nWEB_PORT=1\n", &[], Path::new("/p/.env"))
            .expect_err("unclosed")
            .to_string();
        assert!(
            e.contains("/p/.env") && e.contains("line 2, column 5") && e.contains(" B "),
            "{e}"
        );
        assert_eq!(parse("A=1\nB='x\nC=2\n"), vec![("A".into(), "1".into())]);
        // Lines ended by a lone CR count; so does a backtick that is never closed.
        let e = merge(b"A=1\rB=2\r\nC=`x\nWEB_PORT=1\n", &[], Path::new(".env"))
            .expect_err("unclosed")
            .to_string();
        assert!(e.contains("line 3, column 3") && e.contains(" C "), "{e}");
    }

    #[test]
    fn parse_reads_what_loaders_read() {
        let text = "\u{feff}# c\nexport A=1 # note\nB=\"x\\ny \\\"q\\\"\nz\"\nC='a\\n b'\n D = spaced \r\nE=#not a comment\rnot an assignment\nF=`a\\n 'b' \"c\"\rd`\n";
        assert_eq!(
            parse(text),
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "x\ny \"q\"\nz".into()),
                ("C".into(), "a\\n b".into()),
                ("D".into(), "spaced".into()),
                ("E".into(), "#not a comment".into()),
                ("F".into(), "a\\n 'b' \"c\"\rd".into()),
            ]
        );
    }

    /// One generated entry of a dotenv file: its text, and for a line devport owns the text
    /// it must become.
    #[derive(Debug, Clone)]
    struct Item {
        text: String,
        owned: Option<(String, String)>,
    }

    const WEB: &str = "24117";
    const DB: &str = "24118";

    fn item(nl: &'static str) -> impl Strategy<Value = Item> {
        let inner = prop::collection::vec(
            prop::sample::select(vec![
                "WEB_PORT=1",
                "export DB_PORT=2",
                "# c",
                "",
                "x y",
                "a\\\\",
                "say \\\"hi\\\"",
                "it is",
            ]),
            1..4,
        )
        .prop_map(move |lines| lines.join(nl));
        let plain = prop_oneof![
            "#[ -~]{0,12}".prop_map(|t| t),
            "[ \t]{0,2}",
            "[a-z #=]{0,12}",
        ]
        .prop_map(|text| Item { text, owned: None });
        let other = (
            any::<bool>(),
            0..3u8,
            prop_oneof![
                "[a-z0-9]{0,5}",
                inner.clone().prop_map(|v| format!("\"{v}\"")),
                inner
                    .clone()
                    .prop_map(|v| format!("'{}'", v.replace("\\\"", "\""))),
                inner.prop_map(|v| format!("`{}`", v.replace("\\\"", "\""))),
            ],
        )
            .prop_map(|(export, n, value)| Item {
                text: format!("{}OTHER{n}={value}", if export { "export " } else { "" }),
                owned: None,
            });
        let owned = (
            prop::sample::select(vec!["", "  ", "\t"]),
            prop::sample::select(vec!["", "export ", "export\t"]),
            prop::sample::select(vec![("WEB_PORT", WEB), ("DB_PORT", DB)]),
            prop::sample::select(vec!["", " "]),
            prop::sample::select(vec!["", "\"", "'", "`"]),
            prop::sample::select(vec!["1", "old", "a b"]),
            any::<bool>(),
            prop::sample::select(vec!["", " # note"]),
        )
            .prop_map(
                move |(ws, export, (name, port), sp, q, value, multi, note)| {
                    let value = if q.is_empty() {
                        "1".to_string()
                    } else if multi {
                        format!("{value}{nl}x")
                    } else {
                        value.to_string()
                    };
                    let head = format!("{ws}{export}{name}{sp}={sp}");
                    // Backticks are never kept: `set -a; . .env` would run the port.
                    let kept = if q == "`" { "" } else { q };
                    Item {
                        text: format!("{head}{q}{value}{q}{note}"),
                        owned: Some((name.to_string(), format!("{head}{kept}{port}{kept}{note}"))),
                    }
                },
            );
        prop_oneof![plain, other, owned]
    }

    fn file() -> impl Strategy<Value = (bool, &'static str, Vec<Item>, bool)> {
        prop::sample::select(vec!["\n", "\r\n", "\r"]).prop_flat_map(|nl| {
            (
                any::<bool>(),
                Just(nl),
                prop::collection::vec(item(nl), 0..10),
                any::<bool>(),
            )
        })
    }

    proptest! {
        #[test]
        fn dotenv_functions_never_panic(text in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&String::from_utf8_lossy(&text));
            let vars = [("A_PORT".to_string(), "1".to_string())];
            if let Ok(once) = merge(&text, &vars, Path::new(".env")) {
                prop_assert_eq!(merge(&once, &vars, Path::new(".env")).ok(), Some(once));
            }
        }

        /// Merging never changes an entry devport does not own, keeps the order, updates each
        /// owned line in its own form, appends in the file's line ending (LF, CRLF or a lone
        /// CR), and is idempotent. Values may be quoted with `"`, `'` or backticks, and span
        /// lines.
        #[test]
        fn merge_changes_only_its_own_lines((bom, nl, items, last_nl) in file()) {
            let body: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
            let mut text = String::from(if bom { "\u{feff}" } else { "" });
            text.push_str(&body.join(nl));
            if last_nl && !items.is_empty() {
                text.push_str(nl);
            }
            let mut expected: String = items
                .iter()
                .map(|i| i.owned.as_ref().map_or(i.text.as_str(), |(_, new)| new.as_str()))
                .collect::<Vec<_>>()
                .join(nl);
            if last_nl && !items.is_empty() {
                expected.push_str(nl);
            }
            let ending = if text.contains(['\n', '\r']) { nl } else { "\n" };
            for (name, port) in [("WEB_PORT", WEB), ("DB_PORT", DB)] {
                if !items.iter().any(|i| i.owned.as_ref().is_some_and(|(n, _)| n == name)) {
                    if !expected.is_empty() && !expected.ends_with(['\n', '\r']) {
                        expected.push_str(ending);
                    }
                    let _ = write!(expected, "{name}={port}{ending}");
                }
            }
            if bom {
                expected.insert(0, '\u{feff}');
            }
            let once = merged(&text, &[("WEB_PORT", WEB), ("DB_PORT", DB)]);
            prop_assert_eq!(&once, &expected);
            prop_assert_eq!(merged(&once, &[("WEB_PORT", WEB), ("DB_PORT", DB)]), once);
        }
    }
}
