//! The `devport` binary. Everything it does is in the library's `cli` feature (`src/app/`).

fn main() -> std::process::ExitCode {
    devport::run()
}
