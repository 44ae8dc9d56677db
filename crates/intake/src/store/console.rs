//! The support console's tables: staff accounts, their sessions, the work on each case
//! (status, first response, notes, downloads, requested bundles) and the facts read once from
//! each bundle (worst finding, agent version, error signatures) for the queue and the fleet view.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Store, StoreError, parse_time, timestamp};
use crate::ids::CaseId;

/// Schema version 3: appended to `MIGRATIONS` in store.rs.
pub(super) const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS staff (
    email        TEXT PRIMARY KEY,
    password     TEXT NOT NULL,          -- argon2id PHC string; never the password
    created      TEXT NOT NULL,
    failures     INTEGER NOT NULL DEFAULT 0,  -- failed logins in a row
    locked_until TEXT                    -- no login before this time (RFC 3339)
);
CREATE TABLE IF NOT EXISTS sessions (
    hash    TEXT PRIMARY KEY,            -- hex SHA-256 of the session cookie's value
    email   TEXT NOT NULL,
    csrf    TEXT NOT NULL,               -- the token every form of this session carries
    expires TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS case_work (
    case_id           INTEGER PRIMARY KEY REFERENCES cases(id),
    status            TEXT NOT NULL,     -- open, waiting, resolved
    first_response_at TEXT,              -- stops the response clock
    first_response_by TEXT
);
CREATE TABLE IF NOT EXISTS case_events (
    id      INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    kind    TEXT NOT NULL,               -- note, status, first_response, download, bundle_request
    staff   TEXT NOT NULL,
    text    TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_events_by_case ON case_events (case_id, id);
CREATE TABLE IF NOT EXISTS bundle_facts (
    case_id       INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    worst         INTEGER,               -- 0 ok, 1 unknown, 2 warn, 3 fail; NULL: no findings.json
    agent_version TEXT,
    PRIMARY KEY (case_id, sha256)
);
CREATE TABLE IF NOT EXISTS bundle_signatures (
    case_id   INTEGER NOT NULL,
    sha256    TEXT NOT NULL,
    signature TEXT NOT NULL,
    level     TEXT NOT NULL,
    count     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS bundle_signatures_by_text ON bundle_signatures (signature, case_id);
CREATE INDEX IF NOT EXISTS cases_by_org ON cases (org);
";

/// Where a case stands for support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStatus {
    Open,
    Waiting,
    Resolved,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 3] = [CaseStatus::Open, CaseStatus::Waiting, CaseStatus::Resolved];

    pub fn id(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Waiting => "waiting",
            CaseStatus::Resolved => "resolved",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Waiting => "waiting on customer",
            CaseStatus::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|s| s.id() == text)
    }
}

/// A staff account as `staff list` shows it.
#[derive(Debug, Clone)]
pub struct StaffRecord {
    pub email: String,
    pub created: String,
}

/// What a login attempt needs to know about an account.
#[derive(Debug, Clone)]
pub struct StaffLogin {
    pub password_hash: String,
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

/// A live session.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub email: String,
    pub csrf: String,
}

/// Support's work on a case.
#[derive(Debug, Clone)]
pub struct CaseWork {
    pub status: CaseStatus,
    pub first_response: Option<(String, String)>,
}

/// One line of a case's history: who did what, when.
#[derive(Debug, Clone)]
pub struct CaseEvent {
    pub kind: String,
    pub staff: String,
    pub text: String,
    pub at: String,
}

/// The queue's filters; `None` is "any".
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub org: Option<String>,
    pub tier: Option<String>,
    pub severity: Option<u8>,
    /// `None`: every case that is not resolved.
    pub status: Option<CaseStatus>,
    /// Cases with a bundle whose findings name this error signature.
    pub signature: Option<String>,
}

/// One row of the queue.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub case_id: CaseId,
    pub org: String,
    pub tier: Option<String>,
    pub severity: String,
    pub due: Option<String>,
    pub created: String,
    pub status: CaseStatus,
    pub responded: bool,
    pub overdue: bool,
    pub bundles: u64,
    pub escalations: u64,
    /// 0 ok .. 3 fail, as in `bundle_facts.worst`.
    pub worst: Option<u8>,
}

/// What the console reads once from a bundle.
#[derive(Debug, Clone, Default)]
pub struct BundleFacts {
    pub worst: Option<u8>,
    pub agent_version: Option<String>,
    /// (signature, level, count)
    pub signatures: Vec<(String, String, u64)>,
}

/// A signature across cases, for the fleet view.
#[derive(Debug, Clone)]
pub struct FleetSignature {
    pub signature: String,
    pub level: String,
    pub cases: u64,
    pub occurrences: u64,
    pub case_ids: Vec<CaseId>,
}

