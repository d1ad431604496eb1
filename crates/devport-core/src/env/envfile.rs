//! Environment variables for a project's claims: names, the `sh` / `dotenv` / `json` formats,
//! and merging into an existing `.env` file without disturbing its other lines.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

use crate::error::{Error, Result};
use crate::store::registry::Claim;

/// Names that change how shells, loaders, interpreters, git and devport itself behave (run a
/// command, load code, switch shell options), compared without regard to case (Windows reads
/// `Path` as `PATH`). Exported by `eval "$(devport up)"` in a shell or by `exec`, any of them
/// would let a committed `devport.toml` run code.
const FORBIDDEN: &[&str] = &[
    "PATH",
    "HOME",
    "SHELL",
    "IFS",
    "ENV",
    "BASH_ENV",
    "CDPATH",
    "PS1",
    "PS2",
    "PS3",
    "PS4",
    "PS0",
    "PROMPT_COMMAND",
    "SHELLOPTS",
    "BASHOPTS",
    "GLOBIGNORE",
    "ZDOTDIR",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PYTHONHOME",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "RUBYOPT",
    "RUBYLIB",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
    "GIT_ASKPASS",
    "GIT_PROXY_COMMAND",
    "GIT_EXTERNAL_DIFF",
    "GIT_EDITOR",
    "GIT_PAGER",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "LESSOPEN",
    "LESSCLOSE",
    "BROWSER",
    "MAKEFLAGS",
    "PROMPT",
    "RPROMPT",
    "FPATH",
    "TMOUT",
    "EXINIT",
    "VIMINIT",
    "MYVIMRC",
    "EMACSLOADPATH",
    "INPUTRC",
    "TERMINFO",
    "LOCPATH",
    "NLSPATH",
    "KUBECONFIG",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "DBUS_SESSION_BUS_ADDRESS",
    "CC",
    "CXX",
    "CPP",
    "AR",
    "LD",
    "MAKE",
    "CFLAGS",
    "CXXFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "GOFLAGS",
    "GOPATH",
    "GOROOT",
    "GOBIN",
    "GOENV",
    "GOPROXY",
    "GOTOOLCHAIN",
    "GOPRIVATE",
    "GOINSECURE",
    "MANPAGER",
    "MANPATH",
    "MANOPT",
    "RUSTC",
    "RUSTDOC",
    "PHPRC",
    "PSQLRC",
    "SSLKEYLOGFILE",
    "CLASSPATH",
    "NETRC",
    "WGETRC",
];

/// Families of names that tools read to find their configuration, code or credentials (git,
/// XDG config folders, docker, cargo, interpreters and their package managers, build tools,
/// the .NET and Erlang runtimes, GUI toolkits' plugins, editors, history files, ssh, gpg, TLS,
/// cloud CLIs), refused for names a person chooses. A generated `*_PORT` name is never one of
/// these tools' variables, so a service named `git` keeps `GIT_PORT`. This list cannot be
/// complete: an untrusted manifest exports none of its own names (see [`crate::store::trust`]).
const FORBIDDEN_CHOSEN_PREFIXES: &[&str] = &[
    "XDG_",
    "GIT_",
    "DOCKER_",
    "CARGO_",
    "RUSTC_",
    "RUSTUP_",
    "PYTHON",
    "IPYTHON",
    "JUPYTER_",
    "PERL",
    "RUBY",
    "GEM_",
    "BUNDLE_",
    "NODE_",
    "NPM_",
    "ELECTRON_",
    "JAVA_",
    "JDK_",
    "MAVEN_",
    "GRADLE_",
    "SBT_",
    "PHP_",
    "DOTNET_",
    "CORECLR_",
    "COR_",
    "COMPLUS_",
    "ERL_",
    "LUA_",
    "PIP_",
    "UV_",
    "CONDA_",
    "POETRY_",
    "GCONV",
    "GTK_",
    "GIO_",
    "GST_",
    "QT_",
    "OPENSSL_",
    "SSL_",
    "CURL_",
    "REQUESTS_",
    "SSH_",
    "GPG",
    "GNUPG",
    "KUBE",
    "AWS_",
    "GOOGLE_",
    "CLOUDSDK_",
    "AZURE_",
    "BASH",
    "ZSH",
    "HIST",
    "LESS",
    "VIM",
    "ZDOTDIR",
];

