//! The command line, defined once: parsing, `--help`, completions and the man page all come
//! from these types. Every flag also reads `JCDIAG_<NAME>` (clap's `env`); the config file is
//! layered below both in [`crate::app`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use jcdiag_profile::target::TargetOs;

#[derive(Debug, Parser)]
#[command(
    name = "jcdiag",
    // Fixed, so that help reads the same whatever the executable is called (jcdiag.exe).
    bin_name = "jcdiag",
    version,
    about = "Collects a complete, scrubbed JumpCloud support case and delivers it to support",
    long_about = "Collects a complete, scrubbed JumpCloud support case and delivers it to support.\n\n\
        jcdiag finds the JumpCloud agent's logs (rotated ones too), gathers OS facts, screenshots \
        and agent status, takes the issue form, removes secrets and writes one zip bundle.",
    after_help = "Exit codes: 0 done, 1 internal failure, 2 invalid usage or input, \
        3 queued in the outbox, 4 refused by the endpoint, 5 a check failed (doctor)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the case bundle only; never touches the network
    Collect(Box<CollectArgs>),
    /// Collect (or take a bundle made earlier) and upload it to the support endpoint
    Submit(Box<SubmitArgs>),
    /// Record the agent logs and new screenshots while you reproduce the problem, then bundle
    Record(Box<RecordArgs>),
    /// Cases kept on disk until the endpoint acknowledged them
    Outbox(OutboxArgs),
    /// Ask for escalation of an existing case (offline: an email draft to send)
    Escalate(Box<EscalateArgs>),
    /// Check the agent and say what is wrong, before a case is filed (no bundle)
    Doctor(Box<DoctorArgs>),
    /// Print the response target and contact channels for a tier and severity
    Sla(SlaArgs),
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff), or write every command's page with --out
    Man(ManArgs),
    /// Write the endpoint and token into the config file, owner-only (packages, MDM scripts)
    Configure(ConfigureArgs),
}

/// `jcdiag configure`: sets keys in the config file (`--config`, else the platform's path),
/// keeping the others. The MSI's ENDPOINT and TOKEN properties arrive here.
#[derive(Debug, Args)]
pub struct ConfigureArgs {
    /// Support endpoint, https:// (http:// only to loopback addresses)
    #[arg(long, env = "JCDIAG_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// Upload token to keep in the file (org-wide, for unattended runs)
    #[arg(
        long,
        env = "JCDIAG_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file [default: /etc/jcdiag/config.toml, /Library/Application Support/jcdiag/config.toml, C:\ProgramData\jcdiag\config.toml]
    #[arg(long, global = true, env = "JCDIAG_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder for jcdiag's own state (outbox, log)
    #[arg(long, global = true, env = "JCDIAG_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Consent given: never prompt
    #[arg(long, global = true, env = "JCDIAG_YES")]
    pub yes: bool,
    /// Unattended (MDM): implies --yes; stdout carries only the result line
    #[arg(long, global = true, env = "JCDIAG_SILENT")]
    pub silent: bool,
    /// Print one JSON object on stdout and nothing else there
    #[arg(long, global = true, env = "JCDIAG_JSON")]
    pub json: bool,
    /// More detail on stderr (repeatable)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true, env = "JCDIAG_QUIET")]
    pub quiet: bool,
    /// When to use colour (NO_COLOR is honoured)
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, env = "JCDIAG_COLOR")]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether stderr gets colour: `always` and `never` are obeyed; `auto` means a terminal
    /// that is not `TERM=dumb`, unless `NO_COLOR` is set to something (no-color.org).
    pub fn on_stderr(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                use std::io::IsTerminal;
                std::io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
            }
        }
    }
}

