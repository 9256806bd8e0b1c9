-- Tenants (SPEC §9, issue 14): every record belongs to one tenant, and spacecraft, snapshot,
-- alarm and document ids are unique per tenant (event ids stay unique in the store). Rows
-- written before this migration become the `default` tenant's.
--
-- SQLite cannot change a table's keys in place, so each table whose keys change is rebuilt:
-- create `X_new`, copy, drop `X`, rename `X_new` to `X`. sqlx runs a SQLite migration inside a
-- transaction with foreign keys on (`PRAGMA foreign_keys` cannot change inside one), so the
-- order keeps every foreign key satisfied at every step: the new children refer to the new
-- parents (`spacecraft_new`, `documents_new`), the old tables are dropped children first, and
-- renaming a new parent rewrites its children's references to the final name. The integer keys
-- (spacecraft.key, documents.key, telemetry.seq) are copied as they are, so the full-text index
-- keeps pointing at the same rows. `latest_values` is rebuilt unchanged, because its rows refer
-- to the spacecraft table; it and `outbox` need no tenant of their own: they hang off a
-- spacecraft key and an event sequence, which belong to one tenant. `events` keeps its keys and
-- only gains the column.

-- New tables, parents first, filled from the old ones.

CREATE TABLE spacecraft_new (
    key          INTEGER PRIMARY KEY,
    tenant       TEXT    NOT NULL DEFAULT 'default',
    id           TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    mission_type TEXT    NOT NULL,
    metadata     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (tenant, id)
);
INSERT INTO spacecraft_new (key, id, name, mission_type, metadata, created_at, updated_at)
    SELECT key, id, name, mission_type, metadata, created_at, updated_at FROM spacecraft;

CREATE TABLE config_versions_new (
    tenant        TEXT    NOT NULL DEFAULT 'default',
    spacecraft_id TEXT    NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1),
    document      TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('approved', 'draft')),
    source        TEXT             CHECK (source IN ('manual', 'seed', 'import')),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant, spacecraft_id, version),
    FOREIGN KEY (tenant, spacecraft_id) REFERENCES spacecraft_new (tenant, id)
) WITHOUT ROWID;
INSERT INTO config_versions_new (spacecraft_id, version, document, status, source, created_at)
    SELECT spacecraft_id, version, document, status, source, created_at FROM config_versions;

CREATE TABLE telemetry_new (
    seq            INTEGER PRIMARY KEY,
    tenant         TEXT    NOT NULL DEFAULT 'default',
    id             TEXT    NOT NULL,
    spacecraft_key INTEGER NOT NULL REFERENCES spacecraft_new (key),
    ts             INTEGER NOT NULL,
    parameters     TEXT    NOT NULL,
    UNIQUE (tenant, id)
);
INSERT INTO telemetry_new (seq, id, spacecraft_key, ts, parameters)
    SELECT seq, id, spacecraft_key, ts, parameters FROM telemetry;

CREATE TABLE latest_values_new (
    spacecraft_key INTEGER NOT NULL REFERENCES spacecraft_new (key),
    parameter      TEXT    NOT NULL,
    value          TEXT    NOT NULL,
    ts             INTEGER NOT NULL,
    PRIMARY KEY (spacecraft_key, parameter)
) WITHOUT ROWID;
INSERT INTO latest_values_new (spacecraft_key, parameter, value, ts)
    SELECT spacecraft_key, parameter, value, ts FROM latest_values;

CREATE TABLE anomalies_new (
    seq           INTEGER PRIMARY KEY,
    tenant        TEXT    NOT NULL DEFAULT 'default',
    id            TEXT    NOT NULL,
    spacecraft_id TEXT    NOT NULL,
    ts            INTEGER NOT NULL,
    parameter     TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    severity      TEXT    NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    limit_value   REAL,
    description   TEXT    NOT NULL,
    detected_at   INTEGER NOT NULL,
    window_start  INTEGER,
    window_end    INTEGER,
    UNIQUE (tenant, spacecraft_id, parameter, ts, kind),
    FOREIGN KEY (tenant, spacecraft_id) REFERENCES spacecraft_new (tenant, id)
);
INSERT INTO anomalies_new (seq, id, spacecraft_id, ts, parameter, kind, value, severity,
                           limit_value, description, detected_at, window_start, window_end)
    SELECT seq, id, spacecraft_id, ts, parameter, kind, value, severity,
           limit_value, description, detected_at, window_start, window_end FROM anomalies;

