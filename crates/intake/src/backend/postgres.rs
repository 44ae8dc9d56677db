//! PostgreSQL metadata (`serve --database postgres://USER@HOST:PORT/DB`), for several
//! replicas sharing one database.
//!
//! The password never comes from the command line: a URL carrying one is refused, and it is
//! read from `JCDIAG_INTAKE_DATABASE_PASSWORD` (or libpq's `PGPASSWORD`) instead.
//!
//! Uniqueness across replicas: case numbers are `MAX(id) + 1` taken under a transaction-scoped
//! advisory lock ([`CASES_LOCK`]), which also covers the idempotency check, so two replicas
//! cannot hand out one number or create two cases for one key; upload quotas are checked and
//! the upload inserted under [`QUOTA_LOCK`]; offsets move by a conditional `UPDATE`.
//!
//! The support console's tables (staff, sessions, work on cases, bundle facts) are here too
//! (migrations/postgres/0003_console.sql), so any replica serves the console.

use std::sync::{Condvar, Mutex};

use chrono::{DateTime, Utc};
use postgres::{Client, NoTls, Transaction};

use super::{ChunkCommit, Metadata};
use crate::ids::{CaseId, UploadId};
use crate::store::console::{
    BundleFacts, CaseEvent, CaseStatus, CaseWork, FLEET_LINKS, FleetSignature, FleetVersion,
    QueueFilter, QueueRow, SessionRecord, StaffLogin, StaffRecord,
};
use crate::store::{
    BundleRecord, CaseHandle, CaseRecord, DeclaredBundle, EscalationRecord, NewCase, Receipt,
    StoreError, TokenRecord, UploadRecord, Usage, timestamp,
};
use jcdiag_profile::sla::Tier;

/// The schema steps, in order; `schema_version` holds how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_init.sql"),
    include_str!("../../migrations/postgres/0002_auth_failures.sql"),
    include_str!("../../migrations/postgres/0003_console.sql"),
];

/// Advisory lock keys (`pg_advisory_xact_lock`): arbitrary, fixed, ours.
const MIGRATE_LOCK: i64 = 0x6a63_6469_0001;
const CASES_LOCK: i64 = 0x6a63_6469_0002;
const QUOTA_LOCK: i64 = 0x6a63_6469_0003;

/// Connections one replica keeps open at most for short statements (every request's token
/// lookup, offsets, cases).
const POOL_SIZE: usize = 8;
/// And for chunk commits, which hold their upload's row lock while the chunk is written to
/// the object store (seconds for a part sent to S3 on a busy machine). Apart from the
/// others so that those waits never hold up the short statements: with one shared pool, at
/// 1,000 concurrent uploads over two replicas (benches/replicas.sh) a request waited 3 s for
/// a connection at the median and 87 s at worst, past jcdiag's delivery deadline. The count
/// also bounds the chunks being written to the object store at once per replica.
const COMMIT_POOL_SIZE: usize = 8;

/// The environment variables the password is read from, first found wins.
pub const PASSWORD_ENV: [&str; 2] = ["JCDIAG_INTAKE_DATABASE_PASSWORD", "PGPASSWORD"];

/// Where the database is: the URL (`--database`) and the password from the environment.
#[derive(Clone)]
pub struct Database {
    pub url: String,
    pub password: Option<String>,
}

impl Database {
    /// `url`, with the password from [`PASSWORD_ENV`] if one is set.
    pub fn from_env(url: String) -> Self {
        let password = PASSWORD_ENV
            .iter()
            .find_map(|name| std::env::var(name).ok());
        Database { url, password }
    }
}

/// Never prints the password.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

pub struct Postgres {
    config: postgres::Config,
    /// Short statements.
    short: Pool,
    /// [`Metadata::commit_chunk`]'s transactions (see [`COMMIT_POOL_SIZE`]).
    commits: Pool,
}

struct Pool {
    idle: Mutex<Idle>,
    returned: Condvar,
    size: usize,
}

struct Idle {
    clients: Vec<Client>,
    open: usize,
}

impl Pool {
    fn new(size: usize) -> Pool {
        Pool {
            idle: Mutex::new(Idle {
                clients: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
            size,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection, a new one while there are fewer than `size`, else the next
    /// one put back.
    fn lease<'a>(&'a self, config: &postgres::Config) -> Result<Lease<'a>, StoreError> {
        let mut idle = self.lock();
        loop {
            if let Some(client) = idle.clients.pop() {
                return Ok(Lease {
                    pool: self,
                    client: Some(client),
                });
            }
            if idle.open < self.size {
                idle.open += 1;
                drop(idle);
                return match config.connect(NoTls) {
                    Ok(client) => Ok(Lease {
                        pool: self,
                        client: Some(client),
                    }),
                    Err(error) => {
                        self.lock().open -= 1;
                        Err(error.into())
                    }
                };
            }
            idle = self.returned.wait(idle).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Hands the idle connections to a thread of their own to close (see `Drop for Postgres`).
    fn close_idle(&self) {
        let clients = std::mem::take(&mut self.lock().clients);
        if !clients.is_empty() {
            let _ = std::thread::Builder::new()
                .name("postgres-close".into())
                .spawn(move || drop(clients));
        }
    }
}

/// A connection taken from a pool, put back on drop (unless it broke).
struct Lease<'a> {
    pool: &'a Pool,
    client: Option<Client>,
}

impl std::ops::Deref for Lease<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().unwrap_or_else(|| unreachable!())
    }
}
impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut pool = self.pool.lock();
        match self.client.take() {
            Some(client) if !client.is_closed() => pool.clients.push(client),
            _ => pool.open -= 1,
        }
        self.pool.returned.notify_one();
    }
}