/// The issue form (also from `--form FILE` and the config file).
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Case form")]
pub struct FormArgs {
    /// What is wrong, in detail
    #[arg(long, env = "JCDIAG_DESCRIPTION", value_name = "TEXT")]
    pub description: Option<String>,
    /// What was tried already
    #[arg(long, env = "JCDIAG_TROUBLESHOOTING", value_name = "TEXT")]
    pub troubleshooting: Option<String>,
    /// An error message seen (repeatable)
    #[arg(long = "error", env = "JCDIAG_ERROR", value_name = "TEXT")]
    pub errors: Vec<String>,
    /// 1 entire loss of functionality, 2 major loss, 3 partial / non-critical
    #[arg(long, env = "JCDIAG_SEVERITY", value_parser = clap::value_parser!(u8).range(1..=3))]
    pub severity: Option<u8>,
    /// Support tier of the organisation
    #[arg(long, env = "JCDIAG_TIER", value_parser = ["free", "standard", "premium", "jumpstart"])]
    pub tier: Option<String>,
    /// Admin contact email
    #[arg(long, env = "JCDIAG_EMAIL", value_name = "ADDR")]
    pub email: Option<String>,
    /// Admin contact name
    #[arg(long, env = "JCDIAG_NAME", value_name = "TEXT")]
    pub name: Option<String>,
    /// JumpCloud organisation id
    #[arg(long, env = "JCDIAG_ORG", value_name = "ID")]
    pub org: Option<String>,
    /// The requester is a JumpCloud partner
    #[arg(long, env = "JCDIAG_PARTNER")]
    pub partner: bool,
    /// Existing case number to attach to
    #[arg(long = "case", env = "JCDIAG_CASE", value_name = "ID")]
    pub case_id: Option<String>,
    /// Screenshot image to include (repeatable)
    #[arg(long = "screenshot", env = "JCDIAG_SCREENSHOT", value_name = "PATH")]
    pub screenshots: Vec<PathBuf>,
    /// Read the form from a TOML or JSON file with the flags' field names
    #[arg(long, env = "JCDIAG_FORM", value_name = "FILE")]
    pub form: Option<PathBuf>,
}

/// Which system to collect from.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Where")]
pub struct WhereArgs {
    /// Collect from this root (a mounted system disk or a test tree) instead of the live system
    #[arg(long, env = "JCDIAG_SYSROOT", value_name = "DIR")]
    pub sysroot: Option<PathBuf>,
    /// The OS whose layout the root holds [default: this OS]
    #[arg(long, value_enum, env = "JCDIAG_TARGET_OS")]
    pub target_os: Option<TargetOs>,
}

/// What to collect and how much.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Collection")]
pub struct CollectionArgs {
    /// Bundle destination: a folder, or the zip's path [default: current folder]
    #[arg(long, env = "JCDIAG_OUT", value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Keep only log entries newer than this (90s, 5m, 48h, 2d)
    #[arg(long, env = "JCDIAG_SINCE", value_name = "DURATION", value_parser = jcdiag_fs::duration::parse_duration)]
    pub since: Option<std::time::Duration>,
    /// Most bytes kept of one log (newest kept) [default: 10MiB]
    #[arg(long, env = "JCDIAG_MAX_LOG_SIZE", value_name = "SIZE", value_parser = jcdiag_fs::size::parse_size)]
    pub max_log_size: Option<u64>,
    /// Most bytes kept of all logs together [default: 64MiB]
    #[arg(long, env = "JCDIAG_MAX_TOTAL_LOG_SIZE", value_name = "SIZE", value_parser = jcdiag_fs::size::parse_size)]
    pub max_total_log_size: Option<u64>,
    /// Show every file that would be sent, with sizes and redactions, and write nothing
    #[arg(long, env = "JCDIAG_DRY_RUN")]
    pub dry_run: bool,
    /// Also replace these by stable aliases; the alias table stays on this machine
    #[arg(
        long,
        env = "JCDIAG_OBFUSCATE",
        value_enum,
        value_delimiter = ',',
        value_name = "WHAT"
    )]
    pub obfuscate: Vec<jcdiag_scrub::obfuscate::Category>,
    /// Largest screenshot accepted [default: 20MiB]
    #[arg(long, env = "JCDIAG_MAX_SCREENSHOT_SIZE", value_name = "SIZE", value_parser = jcdiag_fs::size::parse_size)]
    pub max_screenshot_size: Option<u64>,
    /// Add the images saved in the screenshot folders within this long (90s, 5m, 48h, 2d); asks first on a terminal
    #[arg(long, env = "JCDIAG_SCREENSHOTS_SINCE", value_name = "DURATION", value_parser = jcdiag_fs::duration::parse_duration)]
    pub screenshots_since: Option<std::time::Duration>,
    /// Time the collection may take, commands and OS log queries included [default: 60s]
    #[arg(long, env = "JCDIAG_COLLECTION_BUDGET", value_name = "DURATION", value_parser = jcdiag_fs::duration::parse_duration)]
    pub collection_budget: Option<std::time::Duration>,
    /// Leave out a source (agent-files, system-logs, os-logs, commands, users, per-user) or one item by name (journal, iptables…)
    #[arg(
        long,
        env = "JCDIAG_SKIP_SOURCE",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    pub skip_source: Vec<String>,
}

