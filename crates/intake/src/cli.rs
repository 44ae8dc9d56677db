//! The `jcdiag-intake` command line: argument definitions and what each command does.
//! The binary only parses arguments, sets up logging and calls [`run`].

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use super::backend::postgres::{Database, Postgres};
use super::backend::s3::S3Objects;
use super::backend::{LocalObjects, Metadata, Objects, ObjectsConfig};
use super::bundle_findings;
use super::files::DataDir;
use super::ids::CaseId;
use super::state::Guards;
use super::store::{CaseRecord, Store, StoreError};
use super::tls::{TlsError, load_server_config};
use super::tokens::{self, TokenError};
use super::{Config, DEFAULT_MAX_BUNDLE, ServeError};
use jcdiag_fs::duration::parse_duration;
use jcdiag_profile::sla::Tier;

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
    /// Keep cases, tokens and uploads in PostgreSQL (`postgres://USER@HOST:PORT/DB`, no
    /// password: it is read from JCDIAG_INTAKE_DATABASE_PASSWORD or PGPASSWORD) instead of
    /// DIR/intake.sqlite, so several replicas can share them.
    #[arg(
        long,
        global = true,
        env = "JCDIAG_INTAKE_DATABASE",
        value_name = "URL"
    )]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the endpoint.
    Serve(Box<ServeArgs>),
    /// Manage upload tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Look at received cases.
    #[command(subcommand)]
    Case(CaseCommand),
    /// Manage the support console's staff accounts.
    #[command(subcommand)]
    Staff(super::staff::StaffCommand),
    /// Copy the data folder's store (DIR/intake.sqlite and its bundles) into PostgreSQL
    /// (--database, which must hold no cases yet) and --objects.
    Migrate(super::migrate::MigrateArgs),
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
    /// Keep uploads in progress and accepted bundles in this folder (one every replica
    /// mounts) or S3-compatible bucket (`s3://BUCKET?endpoint=URL`, keys from
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) instead of the data folder; needs
    /// --database.
    #[arg(long, env = "JCDIAG_INTAKE_OBJECTS", value_name = "DIR|URL")]
    pub objects: Option<String>,
    /// Serve `/install.sh`, `/install.ps1` and `/dl/<version>/<target>/jcdiag[.exe]` (with the
    /// `.sha256` made at release time beside each binary) from this folder.
    #[arg(long, env = "JCDIAG_INTAKE_RELEASES", value_name = "DIR")]
    pub releases: Option<PathBuf>,
    /// This endpoint's public URL (e.g. https://support.example.com), written into the
    /// installers; without it they name the listen address, which must then not be a wildcard.
    #[arg(long, env = "JCDIAG_INTAKE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// A day without Standard support (in the support time zone), on top of the built-in
    /// profile's; repeatable, or comma-separated in JCDIAG_INTAKE_HOLIDAYS.
    #[arg(
        long = "holiday",
        env = "JCDIAG_INTAKE_HOLIDAYS",
        value_name = "YYYY-MM-DD",
        value_delimiter = ','
    )]
    pub holidays: Vec<NaiveDate>,
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
    /// Upload chunks (PATCH bodies) received at once; more are answered 503 with
    /// Retry-After, which jcdiag waits for and retries.
    #[arg(long, value_name = "N", default_value_t = Guards::default().max_concurrent_uploads)]
    pub max_concurrent_uploads: usize,
    /// The newest JumpCloud agent version (e.g. 0.155.0), published at /v1/agent-version:
    /// `jcdiag doctor` and `submit` then compare the installed agent with it instead of the
    /// version recorded in their profile. Set it when JumpCloud releases an agent.
    #[arg(long, env = "JCDIAG_INTAKE_AGENT_NEWEST", value_name = "VERSION", value_parser = parse_agent_version)]
    pub agent_newest: Option<String>,
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
            max_concurrent_uploads: self.max_concurrent_uploads,
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
        /// The org's support tier (free, standard, premium, jumpstart): recorded for the org,
        /// replacing an earlier one, and used for the response targets of its cases.
        #[arg(long, value_parser = parse_tier, value_name = "TIER")]
        tier: Option<Tier>,
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
        /// Where `serve --objects` keeps the bundles (the findings are read from them).
        #[arg(long, env = "JCDIAG_INTAKE_OBJECTS", value_name = "DIR|URL")]
        objects: Option<String>,
    },
    /// Show one case with its form, bundles (and where each is kept) and escalations.
    Show {
        #[arg(value_name = "ID")]
        case_id: CaseId,
        #[arg(long)]
        json: bool,
        /// Where `serve --objects` keeps the bundles: a folder, or `s3://BUCKET?endpoint=URL`
        /// (keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
        #[arg(long, env = "JCDIAG_INTAKE_OBJECTS", value_name = "DIR|URL")]
        objects: Option<String>,
    },
}