impl Postgres {
    /// Connects to `url` (no password in it), brings the schema up to date and keeps the
    /// connection for the pool.
    pub fn connect(database: &Database) -> Result<Self, StoreError> {
        let mut config: postgres::Config = database
            .url
            .parse()
            .map_err(|e| StoreError::Config(format!("the database URL: {e}")))?;
        if config.get_password().is_some() {
            return Err(StoreError::Config(format!(
                "the database URL carries a password; remove it and set {} instead (a command line is visible to every user of the machine)",
                PASSWORD_ENV[0]
            )));
        }
        if let Some(password) = &database.password {
            config.password(password);
        }
        let store = Postgres {
            config,
            short: Pool::new(POOL_SIZE),
            commits: Pool::new(COMMIT_POOL_SIZE),
        };
        let mut client = store.client()?;
        migrate(&mut client)?;
        drop(client);
        Ok(store)
    }

    /// A connection of the pool for `migrate`'s bulk copy.
    pub(crate) fn raw_client(
        &self,
    ) -> Result<impl std::ops::DerefMut<Target = Client> + '_, StoreError> {
        self.client()
    }

    fn client(&self) -> Result<Lease<'_>, StoreError> {
        self.short.lease(&self.config)
    }
}

/// A `postgres::Client` blocks on its own runtime when dropped, which tokio forbids on an
/// async worker, where the last `AppState` may well be dropped at shutdown: the idle
/// connections are closed on a thread of their own.
impl Drop for Postgres {
    fn drop(&mut self) {
        self.short.close_idle();
        self.commits.close_idle();
    }
}

fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    // Two replicas starting on a fresh database: one migrates, the other waits here.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let version: i64 = tx
        .query_opt("SELECT version FROM schema_version", &[])?
        .map(|row| row.get(0))
        .unwrap_or(0);
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::NewerSchema(version));
    }
    for step in &MIGRATIONS[usize::try_from(version).unwrap_or(0)..] {
        tx.batch_execute(step)?;
    }
    tx.execute("DELETE FROM schema_version", &[])?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES ($1)",
        &[&known],
    )?;
    tx.commit()?;
    Ok(())
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp `{text}`: {e}")))
}

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("{what} `{text}`: {e}")))
}

fn upload_id(text: String) -> Result<UploadId, StoreError> {
    UploadId::parse(&text).ok_or_else(|| StoreError::Corrupt(format!("upload id `{text}`")))
}

fn replayed(
    tx: &mut Transaction,
    org: &str,
    key: &str,
    scope: &str,
) -> Result<Option<CaseId>, StoreError> {
    let found = tx.query_opt(
        "SELECT scope, case_id FROM idempotency WHERE org = $1 AND key = $2",
        &[&org, &key],
    )?;
    match found {
        None => Ok(None),
        Some(row) if row.get::<_, String>(0) == scope => {
            Ok(Some(CaseId::from_row(row.get::<_, i64>(1))))
        }
        Some(row) => Err(StoreError::IdempotencyConflict(row.get(0))),
    }
}

fn declare(
    tx: &mut Transaction,
    case_id: CaseId,
    bundle: &DeclaredBundle,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO declared_bundles (case_id, sha256, size) VALUES ($1, $2, $3)",
        &[&case_id.row(), &bundle.sha256, &(bundle.size as i64)],
    )?;
    Ok(())
}

fn case_from_row(row: &postgres::Row) -> Result<CaseRecord, StoreError> {
    Ok(CaseRecord {
        case_id: CaseId::from_row(row.get(0)),
        org: row.get(1),
        case_json: row.get(2),
        tier: parse(&row.get::<_, String>(3), "tier")?,
        severity: parse(&row.get::<_, String>(4), "severity")?,
        response_due: row.get(5),
        created: row.get(6),
        intake_tier: row
            .get::<_, Option<String>>(7)
            .map(|t| parse(&t, "tier"))
            .transpose()?,
        intake_due: row.get(8),
        bundles: Vec::new(),
        escalations: Vec::new(),
    })
}

const CASE_COLUMNS: &str =
    "id, org, case_json, tier, severity, response_due, created, intake_tier, intake_due";

