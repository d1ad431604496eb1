//! Rendering: stdout lines, JSON, tables, and messages on stderr.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use devport_core::ops::owner::Running;
use devport_core::os::sockets::Socket;
use devport_core::{Claim, PortRange, Proto};
use jiff::Timestamp;
use serde::Serialize;

/// Writes one line of data to stdout.
pub fn line(text: &str) -> Result<()> {
    text_out(text, "\n")
}

/// Writes text that carries its own line ends to stdout.
pub fn text(text: &str) -> Result<()> {
    text_out(text, "")
}

fn text_out(text: &str, end: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    write!(out, "{text}{end}")?;
    out.flush()?;
    Ok(())
}

/// Writes a value as pretty JSON to stdout, every control character escaped (see
/// [`devport_core::model::json`]).
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    line(&devport_core::model::json::to_string_pretty(value)?)
}

/// Writes one line to stderr. A stderr that cannot be written (closed, `/dev/full`, a pipe
/// whose reader left) loses the message; it never makes devport panic or fail a command
/// whose work is done.
fn message(line: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}").and_then(|()| err.flush());
}

/// A message for people, on stderr: always one line, every control character in it escaped.
pub fn note(text: &str) {
    message(format_args!("devport: {}", clean(text)));
}

/// A warning for people, on stderr: always one line, every control character in it escaped.
pub fn warn(text: &str) {
    message(format_args!("devport: warning: {}", clean(text)));
}

