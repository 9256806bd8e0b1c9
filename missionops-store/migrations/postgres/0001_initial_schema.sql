-- MissionOps on PostgreSQL, schema version 1.
--
-- Conventions:
-- * Ids, names and labels are `text COLLATE "C"`: they sort by bytes, as in the other backends,
--   whatever the database's locale.
-- * Times are `timestamptz`, written and read at millisecond precision.
-- * A JSON document that goes back to clients is kept as the exact text written, in a `json`
--   column (`*_json`): Postgres stores `json` verbatim, so key order and number spelling (`45`,
--   `1e21`, `0.30000000000000004`) round-trip byte for byte. Where a document is meant to be
--   queried (configurations, spacecraft metadata) a generated `jsonb` copy sits beside it; `jsonb`
--   reorders keys and respells numbers, so it is never read back as the document itself.
-- * Telemetry has no foreign keys and nothing refers to it, and every unique key of a table that
--   grows with time (telemetry, anomalies) includes its time column, so that those tables can be
--   partitioned by time (or turned into TimescaleDB hypertables, or distributed by spacecraft on
--   Citus) without changing the SQL the store runs.

-- Spacecraft -----------------------------------------------------------------------------------

CREATE TABLE spacecraft (
    id            text COLLATE "C" PRIMARY KEY,
    name          text NOT NULL,
    mission_type  text NOT NULL,
    metadata_json json NOT NULL,
    metadata      jsonb GENERATED ALWAYS AS (metadata_json::jsonb) STORED,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- Listing pages through spacecraft in registration order.
CREATE INDEX spacecraft_registration_idx ON spacecraft (created_at, id);

-- Every version of every configuration; the current one is the highest version.
CREATE TABLE spacecraft_configs (
    spacecraft_id text COLLATE "C" NOT NULL REFERENCES spacecraft (id),
    version       integer NOT NULL CHECK (version >= 1),
    config_json   json NOT NULL,
    config        jsonb GENERATED ALWAYS AS (config_json::jsonb) STORED,
    status        text NOT NULL CHECK (status IN ('approved', 'draft')),
    source        text CHECK (source IN ('manual', 'seed', 'import')),
    created_at    timestamptz NOT NULL,
    CONSTRAINT spacecraft_configs_pkey PRIMARY KEY (spacecraft_id, version)
);

-- Telemetry ------------------------------------------------------------------------------------

-- Arrival order of snapshots, to break ties between equal sample times ("last stored"). A
-- batch takes one block from this sequence and numbers its snapshots `block << 20 | index`, so
-- arrival numbers grow in batch order at the cost of one sequence call per batch. Only their
-- order matters: gaps (rolled-back batches, duplicates) are harmless.
CREATE SEQUENCE telemetry_arrival_block_seq AS bigint;

-- One row per snapshot. The primary key serves "recent" and "range" queries as an index scan,
-- and the per-parameter series (its rows are read in the key's order, and the parameter is
-- taken out of `parameters` in SQL). It starts with the distribution column a sharded engine
-- wants (spacecraft) and includes the partitioning column (ts).
CREATE TABLE telemetry (
    spacecraft_id text COLLATE "C" NOT NULL,
    ts            timestamptz NOT NULL,
    arrival       bigint NOT NULL,
    id            text COLLATE "C" NOT NULL,
    -- The parameters as written: {"name": value, ...} in the order given.
    parameters    json NOT NULL,
    CONSTRAINT telemetry_pkey PRIMARY KEY (spacecraft_id, ts, arrival)
);

-- Snapshot ids are unique per store. A unique index on telemetry (id) could not be kept once
-- telemetry is partitioned by time (a partitioned table's unique keys must include the
-- partitioning column), so ids are registered here, in a table that stays small per row and
-- unpartitioned (or is distributed by id). It also finds a snapshot by id.
CREATE TABLE telemetry_ids (
    id            text COLLATE "C" PRIMARY KEY,
    spacecraft_id text COLLATE "C" NOT NULL,
    ts            timestamptz NOT NULL
);

-- The newest value of every parameter of every spacecraft, maintained in the ingest transaction
-- (an upsert guarded by (ts, arrival)), so that "latest values" reads one row per parameter
-- instead of scanning history.
CREATE TABLE latest_values (
    spacecraft_id text COLLATE "C" NOT NULL,
    parameter     text COLLATE "C" NOT NULL,
    -- The value as JSON: a number, a string or a boolean.
    value_json    json NOT NULL,
    ts            timestamptz NOT NULL,
    arrival       bigint NOT NULL,
    CONSTRAINT latest_values_pkey PRIMARY KEY (spacecraft_id, parameter)
);

-- Anomalies ------------------------------------------------------------------------------------

-- Storage order, for ties between equal sample times.
CREATE SEQUENCE anomalies_stored_seq AS bigint;

CREATE TABLE anomalies (
    spacecraft_id text COLLATE "C" NOT NULL REFERENCES spacecraft (id),
    parameter     text COLLATE "C" NOT NULL,
    ts            timestamptz NOT NULL,
    kind          text NOT NULL,
    stored        bigint NOT NULL DEFAULT nextval('anomalies_stored_seq'),
    id            text COLLATE "C" NOT NULL,
    value_json    json NOT NULL,
    severity      text NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    limit_value   double precision,
    description   text NOT NULL,
    detected_at   timestamptz NOT NULL,
    window_start  timestamptz,
    window_end    timestamptz,
    -- Persisting the same anomaly twice stores it once (SPEC §2).
    CONSTRAINT anomalies_pkey PRIMARY KEY (spacecraft_id, parameter, ts, kind)
);

-- Recent anomalies, the timeline and counts since a time, per spacecraft.
CREATE INDEX anomalies_time_idx ON anomalies (spacecraft_id, ts, stored);
-- Lookup by id (`GET /anomalies/:id/procedures`).
CREATE INDEX anomalies_id_idx ON anomalies (id);

-- Alarms ---------------------------------------------------------------------------------------

CREATE TABLE alarms (
    id              text COLLATE "C" PRIMARY KEY,
    spacecraft_id   text COLLATE "C" NOT NULL REFERENCES spacecraft (id),
    parameter       text COLLATE "C" NOT NULL,
    kind            text NOT NULL,
    state           text NOT NULL CHECK (state IN ('ACTIVE', 'ACKNOWLEDGED', 'CLEARED', 'SHELVED')),
    severity        text NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    violation_count bigint NOT NULL CHECK (violation_count >= 0),
    opened_at       timestamptz NOT NULL,
    last_value_json json NOT NULL,
    cleared_at      timestamptz,
    acknowledged_by text,
    acknowledged_at timestamptz,
    comment         text,
    shelved_until   timestamptz
);

-- Listing alarms newest first, per spacecraft and state.
CREATE INDEX alarms_spacecraft_idx ON alarms (spacecraft_id, state, opened_at DESC, id DESC);
CREATE INDEX alarms_opened_idx ON alarms (opened_at DESC, id DESC);

-- Documents ------------------------------------------------------------------------------------

CREATE TABLE documents (
    id            text COLLATE "C" PRIMARY KEY,
    spacecraft_id text COLLATE "C",
    title         text NOT NULL,
    category      text COLLATE "C" NOT NULL,
    tags          text[] COLLATE "C" NOT NULL,
    body          text NOT NULL,
    published_at  timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    version       integer NOT NULL CHECK (version >= 1),
    -- Full-text search: title words weigh more (A) than body words (B) in ts_rank.
    search        tsvector GENERATED ALWAYS AS (
                      setweight(to_tsvector('english'::regconfig, title), 'A')
                      || setweight(to_tsvector('english'::regconfig, body), 'B')
                  ) STORED
);

CREATE INDEX documents_search_idx ON documents USING gin (search);
CREATE INDEX documents_tags_idx ON documents USING gin (tags);
CREATE INDEX documents_published_idx ON documents (published_at DESC, id DESC);

-- Every version of every document, the current one included.
CREATE TABLE document_versions (
    document_id   text COLLATE "C" NOT NULL REFERENCES documents (id),
    version       integer NOT NULL CHECK (version >= 1),
    spacecraft_id text COLLATE "C",
    title         text NOT NULL,
    category      text COLLATE "C" NOT NULL,
    tags          text[] COLLATE "C" NOT NULL,
    body          text NOT NULL,
    written_at    timestamptz NOT NULL,
    CONSTRAINT document_versions_pkey PRIMARY KEY (document_id, version)
);

-- Events and their outbox ----------------------------------------------------------------------

-- The one counter events take their sequence from. A writer locks the row (an UPDATE takes
-- the FOR UPDATE lock) inside its own transaction, so a rolled-back write gives its numbers back
-- and sequences stay gap-free and become visible in order; a SEQUENCE would leave gaps.
CREATE TABLE event_counter (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_sequence bigint NOT NULL CHECK (last_sequence >= 0)
);

INSERT INTO event_counter (singleton, last_sequence) VALUES (true, 0);

CREATE TABLE events (
    sequence      bigint PRIMARY KEY CHECK (sequence >= 1),
    id            text COLLATE "C" NOT NULL,
    spacecraft_id text COLLATE "C",
    ts            timestamptz NOT NULL,
    type          text NOT NULL,
    severity      text NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    message       text NOT NULL,
    metadata_json json NOT NULL,
    CONSTRAINT events_id_key UNIQUE (id)
);

-- Events of one spacecraft, newest first or resumed after a sequence.
CREATE INDEX events_spacecraft_idx ON events (spacecraft_id, sequence);

-- One row per event, written in the event's transaction, for delivery workers to drain
-- (at-least-once): claim pending rows whose time has come, deliver, then mark them delivered,
-- or count the attempt, keep the error and push `next_attempt_at` back (dead after too many).
CREATE TABLE outbox (
    sequence        bigint PRIMARY KEY REFERENCES events (sequence),
    status          text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at, sequence) WHERE status = 'pending';
