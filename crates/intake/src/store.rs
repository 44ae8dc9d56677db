//! SQLite storage for everything but the bytes of bundles.
//!
//! One connection behind a mutex: the intake writes little (a few rows per request), and a
//! single writer keeps "check then insert" sequences (idempotency keys, offsets) race-free
//! without retry loops. Callers on the async side run these methods on `spawn_blocking`.
//!
//! WAL with `synchronous=FULL` makes every committed transaction durable before the call
//! returns, so a response is only sent for state that survives a power cut.
//!
//! Timestamps are stored as RFC 3339 UTC text with a `Z` suffix (see [`timestamp`]), which
//! sorts and compares correctly as plain text.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::files;
use super::ids::{CaseId, UploadId};
use jcdiag_profile::sla::{Severity, Tier};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the intake database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create the intake database {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("intake database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL error: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("cannot use the database: {0}")]
    Config(String),
    #[error("{0} is not available yet")]
    Unsupported(&'static str),
    #[error("cannot store an upload's bytes: {0}")]
    Objects(std::io::Error),
    #[error("the intake database holds a value it cannot read back: {0}")]
    Corrupt(String),
    #[error("the database was written by a newer jcdiag-intake (schema {0}); upgrade this binary")]
    NewerSchema(i64),
    #[error("the idempotency key was already used for a different request ({0})")]
    IdempotencyConflict(String),
}

/// Formats a time the way it is stored and shown: `2026-05-01T12:00:00Z`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp `{text}`: {e}")))
}

/// Each step takes the database from `user_version` i to i + 1; [`SCHEMA_VERSION`] is their
/// count. A step runs inside the same `BEGIN IMMEDIATE` transaction that re-reads the version
/// (see [`migrate`]), so two processes opening one fresh folder cannot both run it; `IF NOT
/// EXISTS` is a second guard for databases that lost their version.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2, console::SCHEMA_V3];

const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS tokens (
    hash     TEXT PRIMARY KEY,          -- hex SHA-256 of the token; the token itself is never stored
    org      TEXT NOT NULL,
    case_id  INTEGER REFERENCES cases(id),
    expires  TEXT,                      -- NULL: never expires
    created  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cases (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    org          TEXT NOT NULL,
    case_json    TEXT NOT NULL,         -- the client's case.json as received
    tier         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    response_due TEXT,
    created      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    org     TEXT NOT NULL,
    key     TEXT NOT NULL,
    scope   TEXT NOT NULL,              -- 'case' or 'attachment:<case id>'
    case_id INTEGER NOT NULL REFERENCES cases(id),
    PRIMARY KEY (org, key)
);
CREATE TABLE IF NOT EXISTS declared_bundles (         -- bundles announced by POST /v1/cases or /attachments
    id       INTEGER PRIMARY KEY,
    case_id  INTEGER NOT NULL REFERENCES cases(id),
    sha256   TEXT NOT NULL,
    size     INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS uploads (
    id          TEXT PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES cases(id),
    length      INTEGER NOT NULL,
    offset      INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    filename    TEXT,
    expires     TEXT NOT NULL,
    created     TEXT NOT NULL,
    receipt_id  TEXT UNIQUE,            -- set together with received_at once the bundle is accepted
    received_at TEXT
);
CREATE TABLE IF NOT EXISTS bundles (
    case_id     INTEGER NOT NULL REFERENCES cases(id),
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (case_id, sha256)
);
CREATE TABLE IF NOT EXISTS escalations (
    id      INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    reason  TEXT NOT NULL,
    at      TEXT NOT NULL
);
";

/// Version 2: the org's tier is the intake's (`token create --tier`), and so is the response
/// target. `cases.tier` and `cases.response_due` keep what the client's case.json said.
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS orgs (
    org     TEXT PRIMARY KEY,
    tier    TEXT NOT NULL,               -- set by `token create --org ORG --tier TIER`
    updated TEXT NOT NULL
);
ALTER TABLE cases ADD COLUMN intake_tier TEXT;  -- the org's tier when the case arrived; NULL: none on record
ALTER TABLE cases ADD COLUMN intake_due TEXT;   -- the intake's response target (RFC 3339); NULL: none
";

/// A token as stored: who it belongs to and what it may touch.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub org: String,
    pub case_id: Option<CaseId>,
    pub expires: Option<DateTime<Utc>>,
}

/// A case as POST /v1/cases delivers it, already validated.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub org: String,
    pub case_json: String,
    /// The tier the client's case.json claims: kept as what the client said.
    pub tier: Tier,
    pub severity: Severity,
    /// The target the client's case.json claims: kept as what the client said.
    pub response_due: Option<String>,
    /// The org's tier on record when the case arrived.
    pub intake_tier: Option<Tier>,
    /// The intake's own target, from `intake_tier`, the severity and the receive time.
    pub intake_due: Option<String>,
}

/// A bundle the client says it is about to upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeclaredBundle {
    pub sha256: String,
    pub size: u64,
}

