//! `jcdiag-intake`: the support endpoint that receives cases uploaded by `jcdiag`.
//!
//! Where to start reading:
//!
//! - [`server`]: [`serve`] binds the pieces together and runs the accept loop (TLS or,
//!   on loopback only, plain HTTP).
//! - [`state`]: what every handler can reach ([`state::AppState`]), and the base URL of answers.
//! - [`api`]: the JSON routes (cases, attachments, escalations) and request plumbing.
//! - [`tus`]: resumable bundle uploads, and what happens when the last byte arrives.
//! - [`inspect`]: the zip checks every bundle passes before it is kept.
//! - [`sla`]: the intake's own response targets (the org's tier, not the client's claim).
//! - [`store`]: the SQLite schema and every query; [`files`]: the data folder's layout;
//!   [`backend`]: the metadata and object traits they implement.
//! - [`releases`]: `serve --releases DIR`, the installers and the binaries they fetch.
//! - [`tokens`]: upload tokens and their scopes; [`tls`]: certificate loading.
//! - [`bundle_findings`]: the worst finding of a case, from its bundle's findings.json.
//! - [`cli`]: the `jcdiag-intake` commands (`serve`, `token create`, `case list|show`);
//!   [`staff`]: `staff add|list|remove`, the console's accounts.
//! - [`migrate`]: `jcdiag-intake migrate`, from the data folder to PostgreSQL and objects.
//! - [`console`]: the support console under `/console` (HTML for support engineers).
//!
//! The wire contract is `openapi/intake-v1.json`, also served at `/v1/openapi.json`.

pub mod api;
pub mod backend;
pub mod bundle_findings;
pub mod cli;
pub mod console;
pub mod error;
pub mod files;
pub mod ids;
pub mod inspect;
pub mod migrate;
pub mod releases;
pub mod server;
pub mod sla;
pub mod staff;
pub mod state;
pub mod store;
pub mod tls;
pub mod tokens;
pub mod tus;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use server::{RunningServer, ServeError, serve};

/// Default for `--max-bundle`.
pub const DEFAULT_MAX_BUNDLE: u64 = 512 << 20;

/// How the server runs. [`Config::new`] fills in the contract's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// The one folder holding all state (`--data`).
    pub data_dir: PathBuf,
    /// `None` serves plain HTTP, which [`serve`] allows on loopback addresses only.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Largest bundle accepted, in bytes (`--max-bundle`).
    pub max_bundle: u64,
    /// How long an unfinished upload is kept (tus expiration extension).
    pub upload_ttl: Duration,
    /// How long a PATCH body may stall before the chunk is dropped.
    pub body_idle_timeout: Duration,
    /// What a bundle may contain.
    pub limits: inspect::Limits,
    /// `--releases DIR`: serve the installers and `DIR/<version>/<target>/jcdiag[.exe]`.
    pub releases: Option<PathBuf>,
    /// The URL clients reach this endpoint at, without a trailing `/` (`--public-url`, or
    /// the listen address): written into the installers. Never taken from a request's
    /// `Host`, which the client chooses. `None`: the installers are not served.
    pub public_url: Option<String>,
    /// `--holiday`: dates (in the support time zone) added to the built-in profile's, on
    /// which the Standard support clock does not run.
    pub holidays: std::collections::BTreeSet<chrono::NaiveDate>,
    /// Quotas, rates, timeouts and connection limits.
    pub guards: state::Guards,
    /// `--database postgres://…`: the metadata in PostgreSQL; `None`: `data_dir/intake.sqlite`.
    pub database: Option<backend::postgres::Database>,
    /// `--objects DIR|s3://…`: uploads' parts and bundles in a folder every replica mounts
    /// or in an S3-compatible bucket; `None`: in `data_dir`.
    pub objects: Option<backend::ObjectsConfig>,
    /// `--agent-newest`: the newest JumpCloud agent version, published at
    /// `GET /v1/agent-version` for `doctor` and `submit`; `None`: nothing published (404).
    pub agent_newest: Option<String>,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            tls: None,
            max_bundle: DEFAULT_MAX_BUNDLE,
            upload_ttl: Duration::from_secs(7 * 24 * 3600),
            body_idle_timeout: Duration::from_secs(60),
            limits: inspect::Limits::default(),
            releases: None,
            public_url: None,
            holidays: Default::default(),
            guards: state::Guards::default(),
            database: None,
            objects: None,
            agent_newest: None,
        }
    }
}
