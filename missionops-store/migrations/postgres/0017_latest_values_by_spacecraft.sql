-- Latest values, one row per spacecraft (issue 13). A new spacecraft of ten parameters brought
-- ten rows to `latest_values`, each a heap tuple and an index entry: measured on a run of new
-- spacecraft, writing them was about a third of PostgreSQL's CPU (BENCHMARKS.md "Session 23"),
-- and a fleet's write-behind updated ten rows a spacecraft every second. Now a spacecraft's
-- latest values are one row: `by_parameter` maps each parameter to
-- `[value as JSON text, sample time in epoch milliseconds, arrival number]`. The value stays
-- the JSON text it was written as (a string inside the document, as the old column kept it),
-- never parsed by PostgreSQL. Writers merge per parameter in their upsert: a
-- parameter's entry is replaced only by a newer sample (time, then arrival), as before.
--
-- The old table's rows are copied. Its row-level security is switched off for the owner first:
-- `FORCE` would hide every row from a migration run by the owner (no tenant is set).

ALTER TABLE latest_values NO FORCE ROW LEVEL SECURITY;
ALTER TABLE latest_values RENAME TO latest_values_by_row;
ALTER TABLE latest_values_by_row RENAME CONSTRAINT latest_values_pkey TO latest_values_by_row_pkey;

CREATE TABLE latest_values (
    tenant        text COLLATE "C" NOT NULL,
    spacecraft_id text COLLATE "C" NOT NULL,
    by_parameter  jsonb NOT NULL,
    CONSTRAINT latest_values_pkey PRIMARY KEY (tenant, spacecraft_id)
) WITH (fillfactor = 50);
-- Half of each page stays free for the write-behind's updates to stay on their page (see 0015).

INSERT INTO latest_values (tenant, spacecraft_id, by_parameter)
SELECT tenant, spacecraft_id,
       jsonb_object_agg(parameter,
                        jsonb_build_array(value_json::text,
                                          (extract(epoch FROM ts) * 1000)::int8, arrival))
FROM latest_values_by_row
GROUP BY tenant, spacecraft_id;

DROP TABLE latest_values_by_row;

ALTER TABLE latest_values ENABLE ROW LEVEL SECURITY;
ALTER TABLE latest_values FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON latest_values
    USING (tenant = current_setting('missionops.tenant', true))
    WITH CHECK (tenant = current_setting('missionops.tenant', true));

GRANT SELECT, INSERT, UPDATE ON latest_values TO missionops_app;
GRANT SELECT ON latest_values TO missionops_readonly;
