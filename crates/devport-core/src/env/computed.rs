//! Computed values: the `[env]` table of `devport.toml`, variables whose text is written
//! around the project's ports (`DATABASE_URL = "postgres://app@localhost:{port:db}/shop"`).
//!
//! Placeholders: `{port:SERVICE}` (the service's first port), `{port:SERVICE:N}` (the port at
//! 0-based place N of the service's block, as `NAME_PORT_N` numbers them), `{project}` (the
//! project's name) and `{checkout}` (the name of this checkout of the project, `main` for the
//! main one: see [`crate::project::checkout_names`]). `{{` and `}}` are a literal brace. A value is one line of text: control
//! characters (newlines, tabs, escapes) are refused when the manifest is read. The same reader
//! parses `exec`'s command arguments, where `{port}` is the port of the service being run and
//! a brace that opens no placeholder is the command's own ([`Syntax`]).

use std::collections::BTreeMap;

use crate::store::registry::Claim;

/// One part of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Literal text.
    Text(String),
    /// `{port:SERVICE:N}`: port `index` (0-based) of the service's block.
    Port { service: String, index: u16 },
    /// `{project}`: the project's name.
    Project,
    /// `{checkout}`: the checkout's name.
    Checkout,
}

/// A parsed value of the `[env]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// Where a template is written, which decides what `{port}` and a brace that opens no
/// placeholder mean. `{{` and `}}` are a literal brace in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax<'a> {
    /// A value of the `[env]` table: every other brace is a placeholder, or an error.
    Env,
    /// An argument of `exec`'s command: `{port}` is the port of the service `own` (the one
    /// being run), and a brace that opens no placeholder devport knows (`{"a": 1}`, `${PORT}`,
    /// a lone `}`) is the command's own text.
    Argument {
        /// The service being run.
        own: &'a str,
    },
}

impl Template {
    /// Parses a value of the `[env]` table; the error says what is wrong and how to fix it,
    /// with the 1-based character of the value where the problem is.
    pub fn parse(text: &str) -> std::result::Result<Template, String> {
        if let Some((at, c)) = text.chars().enumerate().find(|(_, c)| c.is_control()) {
            return Err(format!(
                "character {} is the control character {:?}; a value is one line of printable text, so remove it",
                at + 1,
                c
            ));
        }
        let template = Template::parse_as(text, Syntax::Env)?;
        if let Some(why) = template.problem("p") {
            return Err(format!(
                "this value cannot be written to .env files: {why}; remove those characters"
            ));
        }
        Ok(template)
    }

    /// Parses `text` as `syntax` says: the one reader of placeholders and escapes, for
    /// `[env]` values and `exec` arguments alike.
    pub fn parse_as(text: &str, syntax: Syntax<'_>) -> std::result::Result<Template, String> {
        let lenient = matches!(syntax, Syntax::Argument { .. });
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        let place = |i: usize| text[..i].chars().count() + 1;
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' if !lenient => {
                    return Err(format!(
                        "the }} at character {} closes nothing; write }}}} for a literal brace",
                        place(i)
                    ));
                }
                '{' => {
                    let inner = &text[i + 1..];
                    let closed = inner
                        .find(['}', '{'])
                        .filter(|&n| inner[n..].starts_with('}'))
                        .map(|n| &inner[..n]);
                    let placeholder = match (closed, syntax) {
                        (Some("port"), Syntax::Argument { own }) => Piece::Port {
                            service: own.to_string(),
                            index: 0,
                        },
                        (Some(inner), Syntax::Env) => parse_placeholder(inner, place(i))?,
                        (Some(inner), Syntax::Argument { .. })
                            if inner == "project"
                                || inner == "checkout"
                                || inner.starts_with("port:") =>
                        {
                            parse_placeholder(inner, place(i))?
                        }
                        (None, Syntax::Env) => {
                            return Err(format!(
                                "the {{ at character {} is never closed; close it with }}, or write {{{{ for a literal brace",
                                place(i)
                            ));
                        }
                        // Not a placeholder: the command's own brace.
                        _ => {
                            literal.push('{');
                            continue;
                        }
                    };
                    // Skip the placeholder's characters and its `}`.
                    for _ in 0..=closed.map_or(0, |inner| inner.chars().count()) {
                        chars.next();
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(placeholder);
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    /// Why the value, for the project named `project` (ports are digits and never matter),
    /// cannot be written to a `.env` every reader reads back the same, if it cannot (see
    /// [`crate::env::dotenv::dotenv_problem`]).
    pub fn problem(&self, project: &str) -> Option<&'static str> {
        let sample: String = self
            .pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => text.as_str(),
                Piece::Project => project,
                // A checkout's name is a DNS label: it never makes a value unwritable.
                Piece::Checkout => crate::project::MAIN_CHECKOUT,
                Piece::Port { .. } => "0",
            })
            .collect();
        crate::env::dotenv::dotenv_problem(&sample)
    }

    /// The ports the value reads, as (service, 0-based place in its block).
    pub fn ports(&self) -> impl Iterator<Item = (&str, u16)> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Port { service, index } => Some((service.as_str(), *index)),
            _ => None,
        })
    }

    /// The value for `project` and its checkout named `checkout` with the ports of `claims`,
    /// or the first (service, place) it reads that no claim holds.
    pub fn render(
        &self,
        project: &str,
        checkout: &str,
        claims: &[&Claim],
    ) -> std::result::Result<String, (String, u16)> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Project => out.push_str(project),
                Piece::Checkout => out.push_str(checkout),
                Piece::Port { service, index } => {
                    let port = claims
                        .iter()
                        .find(|c| c.service == *service)
                        .filter(|c| *index < c.block.count)
                        .and_then(|c| c.block.port.checked_add(*index))
                        .ok_or_else(|| (service.clone(), *index))?;
                    out.push_str(&port.to_string());
                }
            }
        }
        Ok(out)
    }
}

