//! The command line: every command, flag and help text, as clap derive types.
//!
//! Values are parsed into domain types here (spacecraft ids, timestamps, …) so that a bad value
//! is rejected by clap with its usage message before anything is opened.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use missionops_core::{
    AlarmId, AlarmStates, ConfigSource, ConfigStatus, DemoProfile, DocumentCategory, DocumentId,
    DocumentTitle, MissionType, Operator, SpacecraftId, SpacecraftName, Tag, Timestamp,
};

/// Shown under the top-level `--help`: how to read the exit status.
const TOP_AFTER_HELP: &str = "\
Storage:
  --database-url / MISSIONOPS_DATABASE_URL: sqlite://FILE (default sqlite://missionops.db,
  created and migrated on first use), postgres://USER:PASSWORD@HOST/DB (run `missionops migrate`
  first) or memory: (nothing is kept). A .env file in the working directory is read when present.

Tenants:
  --tenant T picks the tenant a data command acts in (default `default`), as the installation's
  operator: ingest, import, export, status, seed-demo-data, spacecraft, config, docs, packets,
  keys, …. `serve` takes each request's tenant from its API key.

Output:
  Tables by default; --json prints JSON (numbers as the HTTP API prints them). Colour only on a
  terminal, never with --json or when NO_COLOR is set. Progress bars go to stderr, only when it
  is a terminal.

Exit status:
  0  success
  1  failure: storage, network or file error
  2  invalid input: bad arguments, a malformed value, file or import line
  3  not found: an unknown spacecraft, document or configuration
  4  conflict: the data clashes with what is stored (an id already used with other content)
  5  unavailable: the database is locked by another process, cannot be reached or is full;
     run it again once that passes

Examples:
  missionops seed-demo-data
  missionops status
  missionops anomalies list --spacecraft-id Sat-Imager-001
  missionops serve --bind 127.0.0.1:3000";

/// MissionOps: spacecraft operations data from the terminal.
///
/// The same application services as the HTTP API, over the same storage: telemetry ingest,
/// analysis and anomaly detection, spacecraft and their limits configuration, operational
/// documents, the event history, demo data, NDJSON/CSV import and export, and the HTTP server.
#[derive(Debug, Parser)]
#[command(name = "missionops", version, after_help = TOP_AFTER_HELP)]
pub(crate) struct Cli {
    /// Database URL: sqlite://FILE, postgres://USER:PASSWORD@HOST/DB or memory:
    #[arg(
        long,
        global = true,
        env = "MISSIONOPS_DATABASE_URL",
        default_value = "sqlite://missionops.db",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: String,

    /// Print JSON instead of tables, for scripts
    #[arg(long, global = true)]
    pub json: bool,

    /// The tenant whose data the command reads and writes (default `default`); not for
    /// `serve`, `migrate` and `outbox`, which work for every tenant
    #[arg(long, global = true, value_name = "TENANT")]
    pub tenant: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Ingest telemetry: one snapshot (or an array of them) as JSON
    ///
    /// The snapshot comes from the argument, from --file, or from stdin when neither is given:
    /// {"id"?, "spacecraftId", "timestamp", "parameters": {name: number | string | boolean}}.
    /// Ingest is idempotent by id; a spacecraft nobody registered is registered implicitly.
    #[command(after_help = "\
Examples:
  missionops ingest-telemetry '{\"spacecraftId\":\"SC-001\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"parameters\":{\"temp\":42,\"mode\":\"CRUISE\"}}'
  missionops ingest-telemetry --file snapshot.json
  echo '{\"spacecraftId\":\"SC-001\",\"timestamp\":\"2025-01-01T00:01:00Z\",\"parameters\":{\"temp\":43}}' | missionops ingest-telemetry")]
    IngestTelemetry(IngestArgs),

    /// List a spacecraft's newest telemetry snapshots, newest first
    #[command(after_help = "\
Examples:
  missionops list-telemetry --spacecraft-id Sat-Imager-001 --limit 5
  missionops list-telemetry --spacecraft-id SC-001 --json")]
    ListTelemetry(ListTelemetryArgs),

    /// Analyse telemetry against the spacecraft's limits (nothing is stored)
    ///
    /// Without --from/--to: the newest --limit snapshots, newest first (as the TypeScript
    /// service). With both: every snapshot of the window, oldest first. Use `detect` to store
    /// what is found.
    #[command(after_help = "\
Examples:
  missionops analyze-telemetry --spacecraft-id Sat-Imager-001 --limit 50
  missionops analyze-telemetry --spacecraft-id SC-001 --from 2025-01-01T00:00:00Z --to 2025-01-02T00:00:00Z")]
    AnalyzeTelemetry(AnalyzeArgs),

    /// List the newest mission events, of one spacecraft or of all
    #[command(after_help = "\
Examples:
  missionops list-events
  missionops list-events --spacecraft-id Sat-Imager-001 --limit 50")]
    ListEvents(ListEventsArgs),

    /// Search operational documents, best match first
    ///
    /// Matches the query in titles and bodies (ignoring case) or as a tag.
    #[command(after_help = "\
Examples:
  missionops search-docs battery
  missionops search-docs \"safe mode\" --limit 3 --json")]
    SearchDocs(SearchDocsArgs),

    /// Seed the four demo spacecraft with simulated telemetry, limits and anomalies
    ///
    /// Sat-Imager-001 (LEO_IMAGING), GNSS-Nav-Alpha (GNSS), GEO-Comms-01 (GEO_COMMS) and
    /// Cube-001 (CUBESAT): random-walk telemetry with occasional spikes that cross their limits,
    /// ending now (or at --end), and the anomalies those spikes cause. The same --seed and --end
    /// give the same data, and running it again stores nothing new. --dry-run writes nothing.
    #[command(after_help = "\