/// An agent version across cases.
#[derive(Debug, Clone)]
pub struct FleetVersion {
    pub version: String,
    pub cases: u64,
    pub case_ids: Vec<CaseId>,
}

/// Case links shown per fleet row at most.
pub(crate) const FLEET_LINKS: usize = 20;

fn status_of(text: &str) -> Result<CaseStatus, rusqlite::Error> {
    CaseStatus::parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("case status `{text}`").into(),
        )
    })
}

impl Store {
    // ----- staff -----

    /// Adds an account, or replaces its password (and unlocks it) when it exists; true when new.
    pub fn put_staff(
        &self,
        email: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let conn = self.conn();
        let existed = conn
            .query_row("SELECT 1 FROM staff WHERE email = ?1", [email], |_| Ok(()))
            .optional()?
            .is_some();
        conn.execute(
            "INSERT INTO staff (email, password, created) VALUES (?1, ?2, ?3)
             ON CONFLICT (email) DO UPDATE SET password = excluded.password, failures = 0, locked_until = NULL",
            params![email, password_hash, timestamp(now)],
        )?;
        Ok(!existed)
    }

    /// Removes an account and ends its sessions; false when there was none.
    pub fn remove_staff(&self, email: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM sessions WHERE email = ?1", [email])?;
        let removed = tx.execute("DELETE FROM staff WHERE email = ?1", [email])?;
        tx.commit()?;
        Ok(removed == 1)
    }

