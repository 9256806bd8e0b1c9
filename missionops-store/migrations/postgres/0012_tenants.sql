-- Tenants (SPEC §9, issue 14): every record belongs to one tenant, and spacecraft, snapshot,
-- alarm and document ids are unique per tenant (event ids stay unique in the store, as on
-- SQLite). Rows written before this migration become the `default` tenant's. Numbered after
-- 0011 because 0010 and 0011 are applied on existing databases already.
--
-- Every key and every foreign key starts with the tenant, and so does every index a query uses:
-- each query the store runs names its tenant, so the index's first column narrows to it.
-- `tenant` has no default once existing rows are filled: a write that forgets its tenant fails
-- instead of landing in `default`.
--
-- Row-level security keeps tenants apart even if a query forgot its `tenant = $1`: every tenant
-- table has a policy that shows and accepts only the rows of the tenant the transaction set with
-- `set_config('missionops.tenant', tenant, true)` (transaction-local; the store sets it at the
-- start of every transaction it runs). A transaction that set none sees no rows and can write
-- none (`current_setting(…, true)` is NULL, and `tenant = NULL` is never true). `FORCE` makes the
-- policies apply to the tables' owner too (the role `migrate` runs as), not only to
-- `missionops_app` and `missionops_readonly`; superusers and BYPASSRLS roles still bypass them,
-- as PostgreSQL always lets them.
--
-- Two paths cross tenants on purpose, and each is explicit:
-- * The outbox dispatcher claims and marks the events of every tenant (one delivery pipeline
--   for the installation). `events` and `outbox` also show every row to a transaction that set
--   `missionops.all_tenants` to `on`; only the store's outbox port sets it. It is a setting of
--   its own rather than a tenant named `*`, because `*` is a valid tenant id.
-- * `api_keys` has no row-level security: authentication looks a key up by its id before it
--   knows the tenant (the key names it). Keys are scoped by the `tenant = $1` of each query
--   that lists or revokes them, and the read-only role has no access to the table at all.
--   `event_counter` (one row for the whole store) has no tenant either.

-- Existing rows become `default`'s; then the column must be given on every insert. ------------

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['spacecraft', 'spacecraft_configs', 'telemetry', 'telemetry_ids',
                             'latest_values', 'anomalies', 'alarms', 'documents',
                             'document_versions', 'events', 'outbox'] LOOP
        EXECUTE format(
            'ALTER TABLE %I ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT ''default''', t);
        EXECUTE format('ALTER TABLE %I ALTER COLUMN tenant DROP DEFAULT', t);
    END LOOP;
END $$;
ALTER TABLE packet_definitions ALTER COLUMN tenant DROP DEFAULT;

-- Foreign keys to the spacecraft and documents, whose keys change, go first. -----------------

ALTER TABLE spacecraft_configs DROP CONSTRAINT spacecraft_configs_spacecraft_id_fkey;
ALTER TABLE anomalies DROP CONSTRAINT anomalies_spacecraft_id_fkey;
ALTER TABLE alarms DROP CONSTRAINT alarms_spacecraft_id_fkey;
ALTER TABLE packet_definitions DROP CONSTRAINT packet_definitions_spacecraft_id_fkey;
ALTER TABLE document_versions DROP CONSTRAINT document_versions_document_id_fkey;

-- Keys per tenant (the constraint names stay: the store recognises conflicts by them). --------

ALTER TABLE spacecraft DROP CONSTRAINT spacecraft_pkey,
    ADD CONSTRAINT spacecraft_pkey PRIMARY KEY (tenant, id);
ALTER TABLE spacecraft_configs DROP CONSTRAINT spacecraft_configs_pkey,
    ADD CONSTRAINT spacecraft_configs_pkey PRIMARY KEY (tenant, spacecraft_id, version);
ALTER TABLE telemetry DROP CONSTRAINT telemetry_pkey,
    ADD CONSTRAINT telemetry_pkey PRIMARY KEY (tenant, spacecraft_id, ts, arrival);
ALTER TABLE telemetry_ids DROP CONSTRAINT telemetry_ids_pkey,
    ADD CONSTRAINT telemetry_ids_pkey PRIMARY KEY (tenant, id);