Examples:
  missionops seed-demo-data
  missionops seed-demo-data 10 60 --dry-run
  missionops seed-demo-data 1440 30 --seed 7 --end 2025-01-01T00:00:00Z --profile CUBESAT
  missionops seed-demo-data --packets")]
    SeedDemoData(SeedArgs),

    /// Publish the demo documents: procedures, telemetry definitions and mission notes
    ///
    /// One set per demo spacecraft (registered when missing). Documents already published are
    /// left alone, so running it twice publishes nothing new.
    #[command(after_help = "\
Examples:
  missionops seed-demo-docs
  missionops seed-demo-docs --dry-run")]
    SeedDemoDocs(SeedDocsArgs),

    /// Run the HTTP service until ctrl-c or SIGTERM
    ///
    /// The address comes from --bind, else MISSIONOPS_BIND, else PORT (as 127.0.0.1:$PORT, for
    /// compatibility; set MISSIONOPS_BIND=0.0.0.0:$PORT to listen on every interface), else
    /// 127.0.0.1:3000. Logs go to stderr; RUST_LOG filters them (default info). Requests are
    /// logged when they fail (5xx) or are slow (--slow-request), every one with --access-log. On
    /// ctrl-c or SIGTERM the server stops accepting connections and finishes the requests in
    /// flight.
    #[command(after_help = "\
Examples:
  missionops serve
  missionops serve --bind 0.0.0.0:8080 --cors-origin https://ops.example.org
  RUST_LOG=debug MISSIONOPS_DATABASE_URL=postgres://ops@db/missionops missionops serve
  missionops serve --access-log --slow-request 250ms
  missionops serve --bind 0.0.0.0:3443 --tls-cert /etc/missionops/ops.crt --tls-key /etc/missionops/ops.key
  missionops serve --nats-url nats://127.0.0.1:4222 --nats-create-stream
  MISSIONOPS_WEBHOOK_SECRET=… missionops serve --webhook-url https://ops.example/hook")]
    Serve(Box<ServeArgs>),

    /// Inspect and retry event delivery: counts, dead letters
    ///
    /// `serve` delivers every recorded event to NATS JetStream and webhooks (see its --help).
    /// An event whose delivery failed --outbox-max-attempts times is a dead letter: it is
    /// listed here, and `retry` puts it back for the running server to deliver.
    #[command(
        subcommand,
        after_help = "\
Examples:
  missionops outbox stats
  missionops outbox list --json
  missionops outbox retry 42 43
  missionops outbox retry --all"
    )]
    Outbox(OutboxCommand),

    /// Create, list and revoke API keys (SPEC §9)
    ///
    /// Works on the database directly, as the operator of the installation: --tenant picks
    /// the tenant (default `default`). Once a key exists the server needs one on every route
    /// but /healthz, /readyz and /openapi.json; a running server sees a new or revoked key
    /// within a second.
    #[command(
        subcommand,
        after_help = "\
Examples:
  missionops keys create --name alice --role admin
  missionops keys create --name ground-station-1 --role operator --expires-in 90d
  missionops keys list
  missionops keys revoke 0190f3a2c4e87b1a9d5e6f7a8b9c0d1e"
    )]
    Keys(KeysCommand),

    /// Create or update the database schema
    ///
    /// SQLite files are also migrated when first opened; PostgreSQL databases must be migrated
    /// with this command before use, connected as the database owner: it also creates the
    /// roles `missionops_app` (what `serve` needs, history insert-only) and
    /// `missionops_readonly` (SELECT only) when missing, and grants them this database.
    #[command(after_help = "\
Examples:
  missionops migrate
  missionops --database-url postgres://postgres@127.0.0.1/missionops migrate
  missionops --database-url postgres://missionops_app@127.0.0.1/missionops serve")]
    Migrate,

    /// Register, list and show spacecraft
    #[command(
        subcommand,
        after_help = "\
Examples:
  missionops spacecraft add --id SC-001 --name \"Imager One\" --mission-type LEO_IMAGING
  missionops spacecraft list
  missionops spacecraft show SC-001"
    )]
    Spacecraft(SpacecraftCommand),

    /// Read, change and trace a spacecraft's limits configuration
    #[command(
        subcommand,
        after_help = "\
Examples:
  missionops config get SC-001
  echo '{\"parameters\":{\"temp\":{\"warnHigh\":45,\"critHigh\":70}}}' | missionops config set SC-001
  missionops config history SC-001"
    )]
    Config(ConfigCommand),

    /// Analyse a time window and store the anomalies found (each once, with an event)
    ///
    /// The window defaults to the 24 hours before --to (which defaults to now).
    #[command(after_help = "\
