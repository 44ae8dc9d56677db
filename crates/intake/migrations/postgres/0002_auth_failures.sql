-- Schema step 2: failed authentications per client address (an IPv4 address or IPv6 /64),
-- counted in the database so every replica refuses an address that keeps guessing.
CREATE TABLE IF NOT EXISTS auth_failures (
    key   TEXT PRIMARY KEY,
    since TEXT NOT NULL,      -- start of the current window (RFC 3339 UTC)
    count BIGINT NOT NULL
);