#[derive(Debug, Args, Default)]
pub struct CollectArgs {
    #[command(flatten)]
    pub form: FormArgs,
    #[command(flatten)]
    pub place: WhereArgs,
    #[command(flatten)]
    pub collection: CollectionArgs,
}

/// How to reach the support endpoint.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Sending")]
pub struct SendArgs {
    /// Support endpoint, https:// (http:// only to loopback addresses)
    #[arg(long, env = "JCDIAG_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// Upload token (org-wide, or scoped to one case)
    #[arg(
        long,
        env = "JCDIAG_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Extra CA certificate(s), PEM, trusted besides the OS trust store
    #[arg(long, env = "JCDIAG_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Proxy URL (HTTPS_PROXY, NO_PROXY and the system proxy are used otherwise)
    #[arg(long, env = "JCDIAG_PROXY", value_name = "URL")]
    pub proxy: Option<String>,
    /// Give up retrying after this long and keep the case in the outbox [default: 100s]
    #[arg(long, env = "JCDIAG_DEADLINE", value_name = "DURATION", value_parser = jcdiag_fs::duration::parse_duration)]
    pub deadline: Option<std::time::Duration>,
    /// Bytes per upload request (tuning and tests)
    #[arg(long, hide = true, env = "JCDIAG_CHUNK_SIZE", value_parser = jcdiag_fs::size::parse_size)]
    pub chunk_size: Option<u64>,
}

#[derive(Debug, Args, Default)]
pub struct SubmitArgs {
    /// A bundle made earlier by `jcdiag collect` (default: collect a new one)
    #[arg(value_name = "BUNDLE")]
    pub bundle: Option<PathBuf>,
    /// Everything `collect` takes, for the bundle made when none is given.
    #[command(flatten)]
    pub collect: CollectArgs,
    #[command(flatten)]
    pub send: SendArgs,
    #[command(flatten)]
    pub email: EmailArgs,
    /// The network checks run before collecting (their results go into findings.json).
    #[command(flatten)]
    pub network: NetworkCheckArgs,
}

/// How the case travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Via {
    // Plain comments: doc comments would turn into clap value help and long-form --help.
    // The support endpoint (Case Intake API), resumable, with the outbox.
    #[default]
    Endpoint,
    // An email to support (an .eml file; sent when --smtp is given).
    Email,
}

/// The email channel.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Email")]
pub struct EmailArgs {
    /// endpoint: the support endpoint, resumable; email: an .eml to support (sent with --smtp)
    #[arg(long, value_enum, default_value_t = Via::Endpoint, env = "JCDIAG_VIA")]
    pub via: Via,
    /// SMTP server: smtps://user@host:465, or smtp://user@host:587 with STARTTLS (password in JCDIAG_SMTP_PASSWORD)
    #[arg(long, env = "JCDIAG_SMTP", value_name = "URL")]
    pub smtp: Option<String>,
    /// Largest bundle attached to the email [default: 20MiB]
    #[arg(long, env = "JCDIAG_ATTACHMENT_LIMIT", value_name = "SIZE", value_parser = jcdiag_fs::size::parse_size)]
    pub attachment_limit: Option<u64>,
}

/// `jcdiag doctor`: every check, nothing written.
#[derive(Debug, Args, Default)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub place: WhereArgs,
    #[command(flatten)]
    pub network: NetworkCheckArgs,
    /// Support endpoint asked for the newest agent version (else the config file's; none:
    /// the version recorded in jcdiag's profile)
    #[arg(
        long,
        env = "JCDIAG_ENDPOINT",
        value_name = "URL",
        help_heading = "Network checks"
    )]
    pub endpoint: Option<String>,
    /// Extra CA certificate(s), PEM, trusted for the endpoint besides the OS trust store
    #[arg(
        long,
        env = "JCDIAG_CA_FILE",
        value_name = "PEM",
        help_heading = "Network checks"
    )]
    pub ca_file: Option<PathBuf>,
}