Examples:
  missionops detect --spacecraft-id Sat-Imager-001
  missionops detect --spacecraft-id SC-001 --from 2025-01-01T00:00:00Z --to 2025-01-02T00:00:00Z")]
    Detect(DetectArgs),

    /// List stored anomalies
    #[command(
        subcommand,
        after_help = "\
Examples:
  missionops anomalies list --spacecraft-id Sat-Imager-001"
    )]
    Anomalies(AnomaliesCommand),

    /// List, acknowledge and shelve alarms
    ///
    /// An alarm is one excursion of one parameter out of limits. It is ACTIVE until someone
    /// acknowledges it, ACKNOWLEDGED until the value returns, then CLEARED; an alarm that clears
    /// unacknowledged stays ACTIVE (and listed) until acknowledged. SHELVED silences it until a
    /// time.
    #[command(
        subcommand,
        after_help = "\
Examples:
  missionops alarms list --spacecraft-id Sat-Imager-001
  missionops alarms ack 0197a1b2-0000-7000-8000-000000000000 --by flight --comment \"heater cycling\"
  missionops alarms shelve 0197a1b2-0000-7000-8000-000000000000 --until 2025-01-01T06:00:00Z --by flight"
    )]
    Alarms(AlarmsCommand),

    /// Publish, show and list operational documents
    #[command(
        subcommand,
        after_help = "\
Examples:
  missionops docs add --title \"Battery recovery\" --category procedure --tag battery_soc --file recovery.md
  missionops docs list --category procedure
  missionops docs show 0197a1b2-0000-7000-8000-000000000000"
    )]
    Docs(DocsCommand),

    /// Show the health of one spacecraft, or of the whole fleet
    ///
    /// Counts the stored anomalies of the last 1, 6 and 24 hours; the overall status is
    /// CRITICAL when the worst of the last 24 hours is HIGH or CRITICAL, WARNING when MEDIUM,
    /// else NOMINAL.
    #[command(after_help = "\
Examples:
  missionops status
  missionops status Sat-Imager-001 --json")]
    Status(StatusArgs),

    /// Import telemetry snapshots from NDJSON or CSV, or CCSDS Space Packets
    ///
    /// CCSDS: Space Packets back to back (--format ccsds --spacecraft-id ID), decoded with the
    /// spacecraft's packet definition (`packets define`); a bad packet stops the import naming
    /// its byte offset (or is counted and skipped with --skip-invalid).
    ///
    /// NDJSON: one snapshot a line, {"id"?, "spacecraftId", "timestamp", "parameters"}.
    /// CSV: header id,spacecraftId,timestamp,<parameter>..., one row per snapshot; an empty cell
    /// means the parameter is absent, a cell that reads as a finite number is a number,
    /// true/false are booleans, anything else is a string.
    ///
    /// The whole input is checked first: the first bad line is reported with its number and
    /// nothing is imported (unless --skip-invalid). Then it is ingested in batches of 1,000.
    /// A snapshot without an id gets one derived from its content, so importing the same file
    /// again stores nothing new.
    #[command(after_help = "\
Examples:
  missionops import telemetry.ndjson
  missionops import export.csv --skip-invalid
  gunzip -c archive.ndjson.gz | missionops import --format ndjson
  missionops import --format ccsds --spacecraft-id Sat-Imager-001 pass.bin")]
    Import(ImportArgs),

    /// Packet telemetry: define a spacecraft's packets (XTCE)
    #[command(
        subcommand,
        after_help = "\
Examples:
  missionops packets define Sat-Imager-001 sat-imager-001.xml"
    )]
    Packets(PacketsCommand),

    /// Export a spacecraft's telemetry as NDJSON or CSV, oldest first
    ///
    /// Streams page by page, so any amount of telemetry exports in bounded memory. NDJSON is
    /// an exact copy; CSV cannot tell a string that reads as a number or boolean (or is empty)
    /// from that value, nor keep two different parameter orders, and warns when that happens.
    #[command(after_help = "\
Examples:
  missionops export --spacecraft-id Sat-Imager-001 --output sat.ndjson
  missionops export --spacecraft-id SC-001 --format csv --from 2025-01-01T00:00:00Z > day.csv")]
    Export(ExportArgs),
}

/// `ingest-telemetry`.
#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    /// The snapshot as JSON (or an array of snapshots)
    #[arg(value_name = "SNAPSHOT_JSON", conflicts_with = "file")]
    pub snapshot: Option<String>,

    /// Read the snapshot from this file ("-" for stdin)
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `list-telemetry`.
#[derive(Debug, Args)]
pub(crate) struct ListTelemetryArgs {
    /// The spacecraft
    #[arg(long, value_name = "ID")]
    pub spacecraft_id: SpacecraftId,

    /// How many snapshots, 1–100
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    pub limit: i64,
}

/// An optional time window: both ends or neither.
#[derive(Debug, Args)]
pub(crate) struct WindowArgs {
    /// Start of the window (RFC 3339, inclusive); requires --to
    #[arg(long, value_name = "TIME", requires = "to")]
    pub from: Option<Timestamp>,

    /// End of the window (RFC 3339, inclusive); requires --from
    #[arg(long, value_name = "TIME", requires = "from")]
    pub to: Option<Timestamp>,
}

/// `analyze-telemetry`.
#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
    /// The spacecraft
    #[arg(long, value_name = "ID")]
    pub spacecraft_id: SpacecraftId,

    /// How many of the newest snapshots to analyse, 1–100 (without --from/--to)
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    pub limit: i64,

    #[command(flatten)]
    pub window: WindowArgs,
}

/// `list-events`.
#[derive(Debug, Args)]
pub(crate) struct ListEventsArgs {
    /// Only this spacecraft's events (all when absent)
    #[arg(long, value_name = "ID")]
    pub spacecraft_id: Option<SpacecraftId>,

    /// How many events, 1–100
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    pub limit: i64,
}