/// What POST /v1/cases and /attachments answer with.
#[derive(Debug, Clone)]
pub struct CaseHandle {
    pub case_id: CaseId,
    /// The intake's target, never the client's.
    pub response_due: Option<String>,
    /// False when an idempotency key matched an earlier request.
    pub created: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BundleRecord {
    pub sha256: String,
    pub size: u64,
    pub received_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EscalationRecord {
    pub reason: String,
    pub at: String,
}

/// One case with everything `case show` prints.
#[derive(Debug, Clone)]
pub struct CaseRecord {
    pub case_id: CaseId,
    pub org: String,
    pub case_json: String,
    /// What the client said its tier is.
    pub tier: Tier,
    pub severity: Severity,
    /// What the client said its target is.
    pub response_due: Option<String>,
    /// The org's tier on record when the case arrived (`None`: none was set).
    pub intake_tier: Option<Tier>,
    /// The intake's target: the one the queue is ordered by.
    pub intake_due: Option<String>,
    pub created: String,
    pub bundles: Vec<BundleRecord>,
    pub escalations: Vec<EscalationRecord>,
}

/// Proof that a bundle was accepted, as GET /v1/uploads/{id}/receipt returns it: the type the
/// client reads it with.
pub use jcdiag_protocol::Receipt;

#[derive(Debug, Clone)]
pub struct UploadRecord {
    pub id: UploadId,
    pub case_id: CaseId,
    pub length: u64,
    pub offset: u64,
    pub sha256: String,
    pub filename: Option<String>,
    pub expires: DateTime<Utc>,
    /// Set once the bundle passed every check and was moved into `bundles/`.
    pub receipt: Option<Receipt>,
}

impl UploadRecord {
    pub fn is_complete(&self) -> bool {
        self.receipt.is_some()
    }
}

pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, owner-only.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        // Create the file ourselves so it gets mode 0600; SQLite then gives its -wal and
        // -shm companions the same permissions.
        files::private_options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| StoreError::Create {
                path: path.to_path_buf(),
                source,
            })?;
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        set_wal(&conn)?;
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
        migrate(&conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll
        // back on drop), so a poisoned lock is still safe to use.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    // ----- tokens -----

    pub fn insert_token(
        &self,
        hash: &str,
        record: &TokenRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO tokens (hash, org, case_id, expires, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                hash,
                record.org,
                record.case_id.map(CaseId::row),
                record.expires.map(timestamp),
                timestamp(now)
            ],
        )?;
        Ok(())
    }