/// The bundles' store for `case list` and `case show`, with the runtime an object store's
/// blocking calls run on (dropped after it).
struct CaseObjects {
    objects: Arc<dyn Objects>,
    _runtime: Option<tokio::runtime::Runtime>,
}

impl CaseObjects {
    fn open(data: &Path, objects: Option<&str>) -> Result<CaseObjects, CliError> {
        let local = DataDir::existing(data);
        let config = objects
            .map(ObjectsConfig::parse)
            .transpose()
            .map_err(CliError::Objects)?;
        Ok(match config {
            None => CaseObjects {
                objects: Arc::new(LocalObjects::new(local)),
                _runtime: None,
            },
            Some(ObjectsConfig::Folder(folder)) => CaseObjects {
                objects: Arc::new(LocalObjects::shared(DataDir::existing(&folder), local)),
                _runtime: None,
            },
            Some(ObjectsConfig::S3(config)) => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .map_err(|e| CliError::Objects(e.to_string()))?;
                let objects = {
                    let _entered = runtime.enter();
                    S3Objects::new(&config, local).map_err(|e| CliError::Objects(e.to_string()))?
                };
                CaseObjects {
                    objects: Arc::new(objects),
                    _runtime: Some(runtime),
                }
            }
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("no data folder given: pass --data DIR or set JCDIAG_INTAKE_DATA")]
    NoDataDir,
    #[error("{0} is not a folder: check --data, or run `jcdiag-intake serve` first")]
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
    #[error(
        "--public-url {0}: give an http(s) URL without user, query or fragment, e.g. https://support.example.com"
    )]
    BadPublicUrl(String),
    #[error(
        "--releases on {0}: the installers need a URL clients can reach; pass --public-url (e.g. https://support.example.com)"
    )]
    ReleasesNeedPublicUrl(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
    #[error("cannot write the output: {0}")]
    Output(#[from] io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("--objects: {0}")]
    Objects(String),
    #[error("--objects needs --database: replicas that share objects share a database")]
    ObjectsNeedDatabase,
    #[error("migrate needs --database: the PostgreSQL database to copy the store into")]
    MigrateNeedsDatabase,
    #[error(transparent)]
    Migrate(#[from] super::migrate::MigrateError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Staff(#[from] super::staff::StaffError),
}

impl CliError {
    /// 2 for mistakes in how the command was called, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::NoDataDir
            | CliError::UnknownCase(_)
            | CliError::NoDatabase(_)
            | CliError::NoReleases(_)
            | CliError::BadPublicUrl(_)
            | CliError::ReleasesNeedPublicUrl(_) => 2,
            CliError::Token(
                TokenError::BadOrg | TokenError::UnknownCase(_) | TokenError::WrongOrg { .. },
            ) => 2,
            CliError::Serve(ServeError::PlainHttpNotLoopback(_)) => 2,
            CliError::Staff(error) => error.exit_code(),
            _ => 1,
        }
    }
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    let data = cli.data.ok_or(CliError::NoDataDir)?;
    let database = cli.database.map(Database::from_env);
    let mut out = io::stdout().lock();
    match cli.command {
        Command::Serve(args) => serve(&data, database, *args),
        Command::Migrate(args) => {
            let database = database.ok_or(CliError::MigrateNeedsDatabase)?;
            let summary = super::migrate::run(&data, &database, &args)?;
            writeln!(out, "{summary}")?;
            Ok(())
        }
        Command::Staff(command) => Ok(super::staff::run(&data, database.as_ref(), command)?),
        Command::Token(TokenCommand::Create {
            org,
            tier,
            case_id,
            expires,
            json,
            public_url,
        }) => {
            let dir = DataDir::create(&data).map_err(|source| CliError::DataDir {
                path: data.clone(),
                source,
            })?;
            let store: Box<dyn Metadata> = match &database {
                Some(database) => Box::new(Postgres::connect(database)?),
                None => Box::new(Store::open(&dir.database())?),
            };
            let issued = tokens::issue(&*store, &org, case_id, expires, Utc::now())?;
            if let Some(tier) = tier {
                store.set_org_tier(&org, tier, Utc::now())?;
            }
            if json {
                let mut value = serde_json::to_value(&issued).expect("plain struct");
                value["tier"] = json!(store.org_tier(&org)?);
                writeln!(out, "{value}")?;
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
        Command::Case(CaseCommand::List { json, objects }) => {
            let objects = CaseObjects::open(&data, objects.as_deref())?;
            let mut cases = match open_existing(&data, database.as_ref())? {
                Some(store) => store.cases()?,
                None => Vec::new(),
            };
            let now = Utc::now();
            sort_for_triage(&mut cases, now);
            let findings: Vec<_> = cases
                .iter()
                .map(|c| bundle_findings::latest(&*objects.objects, c))
                .collect();
            if json {
                let list: Vec<Value> = cases
                    .iter()
                    .zip(&findings)
                    .map(|(c, found)| {
                        let mut value = case_json(c, false);
                        value["overdue"] = json!(is_overdue(c, now));
                        value["worst_finding"] = worst_json(found.as_ref());
                        value
                    })
                    .collect();
                writeln!(
                    out,
                    "{}",
                    terminal_safe_json(serde_json::to_string_pretty(&list).expect("JSON values"))
                )?;
            } else {
                write!(out, "{}", case_table(&cases, &findings, now))?;
            }
            Ok(())
        }
        Command::Case(CaseCommand::Show {
            case_id,
            json,
            objects,
        }) => {
            let objects = CaseObjects::open(&data, objects.as_deref())?;
            let case = open_existing(&data, database.as_ref())?
                .map(|store| store.case(case_id))
                .transpose()?
                .flatten()
                .ok_or(CliError::UnknownCase(case_id))?;
            let found = bundle_findings::latest(&*objects.objects, &case);
            if json {
                let mut value = case_json(&case, true);
                value["worst_finding"] = worst_json(found.as_ref());
                value["findings"] = serde_json::to_value(&found).expect("findings serialise");
                writeln!(
                    out,
                    "{}",
                    terminal_safe_json(serde_json::to_string_pretty(&value).expect("JSON values"))
                )?;
            } else {
                write!(out, "{}", case_page(&case, &*objects.objects))?;
                write!(out, "{}", findings_section(found.as_ref()))?;
            }
            Ok(())
        }
    }
}

fn parse_tier(text: &str) -> Result<Tier, String> {
    text.parse::<Tier>().map_err(|e| e.to_string())
}

/// `--public-url` as written into the installers (inside quotes in sh and PowerShell): an
/// http(s) URL with a host, no user, query or fragment, and a path of plain characters only;
/// without its trailing `/`. `None` for anything else.
/// `--agent-newest`: a dotted number such as `0.155.0` (a leading `v` is dropped).
fn parse_agent_version(text: &str) -> Result<String, String> {
    let version = text.trim().trim_start_matches(['v', 'V']);
    let parts_are_numbers = version.split('.').all(|part| {
        !part.is_empty() && part.len() <= 9 && part.bytes().all(|b| b.is_ascii_digit())
    });
    if parts_are_numbers {
        Ok(version.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a version: give dotted numbers, e.g. 0.155.0"
        ))
    }
}

pub fn parse_public_url(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    let plain_path = url
        .path()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._~/-".contains(&b));
    let acceptable = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
        && plain_path;
    acceptable.then(|| url.as_str().trim_end_matches('/').to_owned())
}

/// The commands support pastes into a case reply: SPEC's one-liners with this case's token.
pub fn one_liners(url: &str, case_id: &str, token: &str) -> String {
    let url = url.trim_end_matches('/');
    format!(
        "macOS, Linux (as root):\n  curl -fsSL {url}/install.sh | sudo sh -s -- --case {case_id} --token {token}\n\
         Windows (elevated PowerShell):\n  powershell -c \"& ([scriptblock]::Create((irm {url}/install.ps1))) -Case {case_id} -Token {token}\"\n"
    )
}

fn serve(data: &Path, database: Option<Database>, args: ServeArgs) -> Result<(), CliError> {
    if args.objects.is_some() && database.is_none() {
        return Err(CliError::ObjectsNeedDatabase);
    }
    let mut config = Config::new(data);
    config.max_bundle = args.max_bundle;
    config.guards = args.guards();
    config.database = database;
    config.objects = args
        .objects
        .as_deref()
        .map(super::backend::ObjectsConfig::parse)
        .transpose()
        .map_err(CliError::Objects)?;
    if let Some(dir) = &args.releases
        && !dir.is_dir()
    {
        return Err(CliError::NoReleases(dir.clone()));
    }
    config.releases = args.releases;
    config.agent_newest = args.agent_newest;
    config.holidays = args.holidays.into_iter().collect();
    config.public_url = args
        .public_url
        .as_deref()
        .map(|url| parse_public_url(url).ok_or_else(|| CliError::BadPublicUrl(url.to_owned())))
        .transpose()?;
    // Refused before binding: a wildcard address names no host a client could reach.
    if let Ok(addr) = args.listen.parse::<std::net::SocketAddr>()
        && needs_public_url(&config, addr.ip())
    {
        return Err(CliError::ReleasesNeedPublicUrl(args.listen.clone()));
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(load_server_config(cert, key)?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|source| CliError::Listen {
                addr: args.listen.clone(),
                source,
            })?;
        if config.public_url.is_none() {
            // Without --public-url the installers name the address actually bound.
            let local = listener.local_addr().map_err(|source| CliError::Listen {
                addr: args.listen.clone(),
                source,
            })?;
            if needs_public_url(&config, local.ip()) {
                return Err(CliError::ReleasesNeedPublicUrl(local.to_string()));
            }
            let scheme = if config.tls.is_some() {
                "https"
            } else {
                "http"
            };
            config.public_url = Some(format!("{scheme}://{local}"));
        }
        let server = super::serve(config, listener).await?;
        // Announce the real address on stdout: with port 0, scripts need it.
        println!("listening on {}", server.url());
        stop_signal().await;
        tracing::info!("stopping");
        server.shutdown().await;
        Ok(())
    });
    // Dropping the runtime would wait for every blocking call still running, and one stuck
    // on a database or object store that went away first would keep a stopped replica
    // alive for good (seen in benches/replicas.sh, whose PostgreSQL stops with the replicas).
    runtime.shutdown_timeout(RUNTIME_STOP_GRACE);
    served
}