/// `search-docs`.
#[derive(Debug, Args)]
pub(crate) struct SearchDocsArgs {
    /// The text to look for
    pub query: String,

    /// How many documents, 1–50
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    pub limit: i64,
}

/// `seed-demo-data`.
#[derive(Debug, Args)]
pub(crate) struct SeedArgs {
    /// Minutes of telemetry to simulate, 1–10080
    #[arg(
        value_name = "durationMinutes",
        default_value_t = 120,
        allow_negative_numbers = true
    )]
    pub duration_minutes: i64,

    /// Seconds between two samples, 1–86400
    #[arg(
        value_name = "intervalSeconds",
        default_value_t = 60,
        allow_negative_numbers = true
    )]
    pub interval_seconds: i64,

    /// Print what would be written, and write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// The simulation's seed: the same seed and --end give the same data
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// When the last sample is taken (RFC 3339); now when absent
    #[arg(long, value_name = "TIME")]
    pub end: Option<Timestamp>,

    /// Seed only this profile (repeatable): LEO_IMAGING, GNSS, GEO_COMMS, CUBESAT
    #[arg(long = "profile", value_name = "PROFILE", value_parser = parse_profile)]
    pub profiles: Vec<DemoProfile>,

    /// Send Sat-Imager-001's telemetry through the packet path: define its packet definition
    /// (XTCE), encode each simulated snapshot as a Space Packet and ingest the packets
    #[arg(long)]
    pub packets: bool,
}

/// `seed-demo-docs`.
#[derive(Debug, Args)]
pub(crate) struct SeedDocsArgs {
    /// Print what would be published, and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on, HOST:PORT [default: 127.0.0.1:3000, or 127.0.0.1:$PORT]
    #[arg(long, env = "MISSIONOPS_BIND", value_name = "ADDR")]
    pub bind: Option<String>,

    /// Largest accepted request body (bytes, or with a unit: 512KiB, 16MiB, 1GB)
    #[arg(long, env = "MISSIONOPS_BODY_LIMIT", default_value = "16MiB", value_name = "SIZE", value_parser = parse_size)]
    pub body_limit: usize,

    /// How long a request may take before it answers 503 (30s, 500ms, 2m; plain numbers are seconds)
    #[arg(long, env = "MISSIONOPS_REQUEST_TIMEOUT", default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// How long a client may take to send a request's headers before it is disconnected;
    /// protects against slowloris clients that hold connections open by sending headers a
    /// byte at a time (10s, 500ms; plain numbers are seconds)
    #[arg(long, env = "MISSIONOPS_HEADER_READ_TIMEOUT", default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub header_read_timeout: Duration,

    /// How long a keep-alive connection may wait for its next request before it is closed;
    /// protects against idle connections piling up, each holding a file descriptor and
    /// buffers (keep it above a load balancer's own idle timeout)
    #[arg(long, env = "MISSIONOPS_IDLE_TIMEOUT", default_value = "75s", value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// How many connections may be open at once; more are answered 503 with Retry-After, or
    /// closed. Protects memory and file descriptors against floods of connections (keep it
    /// under the process's descriptor limit, `ulimit -n`)
    #[arg(long, env = "MISSIONOPS_MAX_CONNECTIONS", default_value = "512", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// How many failed authentications one client address may make within a minute before
    /// its requests are answered 429 for a minute; protects keys against guessing. Behind a
    /// reverse proxy every client shares the proxy's address: raise it there
    #[arg(long, env = "MISSIONOPS_MAX_AUTH_FAILURES", default_value = "20", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_auth_failures: u32,

    /// How many bytes of request bodies all requests together may hold at once (bytes, or with
    /// a unit: 64MiB, 1GiB); a request whose body does not fit is answered 503 with
    /// Retry-After before its body is read. Protects memory against many large uploads at
    /// once: a request holds several times its body while it is parsed and written. Raised to
    /// --body-limit when lower
    #[arg(long, env = "MISSIONOPS_MAX_BODY_BYTES_IN_FLIGHT", default_value = "64MiB", value_name = "SIZE", value_parser = parse_size)]
    pub max_body_bytes_in_flight: usize,

    /// How often the alarm monitor's clock tick runs: stale parameters, lost contact, shelvings
    /// that ran out (5s, 500ms, 1m; plain numbers are seconds)
    #[arg(long, env = "MISSIONOPS_MONITOR_TICK", default_value = "5s", value_name = "DURATION", value_parser = parse_duration)]
    pub monitor_tick: Duration,

    /// Allow this CORS origin (repeatable, or comma-separated in the variable; * for any)
    #[arg(
        long = "cors-origin",
        env = "MISSIONOPS_CORS_ORIGINS",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,

    /// Log every request at info (method, path, route, status, milliseconds). Without it only
    /// 5xx (at error) and slow requests (at warn) are logged; RUST_LOG=missionops_http::access=debug
    /// shows the others at debug
    #[arg(long, env = "MISSIONOPS_ACCESS_LOG")]
    pub access_log: bool,

    /// Log a request whose response takes at least this long to start at warn, whatever its
    /// status (1s, 500ms, 2m; plain numbers are seconds)
    #[arg(long, env = "MISSIONOPS_SLOW_REQUEST", default_value = "1s", value_name = "DURATION", value_parser = parse_duration)]
    pub slow_request: Duration,