    pub fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT org, case_id, expires FROM tokens WHERE hash = ?1",
                [hash],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Option<i64>>(1)?,
                        row.get::<_, Option<String>>(2)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(org, case_id, expires)| {
            Ok(TokenRecord {
                org,
                case_id: case_id.map(CaseId::from_row),
                expires: expires.as_deref().map(parse_time).transpose()?,
            })
        })
        .transpose()
    }

    // ----- orgs -----

    /// Records `org`'s tier (`token create --tier`), replacing any earlier one.
    pub fn set_org_tier(
        &self,
        org: &str,
        tier: Tier,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO orgs (org, tier, updated) VALUES (?1, ?2, ?3)
             ON CONFLICT (org) DO UPDATE SET tier = excluded.tier, updated = excluded.updated",
            params![org, tier.id(), timestamp(now)],
        )?;
        Ok(())
    }

    /// The org's tier on record, if one was set.
    pub fn org_tier(&self, org: &str) -> Result<Option<Tier>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT tier FROM orgs WHERE org = ?1", [org], |row| {
                level(row, 0)
            })
            .optional()?)
    }

    // ----- cases -----

    /// Creates a case with its declared bundle, or returns the case an earlier request with
    /// the same (org, idempotency key) created. One transaction, under the connection lock,
    /// so two concurrent retries cannot both create a case.
    pub fn create_case(
        &self,
        idempotency_key: &str,
        case: &NewCase,
        bundle: &DeclaredBundle,
        now: DateTime<Utc>,
    ) -> Result<CaseHandle, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(case_id) = replayed(&tx, &case.org, idempotency_key, "case")? {
            let response_due = tx.query_row(
                "SELECT intake_due FROM cases WHERE id = ?1",
                [case_id.row()],
                |row| row.get::<_, Option<String>>(0),
            )?;
            return Ok(CaseHandle {
                case_id,
                response_due,
                created: false,
            });
        }
        let next: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM cases", [], |row| {
            row.get(0)
        })?;
        if next > CaseId::MAX {
            return Err(StoreError::Corrupt("all 8-digit case ids are used".into()));
        }
        tx.execute(
            "INSERT INTO cases (id, org, case_json, tier, severity, response_due, created,
                                intake_tier, intake_due)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                next,
                case.org,
                case.case_json,
                case.tier.id(),
                case.severity.to_string(),
                case.response_due,
                timestamp(now),
                case.intake_tier.map(Tier::id),
                case.intake_due
            ],
        )?;
        let case_id = CaseId::from_row(next);
        declare(&tx, case_id, bundle)?;
        tx.execute(
            "INSERT INTO idempotency (org, key, scope, case_id) VALUES (?1, ?2, 'case', ?3)",
            params![case.org, idempotency_key, next],
        )?;
        tx.commit()?;
        Ok(CaseHandle {
            case_id,
            response_due: case.intake_due.clone(),
            created: true,
        })
    }

    /// Declares one more bundle for an existing case (POST /v1/cases/{id}/attachments),
    /// idempotently like [`Store::create_case`].
    pub fn add_attachment(
        &self,
        org: &str,
        idempotency_key: &str,
        case_id: CaseId,
        bundle: &DeclaredBundle,
    ) -> Result<CaseHandle, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let scope = format!("attachment:{case_id}");
        let response_due = tx.query_row(
            "SELECT intake_due FROM cases WHERE id = ?1",
            [case_id.row()],
            |row| row.get::<_, Option<String>>(0),
        )?;
        if replayed(&tx, org, idempotency_key, &scope)?.is_some() {
            return Ok(CaseHandle {
                case_id,
                response_due,
                created: false,
            });
        }
        declare(&tx, case_id, bundle)?;
        tx.execute(
            "INSERT INTO idempotency (org, key, scope, case_id) VALUES (?1, ?2, ?3, ?4)",
            params![org, idempotency_key, scope, case_id.row()],
        )?;
        tx.commit()?;
        Ok(CaseHandle {
            case_id,
            response_due,
            created: true,
        })
    }

    /// The org a case belongs to, or `None` for an unknown case.
    pub fn case_org(&self, case_id: CaseId) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT org FROM cases WHERE id = ?1",
                [case_id.row()],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Declared bundles of a case that have not been received yet.
    pub fn pending_bundles(&self, case_id: CaseId) -> Result<Vec<DeclaredBundle>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT sha256, size FROM declared_bundles WHERE case_id = ?1 AND received = 0 ORDER BY id")?;
        let rows = stmt.query_map([case_id.row()], |row| {
            Ok(DeclaredBundle {
                sha256: row.get(0)?,
                size: row.get::<_, i64>(1)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn add_escalation(
        &self,
        case_id: CaseId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO escalations (case_id, reason, at) VALUES (?1, ?2, ?3)",
            params![case_id.row(), reason, timestamp(now)],
        )?;
        Ok(())
    }

    pub fn case(&self, case_id: CaseId) -> Result<Option<CaseRecord>, StoreError> {
        let conn = self.conn();
        let found = conn
            .query_row(
                "SELECT org, case_json, tier, severity, response_due, created, intake_tier, intake_due
                 FROM cases WHERE id = ?1",
                [case_id.row()],
                |row| {
                    Ok(CaseRecord {
                        case_id,
                        org: row.get(0)?,
                        case_json: row.get(1)?,
                        tier: level(row, 2)?,
                        severity: level(row, 3)?,
                        response_due: row.get(4)?,
                        created: row.get(5)?,
                        intake_tier: optional_level(row, 6)?,
                        intake_due: row.get(7)?,
                        bundles: Vec::new(),
                        escalations: Vec::new(),
                    })
                },
            )
            .optional()?;
        let Some(mut record) = found else {
            return Ok(None);
        };
        fill_children(&conn, &mut record)?;
        Ok(Some(record))
    }

    /// Every case, oldest first.
    pub fn cases(&self) -> Result<Vec<CaseRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id, org, case_json, tier, severity, response_due, created, intake_tier, intake_due FROM cases ORDER BY id")?;
        let mut records = stmt
            .query_map([], |row| {
                Ok(CaseRecord {
                    case_id: CaseId::from_row(row.get(0)?),
                    org: row.get(1)?,
                    case_json: row.get(2)?,
                    tier: level(row, 3)?,
                    severity: level(row, 4)?,
                    response_due: row.get(5)?,
                    created: row.get(6)?,
                    intake_tier: optional_level(row, 7)?,
                    intake_due: row.get(8)?,
                    bundles: Vec::new(),
                    escalations: Vec::new(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        for record in &mut records {
            fill_children(&conn, record)?;
        }
        Ok(records)
    }

    // ----- uploads -----

    pub fn upload(&self, id: &UploadId) -> Result<Option<UploadRecord>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT case_id, length, offset, sha256, filename, expires, receipt_id, received_at
                 FROM uploads WHERE id = ?1",
                [id.as_str()],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, Option<String>>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, Option<String>>(6)?,
                        row.get::<_, Option<String>>(7)?,
                    ))
                },
            )
            .optional()?;
        let Some((case_id, length, offset, sha256, filename, expires, receipt_id, received_at)) =
            row
        else {
            return Ok(None);
        };
        let case_id = CaseId::from_row(case_id);
        let receipt = match (receipt_id, received_at) {
            (Some(receipt_id), Some(received_at)) => Some(Receipt {
                receipt_id,
                case_id: case_id.to_string(),
                sha256: sha256.clone(),
                size: length as u64,
                received_at,
            }),
            _ => None,
        };
        Ok(Some(UploadRecord {
            id: id.clone(),
            case_id,
            length: length as u64,
            offset: offset as u64,
            sha256,
            filename,
            expires: parse_time(&expires)?,
            receipt,
        }))
    }

    /// Moves an upload's offset from `from` to `to`; false if the stored offset was not
    /// `from` any more (another PATCH won the race).
    pub fn advance_offset(&self, id: &UploadId, from: u64, to: u64) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE uploads SET offset = ?3 WHERE id = ?1 AND offset = ?2 AND receipt_id IS NULL",
            params![id.as_str(), from as i64, to as i64],
        )?;
        Ok(changed == 1)
    }

    /// Records an accepted bundle: the upload's receipt, the case's bundle list, and the
    /// matching declaration, all in one transaction.
    pub fn complete_upload(
        &self,
        upload: &UploadRecord,
        receipt: &Receipt,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE uploads SET receipt_id = ?2, received_at = ?3 WHERE id = ?1",
            params![upload.id.as_str(), receipt.receipt_id, receipt.received_at],
        )?;
        // The same bundle uploaded twice to one case is one bundle with two receipts.
        tx.execute(
            "INSERT OR IGNORE INTO bundles (case_id, sha256, size, received_at) VALUES (?1, ?2, ?3, ?4)",
            params![upload.case_id.row(), upload.sha256, upload.length as i64, receipt.received_at],
        )?;
        tx.execute(
            "UPDATE declared_bundles SET received = 1 WHERE id = (
                 SELECT id FROM declared_bundles
                 WHERE case_id = ?1 AND sha256 = ?2 AND received = 0 ORDER BY id LIMIT 1)",
            params![upload.case_id.row(), upload.sha256],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn delete_upload(&self, id: &UploadId) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM uploads WHERE id = ?1", [id.as_str()])?;
        Ok(())
    }

    /// Unfinished uploads whose expiry has passed.
    pub fn expired_uploads(&self, now: DateTime<Utc>) -> Result<Vec<UploadId>, StoreError> {
        self.upload_ids(
            "SELECT id FROM uploads WHERE receipt_id IS NULL AND expires < ?1",
            params![timestamp(now)],
        )
    }

    /// Uploads that have every byte but no receipt: the server stopped between the last
    /// PATCH and the end of the checks. They are finished at start-up.
    pub fn unfinished_full_uploads(&self) -> Result<Vec<UploadId>, StoreError> {
        self.upload_ids(
            "SELECT id FROM uploads WHERE receipt_id IS NULL AND offset = length",
            [],
        )
    }

    fn upload_ids(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<UploadId>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql)?;
        let ids = stmt
            .query_map(args, |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        ids.into_iter()
            .map(|id| {
                UploadId::parse(&id).ok_or_else(|| StoreError::Corrupt(format!("upload id `{id}`")))
            })
            .collect()
    }
}

