//! Opening a store from a database URL, as the CLI and the server take it.

use std::sync::Arc;

use missionops_core::{Error, Result, Store};

/// Which backend a database URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `memory:` or `memory://`: nothing survives the process.
    Memory,
    /// `sqlite://missionops.db`, `sqlite:missionops.db`, `sqlite:///abs/path.db`.
    Sqlite(String),
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
}

impl DatabaseUrl {
    /// The backend's name and the feature that builds it, for messages that must not quote the
    /// URL (it may hold a password).
    fn backend(&self) -> (&'static str, &'static str) {
        match self {
            DatabaseUrl::Memory => ("in-memory", "(always built)"),
            DatabaseUrl::Sqlite(_) => ("SQLite", "sqlite"),
            DatabaseUrl::Postgres(_) => ("PostgreSQL", "postgres"),
        }
    }

    fn unsupported(&self) -> Error {
        let (name, feature) = self.backend();
        Error::invalid(
            "database-url",
            format!("this build has no {name} support; build with the `{feature}` feature"),
        )
    }

    /// Parses a database URL, naming `database-url` in the error.
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        if url == "memory:" || url == "memory://" {
            Ok(DatabaseUrl::Memory)
        } else if url.starts_with("sqlite:") {
            Ok(DatabaseUrl::Sqlite(url.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_owned()))
        } else {
            Err(Error::invalid(
                "database-url",
                "must start with sqlite:, postgres://, postgresql:// or be memory:",
            ))
        }
    }
}

/// What an acknowledged telemetry write survives on the server (`serve
/// --telemetry-durability`; README "Storage").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TelemetryDurability {
    /// A crash or `kill -9` of the MissionOps process, what SPEC §8 calls durable: SQLite
    /// commits with `synchronous=NORMAL`, PostgreSQL commits telemetry ingest without waiting
    /// for its WAL flush
    /// ([`PostgresStore::committing_telemetry_without_flush_wait`](crate::PostgresStore::committing_telemetry_without_flush_wait)).
    /// A power cut or an OS crash (and on PostgreSQL, a crash of PostgreSQL) may lose the
    /// last fraction of a second of acknowledged telemetry, never part of a write.
    #[default]
    Process,
    /// A crash of the machine too: every commit waits for the disk (SQLite
    /// `synchronous=FULL`,
    /// [`SqliteStore::waiting_for_disk`](crate::SqliteStore::waiting_for_disk); PostgreSQL's
    /// `synchronous_commit` as the server sets it, `on` by default).
    Machine,
}

/// [`open`] for the server, the long-running process that ingests: the store writes the
/// latest values of live telemetry behind it
/// ([`SqliteStore::deferring_latest_values`](crate::SqliteStore::deferring_latest_values),
/// [`PostgresStore::deferring_latest_values`](crate::PostgresStore::deferring_latest_values))
/// and commits telemetry as `durability` says.
// Without a database backend compiled in there is only the memory store, which has no commits
// to make durable.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(unused_variables)
)]
pub async fn open_for_server(url: &str, durability: TelemetryDurability) -> Result<Arc<dyn Store>> {
    match DatabaseUrl::parse(url)? {
        #[cfg(feature = "sqlite")]
        DatabaseUrl::Sqlite(url) => {
            let store = crate::SqliteStore::open(&url)
                .await?
                .deferring_latest_values();
            Ok(Arc::new(match durability {
                TelemetryDurability::Process => store,
                TelemetryDurability::Machine => store.waiting_for_disk().await?,
            }))
        }
        #[cfg(feature = "postgres")]
        DatabaseUrl::Postgres(url) => {
            let store = crate::PostgresStore::connect(&url)
                .await?
                .deferring_latest_values();
            Ok(Arc::new(match durability {
                TelemetryDurability::Process => store.committing_telemetry_without_flush_wait(),
                TelemetryDurability::Machine => store,
            }))
        }
        _ => open(url).await,
    }
}

/// Opens the store `url` names, its outbox included (every [`Store`] has one). A SQLite file
/// is created and migrated when needed; a PostgreSQL database must have been migrated with
/// [`migrate`] (the CLI's `migrate`). A backend whose feature is not compiled in is an
/// [`Error::Invalid`] naming it.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    match DatabaseUrl::parse(url)? {
        DatabaseUrl::Memory => Ok(Arc::new(crate::MemoryStore::new())),
        #[cfg(feature = "sqlite")]
        DatabaseUrl::Sqlite(url) => Ok(Arc::new(crate::SqliteStore::open(&url).await?)),
        #[cfg(feature = "postgres")]
        DatabaseUrl::Postgres(url) => Ok(Arc::new(crate::PostgresStore::connect(&url).await?)),
        #[allow(unreachable_patterns)]
        other => Err(other.unsupported()),
    }
}

/// Applies the migrations of the store `url` names (a no-op when they are applied already).
pub async fn migrate(url: &str) -> Result<()> {
    match DatabaseUrl::parse(url)? {
        DatabaseUrl::Memory => Ok(()),
        #[cfg(feature = "sqlite")]
        DatabaseUrl::Sqlite(url) => crate::SqliteStore::open(&url).await.map(|_| ()),
        #[cfg(feature = "postgres")]
        DatabaseUrl::Postgres(url) => crate::PostgresStore::connect(&url).await?.migrate().await,
        #[allow(unreachable_patterns)]
        other => Err(other.unsupported()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_never_quote_the_url() {
        let url = DatabaseUrl::Postgres("postgres://user:secret@host/db".to_owned());
        assert!(!url.unsupported().to_string().contains("secret"));
        let err = DatabaseUrl::parse("mysql://user:secret@host/db").expect_err("unsupported");
        assert!(!err.to_string().contains("secret"));
    }

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(
            DatabaseUrl::parse("memory:").ok(),
            Some(DatabaseUrl::Memory)
        );
        assert!(matches!(
            DatabaseUrl::parse("sqlite://missionops.db"),
            Ok(DatabaseUrl::Sqlite(_))
        ));
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        let err = DatabaseUrl::parse("mysql://x").expect_err("unsupported");
        assert!(err.to_string().starts_with("database-url: must start with"));
    }

    #[tokio::test]
    async fn memory_opens_without_a_file() {
        let store = open("memory:").await.expect("open");
        assert!(
            store
                .get_spacecraft(
                    &missionops_core::TenantId::default(),
                    &missionops_core::SpacecraftId::parse("x").expect("id")
                )
                .await
                .expect("get")
                .is_none()
        );
        migrate("memory:").await.expect("migrate");
    }
}
