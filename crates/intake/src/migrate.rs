//! `jcdiag-intake migrate`: copies the embedded store (DIR/intake.sqlite and DIR/bundles) into
//! PostgreSQL and, with `--objects`, a shared folder or S3 bucket, for the move from one
//! machine to several replicas.
//!
//! The bundles are copied first and the rows in one PostgreSQL transaction after, so the
//! database never names a bundle the objects do not hold; a failed run leaves the database
//! empty and can simply be run again. The source is only read.
//!
//! The support console's tables (staff, sessions, case status and history, bundle facts) are
//! copied too. Not copied: unfinished uploads (their clients start them again when HEAD
//! answers 404); the summary says how many were left.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::types::Value;

use crate::backend::postgres::{Database, Postgres};
use crate::backend::s3::S3Objects;
use crate::backend::{LocalObjects, Objects, ObjectsConfig};
use crate::files::DataDir;
use crate::ids::CaseId;
use crate::store::{Store, StoreError};

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Where the bundles go: a folder every replica mounts, or `s3://BUCKET?endpoint=URL`
    /// (keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). Without it they stay in the
    /// data folder, where `serve --database` without `--objects` reads them.
    #[arg(long, value_name = "DIR|URL")]
    pub objects: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read the data folder's database: {0}")]
    Source(#[from] rusqlite::Error),
    #[error("the database already holds {0} cases: migrate into an empty database")]
    NotEmpty(i64),
    #[error("--objects: {0}")]
    Objects(String),
    #[error("cannot copy bundle {0}: {1}")]
    Bundle(PathBuf, std::io::Error),
    #[error("no store in {0}: nothing to migrate")]
    NoSource(PathBuf),
}

/// What was copied and what was left.
#[derive(Debug, Default)]
pub struct Summary {
    pub cases: u64,
    pub bundles: u64,
    pub unfinished_uploads: u64,
    /// Rows of the support console's tables.
    pub console_rows: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "migrated {} cases and {} bundles (and {} support-console rows); left behind {} unfinished uploads (their clients start them again)",
            self.cases, self.bundles, self.console_rows, self.unfinished_uploads
        )
    }
}

/// The column kinds PostgreSQL needs told apart (SQLite keeps any value anywhere).
#[derive(Clone, Copy)]
enum Kind {
    Int,
    /// PostgreSQL's SMALLINT (`bundle_facts.worst`).
    Small,
    Text,
    Bool,
}