fn fill_children(client: &mut Client, record: &mut CaseRecord) -> Result<(), StoreError> {
    let id = record.case_id.row();
    record.bundles = client
        .query(
            "SELECT sha256, size, received_at FROM bundles WHERE case_id = $1 ORDER BY received_at, sha256",
            &[&id],
        )?
        .iter()
        .map(|row| BundleRecord {
            sha256: row.get(0),
            size: row.get::<_, i64>(1) as u64,
            received_at: row.get(2),
        })
        .collect();
    record.escalations = client
        .query(
            "SELECT reason, at FROM escalations WHERE case_id = $1 ORDER BY id",
            &[&id],
        )?
        .iter()
        .map(|row| EscalationRecord {
            reason: row.get(0),
            at: row.get(1),
        })
        .collect();
    Ok(())
}

/// Usage of the cases matching `cases` (a condition on `c`, `$1` bound to `arg`).
fn usage(tx: &mut Transaction, cases: &str, arg: i64) -> Result<Usage, StoreError> {
    let kept = tx.query_one(
        &format!(
            "SELECT COUNT(*), COALESCE(SUM(b.size), 0)::BIGINT FROM bundles b
             JOIN cases c ON c.id = b.case_id WHERE {cases}"
        ),
        &[&arg],
    )?;
    let open = tx.query_one(
        &format!(
            "SELECT COUNT(*), COALESCE(SUM(u.length), 0)::BIGINT FROM uploads u
             JOIN cases c ON c.id = u.case_id WHERE u.receipt_id IS NULL AND {cases}"
        ),
        &[&arg],
    )?;
    Ok(Usage {
        bundles: kept.get::<_, i64>(0) as u64,
        open_uploads: open.get::<_, i64>(0) as u64,
        bytes: (kept.get::<_, i64>(1) + open.get::<_, i64>(1)) as u64,
    })
}