ALTER TABLE latest_values DROP CONSTRAINT latest_values_pkey,
    ADD CONSTRAINT latest_values_pkey PRIMARY KEY (tenant, spacecraft_id, parameter);
ALTER TABLE anomalies DROP CONSTRAINT anomalies_pkey,
    ADD CONSTRAINT anomalies_pkey PRIMARY KEY (tenant, spacecraft_id, parameter, ts, kind);
ALTER TABLE alarms DROP CONSTRAINT alarms_pkey,
    ADD CONSTRAINT alarms_pkey PRIMARY KEY (tenant, id);
ALTER TABLE documents DROP CONSTRAINT documents_pkey,
    ADD CONSTRAINT documents_pkey PRIMARY KEY (tenant, id);
ALTER TABLE document_versions DROP CONSTRAINT document_versions_pkey,
    ADD CONSTRAINT document_versions_pkey PRIMARY KEY (tenant, document_id, version);

ALTER TABLE spacecraft_configs ADD CONSTRAINT spacecraft_configs_spacecraft_fkey
    FOREIGN KEY (tenant, spacecraft_id) REFERENCES spacecraft (tenant, id);
ALTER TABLE anomalies ADD CONSTRAINT anomalies_spacecraft_fkey
    FOREIGN KEY (tenant, spacecraft_id) REFERENCES spacecraft (tenant, id);
ALTER TABLE alarms ADD CONSTRAINT alarms_spacecraft_fkey
    FOREIGN KEY (tenant, spacecraft_id) REFERENCES spacecraft (tenant, id);
ALTER TABLE packet_definitions ADD CONSTRAINT packet_definitions_spacecraft_fkey
    FOREIGN KEY (tenant, spacecraft_id) REFERENCES spacecraft (tenant, id);
ALTER TABLE document_versions ADD CONSTRAINT document_versions_document_fkey
    FOREIGN KEY (tenant, document_id) REFERENCES documents (tenant, id);

-- Indexes led by the tenant. -----------------------------------------------------------------

DROP INDEX spacecraft_registration_idx;
CREATE INDEX spacecraft_registration_idx ON spacecraft (tenant, created_at, id);
DROP INDEX anomalies_time_idx;
CREATE INDEX anomalies_time_idx ON anomalies (tenant, spacecraft_id, ts, stored);
DROP INDEX anomalies_id_idx;
CREATE INDEX anomalies_id_idx ON anomalies (tenant, id);
DROP INDEX alarms_spacecraft_idx;
CREATE INDEX alarms_spacecraft_idx
    ON alarms (tenant, spacecraft_id, state, opened_at DESC, id DESC);
DROP INDEX alarms_opened_idx;
CREATE INDEX alarms_opened_idx ON alarms (tenant, opened_at DESC, id DESC);
DROP INDEX documents_published_idx;
CREATE INDEX documents_published_idx ON documents (tenant, published_at DESC, id DESC);
DROP INDEX events_spacecraft_idx;
CREATE INDEX events_spacecraft_idx ON events (tenant, spacecraft_id, sequence);
CREATE INDEX events_tenant_idx ON events (tenant, sequence);

-- Row-level security. ------------------------------------------------------------------------

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['spacecraft', 'spacecraft_configs', 'telemetry', 'telemetry_ids',
                             'latest_values', 'anomalies', 'alarms', 'documents',
                             'document_versions', 'packet_definitions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I
                 USING (tenant = current_setting(''missionops.tenant'', true))
                 WITH CHECK (tenant = current_setting(''missionops.tenant'', true))', t);
    END LOOP;
    -- The outbox dispatcher's path across tenants (see the top of this file).
    FOREACH t IN ARRAY ARRAY['events', 'outbox'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I
                 USING (tenant = current_setting(''missionops.tenant'', true)
                        OR current_setting(''missionops.all_tenants'', true) = ''on'')
                 WITH CHECK (tenant = current_setting(''missionops.tenant'', true)
                             OR current_setting(''missionops.all_tenants'', true) = ''on'')', t);
    END LOOP;
END $$;