/// A table's name, its columns and the rows copied (an SQL condition).
type Table = (&'static str, &'static [(&'static str, Kind)], &'static str);

/// Each table in foreign-key order.
const TABLES: &[Table] = &[
    (
        "cases",
        &[
            ("id", Kind::Int),
            ("org", Kind::Text),
            ("case_json", Kind::Text),
            ("tier", Kind::Text),
            ("severity", Kind::Text),
            ("response_due", Kind::Text),
            ("created", Kind::Text),
            ("intake_tier", Kind::Text),
            ("intake_due", Kind::Text),
        ],
        "1",
    ),
    (
        "tokens",
        &[
            ("hash", Kind::Text),
            ("org", Kind::Text),
            ("case_id", Kind::Int),
            ("expires", Kind::Text),
            ("created", Kind::Text),
        ],
        "1",
    ),
    (
        "orgs",
        &[
            ("org", Kind::Text),
            ("tier", Kind::Text),
            ("updated", Kind::Text),
        ],
        "1",
    ),
    (
        "idempotency",
        &[
            ("org", Kind::Text),
            ("key", Kind::Text),
            ("scope", Kind::Text),
            ("case_id", Kind::Int),
        ],
        "1",
    ),
    (
        "declared_bundles",
        &[
            ("id", Kind::Int),
            ("case_id", Kind::Int),
            ("sha256", Kind::Text),
            ("size", Kind::Int),
            ("received", Kind::Bool),
        ],
        "1",
    ),
    (
        "uploads",
        &[
            ("id", Kind::Text),
            ("case_id", Kind::Int),
            ("length", Kind::Int),
            ("offset", Kind::Int),
            ("sha256", Kind::Text),
            ("filename", Kind::Text),
            ("expires", Kind::Text),
            ("created", Kind::Text),
            ("receipt_id", Kind::Text),
            ("received_at", Kind::Text),
        ],
        // Finished uploads keep their receipts; unfinished ones are left behind.
        "receipt_id IS NOT NULL",
    ),
    (
        "bundles",
        &[
            ("case_id", Kind::Int),
            ("sha256", Kind::Text),
            ("size", Kind::Int),
            ("received_at", Kind::Text),
        ],
        "1",
    ),
    (
        "escalations",
        &[
            ("id", Kind::Int),
            ("case_id", Kind::Int),
            ("reason", Kind::Text),
            ("at", Kind::Text),
        ],
        "1",
    ),
    // The support console's (store/console.rs; migrations/postgres/0003_console.sql).
    (
        "staff",
        &[
            ("email", Kind::Text),
            ("password", Kind::Text),
            ("created", Kind::Text),
            ("failures", Kind::Int),
            ("locked_until", Kind::Text),
        ],
        "1",
    ),
    (
        "sessions",
        &[
            ("hash", Kind::Text),
            ("email", Kind::Text),
            ("csrf", Kind::Text),
            ("expires", Kind::Text),
            ("created", Kind::Text),
        ],
        "1",
    ),
    (
        "case_work",
        &[
            ("case_id", Kind::Int),
            ("status", Kind::Text),
            ("first_response_at", Kind::Text),
            ("first_response_by", Kind::Text),
        ],
        "1",
    ),
    (
        "case_events",
        &[
            ("id", Kind::Int),
            ("case_id", Kind::Int),
            ("kind", Kind::Text),
            ("staff", Kind::Text),
            ("text", Kind::Text),
            ("at", Kind::Text),
        ],
        "1",
    ),
    (
        "bundle_facts",
        &[
            ("case_id", Kind::Int),
            ("sha256", Kind::Text),
            ("worst", Kind::Small),
            ("agent_version", Kind::Text),
        ],
        "1",
    ),
    (
        "bundle_signatures",
        &[
            ("case_id", Kind::Int),
            ("sha256", Kind::Text),
            ("signature", Kind::Text),
            ("level", Kind::Text),
            ("count", Kind::Int),
        ],
        "1",
    ),
];

/// Tables whose `id` PostgreSQL numbers itself: their sequences continue after the copy.
const SERIALS: &[&str] = &["declared_bundles", "escalations", "case_events"];

/// The support console's tables (store/console.rs), counted in the summary.
const CONSOLE_TABLES: &[&str] = &[
    "staff",
    "sessions",
    "case_work",
    "case_events",
    "bundle_facts",
    "bundle_signatures",
];

fn convert(value: Value, kind: Kind) -> Box<dyn postgres::types::ToSql + Sync> {
    match (kind, value) {
        (Kind::Int, Value::Integer(n)) => Box::new(Some(n)),
        (Kind::Int, Value::Text(t)) => Box::new(t.parse::<i64>().ok()),
        (Kind::Int, _) => Box::new(None::<i64>),
        (Kind::Small, Value::Integer(n)) => Box::new(i16::try_from(n).ok()),
        (Kind::Small, _) => Box::new(None::<i16>),
        (Kind::Bool, Value::Integer(n)) => Box::new(Some(n != 0)),
        (Kind::Bool, _) => Box::new(None::<bool>),
        // A severity written as a number by an early version is text on PostgreSQL.
        (Kind::Text, Value::Integer(n)) => Box::new(Some(n.to_string())),
        (Kind::Text, Value::Real(r)) => Box::new(Some(r.to_string())),
        (Kind::Text, Value::Text(t)) => Box::new(Some(t)),
        (Kind::Text, Value::Blob(b)) => Box::new(Some(String::from_utf8_lossy(&b).into_owned())),
        (Kind::Text, Value::Null) => Box::new(None::<String>),
    }
}

/// Copies the store in `data` into `database` and the objects named by `args`.
pub fn run(data: &Path, database: &Database, args: &MigrateArgs) -> Result<Summary, MigrateError> {
    let source_path = data.join("intake.sqlite");
    if !source_path.is_file() {
        return Err(MigrateError::NoSource(data.to_path_buf()));
    }
    // Brings an older store's schema up to date first, as `serve` would.
    drop(Store::open(&source_path)?);
    let source = rusqlite::Connection::open_with_flags(
        &source_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let local = DataDir::existing(data);

    // The object store may need an async runtime (S3); everything else here blocks.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| MigrateError::Objects(e.to_string()))?;
    let _entered = runtime.enter();
    let objects: Option<Arc<dyn Objects>> = match &args.objects {
        None => None,
        Some(text) => Some(
            match ObjectsConfig::parse(text).map_err(MigrateError::Objects)? {
                ObjectsConfig::Folder(folder) => {
                    let shared = DataDir::create(&folder)
                        .map_err(|e| MigrateError::Objects(format!("{}: {e}", folder.display())))?;
                    Arc::new(LocalObjects::shared(shared, local.clone()))
                }
                ObjectsConfig::S3(config) => Arc::new(
                    S3Objects::new(&config, local.clone())
                        .map_err(|e| MigrateError::Objects(e.to_string()))?,
                ),
            },
        ),
    };

    let target = Postgres::connect(database)?;
    let mut client = target.raw_client()?;
    let existing: i64 = client
        .query_one("SELECT COUNT(*) FROM cases", &[])
        .map_err(StoreError::from)?
        .get(0);
    if existing > 0 {
        return Err(MigrateError::NotEmpty(existing));
    }

    let mut summary = Summary::default();
    // Bundles first: the database must never name one the objects lack.
    let mut bundles = source.prepare("SELECT case_id, sha256 FROM bundles ORDER BY case_id")?;
    let rows = bundles
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (case, sha256) in rows {
        let case = CaseId::from_row(case);
        if let Some(objects) = &objects {
            let from = local.bundle(case, &sha256);
            objects
                .put_bundle(case, &sha256, &from)
                .map_err(|e| MigrateError::Bundle(from, e))?;
        }
        summary.bundles += 1;
    }

    let mut tx = client.transaction().map_err(StoreError::from)?;
    for (table, columns, filter) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let select = format!(
            "SELECT {} FROM {table} WHERE {filter}",
            names
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", "),
            (1..=names.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let statement = tx.prepare(&insert).map_err(StoreError::from)?;
        let mut read = source.prepare(&select)?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns.len());
            for (index, (_, kind)) in columns.iter().enumerate() {
                values.push(convert(row.get::<_, Value>(index)?, *kind));
            }
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                values.iter().map(|v| v.as_ref()).collect();
            tx.execute(&statement, &params).map_err(StoreError::from)?;
            if *table == "cases" {
                summary.cases += 1;
            }
        }
    }
    for table in SERIALS {
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
            ),
            &[],
        )
        .map_err(StoreError::from)?;
    }
    tx.commit().map_err(StoreError::from)?;

    summary.unfinished_uploads = source.query_row(
        "SELECT COUNT(*) FROM uploads WHERE receipt_id IS NULL",
        [],
        |row| row.get::<_, i64>(0),
    )? as u64;
    for table in CONSOLE_TABLES {
        // A table an older store lacks counts as empty.
        if let Ok(count) = source.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.get::<_, i64>(0)
        }) {
            summary.console_rows += count as u64;
        }
    }
    Ok(summary)
}
