-- Least-privilege roles (SPEC §9, issue 14).
--
-- `missionops migrate` runs as the database owner; the service then connects as
-- `missionops_app`, and reports, dashboards and ad-hoc queries as `missionops_readonly`:
--
-- * `missionops_app`: only the DML the store runs. No DDL (no CREATE on the schema, no
--   temporary tables), no TRUNCATE, no DELETE anywhere (nothing in the service deletes), and
--   history is append-only: events, anomalies, telemetry, configuration and document versions
--   take INSERT and SELECT, never UPDATE or DELETE. USAGE on the sequences (nextval), CONNECT
--   on the database.
-- * `missionops_readonly`: SELECT on every table but `api_keys`, nothing else.
--
-- Roles belong to the whole cluster, not to one database: they are created only when missing
-- (several databases of one cluster, e.g. test databases, share them), with LOGIN and no
-- password; production sets one (`ALTER ROLE missionops_app PASSWORD '…'`) or maps them in
-- pg_hba.conf. The migrating role needs CREATEROLE unless a DBA created both roles first.
--
-- Grants are per database and per table. The DO block below grants on every table that exists
-- when it runs (so tables of migrations numbered before this one are covered), and default
-- privileges cover the tables and sequences that later migrations create as the same owner:
-- SELECT, INSERT, UPDATE for the app, SELECT for readonly. A later migration that adds an
-- append-only table revokes UPDATE on it; one whose table the service deletes from grants
-- DELETE on it.

-- The roles, when missing. Two databases migrating at once may both find a role missing: the
-- second CREATE then fails on the catalog's unique key, and the role is there all the same.
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['missionops_app', 'missionops_readonly'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format(
                    'CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS',
                    role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END $$;

-- No object creation by anyone but the owner: PostgreSQL before 15 lets every role create
-- tables in `public`, and every version lets every role create temporary tables.
DO $$
BEGIN
    EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', current_schema());
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO missionops_app, missionops_readonly',
                   current_database());
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO missionops_app, missionops_readonly',
                   current_schema());
END $$;

-- Every table there is now.
DO $$
DECLARE
    t record;
    app_privileges text;
BEGIN
    FOR t IN
        SELECT c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
    LOOP
        app_privileges := CASE
            -- History: written once, never changed. `ON CONFLICT DO NOTHING` needs only INSERT.
            WHEN t.relname IN ('events', 'anomalies', 'telemetry', 'telemetry_ids',
                               'spacecraft_configs', 'document_versions')
                THEN 'SELECT, INSERT'
            -- The event sequence counter: one row, only ever incremented.
            WHEN t.relname = 'event_counter' THEN 'SELECT, UPDATE'
            -- Which migrations ran: the owner's business.
            WHEN t.relname = '_sqlx_migrations' THEN 'SELECT'
            -- Current state: spacecraft, latest values, alarms, documents, the outbox, keys, …
            -- (upserts, `SELECT … FOR UPDATE` and delivery marks need UPDATE).
            ELSE 'SELECT, INSERT, UPDATE'
        END;
        EXECUTE format('REVOKE ALL ON TABLE %I.%I FROM missionops_app, missionops_readonly',
                       current_schema(), t.relname);
        EXECUTE format('GRANT %s ON TABLE %I.%I TO missionops_app',
                       app_privileges, current_schema(), t.relname);
        -- Reports have no business with the key hashes (an offline guess needs only them).
        IF t.relname <> 'api_keys' THEN
            EXECUTE format('GRANT SELECT ON TABLE %I.%I TO missionops_readonly',
                           current_schema(), t.relname);
        END IF;
    END LOOP;
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO missionops_app',
                   current_schema());
END $$;

-- Tables and sequences that later migrations create (as this same owner).
DO $$
BEGIN
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I
                    GRANT SELECT, INSERT, UPDATE ON TABLES TO missionops_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I
                    GRANT SELECT ON TABLES TO missionops_readonly', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I
                    GRANT USAGE ON SEQUENCES TO missionops_app', current_schema());
END $$;
