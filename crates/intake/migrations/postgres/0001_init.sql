-- jcdiag-intake on PostgreSQL, schema step 1: the SQLite schema's tables (store.rs,
-- versions 1 and 2) with PostgreSQL types. Timestamps stay RFC 3339 UTC text with a `Z`
-- suffix, as in SQLite, so they compare as text and read back with the same code.
CREATE TABLE IF NOT EXISTS cases (
    id           BIGINT PRIMARY KEY,
    org          TEXT NOT NULL,
    case_json    TEXT NOT NULL,
    tier         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    response_due TEXT,
    created      TEXT NOT NULL,
    intake_tier  TEXT,
    intake_due   TEXT
);
CREATE INDEX IF NOT EXISTS cases_org ON cases (org);
CREATE TABLE IF NOT EXISTS tokens (
    hash     TEXT PRIMARY KEY,
    org      TEXT NOT NULL,
    case_id  BIGINT REFERENCES cases(id),
    expires  TEXT,
    created  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orgs (
    org     TEXT PRIMARY KEY,
    tier    TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    org     TEXT NOT NULL,
    key     TEXT NOT NULL,
    scope   TEXT NOT NULL,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    PRIMARY KEY (org, key)
);
CREATE TABLE IF NOT EXISTS declared_bundles (
    id       BIGSERIAL PRIMARY KEY,
    case_id  BIGINT NOT NULL REFERENCES cases(id),
    sha256   TEXT NOT NULL,
    size     BIGINT NOT NULL,
    received BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS uploads (
    id          TEXT PRIMARY KEY,
    case_id     BIGINT NOT NULL REFERENCES cases(id),
    length      BIGINT NOT NULL,
    "offset"    BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    filename    TEXT,
    expires     TEXT NOT NULL,
    created     TEXT NOT NULL,
    receipt_id  TEXT UNIQUE,
    received_at TEXT
);
CREATE INDEX IF NOT EXISTS uploads_case ON uploads (case_id);
CREATE TABLE IF NOT EXISTS bundles (
    case_id     BIGINT NOT NULL REFERENCES cases(id),
    sha256      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (case_id, sha256)
);
CREATE TABLE IF NOT EXISTS escalations (
    id      BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    reason  TEXT NOT NULL,
    at      TEXT NOT NULL
);
