-- Packet definitions (issue 16, SPEC §11): every version of a spacecraft's XTCE document, kept
-- like configuration versions. Keyed by tenant first, so that tenancy needs no new key.

CREATE TABLE packet_definitions (
    tenant        text COLLATE "C" NOT NULL DEFAULT 'default',
    spacecraft_id text COLLATE "C" NOT NULL REFERENCES spacecraft (id),
    version       integer NOT NULL CHECK (version >= 1),
    document      text NOT NULL,
    created_at    timestamptz NOT NULL,
    CONSTRAINT packet_definitions_pkey PRIMARY KEY (tenant, spacecraft_id, version)
);