CREATE TABLE alarms_new (
    tenant          TEXT    NOT NULL DEFAULT 'default',
    id              TEXT    NOT NULL,
    spacecraft_id   TEXT    NOT NULL,
    parameter       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('ACTIVE', 'ACKNOWLEDGED', 'CLEARED', 'SHELVED')),
    severity        TEXT    NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    violation_count INTEGER NOT NULL,
    opened_at       INTEGER NOT NULL,
    last_value      TEXT    NOT NULL,
    cleared_at      INTEGER,
    acknowledged_by TEXT,
    acknowledged_at INTEGER,
    comment         TEXT,
    shelved_until   INTEGER,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, spacecraft_id) REFERENCES spacecraft_new (tenant, id)
) WITHOUT ROWID;
INSERT INTO alarms_new (id, spacecraft_id, parameter, kind, state, severity, violation_count,
                        opened_at, last_value, cleared_at, acknowledged_by, acknowledged_at,
                        comment, shelved_until)
    SELECT id, spacecraft_id, parameter, kind, state, severity, violation_count,
           opened_at, last_value, cleared_at, acknowledged_by, acknowledged_at,
           comment, shelved_until FROM alarms;

CREATE TABLE documents_new (
    key           INTEGER PRIMARY KEY,
    tenant        TEXT    NOT NULL DEFAULT 'default',
    id            TEXT    NOT NULL,
    spacecraft_id TEXT,
    title         TEXT    NOT NULL,
    category      TEXT    NOT NULL,
    tags          TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    title_folded  TEXT    NOT NULL,
    body_folded   TEXT    NOT NULL,
    published_at  INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1),
    UNIQUE (tenant, id)
);
INSERT INTO documents_new (key, id, spacecraft_id, title, category, tags, body, title_folded,
                           body_folded, published_at, updated_at, version)
    SELECT key, id, spacecraft_id, title, category, tags, body, title_folded,
           body_folded, published_at, updated_at, version FROM documents;

CREATE TABLE document_versions_new (
    tenant        TEXT    NOT NULL DEFAULT 'default',
    document_id   TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    spacecraft_id TEXT,
    title         TEXT    NOT NULL,
    category      TEXT    NOT NULL,
    tags          TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    published_at  INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant, document_id, version),
    FOREIGN KEY (tenant, document_id) REFERENCES documents_new (tenant, id)
) WITHOUT ROWID;
INSERT INTO document_versions_new (document_id, version, spacecraft_id, title, category, tags,
                                   body, published_at, updated_at)
    SELECT document_id, version, spacecraft_id, title, category, tags,
           body, published_at, updated_at FROM document_versions;

-- The old tables, children first (no new table refers to an old one). Dropping `documents`
-- drops its triggers, recreated below; the full-text index keeps its rows, which name the same
-- keys in the new table.
DROP TABLE document_versions;
DROP TABLE documents;
DROP TABLE alarms;
DROP TABLE anomalies;
DROP TABLE latest_values;
DROP TABLE telemetry;
DROP TABLE config_versions;
DROP TABLE spacecraft;

-- Parents first: renaming one rewrites its children's references to the final name.
ALTER TABLE spacecraft_new RENAME TO spacecraft;
ALTER TABLE documents_new RENAME TO documents;
ALTER TABLE config_versions_new RENAME TO config_versions;
ALTER TABLE telemetry_new RENAME TO telemetry;
ALTER TABLE latest_values_new RENAME TO latest_values;
ALTER TABLE anomalies_new RENAME TO anomalies;
ALTER TABLE alarms_new RENAME TO alarms;
ALTER TABLE document_versions_new RENAME TO document_versions;

CREATE INDEX spacecraft_by_registration ON spacecraft (tenant, created_at, id);
-- Recent, range and series queries: one spacecraft (whose key names its tenant), by time.
CREATE INDEX telemetry_by_time ON telemetry (spacecraft_key, ts);
CREATE INDEX anomalies_by_time ON anomalies (tenant, spacecraft_id, ts);
CREATE INDEX anomalies_by_id ON anomalies (tenant, id);
CREATE INDEX alarms_by_spacecraft ON alarms (tenant, spacecraft_id, opened_at);
CREATE INDEX alarms_by_opening ON alarms (tenant, opened_at);
CREATE INDEX documents_by_publication ON documents (tenant, published_at, id);

CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts (rowid, title, body, tags)
    VALUES (new.key, new.title, new.body, new.tags);
END;
CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, title, body, tags)
    VALUES ('delete', old.key, old.title, old.body, old.tags);
END;
CREATE TRIGGER documents_fts_update AFTER UPDATE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, title, body, tags)
    VALUES ('delete', old.key, old.title, old.body, old.tags);
    INSERT INTO documents_fts (rowid, title, body, tags)
    VALUES (new.key, new.title, new.body, new.tags);
END;

-- Events keep their global sequence (the outbox's key) and their store-wide unique ids.
ALTER TABLE events ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
DROP INDEX events_by_spacecraft;
CREATE INDEX events_by_spacecraft ON events (tenant, spacecraft_id);
CREATE INDEX events_by_tenant ON events (tenant, sequence);