/// Switches a connection to WAL. On a fresh file this needs the database to itself, and SQLite
/// answers "busy" at once rather than waiting when another process is doing the same, so
/// it is retried for as long as the busy timeout would have waited.
fn set_wal(conn: &Connection) -> Result<(), StoreError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        // journal_mode answers with a row, so it is queried rather than executed.
        match conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get::<_, String>(0)) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(StoreError::Corrupt(format!(
                    "SQLite refused WAL mode (got `{mode}`)"
                )));
            }
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Brings the schema up to [`SCHEMA_VERSION`]: the version is read and every missing step run
/// in one `BEGIN IMMEDIATE` transaction, which takes the write lock first (waiting up to the
/// busy timeout for another process's migration), so a migration happens once and whole.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema(version));
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    // Read again under the lock: another process may have migrated meanwhile.
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema(version));
    }
    for step in &MIGRATIONS[usize::try_from(version).unwrap_or(0)..] {
        tx.execute_batch(step)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    tx.commit()?;
    Ok(())
}

/// How long a statement waits for another connection's (or process's) write lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The case an earlier request with this key created, if any; an error if the key was
/// used for a different kind of request.
fn replayed(
    tx: &Connection,
    org: &str,
    key: &str,
    scope: &str,
) -> Result<Option<CaseId>, StoreError> {
    let found = tx
        .query_row(
            "SELECT scope, case_id FROM idempotency WHERE org = ?1 AND key = ?2",
            params![org, key],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)),
        )
        .optional()?;
    match found {
        None => Ok(None),
        Some((stored, case_id)) if stored == scope => Ok(Some(CaseId::from_row(case_id))),
        Some((stored, _)) => Err(StoreError::IdempotencyConflict(stored)),
    }
}