/// Families of names read by the dynamic loaders (`LD_PRELOAD`, `DYLD_INSERT_LIBRARIES`), by
/// bash for exported functions (`BASH_FUNC_`), by npm (`npm_config_script_shell`) and by
/// devport (`DEVPORT_REGISTRY`).
const FORBIDDEN_PREFIXES: &[&str] = &["LD_", "DYLD_", "DEVPORT_", "BASH_FUNC_", "NPM_CONFIG_"];

/// The variable name of a service: upper-cased, every character outside `A-Z0-9` turned into
/// `_`, plus `_PORT` (`web` → `WEB_PORT`, `api.v2` → `API_V2_PORT`), after `prefix`.
///
/// A name that would start with a digit, or fall in a family that loaders or devport read
/// (`LD_`, `DYLD_`, `DEVPORT_`), gets a leading `_`: `9lives` → `_9LIVES_PORT`, `ld` →
/// `_LD_PORT`. Service names cannot start with `_`, so this never meets another service's
/// name. The prefix goes before it unchanged (`--prefix APP_`: `APP__9LIVES_PORT`).
pub fn var_name(service: &str, prefix: &str) -> String {
    let base: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let name = format!("{base}_PORT");
    let guard =
        if name.starts_with(|c: char| c.is_ascii_digit()) || forbidden_family(&name).is_some() {
            "_"
        } else {
            ""
        };
    format!("{prefix}{guard}{name}")
}

fn forbidden_family(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    FORBIDDEN_PREFIXES
        .iter()
        .copied()
        .find(|p| upper.starts_with(p))
}

/// Why `name` may not be used as a variable, if it may not.
pub fn name_problem(name: &str) -> Option<String> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Some(
            "a variable name is letters, digits and _, not starting with a digit".to_string(),
        );
    }
    if name == "_" {
        return Some("the shell sets _ itself after every command".to_string());
    }
    let upper = name.to_ascii_uppercase();
    if FORBIDDEN.contains(&upper.as_str()) {
        return Some(format!("{upper} changes how shells and programs run"));
    }
    let generated = upper.ends_with("_PORT")
        || upper
            .rsplit_once("_PORT_")
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !generated
        && let Some(family) = FORBIDDEN_CHOSEN_PREFIXES
            .iter()
            .find(|p| upper.starts_with(*p))
    {
        return Some(format!(
            "{family}… variables configure tools that can run code or read credentials"
        ));
    }
    if !generated && upper.ends_with("_PROXY") {
        return Some(format!("{upper} sends a program's traffic elsewhere"));
    }
    forbidden_family(name).map(|family| match family {
        "DEVPORT_" => "DEVPORT_ variables configure devport itself".to_string(),
        "LD_" | "DYLD_" => format!("{family} variables change how programs load libraries"),
        _ => format!("{family} variables change how programs run"),
    })
}

/// Checks a variable name given by a person (`--env`, `env = ...` in `devport.toml`): a POSIX
/// shell name (`[A-Za-z_][A-Za-z0-9_]*`) that is not one of the names that change how programs
/// run (`PATH`, `HOME`, `SHELL`, `IFS`, `ENV`, `BASH_ENV`, `PS0`-`PS4`, `PROMPT_COMMAND`,
/// `SHELLOPTS`, `NODE_OPTIONS`, `PYTHONPATH`, `GIT_SSH_COMMAND`, `PAGER` … see [`FORBIDDEN`],
/// and any `LD_*`, `DYLD_*`, `BASH_FUNC_*`, `NPM_CONFIG_*` or `DEVPORT_*`).
pub fn validate_var(name: &str) -> Result<()> {
    match name_problem(name) {
        None => Ok(()),
        Some(why) => Err(Error::invalid(
            crate::error::Input::Variable,
            format!(
                "the variable name {name:?} cannot be used: {why}; choose another, such as WEB_PORT"
            ),
        )),
    }
}

/// Checks a `--prefix`: shell-name characters, and not the start of a forbidden family
/// (`LD_`, `DYLD_`, `DEVPORT_`). The names it makes are checked again in [`vars`].
pub fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() {
        return Ok(());
    }
    // A prefix is the start of a name: check it as one, with a harmless tail.
    match name_problem(&format!("{prefix}X")) {
        None => Ok(()),
        Some(why) => Err(Error::invalid(
            crate::error::Input::Variable,
            format!("--prefix {prefix:?} cannot be used: {why}; choose another, such as APP_"),
        )),
    }
}