    /// Serve HTTPS with this certificate chain (PEM: the server's certificate first, then its
    /// intermediates); needs --tls-key. Read once at start: a renewed certificate takes a restart
    #[arg(
        long,
        env = "MISSIONOPS_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1); needs --tls-cert
    #[arg(
        long,
        env = "MISSIONOPS_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// What an acknowledged telemetry write survives. `process`: a crash or kill -9 of this
    /// server (SQLite synchronous=NORMAL; PostgreSQL commits telemetry without waiting for its
    /// WAL flush); a power cut or OS crash, or a crash of PostgreSQL, may lose the last
    /// fraction of a second of telemetry. `machine`: those too; every commit waits for the
    /// disk (slower). Configurations, keys and documents on PostgreSQL always wait
    #[arg(long, env = "MISSIONOPS_TELEMETRY_DURABILITY", value_enum, default_value_t = Durability::Process, value_name = "SURVIVES")]
    pub telemetry_durability: Durability,

    /// Serve with no API key on an address other than loopback, where anyone who reaches
    /// the port is the admin of tenant `default`; without it `serve` refuses to start there
    /// until a key exists (`missionops keys create`)
    #[arg(long, env = "MISSIONOPS_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,

    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

/// `serve`: event delivery from the outbox. The dispatcher runs when a NATS URL or a webhook
/// URL is given.
#[derive(Debug, Args)]
#[command(next_help_heading = "Event delivery")]
pub(crate) struct DeliveryArgs {
    /// Publish every event to NATS JetStream at this server (nats://HOST:4222); needs a build
    /// with the `nats` feature
    #[arg(
        long,
        env = "MISSIONOPS_NATS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub nats_url: Option<String>,

    /// Subjects are PREFIX.<tenant>.<spacecraftId>.<TYPE> (`_` for events without a spacecraft)
    #[arg(
        long,
        env = "MISSIONOPS_NATS_SUBJECT_PREFIX",
        default_value = "missionops.events",
        value_name = "PREFIX"
    )]
    pub nats_subject_prefix: String,

    /// Create the JetStream stream (subjects PREFIX.>) when it does not exist
    #[arg(long, env = "MISSIONOPS_NATS_CREATE_STREAM")]
    pub nats_create_stream: bool,

    /// POST every event, signed, to this URL (repeatable, or comma-separated in the variable)
    #[arg(
        long = "webhook-url",
        env = "MISSIONOPS_WEBHOOK_URLS",
        value_name = "URL",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub webhook_urls: Vec<String>,

    /// The shared secret webhook signatures are made with (required with --webhook-url)
    #[arg(
        long,
        env = "MISSIONOPS_WEBHOOK_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,

    /// How long one webhook request may take
    #[arg(long, env = "MISSIONOPS_WEBHOOK_TIMEOUT", default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub webhook_timeout: Duration,

    /// Failed attempts after which an event becomes a dead letter
    #[arg(
        long,
        env = "MISSIONOPS_OUTBOX_MAX_ATTEMPTS",
        default_value_t = 10,
        value_name = "N"
    )]
    pub outbox_max_attempts: u32,

    /// The most events claimed and delivered at once
    #[arg(
        long,
        env = "MISSIONOPS_OUTBOX_BATCH_SIZE",
        default_value_t = 100,
        value_name = "N"
    )]
    pub outbox_batch_size: usize,

    /// How often to look for new events when idle, in milliseconds
    #[arg(
        long,
        env = "MISSIONOPS_OUTBOX_POLL_MS",
        default_value_t = 500,
        value_name = "MS"
    )]
    pub outbox_poll_ms: u64,
}

/// `keys …`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key and print it, once: only its hash is stored
    #[command(after_help = "\
Examples:
  missionops keys create --name alice --role admin
  missionops keys create --name ground-station-1 --role operator --tenant mission-a --expires-in 90d")]
    Create {
        /// Its name, shown in the audit trail and as `acknowledgedBy`
        #[arg(long, value_name = "NAME")]
        name: String,

        /// What it may do: viewer, operator, engineer or admin
        #[arg(long, value_name = "ROLE")]
        role: String,

        /// How long it stays valid (90d, 12h, 30m, 45s); forever when absent
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },

    /// List the keys of a tenant (never a secret)
    #[command(after_help = "\
Examples:
  missionops keys list
  missionops keys list --tenant mission-a --json")]
    List,

    /// Revoke a key (running servers refuse it within a second)
    #[command(after_help = "\
Examples:
  missionops keys revoke 0190f3a2c4e87b1a9d5e6f7a8b9c0d1e")]
    Revoke {
        /// The key's id (the part after `mo_`, as `keys list` shows it)
        #[arg(value_name = "KEY_ID")]
        key_id: String,
    },
}

/// `outbox …`.
#[derive(Debug, Subcommand)]
pub(crate) enum OutboxCommand {
    /// Count events by delivery state: pending, delivered, dead
    #[command(after_help = "\
Examples:
  missionops outbox stats
  missionops outbox stats --json")]
    Stats,

    /// List dead letters (events whose delivery was given up), lowest sequence first
    #[command(after_help = "\
Examples:
  missionops outbox list
  missionops outbox list --limit 10 --json")]
    List {
        /// How many, at most
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },

    /// Put dead letters back for delivery, with no attempts counted
    #[command(
        group(clap::ArgGroup::new("which").required(true).args(["sequences", "all"])),
        after_help = "\
Examples:
  missionops outbox retry 42 43
  missionops outbox retry --all"
    )]
    Retry {
        /// The sequences of the dead letters (see `outbox list`)
        #[arg(value_name = "SEQUENCE")]
        sequences: Vec<u64>,

        /// Every dead letter
        #[arg(long, conflicts_with = "sequences")]
        all: bool,
    },
}