fn declare(tx: &Connection, case_id: CaseId, bundle: &DeclaredBundle) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO declared_bundles (case_id, sha256, size) VALUES (?1, ?2, ?3)",
        params![case_id.row(), bundle.sha256, bundle.size as i64],
    )?;
    Ok(())
}

fn fill_children(conn: &Connection, record: &mut CaseRecord) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT sha256, size, received_at FROM bundles WHERE case_id = ?1 ORDER BY received_at, sha256")?;
    record.bundles = stmt
        .query_map([record.case_id.row()], |row| {
            Ok(BundleRecord {
                sha256: row.get(0)?,
                size: row.get::<_, i64>(1)? as u64,
                received_at: row.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt =
        conn.prepare_cached("SELECT reason, at FROM escalations WHERE case_id = ?1 ORDER BY id")?;
    record.escalations = stmt
        .query_map([record.case_id.row()], |row| {
            Ok(EscalationRecord {
                reason: row.get(0)?,
                at: row.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// A tier or severity column. Stored as text; a number (severity `1` rather than `"1"`) is read
/// too, so rows written by earlier versions or by hand stay readable.
fn level<T: std::str::FromStr>(row: &rusqlite::Row, index: usize) -> rusqlite::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text = match row.get::<_, rusqlite::types::Value>(index)? {
        rusqlite::types::Value::Integer(n) => n.to_string(),
        rusqlite::types::Value::Text(text) => text,
        _ => String::new(),
    };
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A tier column that may be NULL.
fn optional_level<T: std::str::FromStr>(
    row: &rusqlite::Row,
    index: usize,
) -> rusqlite::Result<Option<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match row.get_ref(index)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => level(row, index).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_is_migrated_and_its_cases_have_no_intake_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("intake.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            conn.execute_batch(
                "INSERT INTO cases (id, org, case_json, tier, severity, response_due, created)
                 VALUES (1, 'acme', '{}', 'premium', '1', '1970-01-01T00:00:00Z', '2026-11-27T10:00:00Z');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let case = store.case(CaseId::from_row(1)).unwrap().unwrap();
        assert_eq!((case.intake_tier, case.intake_due), (None, None));
        assert_eq!(case.response_due.as_deref(), Some("1970-01-01T00:00:00Z"));
        // Opening again finds the schema current and changes nothing.
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.org_tier("acme").unwrap(), None);
        store
            .set_org_tier("acme", Tier::Standard, Utc::now())
            .unwrap();
        store
            .set_org_tier("acme", Tier::Premium, Utc::now())
            .unwrap();
        assert_eq!(store.org_tier("acme").unwrap(), Some(Tier::Premium));
    }

    #[test]
    fn cases_stored_with_a_text_or_number_severity_read_as_one_type() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("intake.sqlite")).unwrap();
        // As earlier versions wrote them: any case of tier name, severity as text or number.
        store
            .conn()
            .execute_batch(
                "INSERT INTO cases (id, org, case_json, tier, severity, response_due, created)
                 VALUES (1, 'acme', '{}', 'Premium', '1', NULL, '2026-11-27T10:00:00Z'),
                        (2, 'acme', '{}', 'standard', 2, NULL, '2026-11-27T11:00:00Z');",
            )
            .unwrap();
        let cases = store.cases().unwrap();
        let read: Vec<_> = cases.iter().map(|c| (c.tier, c.severity.get())).collect();
        assert_eq!(read, [(Tier::Premium, 1), (Tier::Standard, 2)]);
    }
}

/// What a case or an org holds on disk, for the quotas (`state::Guards`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bundles kept.
    pub bundles: u64,
    /// Uploads not finished yet.
    pub open_uploads: u64,
    /// Bytes of the bundles kept plus the declared length of every unfinished upload.
    pub bytes: u64,
}

impl Store {
    /// Records a new upload if `check` accepts the case's and the org's usage, both read in
    /// the same write transaction, so concurrent creations cannot pass a quota together.
    pub fn insert_upload_checked<E>(
        &self,
        upload: &UploadRecord,
        now: DateTime<Utc>,
        check: impl FnOnce(&Usage, &Usage) -> Result<(), E>,
    ) -> Result<Result<(), E>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let case = usage(&tx, "c.id = ?1", upload.case_id.row())?;
        let org = usage(
            &tx,
            "c.org = (SELECT org FROM cases WHERE id = ?1)",
            upload.case_id.row(),
        )?;
        if let Err(refusal) = check(&case, &org) {
            return Ok(Err(refusal));
        }
        tx.execute(
            "INSERT INTO uploads (id, case_id, length, offset, sha256, filename, expires, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                upload.id.as_str(),
                upload.case_id.row(),
                upload.length as i64,
                upload.offset as i64,
                upload.sha256,
                upload.filename,
                timestamp(upload.expires),
                timestamp(now)
            ],
        )?;
        tx.commit()?;
        Ok(Ok(()))
    }
}

/// Usage of the cases matching `cases` (an SQL condition on `c`, with `?1` bound to `arg`).
fn usage(tx: &Connection, cases: &str, arg: i64) -> Result<Usage, StoreError> {
    let (bundles, bundle_bytes): (i64, i64) = tx.query_row(
        &format!(
            "SELECT COUNT(*), COALESCE(SUM(b.size), 0) FROM bundles b
             JOIN cases c ON c.id = b.case_id WHERE {cases}"
        ),
        [arg],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let (open_uploads, open_bytes): (i64, i64) = tx.query_row(
        &format!(
            "SELECT COUNT(*), COALESCE(SUM(u.length), 0) FROM uploads u
             JOIN cases c ON c.id = u.case_id WHERE u.receipt_id IS NULL AND {cases}"
        ),
        [arg],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(Usage {
        bundles: bundles as u64,
        open_uploads: open_uploads as u64,
        bytes: (bundle_bytes + open_bytes) as u64,
    })
}

/// The support console's tables and queries (schema version 3).
pub mod console;
