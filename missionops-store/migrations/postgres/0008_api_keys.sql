-- API keys (SPEC §9, issue 14). Only the SHA-256 hash of a key's secret is stored; the key
-- itself is shown once, when it is created. Keys are never deleted: a revoked key keeps its
-- row, so the audit trail's key ids keep naming something.

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    tenant       text NOT NULL,
    role         text NOT NULL CHECK (role IN ('viewer', 'operator', 'engineer', 'admin')),
    secret_hash  bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- The listing of a tenant's keys.
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant, created_at, id);