/// `spacecraft …`.
#[derive(Debug, Subcommand)]
pub(crate) enum SpacecraftCommand {
    /// Register a spacecraft
    #[command(after_help = "\
Examples:
  missionops spacecraft add --id SC-001 --name \"Imager One\" --mission-type LEO_IMAGING
  missionops spacecraft add --name \"Test bird\" --metadata '{\"operator\":\"ESOC\"}'")]
    Add {
        /// Its id (generated when absent): no whitespace or '/'
        #[arg(long, value_name = "ID")]
        id: Option<SpacecraftId>,

        /// Its human name
        #[arg(long)]
        name: SpacecraftName,

        /// LEO_IMAGING, GNSS, GEO_COMMS, CUBESAT or any label (UNSPECIFIED when absent)
        #[arg(long, value_name = "TYPE")]
        mission_type: Option<MissionType>,

        /// Free-form fields, as a JSON object
        #[arg(long, value_name = "JSON")]
        metadata: Option<String>,
    },

    /// List spacecraft with their configuration status, oldest registration first
    #[command(after_help = "\
Examples:
  missionops spacecraft list
  missionops spacecraft list --limit 100 --offset 100 --json")]
    List {
        /// How many, 1–100
        #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
        limit: i64,

        /// How many to skip
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },

    /// Show one spacecraft
    #[command(after_help = "\
Examples:
  missionops spacecraft show Sat-Imager-001")]
    Show {
        /// The spacecraft
        #[arg(value_name = "ID")]
        id: SpacecraftId,
    },
}

/// `config …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Show a spacecraft's current configuration
    #[command(after_help = "\
Examples:
  missionops config get Sat-Imager-001
  missionops config get SC-001 --json > sc-001.json")]
    Get {
        /// The spacecraft
        #[arg(value_name = "ID")]
        id: SpacecraftId,
    },

    /// Store a new configuration version, read from a file or stdin
    ///
    /// The document is a JSON object whose "parameters" map names to rules
    /// ({"warnLow", "warnHigh", "critLow", "critHigh", …}); inconsistent rules are rejected
    /// naming the parameter and field. The previous version is kept (see `config history`).
    #[command(after_help = "\
Examples:
  missionops config set SC-001 limits.json
  echo '{\"parameters\":{\"temp\":{\"warnHigh\":45,\"critHigh\":70}}}' | missionops config set SC-001
  missionops config set SC-001 draft.json --status draft
  missionops config set SC-001 limits.json --over 3    # refused (exit 4) if 3 is no longer the newest")]
    Set {
        /// The spacecraft (registered when unknown)
        #[arg(value_name = "ID")]
        id: SpacecraftId,

        /// The JSON file ("-" or absent: stdin)
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,

        /// approved or draft
        #[arg(long, default_value = "approved", value_parser = parse_status)]
        status: ConfigStatus,

        /// manual, seed or import
        #[arg(long, default_value = "manual", value_parser = parse_source)]
        source: ConfigSource,

        /// Store it only if VERSION is still the newest (0: no configuration yet): the version
        /// the document was made from, so that one saved meanwhile is not replaced unseen
        /// (exit 4 naming both versions)
        #[arg(long, value_name = "VERSION")]
        over: Option<u32>,
    },

    /// List every version of a spacecraft's configuration, oldest first
    #[command(after_help = "\
Examples:
  missionops config history Sat-Imager-001")]
    History {
        /// The spacecraft
        #[arg(value_name = "ID")]
        id: SpacecraftId,
    },
}

/// `detect`.
#[derive(Debug, Args)]
pub(crate) struct DetectArgs {
    /// The spacecraft
    #[arg(long, value_name = "ID")]
    pub spacecraft_id: SpacecraftId,

    /// Start of the window (RFC 3339) [default: 24 hours before --to]
    #[arg(long, value_name = "TIME")]
    pub from: Option<Timestamp>,

    /// End of the window (RFC 3339) [default: now]
    #[arg(long, value_name = "TIME")]
    pub to: Option<Timestamp>,
}

/// `alarms …`.
#[derive(Debug, Subcommand)]
pub(crate) enum AlarmsCommand {
    /// List alarms, most recently opened first (default: every alarm not yet CLEARED)
    #[command(after_help = "\
Examples:
  missionops alarms list
  missionops alarms list --limit 20
  missionops alarms list --spacecraft-id SC-001 --state ALL --json")]
    List {
        /// Only this spacecraft's
        #[arg(long, value_name = "ID")]
        spacecraft_id: Option<SpacecraftId>,

        /// ACTIVE, ACKNOWLEDGED, CLEARED, SHELVED, OPEN (every state but CLEARED) or ALL
        #[arg(long, default_value = "OPEN", value_parser = parse_alarm_states)]
        state: AlarmStates,

        /// Only the N most recently opened, 1–1,000 (the table then says how many there are
        /// in all); every one when absent
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        limit: Option<i64>,
    },

    /// Acknowledge an alarm
    #[command(after_help = "\
Examples:
  missionops alarms ack 0197a1b2-0000-7000-8000-000000000000 --by flight --comment \"heater cycling\"")]
    Ack {
        /// The alarm's id
        id: AlarmId,

        /// Who acknowledges it
        #[arg(long)]
        by: Operator,

        /// What is being done about it
        #[arg(long)]
        comment: Option<String>,
    },

    /// Shelve an alarm until a time: it raises no events meanwhile
    #[command(after_help = "\