/// The network checks of `doctor` and `submit` (DNS, TCP, TLS, clock).
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Network checks")]
pub struct NetworkCheckArgs {
    /// Skip the network checks (DNS, TCP, TLS handshake, clock)
    #[arg(long, env = "JCDIAG_OFFLINE")]
    pub offline: bool,
    /// Aim one network check elsewhere (repeatable): NAME is agent-host.443, agent-host.444, kickstart.443 or kickstart.444
    #[arg(long = "check-host", value_name = "NAME=HOST:PORT")]
    pub check_hosts: Vec<String>,
    /// Extra CA certificate(s), PEM, trusted for the TLS checks besides the OS trust store
    #[arg(
        long = "check-ca-file",
        env = "JCDIAG_CHECK_CA_FILE",
        value_name = "PEM"
    )]
    pub check_ca_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EscalateArgs {
    /// The case number to escalate
    #[arg(long = "case", env = "JCDIAG_CASE", value_name = "ID")]
    pub case_id: String,
    /// Why the case needs management's attention
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Your email address (the sender of an email draft)
    #[arg(long, env = "JCDIAG_EMAIL", value_name = "ADDR")]
    pub email: Option<String>,
    /// Your name
    #[arg(long, env = "JCDIAG_NAME", value_name = "TEXT")]
    pub name: Option<String>,
    /// The requester is a JumpCloud partner (partnersupport@)
    #[arg(long, env = "JCDIAG_PARTNER")]
    pub partner: bool,
    /// Message-ID of the last email received on the case, for the draft's reply headers
    #[arg(long, value_name = "MESSAGE-ID")]
    pub in_reply_to: Option<String>,
    /// Folder for the email draft [default: current folder]
    #[arg(long, env = "JCDIAG_OUT", value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub send: SendArgs,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// End the recording after this long (90s, 5m, 48h, 2d) [default: at Ctrl-C]
    #[arg(help_heading = "Recording", long = "for", env = "JCDIAG_FOR", value_name = "DURATION", value_parser = jcdiag_fs::duration::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// End the recording when this file appears (for scripts)
    #[arg(
        help_heading = "Recording",
        long,
        env = "JCDIAG_STOP_FILE",
        value_name = "PATH"
    )]
    pub stop_file: Option<PathBuf>,
    /// Send the case once recorded, like `jcdiag submit`
    #[arg(help_heading = "Recording", long, env = "JCDIAG_SUBMIT")]
    pub submit: bool,
    /// Look for changes every 250 ms instead of waiting for file events (network or WSL file systems)
    #[arg(help_heading = "Recording", long, env = "JCDIAG_POLL")]
    pub poll: bool,
    /// Add the screenshots taken during the recording without asking (unattended runs leave them out otherwise)
    #[arg(
        help_heading = "Recording",
        long,
        env = "JCDIAG_INCLUDE_NEW_SCREENSHOTS"
    )]
    pub include_new_screenshots: bool,
    /// Everything `collect` takes.
    #[command(flatten)]
    pub collect: CollectArgs,
    /// Used with --submit.
    #[command(flatten)]
    pub send: SendArgs,
}

#[derive(Debug, Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub action: Option<OutboxAction>,
}

#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// List the kept cases (the default)
    List,
    /// Try to deliver every kept case now
    Flush(SendArgs),
    /// Delete a kept case without sending it
    Purge {
        /// The outbox id shown by `jcdiag outbox list`
        id: String,
    },
}

/// `jcdiag man`: jcdiag's page, one command's page, or all of them into a folder.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print, e.g. `submit` or `outbox flush` [default: jcdiag's own page]
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Write jcdiag.1 and a jcdiag-<command>.1 for every command into this folder instead
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SlaArgs {
    /// Support tier
    #[arg(long, value_parser = ["free", "standard", "premium", "jumpstart"])]
    pub tier: String,
    /// Severity (1, 2 or 3)
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub severity: u8,
    /// Filing time, RFC 3339 [default: now]
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Show the partner channels
    #[arg(long)]
    pub partner: bool,
}

impl Cli {
    /// The clap command, for completions and the man page.
    pub fn command() -> clap::Command {
        <Cli as clap::CommandFactory>::command()
    }

    /// Every man page: jcdiag's own, then one per command and nested command (`jcdiag-outbox-flush`),
    /// as (file name, roff). Each page's SUBCOMMANDS section refers to the pages of its commands.
    pub fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
        // `help` has no page of its own: the man pages would otherwise refer to jcdiag-help(1).
        let mut root = Self::command().disable_help_subcommand(true);
        // Building sets each command's display name (`jcdiag-outbox-flush`): pages and file names.
        root.build();
        let source = format!("jcdiag {}", env!("CARGO_PKG_VERSION"));
        let mut pages = Vec::new();
        let mut pending = vec![root];
        while let Some(command) = pending.pop() {
            pending.extend(
                command
                    .get_subcommands()
                    .filter(|c| !c.is_hide_set())
                    .cloned(),
            );
            let man = clap_mangen::Man::new(command).source(source.clone());
            let mut roff = Vec::new();
            man.render(&mut roff)?;
            pages.push((man.get_filename(), roff));
        }
        pages.sort();
        Ok(pages)
    }
}