    pub fn staff(&self) -> Result<Vec<StaffRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT email, created FROM staff ORDER BY email")?;
        let rows = stmt.query_map([], |row| {
            Ok(StaffRecord {
                email: row.get(0)?,
                created: row.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn staff_login(&self, email: &str) -> Result<Option<StaffLogin>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT password, failures, locked_until FROM staff WHERE email = ?1",
                [email],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, Option<String>>(2)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(password_hash, failures, locked)| {
            Ok(StaffLogin {
                password_hash,
                failures: u32::try_from(failures).unwrap_or(u32::MAX),
                locked_until: locked.as_deref().map(parse_time).transpose()?,
            })
        })
        .transpose()
    }

    /// Records a failed login; locks the account until `lock_until` when given.
    pub fn staff_login_failed(
        &self,
        email: &str,
        lock_until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        match lock_until {
            // A lock starts a new count: after it ends, the next failures count from zero.
            Some(until) => self.conn().execute(
                "UPDATE staff SET failures = 0, locked_until = ?2 WHERE email = ?1",
                params![email, timestamp(until)],
            )?,
            None => self.conn().execute(
                "UPDATE staff SET failures = failures + 1 WHERE email = ?1",
                [email],
            )?,
        };
        Ok(())
    }

    // ----- sessions -----

    pub fn insert_session(
        &self,
        hash: &str,
        email: &str,
        csrf: &str,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE staff SET failures = 0, locked_until = NULL WHERE email = ?1",
            [email],
        )?;
        // Expired sessions go whenever someone logs in.
        tx.execute("DELETE FROM sessions WHERE expires <= ?1", [timestamp(now)])?;
        tx.execute(
            "INSERT INTO sessions (hash, email, csrf, expires, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![hash, email, csrf, timestamp(expires), timestamp(now)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The live session with this cookie hash, if its account still exists.
    pub fn session(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT s.email, s.csrf FROM sessions s JOIN staff st ON st.email = s.email
                 WHERE s.hash = ?1 AND s.expires > ?2",
                params![hash, timestamp(now)],
                |row| {
                    Ok(SessionRecord {
                        email: row.get(0)?,
                        csrf: row.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn delete_session(&self, hash: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM sessions WHERE hash = ?1", [hash])?;
        Ok(())
    }

    // ----- work on cases -----

    pub fn case_work(&self, case_id: CaseId) -> Result<CaseWork, StoreError> {
        let found = self
            .conn()
            .query_row(
                "SELECT status, first_response_at, first_response_by FROM case_work WHERE case_id = ?1",
                [case_id.row()],
                |row| {
                    let at: Option<String> = row.get(1)?;
                    let by: Option<String> = row.get(2)?;
                    Ok(CaseWork {
                        status: status_of(&row.get::<_, String>(0)?)?,
                        first_response: at.zip(by),
                    })
                },
            )
            .optional()?;
        Ok(found.unwrap_or(CaseWork {
            status: CaseStatus::Open,
            first_response: None,
        }))
    }

    pub fn set_case_status(
        &self,
        case_id: CaseId,
        status: CaseStatus,
        staff: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO case_work (case_id, status) VALUES (?1, ?2)
             ON CONFLICT (case_id) DO UPDATE SET status = excluded.status",
            params![case_id.row(), status.id()],
        )?;
        add_event(&tx, case_id, "status", staff, status.label(), now)?;
        tx.commit()?;
        Ok(())
    }

    /// Records the first response (once: a second call changes nothing); true when recorded.
    pub fn record_first_response(
        &self,
        case_id: CaseId,
        staff: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO case_work (case_id, status) VALUES (?1, 'open') ON CONFLICT (case_id) DO NOTHING",
            [case_id.row()],
        )?;
        let changed = tx.execute(
            "UPDATE case_work SET first_response_at = ?2, first_response_by = ?3
             WHERE case_id = ?1 AND first_response_at IS NULL",
            params![case_id.row(), timestamp(now), staff],
        )?;
        if changed == 1 {
            add_event(&tx, case_id, "first_response", staff, text, now)?;
        }
        tx.commit()?;
        Ok(changed == 1)
    }

    pub fn add_case_event(
        &self,
        case_id: CaseId,
        kind: &str,
        staff: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        add_event(&self.conn(), case_id, kind, staff, text, now)
    }

    pub fn case_events(&self, case_id: CaseId) -> Result<Vec<CaseEvent>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT kind, staff, text, at FROM case_events WHERE case_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([case_id.row()], |row| {
            Ok(CaseEvent {
                kind: row.get(0)?,
                staff: row.get(1)?,
                text: row.get(2)?,
                at: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ----- the queue -----

    /// One page of the queue and the number of cases matching `filter`. Order: cases past
    /// their target without a first response (longest overdue first), then those awaiting a
    /// first response by target, then answered cases by target, then cases without a target,
    /// oldest first.
    pub fn queue(
        &self,
        filter: &QueueFilter,
        now: DateTime<Utc>,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<QueueRow>, u64), StoreError> {
        let mut conditions = Vec::new();
        let mut args: Vec<rusqlite::types::Value> = vec![timestamp(now).into()];
        match filter.status {
            Some(status) => {
                args.push(status.id().to_owned().into());
                conditions.push(format!("COALESCE(w.status, 'open') = ?{}", args.len()));
            }
            None => conditions.push("COALESCE(w.status, 'open') <> 'resolved'".into()),
        }
        if let Some(org) = &filter.org {
            args.push(org.clone().into());
            conditions.push(format!("c.org = ?{}", args.len()));
        }
        if let Some(tier) = &filter.tier {
            args.push(tier.to_ascii_lowercase().into());
            conditions.push(format!("lower(c.intake_tier) = ?{}", args.len()));
        }
        if let Some(severity) = filter.severity {
            args.push(i64::from(severity).into());
            conditions.push(format!("CAST(c.severity AS INTEGER) = ?{}", args.len()));
        }
        if let Some(signature) = &filter.signature {
            args.push(signature.clone().into());
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM bundle_signatures s WHERE s.case_id = c.id AND s.signature = ?{})",
                args.len()
            ));
        }
        let filters = conditions.join(" AND ");
        let conn = self.conn();
        // `?1` (now) is for the page's overdue order; the count names it only so that the
        // filters' numbered parameters line up with the same argument list.
        let total: i64 = conn.query_row(
            &format!(
                "SELECT COUNT(*) FROM cases c LEFT JOIN case_work w ON w.case_id = c.id
                 WHERE ?1 = ?1 AND {filters}"
            ),
            rusqlite::params_from_iter(args.iter()),
            |row| row.get(0),
        )?;
        args.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
        let limit_arg = args.len();
        args.push(i64::try_from(offset).unwrap_or(i64::MAX).into());
        let offset_arg = args.len();
        // The page's ids first (the sort needs only the cases' own columns), then the
        // counts for those rows alone: 10,000 cases sort in milliseconds, while counting
        // bundles for each of them would not.
        let ids: Vec<(i64, bool)> = {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT c.id, (w.first_response_at IS NULL AND c.intake_due IS NOT NULL
                               AND julianday(c.intake_due) < julianday(?1)) AS overdue
                 FROM cases c LEFT JOIN case_work w ON w.case_id = c.id
                 WHERE {filters}
                 ORDER BY overdue DESC, w.first_response_at IS NOT NULL, c.intake_due IS NULL,
                          julianday(c.intake_due), c.created, c.id
                 LIMIT ?{limit_arg} OFFSET ?{offset_arg}"
            ))?;
            stmt.query_map(rusqlite::params_from_iter(args.iter()), |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?
        };
        let mut stmt = conn.prepare_cached(
            "SELECT c.id, c.org, c.intake_tier, c.severity, c.intake_due, c.created,
                    COALESCE(w.status, 'open'), w.first_response_at IS NOT NULL,
                    (SELECT COUNT(*) FROM bundles b WHERE b.case_id = c.id),
                    (SELECT COUNT(*) FROM escalations e WHERE e.case_id = c.id),
                    (SELECT MAX(f.worst) FROM bundle_facts f WHERE f.case_id = c.id)
             FROM cases c LEFT JOIN case_work w ON w.case_id = c.id WHERE c.id = ?1",
        )?;
        let mut rows = Vec::with_capacity(ids.len());
        for (id, overdue) in ids {
            rows.push(stmt.query_row([id], |row| {
                Ok(QueueRow {
                    case_id: CaseId::from_row(row.get(0)?),
                    org: row.get(1)?,
                    tier: row.get(2)?,
                    severity: match row.get::<_, rusqlite::types::Value>(3)? {
                        rusqlite::types::Value::Integer(n) => n.to_string(),
                        rusqlite::types::Value::Text(text) => text,
                        _ => String::new(),
                    },
                    due: row.get(4)?,
                    created: row.get(5)?,
                    status: status_of(&row.get::<_, String>(6)?)?,
                    responded: row.get(7)?,
                    overdue,
                    bundles: row.get::<_, i64>(8)? as u64,
                    escalations: row.get::<_, i64>(9)? as u64,
                    worst: row
                        .get::<_, Option<i64>>(10)?
                        .and_then(|w| u8::try_from(w).ok()),
                })
            })?);
        }
        Ok((rows, total as u64))
    }

    /// Every org with a case, for the queue's filter.
    pub fn case_orgs(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT DISTINCT org FROM cases ORDER BY org")?;
        let rows = stmt.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ----- bundle facts -----

    /// Bundles whose facts have not been read yet.
    pub fn bundles_without_facts(&self) -> Result<Vec<(CaseId, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT b.case_id, b.sha256 FROM bundles b
             LEFT JOIN bundle_facts f ON f.case_id = b.case_id AND f.sha256 = b.sha256
             WHERE f.sha256 IS NULL ORDER BY b.case_id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((CaseId::from_row(row.get(0)?), row.get::<_, String>(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn put_bundle_facts(
        &self,
        case_id: CaseId,
        sha256: &str,
        facts: &BundleFacts,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO bundle_facts (case_id, sha256, worst, agent_version) VALUES (?1, ?2, ?3, ?4)",
            params![case_id.row(), sha256, facts.worst, facts.agent_version],
        )?;
        if inserted == 1 {
            for (signature, level, count) in &facts.signatures {
                tx.execute(
                    "INSERT INTO bundle_signatures (case_id, sha256, signature, level, count) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![case_id.row(), sha256, signature, level, i64::try_from(*count).unwrap_or(i64::MAX)],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Error signatures across cases, the most widespread first.
    pub fn fleet_signatures(&self, limit: u64) -> Result<Vec<FleetSignature>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT signature, MAX(level), COUNT(DISTINCT case_id), SUM(count),
                    GROUP_CONCAT(DISTINCT case_id)
             FROM bundle_signatures GROUP BY signature
             ORDER BY COUNT(DISTINCT case_id) DESC, SUM(count) DESC, signature LIMIT ?1",
        )?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            Ok(FleetSignature {
                signature: row.get(0)?,
                level: row.get(1)?,
                cases: row.get::<_, i64>(2)? as u64,
                occurrences: row.get::<_, i64>(3)? as u64,
                case_ids: case_list(row.get::<_, Option<String>>(4)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Agent versions across cases (a case counts once per version its bundles name).
    pub fn fleet_versions(&self) -> Result<Vec<FleetVersion>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT COALESCE(agent_version, '(unknown)'), COUNT(DISTINCT case_id),
                    GROUP_CONCAT(DISTINCT case_id)
             FROM bundle_facts GROUP BY 1 ORDER BY COUNT(DISTINCT case_id) DESC, 1",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(FleetVersion {
                version: row.get(0)?,
                cases: row.get::<_, i64>(1)? as u64,
                case_ids: case_list(row.get::<_, Option<String>>(2)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// `GROUP_CONCAT`'s comma-separated case ids, the first [`FLEET_LINKS`] in id order.
fn case_list(text: Option<String>) -> Vec<CaseId> {
    let mut ids: Vec<i64> = text
        .unwrap_or_default()
        .split(',')
        .filter_map(|id| id.parse().ok())
        .collect();
    ids.sort_unstable();
    ids.into_iter()
        .take(FLEET_LINKS)
        .map(CaseId::from_row)
        .collect()
}

fn add_event(
    conn: &rusqlite::Connection,
    case_id: CaseId,
    kind: &str,
    staff: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO case_events (case_id, kind, staff, text, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![case_id.row(), kind, staff, text, timestamp(now)],
    )?;
    Ok(())
}