Examples:
  missionops alarms shelve 0197a1b2-0000-7000-8000-000000000000 --until 2025-01-01T06:00:00Z --by flight --comment \"known heater issue\"")]
    Shelve {
        /// The alarm's id
        id: AlarmId,

        /// Until when (RFC 3339, in the future)
        #[arg(long, value_name = "TIME")]
        until: Timestamp,

        /// Who shelves it
        #[arg(long)]
        by: Operator,

        /// Why
        #[arg(long)]
        comment: Option<String>,
    },

    /// End a shelving early
    #[command(after_help = "\
Examples:
  missionops alarms unshelve 0197a1b2-0000-7000-8000-000000000000 --by flight")]
    Unshelve {
        /// The alarm's id
        id: AlarmId,

        /// Who unshelves it
        #[arg(long)]
        by: Operator,
    },
}

fn parse_alarm_states(text: &str) -> Result<AlarmStates, String> {
    AlarmStates::parse(&text.to_ascii_uppercase()).map_err(|e| e.to_string())
}

/// `anomalies …`.
#[derive(Debug, Subcommand)]
pub(crate) enum AnomaliesCommand {
    /// List a spacecraft's stored anomalies: the newest, or a window in time order
    #[command(after_help = "\
Examples:
  missionops anomalies list --spacecraft-id Sat-Imager-001
  missionops anomalies list --spacecraft-id SC-001 --from 2025-01-01T00:00:00Z --to 2025-01-02T00:00:00Z --json")]
    List {
        /// The spacecraft
        #[arg(long, value_name = "ID")]
        spacecraft_id: SpacecraftId,

        /// How many of the newest, 1–200 (without --from/--to)
        #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
        limit: i64,

        #[command(flatten)]
        window: WindowArgs,
    },
}

/// `docs …`.
#[derive(Debug, Subcommand)]
pub(crate) enum DocsCommand {
    /// Publish a document; the Markdown body comes from --body, --file or stdin
    #[command(after_help = "\
Examples:
  missionops docs add --title \"Battery recovery\" --category procedure --tag battery_soc --file recovery.md
  missionops docs add --title \"Pass notes\" --spacecraft-id SC-001 --body \"Nominal pass.\"")]
    Add {
        /// The title
        #[arg(long)]
        title: DocumentTitle,

        /// The Markdown body
        #[arg(long, conflicts_with = "file")]
        body: Option<String>,

        /// Read the body from this file ("-" for stdin)
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,

        /// The spacecraft it is about
        #[arg(long, value_name = "ID")]
        spacecraft_id: Option<SpacecraftId>,

        /// config_spec, telemetry_definition, procedure, mission_note, report, general or any label
        #[arg(long)]
        category: Option<DocumentCategory>,

        /// A tag (repeatable)
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<Tag>,
    },

    /// Show a document with its body
    #[command(after_help = "\
Examples:
  missionops docs show 0197a1b2-0000-7000-8000-000000000000
  missionops docs show 0197a1b2-0000-7000-8000-000000000000 --json")]
    Show {
        /// The document's id
        #[arg(value_name = "ID")]
        id: DocumentId,
    },

    /// List documents, newest first
    #[command(after_help = "\
Examples:
  missionops docs list
  missionops docs list --spacecraft-id Sat-Imager-001 --category procedure --tag battery_soc")]
    List {
        /// Only documents about this spacecraft
        #[arg(long, value_name = "ID")]
        spacecraft_id: Option<SpacecraftId>,

        /// Only this category
        #[arg(long)]
        category: Option<DocumentCategory>,

        /// Only documents with this tag
        #[arg(long)]
        tag: Option<Tag>,

        /// How many, 1–100
        #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
        limit: i64,

        /// How many to skip
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
}

/// `status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The spacecraft; the whole fleet when absent
    #[arg(value_name = "ID")]
    pub id: Option<SpacecraftId>,
}

/// `serve --telemetry-durability`: what an acknowledged telemetry write survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Durability {
    /// A crash or kill -9 of the server
    Process,
    /// A crash of the machine too: every commit waits for the disk
    Machine,
}

impl From<Durability> for missionops_store::TelemetryDurability {
    fn from(durability: Durability) -> Self {
        match durability {
            Durability::Process => Self::Process,
            Durability::Machine => Self::Machine,
        }
    }
}

/// A telemetry file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One JSON snapshot per line
    Ndjson,
    /// One row per snapshot, one column per parameter
    Csv,
    /// CCSDS Space Packets back to back, decoded with the spacecraft's packet definition
    /// (import only; needs --spacecraft-id)
    Ccsds,
}

/// `packets …`.
#[derive(Debug, Subcommand)]
pub(crate) enum PacketsCommand {
    /// Store a new version of a spacecraft's packet definition (XTCE), read from a file or stdin
    ///
    /// The definition is compiled first: anything outside the supported XTCE subset is refused
    /// naming the element and its line, and nothing is stored. Static alarm ranges become the
    /// limits of the parameters the spacecraft's configuration does not set.
    #[command(after_help = "\
Examples:
  missionops packets define Sat-Imager-001 sat-imager-001.xml")]
    Define {
        /// The spacecraft (registered when unknown)
        #[arg(value_name = "ID")]
        id: SpacecraftId,
        /// The XTCE document ("-" or absent: stdin)
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },

