//! Running the command line: parse, dispatch, print, and map the result to an exit code.

use std::process::ExitCode;

use crate::{cli, cmd, exit, output, signals};

use clap::Parser as _;

/// Runs the `devport` command line with this process's arguments and returns its exit code.
pub fn run() -> ExitCode {
    signals::ignore_file_size_signal();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match cmd::run(&cli) {
        Ok(cmd::Outcome::Success) => ExitCode::SUCCESS,
        Ok(cmd::Outcome::Negative) => ExitCode::from(exit::NEGATIVE),
        Ok(cmd::Outcome::Exit(code)) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            output::note(&format!("{e:#}"));
            ExitCode::from(exit::of(&e))
        }
    }
}

/// Help and version go to stdout with exit 0 (or, when stdout cannot take them, one line on
/// stderr and the exit code of any other command that cannot write its output); any other
/// clap error becomes one line on stderr and exit 2.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    if matches!(
        e.kind(),
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let printed = e
            .print()
            .and_then(|()| std::io::Write::flush(&mut std::io::stdout()))
            .map_err(|err| anyhow::Error::new(err).context("cannot write to standard output"));
        // Help for a missing subcommand goes to stderr, whose loss never fails a command.
        if let Err(err) = printed
            && !e.use_stderr()
            && !is_broken_pipe(&err)
        {
            output::note(&format!("{err:#}"));
            return ExitCode::from(exit::of(&err));
        }
        return if e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(exit::USAGE)
        } else {
            ExitCode::SUCCESS
        };
    }
    let text = unstyled(e);
    let mut clauses: Vec<String> = Vec::new();
    let page = typed_subcommand();
    // Only LF ends a line here, and only spaces are trimmed: a CR or a C1 control that the
    // user typed stays in the message, for `output::note` to show escaped.
    for line in text.split('\n').map(|l| l.trim_matches(' ')) {
        if line.starts_with("Usage: ") || line.starts_with("For more information") {
            break;
        }
        match (line.strip_prefix("tip: "), clauses.last_mut()) {
            // "to pass '-x' as a value, use '-- -x'" never helps here: no argument of devport
            // takes a value starting with '-' after '--', and exec's command has its own hint.
            (Some(tip), _) if tip.starts_with("to pass ") => {}
            (Some(tip), _) => clauses.push(tip.to_string()),
            (None, _) if line.is_empty() => {}
            (None, Some(last)) if !line.starts_with("error: ") => {
                last.push(' ');
                last.push_str(line);
            }
            (None, _) => clauses.push(line.strip_prefix("error: ").unwrap_or(line).to_string()),
        }
    }
    if page.as_deref() == Some("exec") {
        clauses.extend(exec_hint(e));
    }
    let help = page.map_or_else(
        || "devport --help".to_string(),
        |p| format!("devport {p} --help"),
    );
    clauses.push(format!("see '{help}'"));
    output::note(&clauses.join("; "));
    ExitCode::from(exit::USAGE)
}

/// The subcommand the user typed, if any, whose help a usage error points at: the command
/// line parsed again with errors ignored, which still finds it.
fn typed_subcommand() -> Option<String> {
    use clap::CommandFactory as _;
    cli::Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(std::env::args_os())
        .ok()?
        .subcommand_name()
        .map(str::to_string)
}

/// For `devport exec web` with no command: where it goes. For `devport exec web echo hi`: the
/// same command line with `--` before the command. Only
/// for an unexpected word that is not an option, so an option devport does not know is never
/// passed on as a command.
fn exec_hint(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() == ErrorKind::MissingRequiredArgument {
        return Some("the command goes after --, e.g. devport exec web -- npm run dev".into());
    }
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(word)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    if word.starts_with('-') {
        return None;
    }
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let exec = args.iter().position(|a| a == "exec")?;
    let at = exec + args[exec..].iter().position(|a| a == word)?;
    let words = std::iter::once("devport")
        .chain(args[..at].iter().map(String::as_str))
        .chain(std::iter::once("--"))
        .chain(args[at..].iter().map(String::as_str))
        .map(shell_word)
        .collect::<Vec<_>>()
        .join(" ");
    Some(format!("put the command after --: {words}"))
}

/// A word as a POSIX shell reads it back: as it is when it holds only safe characters, else
/// in single quotes.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The text of a clap error with the user's arguments as typed. clap marks its messages up
/// with ANSI styles and, to show them as plain text, strips every escape sequence, the user's
/// own too, so an argument holding ESC would be shown altered. Parsed again without styles, the
/// same command line fails with the same error and no sequence of clap's: every control
/// character left is the user's, for `output::note` to escape.
fn unstyled(e: &clap::Error) -> String {
    use clap::CommandFactory as _;
    cli::Cli::command()
        .styles(clap::builder::Styles::plain())
        .try_get_matches_from(std::env::args_os())
        .err()
        .map_or_else(
            || e.render().to_string(),
            |plain| plain.render().ansi().to_string(),
        )
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