/// How long blocking calls still running at the end of `serve` may take to finish.
const RUNTIME_STOP_GRACE: Duration = Duration::from_secs(10);

/// Installers to serve, no public URL, and a wildcard listen address: there is no URL
/// a client could use to put into them.
fn needs_public_url(config: &Config, ip: std::net::IpAddr) -> bool {
    config.releases.is_some() && config.public_url.is_none() && ip.is_unspecified()
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

/// The store of an existing data folder, for the reading commands. A folder without a
/// database yet (`serve` or `token create` just started on it) holds no cases: `None`, and
/// nothing is created. A folder that does not exist is a mistake in `--data`.
fn open_existing(
    data: &Path,
    database: Option<&Database>,
) -> Result<Option<Box<dyn Metadata>>, CliError> {
    if let Some(database) = database {
        return Ok(Some(Box::new(Postgres::connect(database)?)));
    }
    if !data.is_dir() {
        return Err(CliError::NoDatabase(data.to_path_buf()));
    }
    let path = data.join("intake.sqlite");
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(Box::new(Store::open(&path)?)))
}

/// The `--json` shape: `case show` has `form`, `case list` does not.
fn case_json(case: &CaseRecord, with_form: bool) -> Value {
    // `tier` and `response_due` are the intake's; the client's claims are under `client_said`.
    let mut value = json!({
        "case_id": case.case_id.to_string(),
        "org": case.org,
        "tier": case.intake_tier,
        "severity": case.severity,
        "created": case.created,
        "bundles": case.bundles,
        "escalations": case.escalations,
        "response_due": case.intake_due,
        "client_said": {"tier": case.tier, "response_due": case.response_due},
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

/// When a case's first response is due by the intake's target, if it has one.
fn due(case: &CaseRecord) -> Option<DateTime<Utc>> {
    case.intake_due
        .as_deref()
        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// Past its response target. (The intake does not see support's answers, so a case stays
/// overdue in this list until support works it elsewhere.)
fn is_overdue(case: &CaseRecord, now: DateTime<Utc>) -> bool {
    due(case).is_some_and(|d| d < now)
}

/// Triage order by the intake's targets: overdue cases first (longest overdue first), then by
/// how soon a response is due, then cases without a target (JumpStart, or an org without a
/// tier on record), oldest first.
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

fn case_table(
    cases: &[CaseRecord],
    findings: &[Option<jcdiag_protocol::Findings>],
    now: DateTime<Utc>,
) -> String {
    if cases.is_empty() {
        return "No cases yet.\n".into();
    }
    let mut text = format!(
        "{:<9} {:<16} {:<10} {:<3} {:<20} {:>7} {:>5}  {:<28} {}\n",
        "CASE", "ORG", "TIER", "SEV", "CREATED", "BUNDLES", "ESC", "WORST FINDING", "RESPONSE DUE"
    );
    for (case, found) in cases.iter().zip(findings) {
        text += &format!(
            "{:<9} {:<16} {:<10} {:<3} {:<20} {:>7} {:>5}  {:<28} {}\n",
            case.case_id.to_string(),
            clip(&escape(&case.org), 16),
            case.intake_tier.map_or("-", Tier::id),
            case.severity.get(),
            case.created,
            case.bundles.len(),
            case.escalations.len(),
            // Written by the client: escaped like everything it sent.
            clip(&escape(&bundle_findings::worst_cell(found.as_ref())), 28),
            match (case.intake_due.as_deref(), is_overdue(case, now)) {
                (Some(due), true) => format!("{}  OVERDUE", escape(due)),
                (Some(due), false) => escape(due),
                (None, _) => "-".to_string(),
            }
        );
    }
    text
}

fn case_page(case: &CaseRecord, objects: &dyn Objects) -> String {
    let mut text = format!("Case {}\n", case.case_id);
    let severity = case.severity.to_string();
    let tier = match case.intake_tier {
        Some(tier) => tier.id().to_owned(),
        None => "not set for this org (token create --org ORG --tier TIER)".to_owned(),
    };
    let client_said = format!(
        "tier {}, response due {}",
        case.tier.id(),
        case.response_due.as_deref().unwrap_or("none")
    );
    for (label, value) in [
        ("Org", case.org.as_str()),
        ("Tier", &tier),
        ("Severity", &severity),
        ("Created", &case.created),
        (
            "Response due (intake)",
            case.intake_due.as_deref().unwrap_or("none"),
        ),
        ("Client said", &client_said),
    ] {
        text += &format!("  {label:<22} {}\n", escape(value));
    }
    text += "\nForm\n";
    let lines = match form(case) {
        Value::Object(fields) => fields
            .iter()
            .filter_map(|(name, value)| Some((escape(&label_of(name)), field_lines(name, value)?)))
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
            escape(&bundle.sha256),
            bundle.size,
            escape(&bundle.received_at),
            escape(&objects.bundle_location(case.case_id, &bundle.sha256))
        );
    }
    text += &format!("\nEscalations ({})\n", case.escalations.len());
    for escalation in &case.escalations {
        // A reason may have several lines: each further one indented under the first.
        let at = escape(&escalation.at);
        for (i, line) in escape_lines(&escalation.reason).iter().enumerate() {
            let at = if i == 0 { at.as_str() } else { "" };
            text += &format!("  {at:<20}  {line}\n");
        }
    }
    text
}

/// `case list --json`'s `worst_finding`: `{"status", "check"}` of the newest bundle's worst
/// check, or null without findings.
fn worst_json(findings: Option<&jcdiag_protocol::Findings>) -> Value {
    let Some(findings) = findings else {
        return Value::Null;
    };
    match findings.worst() {
        Some(worst) => {
            let check = findings.checks.iter().find(|c| c.status == worst);
            json!({"status": worst, "check": check.map(|c| c.id.as_str())})
        }
        None => Value::Null,
    }
}

/// `case show`'s findings: every check that did not pass, worst first, with its summary and
/// advice, and the most frequent error signatures. All of it is the client's text: escaped.
fn findings_section(findings: Option<&jcdiag_protocol::Findings>) -> String {
    use jcdiag_protocol::Status;
    let Some(findings) = findings else {
        return "\nFindings\n  (none: the bundle holds no findings.json)\n".into();
    };
    let mut text = format!(
        "\nFindings (newest bundle; worst: {})\n",
        findings.worst().map_or("none", Status::as_str)
    );
    let mut bad: Vec<_> = findings
        .checks
        .iter()
        .filter(|c| c.status > Status::Unknown)
        .collect();
    bad.sort_by_key(|c| std::cmp::Reverse(c.status));
    if bad.is_empty() {
        text += "  every check passed or could not say\n";
    }
    for check in bad {
        text += &format!(
            "  {:<5} {:<24} {}\n",
            check.status.as_str(),
            escape(&check.id),
            escape(&check.summary)
        );
        if let Some(advice) = &check.advice {
            text += &format!("        advice: {}\n", escape(advice));
        }
    }
    for signature in findings.signatures.iter().take(5) {
        text += &format!(
            "  {:>6}x {:<5} {} (last {})\n",
            signature.count,
            escape(&signature.level),
            escape(&signature.signature),
            escape(signature.last_seen.as_deref().unwrap_or("?"))
        );
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
        Value::String(text) => escape_lines(text.trim()),
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
                (Some(name), Some(email)) => vec![format!("{} <{}>", escape(name), escape(email))],
                (Some(only), None) | (None, Some(only)) => vec![escape(only)],
                (None, None) => Vec::new(),
            }
        }
        // Anything else a client sent: its fields, each as `key: value`.
        Value::Object(inner) => inner
            .iter()
            .filter_map(|(key, value)| {
                let lines = field_lines(key, value)?;
                Some(format!("{}: {}", escape(key), lines.join(", ")))
            })
            .collect(),
    };
    (!lines.is_empty()).then_some(lines)
}

/// Characters a client could use to act on support's terminal or to make text read
/// differently from what it is: C0 and C1 controls (ESC starts screen-clearing and OSC 52
/// clipboard sequences, U+009B is a one-character CSI), DEL, line and paragraph separators,
/// and the bidi embeddings, overrides, isolates and marks.
fn is_unsafe_for_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// A client's text for one line of output: `\n`, `\r`, `\t` and `\u{XX}` in place of every
/// character [`is_unsafe_for_terminal`] names. Backslashes are left as they are (Windows
/// paths stay readable), so the escapes show what was sent, not a reversible encoding.
fn escape(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            c if is_unsafe_for_terminal(c) => shown.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => shown.push(c),
        }
    }
    shown
}