/// What is between `{` and `}`: `project`, `port:SERVICE` or `port:SERVICE:N`.
fn parse_placeholder(inner: &str, at: usize) -> std::result::Result<Piece, String> {
    match inner {
        "project" => return Ok(Piece::Project),
        "checkout" => return Ok(Piece::Checkout),
        _ => {}
    }
    let unknown = || {
        format!(
            "the placeholder at character {at} is not one devport knows; use {{port:SERVICE}}, {{port:SERVICE:N}}, {{project}} or {{checkout}}, and {{{{ for a literal brace"
        )
    };
    let Some(rest) = inner.strip_prefix("port:") else {
        return Err(unknown());
    };
    let (service, index) = match rest.split_once(':') {
        None => (rest, 0),
        Some((service, n)) => {
            let index = n
                .parse::<u16>()
                .ok()
                .filter(|_| n.bytes().all(|b| b.is_ascii_digit()));
            let Some(index) = index else {
                return Err(format!(
                    "the placeholder at character {at} has '{n}' where a port's place in the block goes, after the second colon; write one number from 0 (the first port), such as {{port:{service}:0}}"
                ));
            };
            (service, index)
        }
    };
    crate::model::input::validate_service(service)
        .map_err(|e| format!("the placeholder at character {at}: {e}"))?;
    Ok(Piece::Port {
        service: service.to_string(),
        index,
    })
}

/// The first computed variable whose name is one of `taken` (the `*_PORT` variables),
/// compared ignoring case as Windows does, as (computed name, taken name).
pub fn clash<'a>(
    computed: &BTreeMap<String, Template>,
    taken: impl IntoIterator<Item = &'a str>,
) -> Option<(String, String)> {
    taken.into_iter().find_map(|name| {
        computed
            .keys()
            .find(|k| k.eq_ignore_ascii_case(name))
            .map(|mine| (mine.clone(), name.to_string()))
    })
}

/// The message for a computed variable `mine` that meets the variable `theirs` devport sets
/// for a port.
pub fn collision(mine: &str, theirs: &str) -> String {
    format!(
        "the [env] variable {mine} meets the variable {theirs} that devport sets for a port; rename {mine} in the [env] table of devport.toml"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `{checkout}` is the checkout's name, in `[env]` values and `exec` arguments alike.
    #[test]
    fn checkout_is_a_placeholder_of_values_and_arguments() {
        let value = Template::parse("{project}-{checkout}").expect("parses");
        assert_eq!(
            value.render("shop", "login", &[]).as_deref(),
            Ok("shop-login")
        );
        let argument = Template::parse_as("--name={checkout}", Syntax::Argument { own: "web" })
            .expect("parses");
        assert_eq!(
            argument.render("shop", "main", &[]).as_deref(),
            Ok("--name=main")
        );
    }

    fn pieces(text: &str) -> Vec<Piece> {
        Template::parse(text).expect(text).pieces
    }

    #[test]
    fn placeholders() {
        let port = |service: &str, index| Piece::Port {
            service: service.to_string(),
            index,
        };
        assert_eq!(
            pieces("postgres://app@localhost:{port:db}/{project}"),
            vec![
                Piece::Text("postgres://app@localhost:".into()),
                port("db", 0),
                Piece::Text("/".into()),
                Piece::Project,
            ]
        );
        assert_eq!(pieces("{port:grpc:2}"), vec![port("grpc", 2)]);
        assert_eq!(
            pieces("{{json}} {{{project}}}"),
            vec![
                Piece::Text("{json} {".into()),
                Piece::Project,
                Piece::Text("}".into())
            ]
        );
        assert_eq!(pieces(""), vec![]);
        assert_eq!(
            pieces("é {port:a.b-c_1}"),
            vec![Piece::Text("é ".into()), port("a.b-c_1", 0)]
        );
        for (bad, says) in [
            ("x {port:db", "character 3 is never closed"),
            ("{port:{project}}", "character 1 is never closed"),
            ("a}", "character 2 closes nothing"),
            ("{ports:db}", "not one devport knows"),
            ("{}", "not one devport knows"),
            ("{PROJECT}", "not one devport knows"),
            ("{port:db:x}", "from 0"),
            ("{port:db:-1}", "from 0"),
            ("{port:db:+1}", "from 0"),
            ("{port:db:1:2}", "from 0"),
            ("{port:db:70000}", "from 0"),
            ("{port:}", "empty service name"),
            ("{port:a b}", "invalid character"),
            ("a\nb", "character 2 is the control character '\\n'"),
            ("\u{9b}", "control character"),
        ] {
            let e = Template::parse(bad).expect_err(bad);
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "(?s).{0,40}") {
            let _ = Template::parse(&text);
        }

        /// Literal text written with doubled braces reads back as itself.
        #[test]
        fn doubled_braces_are_literal(text in "[^\\p{Cc}]{0,40}") {
            prop_assume!(crate::env::dotenv::dotenv_problem(&text).is_none());
            let escaped = text.replace('{', "{{").replace('}', "}}");
            let template = Template::parse(&escaped).expect("escaped text parses");
            prop_assert_eq!(template.render("p", "main", &[]).ok(), Some(text));
        }
    }
}