/// The names a service's claim sets: its name (the manifest's `env` in `names`, else
/// [`var_name`]), and for a block of `count` ports also `NAME_0` ... `NAME_{count-1}`.
pub fn service_vars(
    service: &str,
    count: u16,
    names: &BTreeMap<String, String>,
    prefix: &str,
) -> Vec<String> {
    let name = names
        .get(service)
        .map_or_else(|| var_name(service, prefix), |n| format!("{prefix}{n}"));
    let mut out = vec![name.clone()];
    if count > 1 {
        out.extend((0..count).map(|i| format!("{name}_{i}")));
    }
    out
}

/// Checks the names of services given as (service, block size) before anything is claimed or
/// written: every name valid and not forbidden, and no two services on one name (an error that
/// names both). Returns each service's names, in order.
pub fn check_names(
    services: &[(&str, u16)],
    names: &BTreeMap<String, String>,
    prefix: &str,
) -> Result<Vec<Vec<String>>> {
    let mut owner: BTreeMap<String, &str> = BTreeMap::new();
    let mut out = Vec::with_capacity(services.len());
    for &(service, count) in services {
        let vars = service_vars(service, count, names, prefix);
        for var in &vars {
            if let Some(why) = name_problem(var) {
                let fix = if prefix.is_empty() {
                    format!(
                        "set another name with `env = \"...\"` under [services.{service}] in devport.toml"
                    )
                } else {
                    format!("choose another --prefix than {prefix}")
                };
                return Err(Error::invalid(
                    crate::error::Input::Variable,
                    format!(
                        "service {service} would set {var}, which cannot be used: {why}; {fix}"
                    ),
                ));
            }
            if let Some(other) = owner.insert(var.clone(), service) {
                return Err(collision(other, service, var));
            }
        }
        out.push(vars);
    }
    Ok(out)
}

/// Refuses a new claim of `service` whose variable names meet those of another claim of the
/// same project (`api.v2` and `api-v2` both make `API_V2_PORT`). `others` are the project's
/// claims as (service, block size); claims that already share a name among themselves are left
/// alone, so existing claims keep working.
pub fn check_new_claim<'a>(
    others: impl IntoIterator<Item = (&'a str, u16)>,
    service: &str,
    count: u16,
    names: &BTreeMap<String, String>,
) -> Result<()> {
    let mine = service_vars(service, count, names, "");
    for (other, other_count) in others {
        if other == service {
            continue;
        }
        let theirs = service_vars(other, other_count, names, "");
        if let Some(var) = mine.iter().find(|v| theirs.contains(v)) {
            return Err(collision(other, service, var));
        }
    }
    Ok(())
}

fn collision(first: &str, second: &str, var: &str) -> Error {
    Error::invalid(
        crate::error::Input::Variable,
        format!(
            "services {first} and {second} would both set {var}; give one another name with `env = \"...\"` under [services.{second}] in devport.toml, or use another service name"
        ),
    )
}

/// The variables of `claims`: `NAME=first port`, and for a block also `NAME_0` ... `NAME_{N-1}`.
/// `names` overrides the name of a service. Every name is checked as in [`check_names`].
pub fn vars(
    claims: &[&Claim],
    names: &BTreeMap<String, String>,
    prefix: &str,
) -> Result<Vec<(String, String)>> {
    let services: Vec<(&str, u16)> = claims
        .iter()
        .map(|c| (c.service.as_str(), c.count))
        .collect();
    let all = check_names(&services, names, prefix)?;
    let mut out = Vec::new();
    for (c, vars) in claims.iter().zip(all) {
        let mut vars = vars.into_iter();
        if let Some(first) = vars.next() {
            out.push((first, c.port.to_string()));
        }
        out.extend(vars.zip(c.ports().iter()).map(|(v, p)| (v, p.to_string())));
    }
    Ok(out)
}

/// Output format of environment lines (`--format`, whose help is in the CLI's `cli.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `export NAME=VALUE` lines, for `eval "$(devport env)"`.
    #[default]
    Sh,
    /// `NAME=VALUE` lines, the `.env` format of docker compose and most loaders.
    Dotenv,
    /// A JSON object of strings.
    Json,
}

/// Renders variables in `format`.
pub fn render(vars: &[(String, String)], format: Format) -> String {
    match format {
        Format::Sh => vars.iter().fold(String::new(), |mut out, (k, v)| {
            let _ = writeln!(out, "export {k}={}", sh_quote(v));
            out
        }),
        Format::Dotenv => vars.iter().fold(String::new(), |mut out, (k, v)| {
            let _ = writeln!(out, "{k}={}", dotenv_quote(v));
            out
        }),
        Format::Json => {
            let map: serde_json::Map<String, serde_json::Value> = vars
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                .collect();
            let mut text = crate::model::json::to_string_pretty(&map).unwrap_or_default();
            text.push('\n');
            text
        }
    }
}

