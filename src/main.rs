//! The `devport` binary: parse, dispatch, map the result to an exit code — nothing else.

mod cli;
mod cmd;
mod output;
mod signals;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    signals::ignore_file_size_signal();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match cmd::run(&cli) {
        Ok(cmd::Outcome::Success) => ExitCode::SUCCESS,
        Ok(cmd::Outcome::Negative) => ExitCode::from(devport::error::EXIT_NEGATIVE),
        Ok(cmd::Outcome::Exit(code)) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            output::note(&format!("{e:#}"));
            ExitCode::from(exit_code(&e))
        }
    }
}

/// Help and version go to stdout with exit 0; any other clap error becomes one line on stderr
/// and exit 2.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    if matches!(
        e.kind(),
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(devport::error::EXIT_USAGE)
        } else {
            ExitCode::SUCCESS
        };
    }
    let text = unstyled(e);
    // Only LF ends a line here, and only spaces are trimmed: a CR or a C1 control that the
    // user typed stays in the message, for `output::note` to show escaped.
    let message: Vec<&str> = text
        .split('\n')
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(|l| l.trim_matches(' '))
        .filter(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    output::note(&format!("{message}; see 'devport --help'"));
    ExitCode::from(devport::error::EXIT_USAGE)
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

fn exit_code(e: &anyhow::Error) -> u8 {
    e.chain()
        .find_map(|c| c.downcast_ref::<devport::Error>())
        .map_or(devport::error::EXIT_ENV, devport::Error::exit_code)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
