//! `jcdiag-intake`: parses the command line, sets up logging, and hands over to the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use jcdiag_intake::cli::{Cli, run};

fn main() -> ExitCode {
    few_malloc_arenas();
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

/// Caps glibc's malloc arenas at two. By default glibc gives threads up to 8 per core, and
/// every blocking thread that handled a PATCH (file writes, object-store parts of up to 8
/// MiB) keeps its arena's freed memory: measured with two replicas taking 60 uploads of
/// 6 MiB each at once, peak RSS was ~290 MiB per replica with the default and ~115 MiB with
/// two arenas, at the same speed (benches/replicas.sh).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn few_malloc_arenas() {
    // An operator's MALLOC_ARENA_MAX wins: glibc reads it at the first allocation.
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tuning parameter; called before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Other allocators (musl, macOS, Windows) do not keep per-thread arenas this way.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn few_malloc_arenas() {}