impl Metadata for Postgres {
    fn insert_token(
        &self,
        hash: &str,
        record: &TokenRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.client()?.execute(
            "INSERT INTO tokens (hash, org, case_id, expires, created) VALUES ($1, $2, $3, $4, $5)",
            &[
                &hash,
                &record.org,
                &record.case_id.map(CaseId::row),
                &record.expires.map(timestamp),
                &timestamp(now),
            ],
        )?;
        Ok(())
    }

    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = self.client()?.query_opt(
            "SELECT org, case_id, expires FROM tokens WHERE hash = $1",
            &[&hash],
        )?;
        row.map(|row| {
            Ok(TokenRecord {
                org: row.get(0),
                case_id: row.get::<_, Option<i64>>(1).map(CaseId::from_row),
                expires: row
                    .get::<_, Option<String>>(2)
                    .as_deref()
                    .map(parse_time)
                    .transpose()?,
            })
        })
        .transpose()
    }

    fn set_org_tier(&self, org: &str, tier: Tier, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.client()?.execute(
            "INSERT INTO orgs (org, tier, updated) VALUES ($1, $2, $3)
             ON CONFLICT (org) DO UPDATE SET tier = excluded.tier, updated = excluded.updated",
            &[&org, &tier.id(), &timestamp(now)],
        )?;
        Ok(())
    }

    fn org_tier(&self, org: &str) -> Result<Option<Tier>, StoreError> {
        self.client()?
            .query_opt("SELECT tier FROM orgs WHERE org = $1", &[&org])?
            .map(|row| parse(&row.get::<_, String>(0), "tier"))
            .transpose()
    }

    fn create_case(
        &self,
        idempotency_key: &str,
        case: &NewCase,
        bundle: &DeclaredBundle,
        now: DateTime<Utc>,
    ) -> Result<CaseHandle, StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CASES_LOCK])?;
        if let Some(case_id) = replayed(&mut tx, &case.org, idempotency_key, "case")? {
            let row = tx.query_one(
                "SELECT intake_due FROM cases WHERE id = $1",
                &[&case_id.row()],
            )?;
            return Ok(CaseHandle {
                case_id,
                response_due: row.get(0),
                created: false,
            });
        }
        let next: i64 = tx
            .query_one("SELECT COALESCE(MAX(id), 0) + 1 FROM cases", &[])?
            .get(0);
        if next > CaseId::MAX {
            return Err(StoreError::Corrupt("all 8-digit case ids are used".into()));
        }
        tx.execute(
            "INSERT INTO cases (id, org, case_json, tier, severity, response_due, created,
                                intake_tier, intake_due)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &next,
                &case.org,
                &case.case_json,
                &case.tier.id(),
                &case.severity.to_string(),
                &case.response_due,
                &timestamp(now),
                &case.intake_tier.map(Tier::id),
                &case.intake_due,
            ],
        )?;
        let case_id = CaseId::from_row(next);
        declare(&mut tx, case_id, bundle)?;
        tx.execute(
            "INSERT INTO idempotency (org, key, scope, case_id) VALUES ($1, $2, 'case', $3)",
            &[&case.org, &idempotency_key, &next],
        )?;
        tx.commit()?;
        Ok(CaseHandle {
            case_id,
            response_due: case.intake_due.clone(),
            created: true,
        })
    }

    fn add_attachment(
        &self,
        org: &str,
        idempotency_key: &str,
        case_id: CaseId,
        bundle: &DeclaredBundle,
    ) -> Result<CaseHandle, StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CASES_LOCK])?;
        let scope = format!("attachment:{case_id}");
        let response_due: Option<String> = tx
            .query_one(
                "SELECT intake_due FROM cases WHERE id = $1",
                &[&case_id.row()],
            )?
            .get(0);
        if replayed(&mut tx, org, idempotency_key, &scope)?.is_some() {
            return Ok(CaseHandle {
                case_id,
                response_due,
                created: false,
            });
        }
        declare(&mut tx, case_id, bundle)?;
        tx.execute(
            "INSERT INTO idempotency (org, key, scope, case_id) VALUES ($1, $2, $3, $4)",
            &[&org, &idempotency_key, &scope, &case_id.row()],
        )?;
        tx.commit()?;
        Ok(CaseHandle {
            case_id,
            response_due,
            created: true,
        })
    }

    fn case_org(&self, case_id: CaseId) -> Result<Option<String>, StoreError> {
        Ok(self
            .client()?
            .query_opt("SELECT org FROM cases WHERE id = $1", &[&case_id.row()])?
            .map(|row| row.get(0)))
    }

    fn pending_bundles(&self, case_id: CaseId) -> Result<Vec<DeclaredBundle>, StoreError> {
        Ok(self
            .client()?
            .query(
                "SELECT sha256, size FROM declared_bundles WHERE case_id = $1 AND NOT received ORDER BY id",
                &[&case_id.row()],
            )?
            .iter()
            .map(|row| DeclaredBundle {
                sha256: row.get(0),
                size: row.get::<_, i64>(1) as u64,
            })
            .collect())
    }

    fn add_escalation(
        &self,
        case_id: CaseId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.client()?.execute(
            "INSERT INTO escalations (case_id, reason, at) VALUES ($1, $2, $3)",
            &[&case_id.row(), &reason, &timestamp(now)],
        )?;
        Ok(())
    }

    fn case(&self, case_id: CaseId) -> Result<Option<CaseRecord>, StoreError> {
        let mut client = self.client()?;
        let Some(row) = client.query_opt(
            &format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1"),
            &[&case_id.row()],
        )?
        else {
            return Ok(None);
        };
        let mut record = case_from_row(&row)?;
        fill_children(&mut client, &mut record)?;
        Ok(Some(record))
    }

    fn cases(&self) -> Result<Vec<CaseRecord>, StoreError> {
        let mut client = self.client()?;
        let rows = client.query(
            &format!("SELECT {CASE_COLUMNS} FROM cases ORDER BY id"),
            &[],
        )?;
        let mut records = rows
            .iter()
            .map(case_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        for record in &mut records {
            fill_children(&mut client, record)?;
        }
        Ok(records)
    }

    fn upload(&self, id: &UploadId) -> Result<Option<UploadRecord>, StoreError> {
        let Some(row) = self.client()?.query_opt(
            "SELECT case_id, length, \"offset\", sha256, filename, expires, receipt_id, received_at
             FROM uploads WHERE id = $1",
            &[&id.as_str()],
        )?
        else {
            return Ok(None);
        };
        let case_id = CaseId::from_row(row.get(0));
        let length = row.get::<_, i64>(1) as u64;
        let sha256: String = row.get(3);
        let receipt = match (
            row.get::<_, Option<String>>(6),
            row.get::<_, Option<String>>(7),
        ) {
            (Some(receipt_id), Some(received_at)) => Some(Receipt {
                receipt_id,
                case_id: case_id.to_string(),
                sha256: sha256.clone(),
                size: length,
                received_at,
            }),
            _ => None,
        };
        Ok(Some(UploadRecord {
            id: id.clone(),
            case_id,
            length,
            offset: row.get::<_, i64>(2) as u64,
            sha256,
            filename: row.get(4),
            expires: parse_time(&row.get::<_, String>(5))?,
            receipt,
        }))
    }

    fn insert_upload(
        &self,
        upload: &UploadRecord,
        now: DateTime<Utc>,
        admit: &mut dyn FnMut(&Usage, &Usage) -> bool,
    ) -> Result<bool, StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        // Every replica checks quotas under this one lock, so two uploads created at once
        // on two replicas cannot both pass a quota that has room for one.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&QUOTA_LOCK])?;
        let case = usage(&mut tx, "c.id = $1", upload.case_id.row())?;
        let org = usage(
            &mut tx,
            "c.org = (SELECT org FROM cases WHERE id = $1)",
            upload.case_id.row(),
        )?;
        if !admit(&case, &org) {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO uploads (id, case_id, length, \"offset\", sha256, filename, expires, created)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &upload.id.as_str(),
                &upload.case_id.row(),
                &(upload.length as i64),
                &(upload.offset as i64),
                &upload.sha256,
                &upload.filename,
                &timestamp(upload.expires),
                &timestamp(now),
            ],
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn advance_offset(&self, id: &UploadId, from: u64, to: u64) -> Result<bool, StoreError> {
        let changed = self.client()?.execute(
            "UPDATE uploads SET \"offset\" = $3 WHERE id = $1 AND \"offset\" = $2 AND receipt_id IS NULL",
            &[&id.as_str(), &(from as i64), &(to as i64)],
        )?;
        Ok(changed == 1)
    }

    fn commit_chunk(
        &self,
        id: &UploadId,
        from: u64,
        to: u64,
        write: &mut dyn FnMut() -> std::io::Result<()>,
    ) -> Result<ChunkCommit, StoreError> {
        let mut client = self.commits.lease(&self.config)?;
        let mut tx = client.transaction()?;
        // The row lock keeps every other replica's commit to this upload waiting until
        // this one's bytes are written and its offset moved.
        let Some(row) = tx.query_opt(
            "SELECT \"offset\", receipt_id IS NOT NULL FROM uploads WHERE id = $1 FOR UPDATE",
            &[&id.as_str()],
        )?
        else {
            return Ok(ChunkCommit::Gone);
        };
        let (offset, complete) = (row.get::<_, i64>(0) as u64, row.get::<_, bool>(1));
        if offset != from || complete {
            return Ok(ChunkCommit::Moved(offset));
        }
        write().map_err(StoreError::Objects)?;
        tx.execute(
            "UPDATE uploads SET \"offset\" = $2 WHERE id = $1",
            &[&id.as_str(), &(to as i64)],
        )?;
        tx.commit()?;
        Ok(ChunkCommit::Committed)
    }

    fn complete_upload(&self, upload: &UploadRecord, receipt: &Receipt) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        let first = tx.execute(
            "UPDATE uploads SET receipt_id = $2, received_at = $3 WHERE id = $1 AND receipt_id IS NULL",
            &[&upload.id.as_str(), &receipt.receipt_id, &receipt.received_at],
        )?;
        if first == 0 {
            // Another replica finished this upload first; its receipt stands.
            return Ok(());
        }
        tx.execute(
            "INSERT INTO bundles (case_id, sha256, size, received_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[
                &upload.case_id.row(),
                &upload.sha256,
                &(upload.length as i64),
                &receipt.received_at,
            ],
        )?;
        tx.execute(
            "UPDATE declared_bundles SET received = TRUE WHERE id = (
                 SELECT id FROM declared_bundles
                 WHERE case_id = $1 AND sha256 = $2 AND NOT received ORDER BY id LIMIT 1)",
            &[&upload.case_id.row(), &upload.sha256],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn delete_upload(&self, id: &UploadId) -> Result<(), StoreError> {
        self.client()?
            .execute("DELETE FROM uploads WHERE id = $1", &[&id.as_str()])?;
        Ok(())
    }

    fn expired_uploads(&self, now: DateTime<Utc>) -> Result<Vec<UploadId>, StoreError> {
        self.client()?
            .query(
                "SELECT id FROM uploads WHERE receipt_id IS NULL AND expires < $1",
                &[&timestamp(now)],
            )?
            .into_iter()
            .map(|row| upload_id(row.get(0)))
            .collect()
    }

    fn unfinished_full_uploads(&self) -> Result<Vec<UploadId>, StoreError> {
        self.client()?
            .query(
                "SELECT id FROM uploads WHERE receipt_id IS NULL AND \"offset\" = length",
                &[],
            )?
            .into_iter()
            .map(|row| upload_id(row.get(0)))
            .collect()
    }

    fn count_auth_failure(
        &self,
        key: &str,
        window: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<u32>, StoreError> {
        let window_start = now - chrono::Duration::from_std(window).unwrap_or_default();
        // One statement: replicas counting the same address at once cannot lose a count.
        let row = self.client()?.query_one(
            "INSERT INTO auth_failures (key, since, count) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
                 count = CASE WHEN auth_failures.since <= $3 THEN 1 ELSE auth_failures.count + 1 END,
                 since = CASE WHEN auth_failures.since <= $3 THEN $2 ELSE auth_failures.since END
             RETURNING count",
            &[&key, &timestamp(now), &timestamp(window_start)],
        )?;
        Ok(Some(
            u32::try_from(row.get::<_, i64>(0)).unwrap_or(u32::MAX),
        ))
    }

    fn auth_failures(&self, key: &str) -> Result<Option<Option<(DateTime<Utc>, u32)>>, StoreError> {
        let row = self.client()?.query_opt(
            "SELECT since, count FROM auth_failures WHERE key = $1",
            &[&key],
        )?;
        let found = row
            .map(|row| {
                Ok::<_, StoreError>((
                    parse_time(&row.get::<_, String>(0))?,
                    u32::try_from(row.get::<_, i64>(1)).unwrap_or(u32::MAX),
                ))
            })
            .transpose()?;
        Ok(Some(found))
    }

    fn put_staff(
        &self,
        email: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // `xmax = 0` only on a row this statement inserted (not one it updated).
        let row = self.client()?.query_one(
            "INSERT INTO staff (email, password, created) VALUES ($1, $2, $3)
             ON CONFLICT (email) DO UPDATE SET password = excluded.password, failures = 0, locked_until = NULL
             RETURNING (xmax = 0)",
            &[&email, &password_hash, &timestamp(now)],
        )?;
        Ok(row.get(0))
    }

    fn remove_staff(&self, email: &str) -> Result<bool, StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        tx.execute("DELETE FROM sessions WHERE email = $1", &[&email])?;
        let removed = tx.execute("DELETE FROM staff WHERE email = $1", &[&email])?;
        tx.commit()?;
        Ok(removed == 1)
    }

    fn staff(&self) -> Result<Vec<StaffRecord>, StoreError> {
        Ok(self
            .client()?
            .query("SELECT email, created FROM staff ORDER BY email", &[])?
            .iter()
            .map(|row| StaffRecord {
                email: row.get(0),
                created: row.get(1),
            })
            .collect())
    }

    fn staff_login(&self, email: &str) -> Result<Option<StaffLogin>, StoreError> {
        let row = self.client()?.query_opt(
            "SELECT password, failures, locked_until FROM staff WHERE email = $1",
            &[&email],
        )?;
        row.map(|row| {
            Ok(StaffLogin {
                password_hash: row.get(0),
                failures: u32::try_from(row.get::<_, i64>(1)).unwrap_or(u32::MAX),
                locked_until: row
                    .get::<_, Option<String>>(2)
                    .as_deref()
                    .map(parse_time)
                    .transpose()?,
            })
        })
        .transpose()
    }

    fn staff_login_failed(
        &self,
        email: &str,
        lock_until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let mut client = self.client()?;
        match lock_until {
            // A lock starts a new count: after it ends, the next failures count from zero.
            Some(until) => client.execute(
                "UPDATE staff SET failures = 0, locked_until = $2 WHERE email = $1",
                &[&email, &timestamp(until)],
            )?,
            // One statement: failures counted on two replicas at once both count.
            None => client.execute(
                "UPDATE staff SET failures = failures + 1 WHERE email = $1",
                &[&email],
            )?,
        };
        Ok(())
    }

    fn insert_session(
        &self,
        hash: &str,
        email: &str,
        csrf: &str,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        tx.execute(
            "UPDATE staff SET failures = 0, locked_until = NULL WHERE email = $1",
            &[&email],
        )?;
        // Expired sessions go whenever someone logs in.
        tx.execute(
            "DELETE FROM sessions WHERE expires <= $1",
            &[&timestamp(now)],
        )?;
        tx.execute(
            "INSERT INTO sessions (hash, email, csrf, expires, created) VALUES ($1, $2, $3, $4, $5)",
            &[&hash, &email, &csrf, &timestamp(expires), &timestamp(now)],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn session(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .client()?
            .query_opt(
                "SELECT s.email, s.csrf FROM sessions s JOIN staff st ON st.email = s.email
                 WHERE s.hash = $1 AND s.expires > $2",
                &[&hash, &timestamp(now)],
            )?
            .map(|row| SessionRecord {
                email: row.get(0),
                csrf: row.get(1),
            }))
    }

    fn delete_session(&self, hash: &str) -> Result<(), StoreError> {
        self.client()?
            .execute("DELETE FROM sessions WHERE hash = $1", &[&hash])?;
        Ok(())
    }

    fn case_work(&self, case_id: CaseId) -> Result<CaseWork, StoreError> {
        let row = self.client()?.query_opt(
            "SELECT status, first_response_at, first_response_by FROM case_work WHERE case_id = $1",
            &[&case_id.row()],
        )?;
        let Some(row) = row else {
            return Ok(CaseWork {
                status: CaseStatus::Open,
                first_response: None,
            });
        };
        let at: Option<String> = row.get(1);
        let by: Option<String> = row.get(2);
        Ok(CaseWork {
            status: status_of(&row.get::<_, String>(0))?,
            first_response: at.zip(by),
        })
    }

    fn set_case_status(
        &self,
        case_id: CaseId,
        status: CaseStatus,
        staff: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        tx.execute(
            "INSERT INTO case_work (case_id, status) VALUES ($1, $2)
             ON CONFLICT (case_id) DO UPDATE SET status = excluded.status",
            &[&case_id.row(), &status.id()],
        )?;
        add_event(&mut tx, case_id, "status", staff, status.label(), now)?;
        tx.commit()?;
        Ok(())
    }

    fn record_first_response(
        &self,
        case_id: CaseId,
        staff: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        tx.execute(
            "INSERT INTO case_work (case_id, status) VALUES ($1, 'open') ON CONFLICT (case_id) DO NOTHING",
            &[&case_id.row()],
        )?;
        // Conditional: of two engineers answering at once on two replicas, one is first.
        let changed = tx.execute(
            "UPDATE case_work SET first_response_at = $2, first_response_by = $3
             WHERE case_id = $1 AND first_response_at IS NULL",
            &[&case_id.row(), &timestamp(now), &staff],
        )?;
        if changed == 1 {
            add_event(&mut tx, case_id, "first_response", staff, text, now)?;
        }
        tx.commit()?;
        Ok(changed == 1)
    }

    fn add_case_event(
        &self,
        case_id: CaseId,
        kind: &str,
        staff: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        add_event(&mut tx, case_id, kind, staff, text, now)?;
        tx.commit()?;
        Ok(())
    }

    fn case_events(&self, case_id: CaseId) -> Result<Vec<CaseEvent>, StoreError> {
        Ok(self
            .client()?
            .query(
                "SELECT kind, staff, text, at FROM case_events WHERE case_id = $1 ORDER BY id",
                &[&case_id.row()],
            )?
            .iter()
            .map(|row| CaseEvent {
                kind: row.get(0),
                staff: row.get(1),
                text: row.get(2),
                at: row.get(3),
            })
            .collect())
    }

    fn queue(
        &self,
        filter: &QueueFilter,
        now: DateTime<Utc>,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<QueueRow>, u64), StoreError> {
        // The same filters and order as the SQLite queue (store/console.rs), with
        // `intake_due` compared as a timestamp (it may carry an offset) instead of julianday.
        let mut conditions = Vec::new();
        let mut args: Vec<Box<dyn postgres::types::ToSql + Sync>> = Vec::new();
        let mut arg = |value: Box<dyn postgres::types::ToSql + Sync>| {
            args.push(value);
            format!("${}", args.len())
        };
        match filter.status {
            Some(status) => conditions.push(format!(
                "COALESCE(w.status, 'open') = {}",
                arg(Box::new(status.id()))
            )),
            None => conditions.push("COALESCE(w.status, 'open') <> 'resolved'".into()),
        }
        if let Some(org) = &filter.org {
            conditions.push(format!("c.org = {}", arg(Box::new(org.clone()))));
        }
        if let Some(tier) = &filter.tier {
            conditions.push(format!(
                "lower(c.intake_tier) = {}",
                arg(Box::new(tier.to_ascii_lowercase()))
            ));
        }
        if let Some(severity) = filter.severity {
            conditions.push(format!(
                "c.severity = {}",
                arg(Box::new(severity.to_string()))
            ));
        }
        if let Some(signature) = &filter.signature {
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM bundle_signatures s WHERE s.case_id = c.id AND s.signature = {})",
                arg(Box::new(signature.clone()))
            ));
        }
        let filters = conditions.join(" AND ");
        let now_arg = arg(Box::new(timestamp(now)));
        let limit_arg = arg(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
        let offset_arg = arg(Box::new(i64::try_from(offset).unwrap_or(i64::MAX)));
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
            args.iter().map(|a| &**a as _).collect();
        let filter_count = params.len() - 3;
        let mut client = self.client()?;
        let total: i64 = client
            .query_one(
                &format!(
                    "SELECT COUNT(*) FROM cases c LEFT JOIN case_work w ON w.case_id = c.id
                     WHERE {filters}"
                ),
                &params[..filter_count],
            )?
            .get(0);
        let ids: Vec<(i64, bool)> = client
            .query(
                &format!(
                    "SELECT c.id, (w.first_response_at IS NULL AND c.intake_due IS NOT NULL
                                   AND c.intake_due::timestamptz < {now_arg}::text::timestamptz) AS overdue
                     FROM cases c LEFT JOIN case_work w ON w.case_id = c.id
                     WHERE {filters}
                     ORDER BY overdue DESC, w.first_response_at IS NOT NULL, c.intake_due IS NULL,
                              c.intake_due::timestamptz, c.created, c.id
                     LIMIT {limit_arg} OFFSET {offset_arg}"
                ),
                &params,
            )?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        let page = client.prepare(
            "SELECT c.id, c.org, c.intake_tier, c.severity, c.intake_due, c.created,
                    COALESCE(w.status, 'open'), w.first_response_at IS NOT NULL,
                    (SELECT COUNT(*) FROM bundles b WHERE b.case_id = c.id),
                    (SELECT COUNT(*) FROM escalations e WHERE e.case_id = c.id),
                    (SELECT MAX(f.worst) FROM bundle_facts f WHERE f.case_id = c.id)
             FROM cases c LEFT JOIN case_work w ON w.case_id = c.id WHERE c.id = $1",
        )?;
        let mut rows = Vec::with_capacity(ids.len());
        for (id, overdue) in ids {
            let Some(row) = client.query_opt(&page, &[&id])? else {
                continue; // gone between the two statements (there is no deleting yet)
            };
            rows.push(QueueRow {
                case_id: CaseId::from_row(row.get(0)),
                org: row.get(1),
                tier: row.get(2),
                severity: row.get(3),
                due: row.get(4),
                created: row.get(5),
                status: status_of(&row.get::<_, String>(6))?,
                responded: row.get(7),
                overdue,
                bundles: row.get::<_, i64>(8) as u64,
                escalations: row.get::<_, i64>(9) as u64,
                worst: row
                    .get::<_, Option<i16>>(10)
                    .and_then(|w| u8::try_from(w).ok()),
            });
        }
        Ok((rows, total as u64))
    }

    fn case_orgs(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .client()?
            .query("SELECT DISTINCT org FROM cases ORDER BY org", &[])?
            .iter()
            .map(|row| row.get(0))
            .collect())
    }

    fn bundles_without_facts(&self) -> Result<Vec<(CaseId, String)>, StoreError> {
        Ok(self
            .client()?
            .query(
                "SELECT b.case_id, b.sha256 FROM bundles b
                 LEFT JOIN bundle_facts f ON f.case_id = b.case_id AND f.sha256 = b.sha256
                 WHERE f.sha256 IS NULL ORDER BY b.case_id",
                &[],
            )?
            .iter()
            .map(|row| (CaseId::from_row(row.get(0)), row.get(1)))
            .collect())
    }

    fn put_bundle_facts(
        &self,
        case_id: CaseId,
        sha256: &str,
        facts: &BundleFacts,
    ) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        // Two replicas reading the same bundle's facts: the first one's row and signatures stand.
        let inserted = tx.execute(
            "INSERT INTO bundle_facts (case_id, sha256, worst, agent_version) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[
                &case_id.row(),
                &sha256,
                &facts.worst.map(i16::from),
                &facts.agent_version,
            ],
        )?;
        if inserted == 1 {
            for (signature, level, count) in &facts.signatures {
                tx.execute(
                    "INSERT INTO bundle_signatures (case_id, sha256, signature, level, count) VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &case_id.row(),
                        &sha256,
                        signature,
                        level,
                        &i64::try_from(*count).unwrap_or(i64::MAX),
                    ],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn fleet_signatures(&self, limit: u64) -> Result<Vec<FleetSignature>, StoreError> {
        Ok(self
            .client()?
            .query(
                "SELECT signature, MAX(level), COUNT(DISTINCT case_id), SUM(count)::BIGINT,
                        array_agg(DISTINCT case_id ORDER BY case_id)
                 FROM bundle_signatures GROUP BY signature
                 ORDER BY COUNT(DISTINCT case_id) DESC, SUM(count) DESC, signature LIMIT $1",
                &[&i64::try_from(limit).unwrap_or(i64::MAX)],
            )?
            .iter()
            .map(|row| FleetSignature {
                signature: row.get(0),
                level: row.get(1),
                cases: row.get::<_, i64>(2) as u64,
                occurrences: row.get::<_, i64>(3) as u64,
                case_ids: case_list(row.get(4)),
            })
            .collect())
    }

    fn fleet_versions(&self) -> Result<Vec<FleetVersion>, StoreError> {
        Ok(self
            .client()?
            .query(
                "SELECT COALESCE(agent_version, '(unknown)') AS version, COUNT(DISTINCT case_id),
                        array_agg(DISTINCT case_id ORDER BY case_id)
                 FROM bundle_facts GROUP BY 1 ORDER BY COUNT(DISTINCT case_id) DESC, 1",
                &[],
            )?
            .iter()
            .map(|row| FleetVersion {
                version: row.get(0),
                cases: row.get::<_, i64>(1) as u64,
                case_ids: case_list(row.get(2)),
            })
            .collect())
    }
}

/// The first [`FLEET_LINKS`] of a fleet row's case ids (already in id order).
fn case_list(ids: Vec<i64>) -> Vec<CaseId> {
    ids.into_iter()
        .take(FLEET_LINKS)
        .map(CaseId::from_row)
        .collect()
}

fn status_of(text: &str) -> Result<CaseStatus, StoreError> {
    CaseStatus::parse(text).ok_or_else(|| StoreError::Corrupt(format!("case status `{text}`")))
}

fn add_event(
    tx: &mut Transaction,
    case_id: CaseId,
    kind: &str,
    staff: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO case_events (case_id, kind, staff, text, at) VALUES ($1, $2, $3, $4, $5)",
        &[&case_id.row(), &kind, &staff, &text, &timestamp(now)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_with_a_password_is_refused_before_connecting() {
        let database = Database {
            url: "postgres://intake:hunter2@127.0.0.1:1/intake".into(),
            password: None,
        };
        let error = Postgres::connect(&database).err().unwrap().to_string();
        assert!(error.contains("carries a password"), "{error}");
        assert!(error.contains(PASSWORD_ENV[0]), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        // Nor does the configuration's debug form show a password.
        let database = Database {
            url: "postgres://intake@127.0.0.1:1/intake".into(),
            password: Some("hunter2".into()),
        };
        assert!(!format!("{database:?}").contains("hunter2"));
    }
}
