-- Latest values written behind the telemetry (issue 13; see src/sqlite/telemetry/latest.rs):
-- a committed write's latest values wait in memory and are upserted once a second,
-- each row once, instead of in every write's own transaction. This row says up to which
-- arrival number (telemetry.seq) latest_values holds them, so that opening the database moves
-- the table forward from the telemetry stored after it (a process stopped between two writes
-- of the latest values). Until now the table was written with the telemetry: it holds all of it.
CREATE TABLE latest_values_flushed (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO latest_values_flushed (id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM telemetry;
