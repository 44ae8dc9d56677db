//! One module per command; [`run`] dispatches a parsed command line to them.
//!
//! Output rules (SPEC "Machine-readable output"): `--json` prints one object on stdout and
//! nothing else there; `--silent` prints one result line; otherwise a short human report.
//! Problems go to stderr. Exit codes are decided in one place, `crate::exit`.

mod collect;
mod configure;
mod doctor;
mod escalate;
mod man;
mod outbox;
mod record;
mod sla;
mod submit;

use std::io::IsTerminal;

use crate::cli::{Cli, Command, GlobalArgs, SubmitArgs};
use crate::config::Config;
use crate::exit::CommandError;
use crate::output::Report;
use crate::settings::state_dir;
use crate::wizard::{Scope, Wizard};
use jcdiag_client::deliver::DeliverError;
use jcdiag_profile::Profile;

/// Runs one command line; `None` means the output was already printed (completions, man page).
pub(crate) fn run(cli: Cli) -> Result<Option<Report>, CommandError> {
    jcdiag_client::interrupt::install();
    let global = &cli.global;
    match cli.command {
        Some(Command::Collect(args)) => collect::collect_command(global, *args).map(Some),
        Some(Command::Submit(args)) => {
            let scope = can_prompt(global).then_some(Scope::Required);
            submit::submit_command(global, *args, scope).map(Some)
        }
        Some(Command::Record(args)) => record::record_command(global, *args).map(Some),
        Some(Command::Outbox(args)) => outbox::outbox_command(global, args).map(Some),
        Some(Command::Escalate(args)) => escalate::escalate_command(global, *args).map(Some),
        Some(Command::Sla(args)) => sla::sla_command(global, args).map(Some),
        Some(Command::Doctor(args)) => doctor::doctor_command(global, *args).map(Some),
        Some(Command::Completions { shell }) => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "jcdiag", &mut std::io::stdout());
            Ok(None)
        }
        Some(Command::Man(args)) => man::man_command(args),
        Some(Command::Configure(args)) => configure::configure_command(global, args).map(|()| None),
        None if can_prompt(global) => {
            // `submit` parsed with no flags, so its JCDIAG_* variables still count.
            let args = match <Cli as clap::Parser>::parse_from(["jcdiag", "submit"]).command {
                Some(Command::Submit(args)) => *args,
                _ => SubmitArgs::default(),
            };
            submit::submit_command(global, args, Some(Scope::Everything)).map(Some)
        }
        None => Err(CommandError::Usage(
            "no command given and no terminal for the wizard: run `jcdiag submit --yes …` or `jcdiag collect …` (see `jcdiag --help`)"
                .into(),
        )),
    }
}

/// Whether questions may be asked: a person at a terminal, and no flag saying otherwise.
pub(crate) fn can_prompt(global: &GlobalArgs) -> bool {
    !(global.yes || global.silent || global.json)
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
}

/// The wizard on this process's terminal.
pub(crate) fn terminal_wizard() -> Wizard<'static, std::io::StdinLock<'static>, std::io::Stderr> {
    Wizard::new(
        std::io::stdin().lock(),
        std::io::stderr(),
        Profile::builtin(),
    )
}

/// Starts jcdiag's own log in the state folder (see [`jcdiag_client::logfile`]). A log that cannot be
/// written does not stop the run; it is said on stderr.
pub(crate) fn start_log(global: &GlobalArgs, config: &Config, command: &str) {
    let level = if global.verbose > 0 {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    match jcdiag_client::logfile::start(&state_dir(global, config), level) {
        Ok(_) => {
            // Flag values are not logged: `--token` would be one of them.
            tracing::info!(
                command,
                version = env!("CARGO_PKG_VERSION"),
                elevated = jcdiag_client::collect::system::is_elevated(),
                silent = global.silent,
                "run started"
            );
        }
        Err(e) if !(global.quiet || global.silent || global.json) => {
            eprintln!("warning: jcdiag's log cannot be written ({e}); going on without it");
        }
        Err(_) => {}
    }
}

/// Asks a yes/no question on the terminal; anything but yes is no.
pub(crate) fn ask(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok()
        && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Runs async delivery code on a runtime made for this command.
pub(crate) fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, DeliverError>>,
) -> Result<Result<T, DeliverError>, CommandError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::Internal(format!("cannot start the network runtime: {e}")))?;
    let result = runtime.block_on(future);
    match result {
        Err(DeliverError::Invalid(message)) => Err(CommandError::Usage(message)),
        other => Ok(other),
    }
}
