-- Packet definitions (issue 16, SPEC §11): every version of a spacecraft's XTCE document, kept
-- like configuration versions. Keyed by tenant first, so that tenancy needs no new key.

CREATE TABLE packet_definitions (
    tenant        TEXT    NOT NULL DEFAULT 'default',
    spacecraft_id TEXT    NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1),
    document      TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant, spacecraft_id, version),
    -- A spacecraft is its tenant's (0009_tenants keys spacecraft by both).
    FOREIGN KEY (tenant, spacecraft_id) REFERENCES spacecraft (tenant, id)
) WITHOUT ROWID;