/// Escapes every control character, so text that came from a file, a process or a parser can
/// neither drive the terminal nor forge a line: the C0 controls (ESC, BEL, CR, LF and TAB
/// too), DEL and the C1 controls (U+0080–U+009F, among them the one-character CSI U+009B).
/// `\n`, `\r` and `\t` are shown as those two characters, every other one as `\u{1b}`;
/// everything else, backslashes included, is left as it is.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(devport_core::model::types::is_terminal_control)
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if devport_core::model::types::is_terminal_control(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The ports of a claim or lease for people, in tables and messages: `24117`, or a block as
/// `24117-24136`, however many ports it holds.
pub fn port_list(ports: PortRange) -> String {
    ports.to_string()
}

/// The ports of a block as data for scripts (`claim` and `lease` on stdout): every port,
/// separated by spaces, for `read -r A B C`.
pub fn port_words(ports: PortRange) -> String {
    ports
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A timestamp in the local time zone, to the minute.
pub fn local_time(t: Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// When something started, for a message: `14:02` today (local time), else with its date.
pub fn since(t: Timestamp) -> String {
    let tz = jiff::tz::TimeZone::system();
    let then = t.to_zoned(tz.clone());
    if then.date() == Timestamp::now().to_zoned(tz).date() {
        then.strftime("%H:%M").to_string()
    } else {
        local_time(t)
    }
}

/// A project's own server on a service's port: `web: already running: pid 1670 (node), since
/// 14:02 (port 14708)`. Unescaped, like [`owner`].
pub fn running(service: &str, port: u16, server: &Running) -> String {
    let since = server
        .since
        .map(|t| format!(", since {}", since(t)))
        .unwrap_or_default();
    format!(
        "{service}: already running: {}{since} (port {port})",
        server.holders.join(", ")
    )
}

/// Colours devport uses, sparingly: verdicts and findings.
#[derive(Debug, Clone, Copy)]
pub enum Paint {
    /// Good news.
    Green,
    /// Worth a look.
    Yellow,
    /// A problem.
    Red,
}

/// `text` in `paint` when `color` is on, else as it is.
pub fn paint(color: bool, text: &str, paint: Paint) -> String {
    if !color {
        return text.to_string();
    }
    let code = match paint {
        Paint::Green => "32",
        Paint::Yellow => "33",
        Paint::Red => "31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// One cell of a [`table`]: its text, escaped when shown, and a colour for when colours are on.
pub struct Cell {
    text: String,
    paint: Option<Paint>,
}

impl Cell {
    /// A cell shown in `paint` when colours are on.
    pub fn painted(text: impl Into<String>, paint: Paint) -> Cell {
        Cell {
            text: text.into(),
            paint: Some(paint),
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell { text, paint: None }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_string())
    }
}

/// A borderless table on stdout; the header is bold when `color` is on. Every cell is
/// escaped with [`clean`], so no cell can drive the terminal or break into a second row.
pub fn table<C: Into<Cell>>(
    color: bool,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<C>>,
) -> Result<()> {
    use comfy_table::{Attribute, Color, ContentArrangement, Table, presets};
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(header.iter().map(|h| {
        let cell = comfy_table::Cell::new(clean(h));
        if color {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
    if color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    for row in rows {
        table.add_row(row.into_iter().map(|cell| {
            let Cell { text, paint } = cell.into();
            let shown = comfy_table::Cell::new(clean(&text));
            match paint {
                Some(Paint::Green) if color => shown.fg(Color::Green),
                Some(Paint::Yellow) if color => shown.fg(Color::Yellow),
                Some(Paint::Red) if color => shown.fg(Color::Red),
                _ => shown,
            }
        }));
    }
    // No borders: two spaces after each column, none before the first.
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let text = table.to_string();
    // Trailing blanks are noise in a terminal and in diffs.
    let trimmed: Vec<&str> = text.lines().map(str::trim_end).collect();
    line(&trimmed.join("\n"))
}

/// A claim as `claim --json` and `list --json` print it (a stable contract).
#[derive(Debug, Serialize)]
pub struct ClaimView<'a> {
    pub project: &'a str,
    pub project_path: Option<&'a PathBuf>,
    pub service: &'a str,
    pub port: u16,
    pub ports: Vec<u16>,
    pub proto: Proto,
    pub created: Timestamp,
    pub last_used: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<bool>,
    /// With `list --live`: the sockets on the claim's ports now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<Vec<Socket>>,
    /// With `claim --prefer`: whether the preferred port was honoured, and if not, why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefer: Option<devport_core::Preferred>,
    /// With `list`: the name of the claim's checkout among its project's (`main` for the
    /// main one); left out for global claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout: Option<String>,
}

impl<'a> ClaimView<'a> {
    pub fn new(c: &'a Claim, new: Option<bool>) -> Self {
        ClaimView {
            project: &c.project,
            project_path: c.project_path.as_ref(),
            service: &c.service,
            port: c.block.port,
            ports: c.ports().iter().collect(),
            proto: c.block.proto,
            created: c.created,
            last_used: c.last_used,
            new,
            live: None,
            prefer: None,
            checkout: None,
        }
    }
}

/// A socket's owner in a few words: `pid 123 (node) user alice`, or that it is not visible.
/// The process and user names are the system's, unescaped: show them through a [`table`] cell,
/// a message or [`clean`].
pub fn owner(s: &Socket) -> String {
    owner_in(s, &BTreeMap::new())
}

/// [`owner`] with where each process works, from `folders` (by pid): `pid 123 (node) user
/// alice in /srv/blog`; a shared socket names each holder's folder.
pub fn owner_in(s: &Socket, folders: &BTreeMap<u32, PathBuf>) -> String {
    let folder = |pid: u32| {
        folders
            .get(&pid)
            .map(|dir| format!(" in {}", dir.display()))
            .unwrap_or_default()
    };
    if s.holders.len() > 1 {
        // A shared socket: every holder with its own user, then the socket's user only when
        // it is none of theirs (it was opened by another user and handed over).
        let holders: Vec<String> = s
            .holders
            .iter()
            .map(|h| user_of(h.label(), h.user.as_ref(), h.uid) + &folder(h.pid))
            .collect();
        let who = holders.join(", ");
        return if s.uid.is_some() && s.holders.iter().all(|h| h.uid != s.uid) {
            format!(
                "{who}; {}",
                user_of("socket".into(), s.user.as_ref(), s.uid)
            )
        } else {
            who
        };
    }
    let who = match (s.pid, &s.process) {
        (Some(pid), Some(name)) => format!("pid {pid} ({name})"),
        (Some(pid), None) => format!("pid {pid}"),
        _ => "owner not visible".to_string(),
    };
    with_user(s, who) + &s.pid.map(folder).unwrap_or_default()
}

/// `WHO user alice`, or `WHO uid 1000`, with the socket's user.
fn with_user(s: &Socket, who: String) -> String {
    user_of(who, s.user.as_ref(), s.uid)
}

/// `WHO user alice`, `WHO uid 1000`, or `WHO` when the user is not known.
fn user_of(who: String, user: Option<&String>, uid: Option<u32>) -> String {
    match (user, uid) {
        (Some(name), _) => format!("{who} user {name}"),
        (None, Some(uid)) => format!("{who} uid {uid}"),
        (None, None) => who,
    }
}

/// `127.0.0.1:8080` / `[::1]:8080`.
pub fn socket_addr(s: &Socket) -> String {
    std::net::SocketAddr::new(s.address, s.port).to_string()
}

/// A socket in one line, as `check`, `list --live` and `wait` show it: `tcp 127.0.0.1:8080 pid
/// 123 (node) user alice`, then where a container proxy forwards (`container
/// 172.17.0.2:5432 (db)`). Unescaped, like [`owner`].
pub fn socket_line(s: &Socket) -> String {
    let line = format!("{} {} {}", s.proto, socket_addr(s), owner(s));
    match &s.container {
        Some(c) => format!("{line} {c}"),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    /// Red team 2, finding 7a: each holder of a shared socket with its own user (it read
    /// `pid 10 (a), pid 11 (b) user nobody user root`).
    #[test]
    fn a_shared_socket_names_each_holders_user() {
        use devport_core::os::sockets::{Holder, Socket};
        let holder = |pid, uid, user: &str| Holder {
            pid,
            process: Some(format!("p{pid}")),
            uid: Some(uid),
            user: Some(user.to_string()),
        };
        let mut s = Socket {
            proto: devport_core::model::types::Transport::Tcp,
            address: std::net::Ipv4Addr::LOCALHOST.into(),
            port: 4242,
            pid: Some(10),
            process: Some("p10".into()),
            uid: Some(0),
            user: Some("root".into()),
            holders: vec![holder(10, 0, "root"), holder(11, 65534, "nobody")],
            container: None,
            inode: 0,
        };
        assert_eq!(
            super::owner(&s),
            "pid 10 (p10) user root, pid 11 (p11) user nobody"
        );
        s.holders = vec![holder(10, 1000, "alice"), holder(11, 1000, "alice")];
        assert_eq!(
            super::owner(&s),
            "pid 10 (p10) user alice, pid 11 (p11) user alice; socket user root"
        );
        // Each holder with its own folder (a busy warning), not only the first's.
        let folders = [(10, "/shop".into()), (11, "/blog".into())].into();
        assert_eq!(
            super::owner_in(&s, &folders),
            "pid 10 (p10) user alice in /shop, pid 11 (p11) user alice in /blog; socket user root"
        );
        s.holders = vec![holder(10, 0, "root")];
        assert_eq!(super::owner(&s), "pid 10 (p10) user root");
        assert_eq!(
            super::owner_in(&s, &folders),
            "pid 10 (p10) user root in /shop"
        );
    }

    #[test]
    fn clean_escapes_every_control_character_and_nothing_else() {
        let cases = [
            ("\x1b[2J", "\\u{1b}[2J"),
            ("\x1b]0;title\x07", "\\u{1b}]0;title\\u{7}"),
            ("a\r\nb\tc", "a\\r\\nb\\tc"),
            (
                "\0 \u{7f} \u{80} \u{9b}31m \u{9f}",
                "\\u{0} \\u{7f} \\u{80} \\u{9b}31m \\u{9f}",
            ),
            // Bidirectional controls, which reorder what a terminal shows.
            ("a\u{202e}gnp.exe", "a\\u{202e}gnp.exe"),
            // Neighbours of the control ranges, and backslashes, stay as they are.
            (
                "~ \u{a0} é 日本 C:\\x \\u{1b}",
                "~ \u{a0} é 日本 C:\\x \\u{1b}",
            ),
        ];
        for (raw, shown) in cases {
            assert_eq!(clean(raw), shown, "{raw:?}");
        }
        for c in (0u32..=0x10_ffff).filter_map(char::from_u32) {
            let escaped = clean(c.encode_utf8(&mut [0; 4])).into_owned();
            assert!(
                !escaped.chars().any(char::is_control),
                "{c:?} -> {escaped:?}"
            );
            let bidi = matches!(
                u32::from(c),
                0x61c | 0x200e | 0x200f | 0x202a..=0x202e | 0x2066..=0x2069
            );
            let expected_escaped = c <= '\u{1f}' || ('\u{7f}'..='\u{9f}').contains(&c) || bidi;
            assert_eq!(escaped.len() > c.len_utf8(), expected_escaped, "{c:?}");
        }
    }
}
