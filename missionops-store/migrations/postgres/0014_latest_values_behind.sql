-- Latest values written behind the telemetry (issue 13): the server keeps the newest value of
-- each parameter in memory and writes them once a second, instead of ten row updates per
-- snapshot in the ingest statement. Each such process (a "writer") has a row here, refreshed
-- at every write-behind: the tenants whose values it holds back, and an arrival number below
-- which every value it held back is written. A writer whose row has not been refreshed for a
-- while is gone (killed, or stopped between two writes): another writer rebuilds the latest
-- values of its tenants from the telemetry stored from that arrival number on, and removes
-- the row. The table has no tenant column and no row-level security: it holds no tenant data
-- beyond tenant ids, and a rebuild reads across the tenants it names.
CREATE TABLE latest_values_writers (
    writer       text COLLATE "C" PRIMARY KEY,
    tenants      text[] NOT NULL,
    from_arrival bigint NOT NULL,
    seen_at      timestamptz NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON latest_values_writers TO missionops_app;

-- What a rebuild reads: the telemetry from an arrival number on. Arrival numbers grow with the
-- table's physical order, so a block-range index is tiny and costs next to nothing per insert.
CREATE INDEX telemetry_arrival_brin ON telemetry USING brin (arrival);
