//! Rendering: stdout lines, JSON, tables, and messages on stderr.

use std::borrow::Cow;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use devport::ports::sockets::Socket;
use devport::{Claim, PortRange, Proto};
use jiff::Timestamp;
use serde::Serialize;

use crate::cmd::Ctx;

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

/// Writes a value as pretty JSON to stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    line(&serde_json::to_string_pretty(value)?)
}

/// A message for people, on stderr.
pub fn note(text: &str) {
    eprintln!("devport: {text}");
}

/// A warning for people, on stderr.
pub fn warn(text: &str) {
    eprintln!("devport: warning: {text}");
}

/// Escapes control characters in text that came from a file a person may edit, so it cannot
/// drive the terminal.
pub fn clean(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(
            text.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// The ports of a block, separated by spaces.
pub fn port_list(ports: PortRange) -> String {
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

/// `text` in `paint` when colours are on, else as it is.
pub fn paint(ctx: &Ctx, text: &str, paint: Paint) -> String {
    if !ctx.color {
        return text.to_string();
    }
    let code = match paint {
        Paint::Green => "32",
        Paint::Yellow => "33",
        Paint::Red => "31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// A borderless table on stdout; the header is bold when colours are on.
pub fn table(
    ctx: &Ctx,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<()> {
    use comfy_table::{Attribute, Cell, ContentArrangement, Table, presets};
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(header.iter().map(|h| {
        if ctx.color {
            Cell::new(h).add_attribute(Attribute::Bold)
        } else {
            Cell::new(h)
        }
    }));
    if ctx.color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    for row in rows {
        table.add_row(row);
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
}

impl<'a> ClaimView<'a> {
    pub fn new(c: &'a Claim, new: Option<bool>) -> Self {
        ClaimView {
            project: &c.project,
            project_path: c.project_path.as_ref(),
            service: &c.service,
            port: c.port,
            ports: c.ports().iter().collect(),
            proto: c.proto,
            created: c.created,
            last_used: c.last_used,
            new,
            live: None,
        }
    }
}

/// A socket's owner in a few words: `pid 123 (node) user alice`, or that it is not visible.
pub fn owner(s: &Socket) -> String {
    let who = match (s.pid, &s.process) {
        (Some(pid), Some(name)) => format!("pid {pid} ({})", clean(name)),
        (Some(pid), None) => format!("pid {pid}"),
        _ => "owner not visible".to_string(),
    };
    match (&s.user, s.uid) {
        (Some(name), _) => format!("{who} user {}", clean(name)),
        (None, Some(uid)) => format!("{who} uid {uid}"),
        (None, None) => who,
    }
}

/// `tcp 127.0.0.1:8080` / `tcp [::1]:8080`.
pub fn socket_addr(s: &Socket) -> String {
    std::net::SocketAddr::new(s.address, s.port).to_string()
}
