//! The `jcdiag-intake` command line: argument definitions and what each command does.
//! The binary only parses arguments, sets up logging and calls [`run`].

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use super::files::DataDir;
use super::ids::CaseId;
use super::state::Guards;
use super::store::{CaseRecord, Store, StoreError};
use super::tls::{TlsError, load_server_config};
use super::tokens::{self, TokenError};
use super::{Config, DEFAULT_MAX_BUNDLE, ServeError};
use jcdiag_fs::duration::parse_duration;

#[derive(Debug, Parser)]
#[command(
    name = "jcdiag-intake",
    version,
    about = "The support endpoint that receives jcdiag cases"
)]
pub struct Cli {
    /// The folder holding all of the intake's state.
    #[arg(long, global = true, env = "JCDIAG_INTAKE_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the endpoint.
    Serve(ServeArgs),
    /// Manage upload tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Look at received cases.
    #[command(subcommand)]
    Case(CaseCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:8443 (plain HTTP only on loopback addresses).
    #[arg(long, env = "JCDIAG_INTAKE_LISTEN", value_name = "ADDR")]
    pub listen: String,
    /// PEM file with the server certificate (then its chain).
    #[arg(
        long,
        env = "JCDIAG_INTAKE_TLS_CERT",
        value_name = "PEM",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM file with the certificate's private key.
    #[arg(
        long,
        env = "JCDIAG_INTAKE_TLS_KEY",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Largest bundle accepted: bytes, or with a unit (KiB, MiB, GiB, KB, MB, GB).
    #[arg(long, env = "JCDIAG_INTAKE_MAX_BUNDLE", value_name = "SIZE", default_value = "512MiB", value_parser = jcdiag_fs::size::parse_size)]
    pub max_bundle: u64,
    /// Serve `/install.sh`, `/install.ps1` and `/dl/<version>/<target>/jcdiag[.exe]` (with the
    /// `.sha256` made at release time beside each binary) from this folder.
    #[arg(long, env = "JCDIAG_INTAKE_RELEASES", value_name = "DIR")]
    pub releases: Option<PathBuf>,
    /// Bundles one case may hold; further uploads to it are refused (403).
    #[arg(long, value_name = "N", default_value_t = Guards::default().max_bundles_per_case)]
    pub max_bundles_per_case: u64,
    /// Unfinished uploads one case may have at once (429 past it).
    #[arg(long, value_name = "N", default_value_t = Guards::default().max_open_uploads_per_case)]
    pub max_open_uploads_per_case: u64,
    /// Unfinished uploads one organisation may have at once (429 past it).
    #[arg(long, value_name = "N", default_value_t = Guards::default().max_open_uploads_per_org)]
    pub max_open_uploads_per_org: u64,
    /// Bytes one case may hold, bundles plus unfinished uploads (413 past it).
    #[arg(long, value_name = "SIZE", default_value = "4GiB", value_parser = jcdiag_fs::size::parse_size)]
    pub max_bytes_per_case: u64,
    /// Bytes one organisation may hold, bundles plus unfinished uploads (413 past it).
    #[arg(long, value_name = "SIZE", default_value = "100GiB", value_parser = jcdiag_fs::size::parse_size)]
    pub max_bytes_per_org: u64,
    /// Slowest accepted PATCH body, per second, measured over 30 s windows (408 below it).
    #[arg(long, value_name = "SIZE", default_value = "1KiB", value_parser = jcdiag_fs::size::parse_size)]
    pub min_rate: u64,
    /// Longest a request may take, from its headers to its answer (408 past it).
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Connections served at once; more are closed when accepted. Keep it well under the
    /// descriptor limit (`ulimit -n`): an upload holds its connection and a file or two.
    #[arg(long, value_name = "N", default_value_t = Guards::default().max_connections)]
    pub max_connections: usize,
    /// How long a connection may stay silent before its TLS handshake or next request.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Failed authentications one address may make per minute; then its requests get 429.
    #[arg(long, value_name = "N", default_value_t = Guards::default().max_auth_failures)]
    pub max_auth_failures: u32,
}

impl ServeArgs {
    /// The limits these flags set.
    fn guards(&self) -> Guards {
        Guards {
            max_bundles_per_case: self.max_bundles_per_case,
            max_open_uploads_per_case: self.max_open_uploads_per_case,
            max_open_uploads_per_org: self.max_open_uploads_per_org,
            max_bytes_per_case: self.max_bytes_per_case,
            max_bytes_per_org: self.max_bytes_per_org,
            min_rate: self.min_rate,
            request_timeout: self.request_timeout,
            max_connections: self.max_connections,
            idle_timeout: self.idle_timeout,
            max_auth_failures: self.max_auth_failures,
            ..Guards::default()
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an upload token and print it (only its hash is kept).
    Create {
        /// The customer organisation the token belongs to.
        #[arg(long)]
        org: String,
        /// Limit the token to adding bundles and escalations to this case.
        #[arg(long = "case", value_name = "ID")]
        case_id: Option<CaseId>,
        /// Lifetime, e.g. 48h or 30d; without it the token does not expire.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        expires: Option<Duration>,
        /// Print `{"token", "org", "case_id", "expires"}` instead of the bare token.
        #[arg(long)]
        json: bool,
        /// This endpoint's public URL, used in the one-liners printed (on stderr) for a case
        /// token, e.g. https://support.example.com.
        #[arg(long, env = "JCDIAG_INTAKE_PUBLIC_URL", value_name = "URL")]
        public_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// List every case.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one case with its form, bundles and escalations.
    Show {
        #[arg(value_name = "ID")]
        case_id: CaseId,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("no data folder given: pass --data DIR or set JCDIAG_INTAKE_DATA")]
    NoDataDir,
    #[error(
        "{0} holds no intake data (no intake.sqlite): check --data, or run `jcdiag-intake serve` first"
    )]
    NoDatabase(PathBuf),
    #[error("case {0} does not exist: `jcdiag-intake case list` shows the cases")]
    UnknownCase(CaseId),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: io::Error },
    #[error("cannot create the data folder {path}: {source}")]
    DataDir { path: PathBuf, source: io::Error },
    #[error(
        "--releases {0}: not a folder (it should hold <version>/<target>/jcdiag[.exe] and .sha256 files)"
    )]
    NoReleases(PathBuf),
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
    #[error("cannot write the output: {0}")]
    Output(#[from] io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CliError {
    /// 2 for mistakes in how the command was called, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::NoDataDir
            | CliError::UnknownCase(_)
            | CliError::NoDatabase(_)
            | CliError::NoReleases(_) => 2,
            CliError::Token(
                TokenError::BadOrg | TokenError::UnknownCase(_) | TokenError::WrongOrg { .. },
            ) => 2,
            CliError::Serve(ServeError::PlainHttpNotLoopback(_)) => 2,
            _ => 1,
        }
    }
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    let data = cli.data.ok_or(CliError::NoDataDir)?;
    let mut out = io::stdout().lock();
    match cli.command {
        Command::Serve(args) => serve(&data, args),
        Command::Token(TokenCommand::Create {
            org,
            case_id,
            expires,
            json,
            public_url,
        }) => {
            let dir = DataDir::create(&data).map_err(|source| CliError::DataDir {
                path: data.clone(),
                source,
            })?;
            let store = Store::open(&dir.database())?;
            let issued = tokens::issue(&store, &org, case_id, expires, Utc::now())?;
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&issued).expect("plain struct")
                )?;
            } else {
                writeln!(out, "{}", issued.token)?;
                // The token alone goes to stdout (scripts capture it); the ready-to-paste
                // commands go to stderr, for the person who ran this.
                if let Some(case_id) = case_id {
                    let url = public_url.as_deref().unwrap_or("https://<this endpoint>");
                    eprint!("{}", one_liners(url, &case_id.to_string(), &issued.token));
                }
            }
            Ok(())
        }
        Command::Case(CaseCommand::List { json }) => {
            let mut cases = open_existing(&data)?.cases()?;
            let now = Utc::now();
            sort_for_triage(&mut cases, now);
            if json {
                let list: Vec<Value> = cases
                    .iter()
                    .map(|c| {
                        let mut value = case_json(c, false);
                        value["overdue"] = json!(is_overdue(c, now));
                        value
                    })
                    .collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&list).expect("JSON values")
                )?;
            } else {
                write!(out, "{}", case_table(&cases, now))?;
            }
            Ok(())
        }
        Command::Case(CaseCommand::Show { case_id, json }) => {
            let case = open_existing(&data)?
                .case(case_id)?
                .ok_or(CliError::UnknownCase(case_id))?;
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&case_json(&case, true)).expect("JSON values")
                )?;
            } else {
                write!(out, "{}", case_page(&case, &DataDir::existing(&data)))?;
            }
            Ok(())
        }
    }
}

