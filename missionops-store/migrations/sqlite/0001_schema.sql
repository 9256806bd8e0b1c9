-- MissionOps on SQLite: the first schema.
--
-- Times are INTEGER milliseconds since the Unix epoch (UTC). JSON (parameters, configuration
-- documents, metadata, tags) is stored as the compact text the store wrote, so that key order
-- and the spelling of numbers (45 stays 45) come back exactly as given.

CREATE TABLE spacecraft (
    -- A small integer handle, so that every telemetry row and index entry names its spacecraft
    -- in a few bytes instead of repeating the text id.
    key          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    mission_type TEXT    NOT NULL,
    metadata     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX spacecraft_by_registration ON spacecraft (created_at, id);

-- Every version of every configuration; the highest version is the current one.
CREATE TABLE config_versions (
    spacecraft_id TEXT    NOT NULL REFERENCES spacecraft (id),
    version       INTEGER NOT NULL CHECK (version >= 1),
    document      TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('approved', 'draft')),
    source        TEXT             CHECK (source IN ('manual', 'seed', 'import')),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (spacecraft_id, version)
) WITHOUT ROWID;

CREATE TABLE telemetry (
    -- Arrival order, the tie-breaker between samples of the same time. An alias of the rowid:
    -- SQLite gives each new row max + 1, in the order of a multi-row INSERT.
    seq            INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    spacecraft_key INTEGER NOT NULL REFERENCES spacecraft (key),
    ts             INTEGER NOT NULL,
    -- The ordered parameter map as a JSON object.
    parameters     TEXT    NOT NULL
);
-- Recent, range and series queries: one spacecraft, by time, ties by arrival (the rowid ends
-- every index entry, so the index is ordered by (spacecraft_key, ts, seq)).
CREATE INDEX telemetry_by_time ON telemetry (spacecraft_key, ts);

-- The newest value of every parameter of every spacecraft, kept by ingest in the same
-- transaction as the telemetry: newest sample time wins, ties go to the last stored.
CREATE TABLE latest_values (
    spacecraft_key INTEGER NOT NULL REFERENCES spacecraft (key),
    parameter      TEXT    NOT NULL,
    -- A JSON scalar: number, string or boolean.
    value          TEXT    NOT NULL,
    ts             INTEGER NOT NULL,
    PRIMARY KEY (spacecraft_key, parameter)
) WITHOUT ROWID;

CREATE TABLE anomalies (
    -- Arrival order, the tie-breaker between anomalies of the same time.
    seq           INTEGER PRIMARY KEY,
    -- Not unique: two rules may describe different anomalies under one id; the newest wins
    -- a lookup by id.
    id            TEXT    NOT NULL,
    spacecraft_id TEXT    NOT NULL REFERENCES spacecraft (id),
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
    UNIQUE (spacecraft_id, parameter, ts, kind)
);
CREATE INDEX anomalies_by_time ON anomalies (spacecraft_id, ts);
CREATE INDEX anomalies_by_id ON anomalies (id);

CREATE TABLE alarms (
    id              TEXT    PRIMARY KEY,
    spacecraft_id   TEXT    NOT NULL REFERENCES spacecraft (id),
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
    shelved_until   INTEGER
) WITHOUT ROWID;
CREATE INDEX alarms_by_spacecraft ON alarms (spacecraft_id, opened_at);
CREATE INDEX alarms_by_opening ON alarms (opened_at);

CREATE TABLE documents (
    -- The rowid the full-text index refers to.
    key           INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    -- No foreign key: a document may describe a spacecraft before it is registered.
    spacecraft_id TEXT,
    title         TEXT    NOT NULL,
    category      TEXT    NOT NULL,
    -- A JSON array of strings, in order.
    tags          TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    -- Title and body lower-cased by the store with Unicode rules (SQLite's lower() knows only
    -- ASCII), for the compat rule "the query appears in the title or body ignoring case".
    title_folded  TEXT    NOT NULL,
    body_folded   TEXT    NOT NULL,
    published_at  INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1)
);
CREATE INDEX documents_by_publication ON documents (published_at, id);

-- Every version of every document, the current one included.
CREATE TABLE document_versions (
    document_id   TEXT    NOT NULL REFERENCES documents (id),
    version       INTEGER NOT NULL,
    spacecraft_id TEXT,
    title         TEXT    NOT NULL,
    category      TEXT    NOT NULL,
    tags          TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    published_at  INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (document_id, version)
) WITHOUT ROWID;

-- Full-text index over the current documents, for ranking search results with bm25. It reads
-- its text from `documents` (external content) and is kept in step by the triggers below.
CREATE VIRTUAL TABLE documents_fts USING fts5 (
    title, body, tags,
    content = 'documents', content_rowid = 'key'
);
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

CREATE TABLE events (
    -- Gap-free and increasing: max + 1, assigned inside the writing transaction, so a
    -- rolled-back write uses no number.
    sequence      INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    -- No foreign key: an event may name a spacecraft the store does not hold.
    spacecraft_id TEXT,
    ts            INTEGER NOT NULL,
    type          TEXT    NOT NULL,
    severity      TEXT    NOT NULL,
    message       TEXT    NOT NULL,
    metadata      TEXT    NOT NULL
);
CREATE INDEX events_by_spacecraft ON events (spacecraft_id);

-- One row per event, written with it, for delivery workers to drain (at least once).
CREATE TABLE outbox (
    sequence        INTEGER PRIMARY KEY REFERENCES events (sequence),
    status          TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    -- When a worker should try (again); the event's own time at first, so it is due at once.
    next_attempt_at INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
