//! Rendering variables in the `sh`, `dotenv` and `json` formats.

use std::fmt::Write as _;

use super::dotenv::{dotenv_quote, is_plain};

/// Output format of environment lines. With the `clap` feature it is a `clap::ValueEnum`, whose
/// help is the command line's words for `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    /// `export NAME=VALUE` lines, for `eval "$(devport env)"`.
    #[default]
    #[cfg_attr(
        feature = "clap",
        value(help = r#"export NAME=VALUE lines, for eval "$(devport env)""#)
    )]
    Sh,
    /// `NAME=VALUE` lines, the `.env` format of docker compose and most loaders.
    #[cfg_attr(
        feature = "clap",
        value(help = "NAME=VALUE lines, the .env format of docker compose and most loaders")
    )]
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

/// Quotes a value for POSIX shells when it holds anything but plain characters: in single
/// quotes, where nothing is special, a `'` written `'\''`.
fn sh_quote(value: &str) -> String {
    if is_plain(value) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::dotenv::{self, dotenv_problem, parse};
    use crate::error::Result;
    use proptest::prelude::*;
    use std::path::Path;

    /// [`dotenv::merge`] with nothing to drop.
    fn merge(existing: &[u8], vars: &[(String, String)], path: &Path) -> Result<Vec<u8>> {
        dotenv::merge(existing, vars, &[], path)
    }

    #[test]
    fn sh_quoting() {
        assert_eq!(
            render(&[("A".into(), "1".into())], Format::Sh),
            "export A=1\n"
        );
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
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
}