/// Whether a value needs no quotes, in a shell or a dotenv file: letters, digits and
/// `. _ - / : @ % + , =` (a port, a URL without a query), never empty.
fn is_plain(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@%+,=".contains(c))
}

/// Quotes a value for POSIX shells when it holds anything but plain characters: in single
/// quotes, where nothing is special, a `'` written `'\''`.
fn sh_quote(value: &str) -> String {
    if is_plain(value) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
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
fn dotenv_quote(value: &str) -> String {
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
fn parse(text: &str) -> Vec<(String, String)> {
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
    fn names() {
        assert_eq!(var_name("web", ""), "WEB_PORT");
        assert_eq!(var_name("api.v2", ""), "API_V2_PORT");
        assert_eq!(var_name("my-db", "APP_"), "APP_MY_DB_PORT");
        // A leading digit or a loader's family gets a `_`, which no service name starts with.
        assert_eq!(var_name("9lives", ""), "_9LIVES_PORT");
        assert_eq!(var_name("9lives", "APP_"), "APP__9LIVES_PORT");
        assert_eq!(var_name("ld", ""), "_LD_PORT");
        assert_eq!(var_name("dyld-x", ""), "_DYLD_X_PORT");
        assert_eq!(
            var_name("devport", ""),
            "DEVPORT_PORT".replacen('D', "_D", 1)
        );
        assert_eq!(var_name("ldap", ""), "LDAP_PORT");
        for service in ["9lives", "ld", "devport-ui", "0", "web", "x.y-z_1"] {
            assert!(validate_var(&var_name(service, "")).is_ok(), "{service}");
        }
        assert!(validate_var("DATABASE_PORT").is_ok());
        // Tools' families are refused for chosen names, never for a service's generated one.
        for service in ["git", "docker", "node", "python-api", "ssh", "history"] {
            assert!(validate_var(&var_name(service, "")).is_ok(), "{service}");
            assert!(
                validate_var(&format!(
                    "{}_PORT_1",
                    service.to_uppercase().replace('-', "_")
                ))
                .is_ok()
            );
        }
        for chosen in [
            "XDG_CONFIG_HOME",
            "GIT_TEMPLATE_DIR",
            "HTTP_PROXY",
            "https_proxy",
            "VIMINIT",
            "HISTFILE",
            "KUBECONFIG",
            "RUSTC_WRAPPER",
            "LUA_INIT",
            "DOCKER_HOST",
            "GOFLAGS",
        ] {
            assert!(validate_var(chosen).is_err(), "{chosen}");
        }
        assert!(validate_var("_X").is_ok());
        for bad in [
            "9X",
            "A B",
            "",
            "A-B",
            "é",
            "PATH",
            "path",
            "Path",
            "HOME",
            "SHELL",
            "IFS",
            "ENV",
            "BASH_ENV",
            "CDPATH",
            "PS1",
            "PS4",
            "PROMPT_COMMAND",
            "LD_PRELOAD",
            "ld_library_path",
            "DYLD_INSERT_LIBRARIES",
            "DEVPORT_REGISTRY",
            "LD_",
        ] {
            let e = validate_var(bad).expect_err(bad).to_string();
            assert!(
                e.contains("cannot be used") && e.contains("choose another"),
                "{e}"
            );
        }
        assert!(validate_var("PS5").is_ok() && validate_var("LDAP").is_ok());
        assert!(validate_prefix("").is_ok() && validate_prefix("APP_").is_ok());
        for bad in ["LD_", "DYLD_X", "devport_", "9", "A-"] {
            assert!(validate_prefix(bad).is_err(), "{bad}");
        }
    }

    /// Issue 17's names that load code or configuration, which the deny-list let through: each
    /// is refused as a chosen name, while every service keeps its generated `*_PORT`.
    #[test]
    fn tool_families_are_refused_but_generated_ports_are_kept() {
        for chosen in [
            "IPYTHONDIR",
            "JUPYTER_CONFIG_DIR",
            "MAVEN_OPTS",
            "GRADLE_OPTS",
            "SBT_OPTS",
            "RUSTC",
            "RUSTC_WRAPPER",
            "RUSTFLAGS",
            "PHPRC",
            "PHP_INI_SCAN_DIR",
            "DOTNET_STARTUP_HOOKS",
            "CORECLR_PROFILER_PATH",
            "COR_PROFILER_PATH",
            "GTK_MODULES",
            "QT_PLUGIN_PATH",
            "PSQLRC",
            "ERL_FLAGS",
            "ELECTRON_RUN_AS_NODE",
            "PIP_INDEX_URL",
            "UV_INDEX_URL",
            "SSLKEYLOGFILE",
            "CURL_CA_BUNDLE",
            "SSL_CERT_FILE",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "AWS_CONFIG_FILE",
        ] {
            assert!(validate_var(chosen).is_err(), "{chosen}");
            assert!(
                validate_var(&chosen.to_ascii_lowercase()).is_err(),
                "{chosen}"
            );
        }
        let none = BTreeMap::new();
        for service in [
            "ipythondir",
            "jupyter",
            "maven",
            "gradle",
            "sbt",
            "rustc",
            "php",
            "dotnet",
            "cor",
            "coreclr",
            "qt",
            "gtk",
            "erl",
            "electron",
            "pip",
            "uv",
            "ssl",
            "curl",
            "google",
            "aws",
        ] {
            let name = var_name(service, "");
            assert_eq!(name, format!("{}_PORT", service.to_ascii_uppercase()));
            assert!(check_names(&[(service, 3)], &none, "").is_ok(), "{name}");
        }
        for fine in [
            "API_URL",
            "CORS_ORIGIN",
            "QTY_LIMIT",
            "PHPMYADMIN_URL",
            "UVICORN_HOST",
        ] {
            assert!(validate_var(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn names_are_checked_together() {
        let none = BTreeMap::new();
        let e = check_names(&[("api.v2", 1), ("api-v2", 1)], &none, "")
            .expect_err("collision")
            .to_string();
        assert!(
            e.contains("api.v2") && e.contains("api-v2") && e.contains("API_V2_PORT"),
            "{e}"
        );
        let names = BTreeMap::from([
            ("a".to_string(), "X".to_string()),
            ("b".to_string(), "X".to_string()),
        ]);
        assert!(check_names(&[("a", 1), ("b", 1)], &names, "").is_err());
        // A block's `NAME_0` meets another service's name.
        let names = BTreeMap::from([("b".to_string(), "A_PORT_0".to_string())]);
        assert!(check_names(&[("a", 2), ("b", 1)], &names, "").is_err());
        assert!(check_names(&[("a", 1), ("b", 1)], &names, "").is_ok());
        // Every name is checked, prefix included.
        let e = check_names(&[("web", 1)], &none, "LD_")
            .expect_err("LD_")
            .to_string();
        assert!(e.contains("LD_WEB_PORT") && e.contains("--prefix"), "{e}");
        let names = BTreeMap::from([("web".to_string(), "ATH".to_string())]);
        assert!(check_names(&[("web", 1)], &names, "P").is_err());
        // A new claim meets an existing one; existing clashes among others are left alone.
        assert!(check_new_claim([("api.v2", 1)], "api-v2", 1, &none).is_err());
        assert!(check_new_claim([("a.b", 1), ("a-b", 1)], "web", 1, &none).is_ok());
        assert!(check_new_claim([("api.v2", 1)], "api.v2", 1, &none).is_ok());
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

    #[test]
    fn sh_quoting() {
        assert_eq!(
            render(&[("A".into(), "1".into())], Format::Sh),
            "export A=1\n"
        );
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
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

    /// Values that stress every quoting rule: quotes of each kind, `$`, backslashes, `#`,
    /// blanks, braces, control characters and non-ASCII text, never NUL (which no variable
    /// can hold).
    fn value() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec![
                    '\'', '"', '`', '$', '\\', '#', ' ', '\t', '\n', '\r', '{', '}', '=', '!', '~',
                    '*', '?', ';', '&', '|', '(', '<', 'é', '\u{85}', '\u{1b}',
                ]),
                any::<char>().prop_filter("no NUL", |&c| c != '\0'),
                "[a-z0-9:/@.]".prop_map(|s| s.chars().next().unwrap_or('a')),
            ],
            0..24,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    /// `sh -c 'eval "$X"; printf %s "$V"'`: what a shell makes of `eval "$(devport env)"`.
    #[cfg(unix)]
    fn through_sh(rendered: &str) -> String {
        let out = std::process::Command::new("sh")
            .args(["-c", "eval \"$DEVPORT_TEST_X\" && printf %s \"$V\""])
            .env("DEVPORT_TEST_X", rendered)
            .output()
            .expect("sh runs");
        assert!(out.status.success(), "{rendered:?}: {out:?}");
        String::from_utf8(out.stdout).expect("utf-8")
    }

    #[test]
    fn dotenv_quoting() {
        let line = |v: &str| render(&[("V".into(), v.into())], Format::Dotenv);
        assert_eq!(
            line("postgres://app@localhost:5432/shop"),
            "V=postgres://app@localhost:5432/shop\n"
        );
        assert_eq!(line("a b $HOME # c"), "V='a b $HOME # c'\n");
        assert_eq!(line(""), "V=''\n");
        assert_eq!(line("it's x"), "V=\"it's x\"\n");
        assert_eq!(dotenv_problem("it's $HOME"), dotenv_problem("it's `id`"));
        assert!(dotenv_problem("it's $HOME").is_some());
        assert!(dotenv_problem("it's \"x\"").is_some());
        assert!(dotenv_problem("x\\").is_some());
        assert!(dotenv_problem("$HOME `id` \"x\"").is_none());
        // An existing line keeps its quotes when the value fits in them.
        let vars = [("V".to_string(), "a b".to_string())];
        let merged = |text: &str| {
            String::from_utf8(merge(text.as_bytes(), &vars, Path::new(".env")).expect("merges"))
                .expect("utf-8")
        };
        assert_eq!(merged("V=`x`\n"), "V='a b'\n");
        assert_eq!(merged("V=\"x\"\n"), "V=\"a b\"\n");
        // Not into double quotes where sh would expand it.
        let dollar = [("V".to_string(), "$HOME".to_string())];
        assert_eq!(
            String::from_utf8(merge(b"V=\"x\"\n", &dollar, Path::new(".env")).expect("merges"))
                .expect("utf-8"),
            "V='$HOME'\n"
        );
        assert_eq!(merged("V=x # note\n"), "V='a b' # note\n");
        let vars = [("V".to_string(), "it's".to_string())];
        assert_eq!(
            String::from_utf8(merge(b"V='x'\n", &vars, Path::new(".env")).expect("merges"))
                .expect("utf-8"),
            "V=\"it's\"\n"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Every value comes out of `eval` of the sh format unchanged.
        #[cfg(unix)]
        #[test]
        fn sh_format_survives_eval(v in value()) {
            let rendered = render(&[("V".to_string(), v.clone())], Format::Sh);
            prop_assert_eq!(through_sh(&rendered), v);
        }

        /// Every value devport lets into a `.env` (one line, no [`dotenv_problem`]) comes back
        /// unchanged when a shell sources the dotenv format (`set -a; . .env`), printed or
        /// merged into an existing double- or single-quoted or backtick line: nothing in it is
        /// run or expanded.
        #[cfg(unix)]
        #[test]
        fn dotenv_format_survives_a_shell(
            v in value(),
            existing in prop::sample::select(vec!["", "V='1'\n", "V=\"1\"\n", "V=`1`\n"]),
        ) {
            prop_assume!(dotenv_problem(&v).is_none() && !v.chars().any(char::is_control));
            let vars = [("V".to_string(), v.clone())];
            prop_assert_eq!(through_sh(&render(&vars, Format::Dotenv)), v.clone());
            let merged = merge(existing.as_bytes(), &vars, Path::new(".env")).expect("merges");
            prop_assert_eq!(through_sh(&String::from_utf8(merged).expect("utf-8")), v);
        }

        /// Every value reads back unchanged from the dotenv format, printed or merged into an
        /// existing line in any of its forms, and a second merge changes nothing.
        #[test]
        fn dotenv_format_reads_back(
            v in value(),
            existing in prop::sample::select(vec!["", "V=1\n", "V='1'\n", "V=\"1\"\n", "V=`1`\n", "export V=1 # n\n"]),
        ) {
            let vars = [("V".to_string(), v.clone())];
            let printed = render(&vars, Format::Dotenv);
            prop_assert_eq!(parse(&printed), vars.to_vec());
            let once = merge(existing.as_bytes(), &vars, Path::new(".env")).expect("merges");
            let text = String::from_utf8(once.clone()).expect("utf-8");
            prop_assert_eq!(parse(&text), vars.to_vec());
            prop_assert_eq!(merge(&once, &vars, Path::new(".env")).ok(), Some(once));
        }
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