/// A client's multi-line text as lines (split at `\n` or `\r\n`), each escaped; the caller
/// indents every line after the first under its label, so none can pose as a label.
fn escape_lines(text: &str) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    text.lines().map(escape).collect()
}

/// JSON as printed by `--json`: serde_json escapes C0 controls itself; the other characters
/// [`is_unsafe_for_terminal`] names (DEL, C1, separators, bidi) may only occur inside strings
/// in JSON text, so writing them as `\uXXXX` keeps the same values and a clean terminal.
fn terminal_safe_json(json: String) -> String {
    if !json.chars().any(is_unsafe_for_terminal_raw) {
        return json;
    }
    json.chars()
        .map(|c| {
            if is_unsafe_for_terminal_raw(c) {
                format!("\\u{:04x}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// What [`terminal_safe_json`] rewrites: JSON's own line breaks and indentation stay.
fn is_unsafe_for_terminal_raw(c: char) -> bool {
    is_unsafe_for_terminal(c) && c != '\n'
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

    fn case(id: i64, intake_due: Option<&str>, client_due: Option<&str>) -> CaseRecord {
        CaseRecord {
            case_id: CaseId::from_row(id),
            org: "acme".into(),
            case_json: "{}".into(),
            tier: Tier::Premium,
            severity: "1".parse().unwrap(),
            response_due: client_due.map(str::to_owned),
            intake_tier: intake_due.map(|_| Tier::Standard),
            intake_due: intake_due.map(str::to_owned),
            created: format!("2026-11-0{id}T10:00:00Z"),
            bundles: Vec::new(),
            escalations: Vec::new(),
        }
    }

    #[test]
    fn triage_puts_the_intakes_overdue_targets_first_and_ignores_the_clients() {
        let now = "2026-12-01T12:00:00Z".parse().unwrap();
        let early = Some("1970-01-01T00:00:00Z");
        let mut cases = vec![
            case(1, Some("2099-01-01T00:00:00-07:00"), early),
            case(2, Some("2026-11-30T00:00:00-07:00"), None),
            case(3, None, early),
            case(
                4,
                Some("2026-11-24T00:00:00-07:00"),
                Some("2099-01-01T00:00:00Z"),
            ),
        ];
        sort_for_triage(&mut cases, now);
        let order: Vec<i64> = cases.iter().map(|c| c.case_id.row()).collect();
        assert_eq!(order, [4, 2, 1, 3]);
        let overdue: Vec<bool> = cases.iter().map(|c| is_overdue(c, now)).collect();
        assert_eq!(overdue, [true, true, false, false]);
        let table = case_table(&cases, &vec![None; cases.len()], now);
        let rows: Vec<&str> = table.lines().skip(1).collect();
        assert!(
            rows[0].ends_with("OVERDUE") && !rows[2].ends_with("OVERDUE"),
            "{table}"
        );
        assert!(!table.contains("1970"), "{table}");
    }

    #[test]
    fn the_max_bundle_default_is_the_documented_512_mib() {
        assert_eq!(
            jcdiag_fs::size::parse_size("512MiB"),
            Ok(DEFAULT_MAX_BUNDLE)
        );
    }
}
