//! The commands: each parses its arguments into domain values, calls one application service
//! and renders the answer. No business rule lives here.

mod alarms;
mod catalog;
mod keys;
mod listen;
mod outbox;
mod packet_links;
mod packets;
mod seed;
mod serve;
mod telemetry;
mod transfer;

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use missionops_core::{BoxError, Caller, Error, MissionOps, Store, TenantId};
use missionops_store::{DatabaseUrl, SystemClock, UuidV7Ids};
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command};
use crate::output::Output;

/// The application over `store` as the CLI composes it: the system clock, UUIDv7 ids, and
/// packet decoding by the packets crate.
pub(crate) fn compose(store: Arc<dyn Store>) -> MissionOps {
    MissionOps::new(store, Arc::new(SystemClock), Arc::new(UuidV7Ids))
        .with_packet_decoding(Arc::new(missionops_packets::XtceDecoding))
}

/// Runs the command `cli` names.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    let serving = matches!(
        cli.command,
        Command::Serve(_) | Command::Packets(crate::args::PacketsCommand::Listen { .. })
    );
    // The server logs its start, failures and slow requests at info and above (every request
    // with --access-log); the other commands print their results on stdout and keep stderr for
    // warnings and the one error line.
    init_logging(if serving { "info" } else { "warn,sqlx=error" });
    let out = Output::new(cli.json);
    let tenant = match cli.tenant {
        Some(tenant) => {
            if let Some(name) = across_tenants(&cli.command) {
                return Err(Error::invalid(
                    "tenant",
                    format!(
                        "`{name}` works for every tenant and takes no --tenant \
                         (the server takes each request's tenant from its API key)"
                    ),
                )
                .into());
            }
            TenantId::parse(tenant)?
        }
        None => TenantId::default_tenant(),
    };
    let db = Database::new(cli.database_url, tenant);
    match cli.command {
        Command::IngestTelemetry(args) => telemetry::ingest(&db.ops().await?, out, args).await,
        Command::ListTelemetry(args) => telemetry::list(&db.ops().await?, out, args).await,
        Command::AnalyzeTelemetry(args) => telemetry::analyze(&db.ops().await?, out, args).await,
        Command::ListEvents(args) => catalog::list_events(&db.ops().await?, out, args).await,
        Command::SearchDocs(args) => catalog::search_docs(&db.ops().await?, out, args).await,
        Command::SeedDemoData(args) => seed::data(&db, out, args).await,
        Command::SeedDemoDocs(args) => seed::docs(&db, out, args).await,
        Command::Serve(args) => serve::serve(&db, *args).await,
        Command::Migrate => catalog::migrate(&db, out).await,
        Command::Outbox(command) => outbox::outbox(&db, out, command).await,
        Command::Keys(command) => keys::keys(&db.ops().await?, out, command).await,
        Command::Spacecraft(command) => catalog::spacecraft(&db.ops().await?, out, command).await,
        Command::Config(command) => catalog::config(&db.ops().await?, out, command).await,
        Command::Detect(args) => telemetry::detect(&db.ops().await?, out, args).await,
        Command::Anomalies(command) => telemetry::anomalies(&db.ops().await?, out, command).await,
        Command::Alarms(command) => alarms::alarms(&db.ops().await?, out, command).await,
        Command::Docs(command) => catalog::docs(&db.ops().await?, out, command).await,
        Command::Status(args) => catalog::status(&db.ops().await?, out, args).await,
        Command::Import(args) => transfer::import(&db.ops().await?, out, args).await,
        Command::Packets(command) => packets::packets(&db.ops().await?, out, command).await,
        Command::Export(args) => transfer::export(&db.ops().await?, out, args).await,
    }
}

/// The name of `command` when it works across tenants (and so takes no `--tenant`).
fn across_tenants(command: &Command) -> Option<&'static str> {
    match command {
        Command::Serve(_) => Some("serve"),
        Command::Migrate => Some("migrate"),
        Command::Outbox(_) => Some("outbox"),
        _ => None,
    }
}

/// Logs on stderr, filtered by `RUST_LOG` when set, else by `default`.
fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    // Fails only when a subscriber is already installed (a second run in one process), which
    // then keeps logging: nothing to report.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// The database the command works on, and the tenant it acts in there.
#[derive(Debug)]
pub(crate) struct Database {
    url: String,
    tenant: TenantId,
}

impl Database {
    fn new(url: String, tenant: TenantId) -> Self {
        Database { url, tenant }
    }

    /// The URL as it may be shown: without a password.
    pub(crate) fn display(&self) -> String {
        redact(&self.url)
    }

    /// The store of this database, opened (and, for SQLite, created and migrated).
    pub(crate) async fn store(&self) -> anyhow::Result<Arc<dyn Store>> {
        missionops_store::open(&self.url)
            .await
            .map_err(|e| self.scrub(e))
            .with_context(|| format!("cannot open database {}", self.display()))
    }

    /// [`Self::store`] for `serve`: the store writes the latest values of live telemetry
    /// behind it and commits telemetry as `durability` says (see README "Storage").
    pub(crate) async fn store_for_server(
        &self,
        durability: missionops_store::TelemetryDurability,
    ) -> anyhow::Result<Arc<dyn Store>> {
        missionops_store::open_for_server(&self.url, durability)
            .await
            .map_err(|e| self.scrub(e))
            .with_context(|| format!("cannot open database {}", self.display()))
    }

    /// The application over this database, opened (and, for SQLite, created and migrated),
    /// acting as the operator of the command's tenant.
    pub(crate) async fn ops(&self) -> anyhow::Result<MissionOps> {
        Ok(self.acting(compose(self.store().await?)))
    }

