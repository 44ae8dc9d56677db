-- jcdiag-intake on PostgreSQL, schema step 3: the support console's tables (store/console.rs,
-- SQLite schema version 3) with PostgreSQL types. Timestamps are RFC 3339 UTC text, as in
-- step 1; `cases.intake_due` may carry an offset, so the queue compares it as timestamptz.
CREATE TABLE IF NOT EXISTS staff (
    email        TEXT PRIMARY KEY,
    password     TEXT NOT NULL,          -- argon2id PHC string; never the password
    created      TEXT NOT NULL,
    failures     BIGINT NOT NULL DEFAULT 0,  -- failed logins in a row
    locked_until TEXT                    -- no login before this time
);
CREATE TABLE IF NOT EXISTS sessions (
    hash    TEXT PRIMARY KEY,            -- hex SHA-256 of the session cookie's value
    email   TEXT NOT NULL,
    csrf    TEXT NOT NULL,
    expires TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS case_work (
    case_id           BIGINT PRIMARY KEY REFERENCES cases(id),
    status            TEXT NOT NULL,     -- open, waiting, resolved
    first_response_at TEXT,
    first_response_by TEXT
);
CREATE TABLE IF NOT EXISTS case_events (
    id      BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    kind    TEXT NOT NULL,               -- note, status, first_response, download, bundle_request
    staff   TEXT NOT NULL,
    text    TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_events_by_case ON case_events (case_id, id);
CREATE TABLE IF NOT EXISTS bundle_facts (
    case_id       BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    worst         SMALLINT,              -- 0 ok, 1 unknown, 2 warn, 3 fail; NULL: no findings.json
    agent_version TEXT,
    PRIMARY KEY (case_id, sha256)
);
CREATE TABLE IF NOT EXISTS bundle_signatures (
    case_id   BIGINT NOT NULL,
    sha256    TEXT NOT NULL,
    signature TEXT NOT NULL,
    level     TEXT NOT NULL,
    count     BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS bundle_signatures_by_text ON bundle_signatures (signature, case_id);