    /// Receive Space Packets over UDP or TCP and ingest them as live telemetry
    ///
    /// UDP: one packet per datagram. TCP: a byte stream of packets back to back, framed by
    /// their length fields; a connection whose stream stops making sense (a packet that is not
    /// version 0) is closed. Bad packets are counted and skipped, never fatal. Runs until ctrl-c
    /// or SIGTERM, logging the counts of what it ingested.
    #[command(after_help = "\
Examples:
  missionops packets listen --udp 0.0.0.0:10015 --spacecraft-id Sat-Imager-001
  missionops packets listen --tcp 127.0.0.1:10016 --spacecraft-id Sat-Imager-001")]
    Listen {
        /// Receive datagrams on this address (HOST:PORT)
        #[arg(
            long,
            value_name = "ADDR",
            conflicts_with = "tcp",
            required_unless_present = "tcp"
        )]
        udp: Option<String>,
        /// Accept connections on this address (HOST:PORT)
        #[arg(long, value_name = "ADDR")]
        tcp: Option<String>,
        /// The spacecraft whose packet definition decodes the packets
        #[arg(long, value_name = "ID")]
        spacecraft_id: SpacecraftId,
    },
}

/// `import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The file to import ("-" or absent: stdin)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// The format [default: csv for a .csv file, else ndjson]
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Skip invalid lines (reporting how many and why) instead of importing nothing
    #[arg(long)]
    pub skip_invalid: bool,

    /// Treat the file as live telemetry: open alarms and raise events. By default imported
    /// telemetry is played back (stored): its anomalies are recorded, but it pages nobody
    #[arg(long)]
    pub live: bool,

    /// The spacecraft whose packet definition decodes a --format ccsds file
    #[arg(long, value_name = "ID")]
    pub spacecraft_id: Option<SpacecraftId>,
}

/// `export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The spacecraft
    #[arg(long, value_name = "ID")]
    pub spacecraft_id: SpacecraftId,

    /// Only snapshots at or after this time (RFC 3339) [default: the beginning]
    #[arg(long, value_name = "TIME")]
    pub from: Option<Timestamp>,

    /// Only snapshots at or before this time (RFC 3339) [default: the end]
    #[arg(long, value_name = "TIME")]
    pub to: Option<Timestamp>,

    /// The format [default: csv for a .csv --output, else ndjson]
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Write to this file instead of stdout (replaced only once the export is complete)
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn parse_profile(value: &str) -> Result<DemoProfile, String> {
    DemoProfile::parse(value).map_err(|e| e.to_string())
}

fn parse_status(value: &str) -> Result<ConfigStatus, String> {
    ConfigStatus::parse(value).map_err(|e| e.to_string())
}

fn parse_source(value: &str) -> Result<ConfigSource, String> {
    ConfigSource::parse(value).map_err(|e| e.to_string())
}

/// Parses a byte size: a plain number of bytes, or a number with a unit (`KB`/`MB`/`GB` are
/// powers of 1000, `K`/`KiB`/`M`/`MiB`/`G`/`GiB` powers of 1024), case-insensitive.
pub(crate) fn parse_size(value: &str) -> Result<usize, String> {
    let text = value.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{value:?} is not a size such as 1048576, 512KiB or 16MiB"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use KiB, MiB, GiB, KB, MB or GB)"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .and_then(|bytes| usize::try_from(bytes).ok())
        .filter(|bytes| *bytes > 0)
        .ok_or_else(|| format!("{value:?} must be more than 0 and fit in memory"))
}

/// Parses a duration: plain seconds, or a number with `ms`, `s`, `m` or `h`.
pub(crate) fn parse_duration(value: &str) -> Result<Duration, String> {
    let text = value.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{value:?} is not a duration such as 30, 30s, 500ms or 2m"))?;
    let duration = match unit.trim() {
        "" | "s" => Duration::from_secs(number),
        "ms" => Duration::from_millis(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3600)),
        other => {
            return Err(format!(
                "unknown duration unit {other:?} (use ms, s, m or h)"
            ));
        }
    };
    if duration.is_zero() {
        return Err(format!("{value:?} must be longer than 0"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn serve_durability(args: &[&str]) -> Result<Durability, clap::Error> {
        let cli = Cli::try_parse_from(["missionops", "serve"].iter().chain(args))?;
        match cli.command {
            Command::Serve(serve) => Ok(serve.telemetry_durability),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn telemetry_durability_is_the_process_unless_the_machine_is_asked_for() {
        assert_eq!(serve_durability(&[]).expect("default"), Durability::Process);
        assert_eq!(
            serve_durability(&["--telemetry-durability", "machine"]).expect("machine"),
            Durability::Machine
        );
        for (flag, store) in [
            (
                Durability::Process,
                missionops_store::TelemetryDurability::Process,
            ),
            (
                Durability::Machine,
                missionops_store::TelemetryDurability::Machine,
            ),
        ] {
            assert_eq!(missionops_store::TelemetryDurability::from(flag), store);
        }
        let err = serve_durability(&["--telemetry-durability", "disk"]).expect_err("disk");
        let message = err.to_string();
        assert!(
            message.contains("disk") && message.contains("process") && message.contains("machine"),
            "names the value and the choices: {message}"
        );
    }

    #[test]
    fn sizes_accept_bytes_and_units() {
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("512kib"), Ok(512 << 10));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        for bad in ["", "MiB", "12 parsecs", "0", "-5"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_accept_seconds_and_units() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        for bad in ["", "0s", "soon", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