    /// `ops` acting as the installation's operator in the command's tenant.
    fn acting(&self, ops: MissionOps) -> MissionOps {
        ops.acting_as(Caller::operator_of(self.tenant.clone()))
    }

    /// The application for a dry run: over an empty in-memory store when the database is a
    /// SQLite file that does not exist yet (so that a dry run creates no file, and reports what
    /// a first run would write), else over the database itself.
    pub(crate) async fn ops_for_dry_run(&self) -> anyhow::Result<MissionOps> {
        match self.sqlite_file() {
            Some(path) if !path.exists() => {
                let store = missionops_store::open("memory:")
                    .await
                    .context("cannot open an in-memory store")?;
                Ok(self.acting(compose(store)))
            }
            _ => self.ops().await,
        }
    }

    /// The file a `sqlite:` URL names, as SQLite reads it (`sqlite://a.db`, `sqlite:a.db`,
    /// `sqlite:///abs/a.db`, with or without `?parameters`).
    fn sqlite_file(&self) -> Option<PathBuf> {
        let DatabaseUrl::Sqlite(url) = DatabaseUrl::parse(&self.url).ok()? else {
            return None;
        };
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty()).then(|| PathBuf::from(path))
    }

    /// Applies the migrations.
    pub(crate) async fn migrate(&self) -> anyhow::Result<()> {
        missionops_store::migrate(&self.url)
            .await
            .map_err(|e| self.scrub(e))
            .with_context(|| format!("cannot migrate database {}", self.display()))
    }

    /// `error` without the URL's password: a backend may quote the URL it could not use, and
    /// the error line ends up in terminals, logs and CI output.
    fn scrub(&self, error: Error) -> Error {
        let Some(password) = password(&self.url).filter(|p| !p.is_empty()) else {
            return error;
        };
        let hide = |text: &str| text.replace(password, "***");
        // A backend's own error, kept as it is unless its text quotes the password.
        let hide_inner = |inner: BoxError| -> BoxError {
            let text = inner.to_string();
            if text.contains(password) {
                hide(&text).into()
            } else {
                inner
            }
        };
        match error {
            Error::Invalid { field, reason } => Error::invalid(field, hide(&reason)),
            Error::Conflict { entity, id, reason } => {
                Error::conflict(entity, hide(&id), hide(&reason))
            }
            Error::NotFound { entity, id } => Error::not_found(entity, hide(&id)),
            Error::Backend(inner) => Error::Backend(hide_inner(inner)),
            Error::Unavailable(inner) => Error::Unavailable(hide_inner(inner)),
            other => other,
        }
    }
}

/// The password of `scheme://user:password@host`, if the URL has one.
fn password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let (credentials, _) = rest.rsplit_once('@')?;
    credentials.split_once(':').map(|(_, password)| password)
}

/// `url` with the password of `scheme://user:password@host` replaced by `***`.
fn redact(url: &str) -> String {
    match password(url) {
        Some(password) if !password.is_empty() => {
            url.replacen(&format!(":{password}@"), ":***@", 1)
        }
        _ => url.to_owned(),
    }
}

/// The text of `path`, or of stdin for `-`; `what` names the input in errors.
pub(crate) fn read_input(path: Option<&Path>, what: &str) -> anyhow::Result<String> {
    match path {
        Some(path) if path != Path::new("-") => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {what} from {}", path.display())),
        _ => read_stdin(what),
    }
}

/// All of stdin; refused when stdin is a terminal, where the user most likely forgot the input
/// rather than meant to type it.
pub(crate) fn read_stdin(what: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::invalid(
            what,
            "give it as an argument or a file, or pipe it on stdin",
        )
        .into());
    }
    let mut text = String::new();
    stdin
        .lock()
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {what} from stdin"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://ops:s3cret@db:5432/missionops"),
            "postgres://ops:***@db:5432/missionops"
        );
        assert_eq!(
            redact("postgres://ops@db/missionops"),
            "postgres://ops@db/missionops"
        );
        assert_eq!(redact("sqlite://missionops.db"), "sqlite://missionops.db");
    }

    #[test]
    fn errors_quoting_the_url_lose_its_password() {
        let db = Database::new(
            "postgres://ops:s3cret@db/x".to_owned(),
            TenantId::default_tenant(),
        );
        let scrubbed = db.scrub(Error::invalid(
            "database-url",
            "cannot use postgres://ops:s3cret@db/x",
        ));
        assert_eq!(
            scrubbed.to_string(),
            "database-url: cannot use postgres://ops:***@db/x"
        );
        let scrubbed = db.scrub(Error::backend("refused for s3cret"));
        assert_eq!(
            scrubbed.to_string(),
            "storage backend failed: refused for ***"
        );
        let scrubbed = db.scrub(Error::unavailable("cannot reach ops:s3cret@db"));
        assert!(matches!(scrubbed, Error::Unavailable(_)), "{scrubbed}");
        assert_eq!(
            scrubbed.to_string(),
            "storage backend unavailable: cannot reach ops:***@db"
        );
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        let file =
            |url: &str| Database::new(url.to_owned(), TenantId::default_tenant()).sqlite_file();
        assert_eq!(
            file("sqlite://missionops.db"),
            Some(PathBuf::from("missionops.db"))
        );
        assert_eq!(
            file("sqlite:ops.db?mode=rwc"),
            Some(PathBuf::from("ops.db"))
        );
        assert_eq!(
            file("sqlite:///var/lib/ops.db"),
            Some(PathBuf::from("/var/lib/ops.db"))
        );
        assert_eq!(file("postgres://x@y/z"), None);
        assert_eq!(file("memory:"), None);
    }
}