/// The commands support pastes into a case reply: SPEC's one-liners with this case's token.
pub fn one_liners(url: &str, case_id: &str, token: &str) -> String {
    let url = url.trim_end_matches('/');
    format!(
        "macOS, Linux (as root):\n  curl -fsSL {url}/install.sh | sudo sh -s -- --case {case_id} --token {token}\n\
         Windows (elevated PowerShell):\n  powershell -c \"& ([scriptblock]::Create((irm {url}/install.ps1))) -Case {case_id} -Token {token}\"\n"
    )
}

fn serve(data: &Path, args: ServeArgs) -> Result<(), CliError> {
    let mut config = Config::new(data);
    config.max_bundle = args.max_bundle;
    config.guards = args.guards();
    if let Some(dir) = &args.releases
        && !dir.is_dir()
    {
        return Err(CliError::NoReleases(dir.clone()));
    }
    config.releases = args.releases;
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(load_server_config(cert, key)?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|source| CliError::Listen {
                addr: args.listen.clone(),
                source,
            })?;
        let server = super::serve(config, listener).await?;
        // Announce the real address on stdout: with port 0, scripts need it.
        println!("listening on {}", server.url());
        stop_signal().await;
        tracing::info!("stopping");
        server.shutdown().await;
        Ok(())
    })
}

