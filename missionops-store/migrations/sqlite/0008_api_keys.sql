-- API keys (SPEC §9, issue 14). Only the SHA-256 hash of a key's secret is stored; the key
-- itself is shown once, when it is created. Keys are never deleted: a revoked key keeps its
-- row, so the audit trail's key ids keep naming something. Times are epoch milliseconds.

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'engineer', 'admin')),
    secret_hash  BLOB NOT NULL CHECK (length(secret_hash) = 32),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

-- The listing of a tenant's keys.
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at, id);
