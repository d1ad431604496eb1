//! The `devport` command line: clap's argument types (`cli`), one file per subcommand (`cmd/`),
//! what is printed and how (`output`), exit codes (`exit`). It uses only the public API of the
//! library crate `devport-core` (crates/devport-core), which holds everything else.

mod cli;
mod cmd;
mod complete;
mod exit;
mod output;
mod run;
mod signals;

fn main() -> std::process::ExitCode {
    complete::answer();
    run::run()
}
