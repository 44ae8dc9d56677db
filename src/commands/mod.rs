//! One module per command; [`run`] dispatches a parsed command line to them.
//!
//! Output rules (SPEC "Machine-readable output"): `--json` prints one object on stdout and
//! nothing else there; `--silent` prints one result line; otherwise a short human report.
//! Problems go to stderr. Exit codes are decided here and nowhere else: library errors name
//! their cause, and the `From` impls below say which exit code each cause gets.

mod collect;
mod configure;
mod escalate;
mod man;
mod outbox;
mod record;
mod sla;
mod submit;

use std::io::IsTerminal;

use serde_json::Value;

use crate::cli::{Cli, Command, GlobalArgs, SubmitArgs};
use crate::config::Config;
use crate::settings::state_dir;
use crate::wizard::{Scope, Wizard};
use jcdiag_client::deliver::DeliverError;
use jcdiag_profile::Profile;

/// A failure that produced nothing to report, with its exit code (SPEC "Exit codes").
#[derive(Debug, thiserror::Error)]
pub(crate) enum CommandError {
    /// Exit 1: nothing usable was produced.
    #[error("{0}")]
    Internal(String),
    /// Exit 2: the message names the input and what is wrong with it.
    #[error("{0}")]
    Usage(String),
    /// Exit 4: the endpoint refused (bad token, unknown case).
    #[error("{0}")]
    Refused(String),
}

/// SPEC "Exit codes", the one place that numbers them.
pub(crate) mod exit {
    pub const INTERNAL: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const QUEUED: i32 = 3;
    pub const REFUSED: i32 = 4;
}

impl CommandError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::Internal(_) => exit::INTERNAL,
            CommandError::Usage(_) => exit::USAGE,
            CommandError::Refused(_) => exit::REFUSED,
        }
    }
}

/// The exit code of a delivery that did not finish: queued cases are safe in the outbox (3),
/// refused ones are kept too (4); settings that cannot work are a usage error.
pub(crate) fn delivery_exit_code(error: &DeliverError) -> i32 {
    match error {
        DeliverError::Invalid(_) => exit::USAGE,
        DeliverError::Queued(_) => exit::QUEUED,
        DeliverError::Refused(_) => exit::REFUSED,
        DeliverError::Outbox(_) => exit::INTERNAL,
    }
}

/// Which exit code each library error gets: what the user got wrong is a usage error (2),
/// what broke underneath is internal (1).
macro_rules! exit_class {
    ($($error:ty => $variant:ident),* $(,)?) => {$(
        impl From<$error> for CommandError {
            fn from(error: $error) -> CommandError {
                CommandError::$variant(error.to_string())
            }
        }
    )*};
}

exit_class! {
    jcdiag_client::form::FormError => Usage,
    jcdiag_client::sources::screenshots::ScreenshotError => Usage,
    jcdiag_profile::sla::SlaError => Usage,
    crate::wizard::WizardError => Usage,
    jcdiag_client::deliver::OutboxError => Internal,
    jcdiag_client::record::RecordError => Internal,
    jcdiag_client::bundle::BundleError => Internal,
}

impl From<crate::config::ConfigError> for CommandError {
    fn from(error: crate::config::ConfigError) -> CommandError {
        match error {
            crate::config::ConfigError::Write { .. } => CommandError::Internal(error.to_string()),
            _ => CommandError::Usage(error.to_string()),
        }
    }
}

/// A delivery error that ends the command (a queued or refused case is a report instead).
impl From<DeliverError> for CommandError {
    fn from(error: DeliverError) -> CommandError {
        match delivery_exit_code(&error) {
            exit::USAGE => CommandError::Usage(error.to_string()),
            exit::REFUSED => CommandError::Refused(error.to_string()),
            _ => CommandError::Internal(error.to_string()),
        }
    }
}

impl From<jcdiag_client::email::EmailError> for CommandError {
    fn from(error: jcdiag_client::email::EmailError) -> CommandError {
        match error {
            jcdiag_client::email::EmailError::Invalid(message) => CommandError::Usage(message),
            other => CommandError::Internal(other.to_string()),
        }
    }
}

/// What a command reports. A non-zero `exit_code` with a report means the work was done in
/// part (a bundle kept in the outbox, exit 3 or 4) and `problem` says why.
pub(crate) struct Report {
    /// The `--json` object.
    pub json: Value,
    /// The `--silent` result line.
    pub line: String,
    /// The human report (stdout).
    pub human: String,
    pub warnings: Vec<String>,
    pub exit_code: i32,
    pub problem: Option<String>,
}

impl Report {
    pub(crate) fn ok(json: Value, line: String, human: String) -> Report {
        Report {
            json,
            line,
            human,
            warnings: Vec::new(),
            exit_code: 0,
            problem: None,
        }
    }
}

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