/// Ctrl-C, or SIGTERM from a service manager.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn open_existing(data: &Path) -> Result<Store, CliError> {
    let path = data.join("intake.sqlite");
    if !path.exists() {
        return Err(CliError::NoDatabase(data.to_path_buf()));
    }
    Ok(Store::open(&path)?)
}

/// The `--json` shape: `case show` has `form`, `case list` does not.
fn case_json(case: &CaseRecord, with_form: bool) -> Value {
    let mut value = json!({
        "case_id": case.case_id.to_string(),
        "org": case.org,
        "tier": case.tier,
        "severity": case.severity,
        "created": case.created,
        "bundles": case.bundles,
        "escalations": case.escalations,
        "response_due": case.response_due,
    });
    if with_form {
        value["form"] = form(case);
    }
    value
}

fn form(case: &CaseRecord) -> Value {
    serde_json::from_str::<Value>(&case.case_json)
        .ok()
        .and_then(|mut c| c.get_mut("form").map(Value::take))
        .unwrap_or(Value::Null)
}

/// When a case's first response is due, if it has a target.
fn due(case: &CaseRecord) -> Option<DateTime<Utc>> {
    case.response_due
        .as_deref()
        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// Past its response target. (The intake does not see support's answers, so a case stays
/// overdue in this list until support works it elsewhere.)
fn is_overdue(case: &CaseRecord, now: DateTime<Utc>) -> bool {
    due(case).is_some_and(|d| d < now)
}

/// Triage order: overdue cases first (longest overdue first), then by how soon a response is
/// due, then cases without a target (JumpStart), oldest first.
fn sort_for_triage(cases: &mut [CaseRecord], now: DateTime<Utc>) {
    cases.sort_by_key(|case| {
        let due = due(case);
        (
            !is_overdue(case, now),
            due.is_none(),
            due,
            case.created.clone(),
        )
    });
}

fn case_table(cases: &[CaseRecord], now: DateTime<Utc>) -> String {
    if cases.is_empty() {
        return "No cases yet.\n".into();
    }
    let mut text = format!(
        "{:<9} {:<16} {:<10} {:<3} {:<20} {:>7} {:>5}  {}\n",
        "CASE", "ORG", "TIER", "SEV", "CREATED", "BUNDLES", "ESC", "RESPONSE DUE"
    );
    for case in cases {
        text += &format!(
            "{:<9} {:<16} {:<10} {:<3} {:<20} {:>7} {:>5}  {}\n",
            case.case_id.to_string(),
            clip(&case.org, 16),
            case.tier.id(),
            case.severity.get(),
            case.created,
            case.bundles.len(),
            case.escalations.len(),
            match (case.response_due.as_deref(), is_overdue(case, now)) {
                (Some(due), true) => format!("{due}  OVERDUE"),
                (Some(due), false) => due.to_string(),
                (None, _) => "-".to_string(),
            }
        );
    }
    text
}

fn case_page(case: &CaseRecord, data: &DataDir) -> String {
    let mut text = format!("Case {}\n", case.case_id);
    let severity = case.severity.to_string();
    for (label, value) in [
        ("Org", case.org.as_str()),
        ("Tier", case.tier.id()),
        ("Severity", &severity),
        ("Created", &case.created),
        (
            "Response due",
            case.response_due.as_deref().unwrap_or("none"),
        ),
    ] {
        text += &format!("  {label:<13} {value}\n");
    }
    text += "\nForm\n";
    let lines = match form(case) {
        Value::Object(fields) => fields
            .iter()
            .filter_map(|(name, value)| Some((label_of(name), field_lines(name, value)?)))
            .collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    if lines.is_empty() {
        text += "  (empty)\n";
    }
    for (label, values) in lines {
        // One labelled line per field; further lines (a list, a long description) under it.
        for (i, value) in values.iter().enumerate() {
            let label = if i == 0 { label.as_str() } else { "" };
            text += &format!("  {label:<16} {value}\n");
        }
    }
    text += &format!("\nBundles ({})\n", case.bundles.len());
    for bundle in &case.bundles {
        text += &format!(
            "  {}  {:>12} bytes  received {}\n    {}\n",
            bundle.sha256,
            bundle.size,
            bundle.received_at,
            data.bundle(case.case_id, &bundle.sha256).display()
        );
    }
    text += &format!("\nEscalations ({})\n", case.escalations.len());
    for escalation in &case.escalations {
        text += &format!("  {}  {}\n", escalation.at, escalation.reason);
    }
    text
}

/// "troubleshooting" -> "Troubleshooting".
fn label_of(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| {
            first
                .to_uppercase()
                .chain(chars)
                .collect::<String>()
                .replace('_', " ")
        })
        .unwrap_or_default()
}

/// A form field as the lines of text to show, or `None` when it is absent (null, empty, false).
fn field_lines(name: &str, value: &Value) -> Option<Vec<String>> {
    let lines: Vec<String> = match value {
        Value::Null | Value::Bool(false) => Vec::new(),
        Value::Bool(true) => vec!["yes".into()],
        Value::String(text) => text
            .trim()
            .lines()
            .map(str::to_owned)
            .filter(|_| !text.trim().is_empty())
            .collect(),
        Value::Number(number) => vec![number.to_string()],
        Value::Array(items) => items
            .iter()
            .filter_map(|item| field_lines(name, item))
            .flatten()
            .collect(),
        Value::Object(inner) if name == "contact" => {
            let part = |key: &str| inner.get(key).and_then(Value::as_str).map(str::trim);
            match (
                part("name").filter(|n| !n.is_empty()),
                part("email").filter(|e| !e.is_empty()),
            ) {
                (Some(name), Some(email)) => vec![format!("{name} <{email}>")],
                (Some(only), None) | (None, Some(only)) => vec![only.to_owned()],
                (None, None) => Vec::new(),
            }
        }
        // Anything else a client sent: its fields, each as `key: value`.
        Value::Object(inner) => inner
            .iter()
            .filter_map(|(key, value)| {
                let lines = field_lines(key, value)?;
                Some(format!("{key}: {}", lines.join(", ")))
            })
            .collect(),
    };
    (!lines.is_empty()).then_some(lines)
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        text.chars().take(width - 1).chain(['…']).collect()
    }
}

const _: () = assert!(
    DEFAULT_MAX_BUNDLE == 512 << 20,
    "keep --max-bundle's default_value in step"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_liners_are_the_specs() {
        let text = one_liners("https://support.example.com/", "01234567", "tok");
        assert!(text.contains(
            "curl -fsSL https://support.example.com/install.sh | sudo sh -s -- --case 01234567 --token tok\n"
        ));
        assert!(text.contains(
            "powershell -c \"& ([scriptblock]::Create((irm https://support.example.com/install.ps1))) -Case 01234567 -Token tok\"\n"
        ));
    }

    #[test]
    fn the_max_bundle_default_is_the_documented_512_mib() {
        assert_eq!(
            jcdiag_fs::size::parse_size("512MiB"),
            Ok(DEFAULT_MAX_BUNDLE)
        );
    }
}
