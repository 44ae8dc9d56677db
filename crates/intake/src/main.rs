//! `jcdiag-intake`: parses the command line, sets up logging, and hands over to the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use jcdiag_intake::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr so stdout stays clean for `token create` and `--json`.
    // RUST_LOG overrides the default level (e.g. RUST_LOG=jcdiag=debug).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Each library error message already names its cause and the fix.
            eprintln!("jcdiag-intake: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
