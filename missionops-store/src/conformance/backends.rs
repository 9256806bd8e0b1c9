//! Fresh stores of the durable backends, for the test targets that run the shared suites and
//! their own backend-specific cases.

#[cfg(feature = "sqlite")]
pub use sqlite::TempSqlite;

#[cfg(feature = "postgres")]
pub use postgres::{admin_url, scratch_postgres};

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::path::PathBuf;

    use tempfile::TempDir;

    use crate::SqliteStore;

    /// A SQLite store on a file in its own temporary directory, removed with the directory.
    #[derive(Debug)]
    pub struct TempSqlite {
        /// The store on `missionops.db` in `dir`.
        pub store: SqliteStore,
        /// The directory of the file; dropping it removes the file.
        pub dir: TempDir,
    }

    impl TempSqlite {
        /// Opens a store on a new file in a new temporary directory, or panics.
        pub async fn open() -> Self {
            let dir = tempfile::tempdir().expect("temporary directory");
            let store = SqliteStore::open_path(dir.path().join("missionops.db"))
                .await
                .expect("open a fresh SQLite store");
            TempSqlite { store, dir }
        }

        /// The database file.
        pub fn path(&self) -> PathBuf {
            self.dir.path().join("missionops.db")
        }

        /// The `sqlite://` URL of the database file, for a connection of another program.
        pub fn url(&self) -> String {
            format!("sqlite://{}", self.path().display())
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use crate::PostgresStore;

    const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

    /// `MISSIONOPS_TEST_DATABASE_URL`, the URL of a role that may create databases, or
    /// `postgres://postgres@127.0.0.1:5432/postgres`.
    pub fn admin_url() -> String {
        std::env::var("MISSIONOPS_TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
    }

    /// `url` without its password, for messages.
    fn redacted(url: &str) -> String {
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let credentials = &url[scheme + 3..at];
                match credentials.split_once(':') {
                    Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                    None => url.to_owned(),
                }
            }
            _ => url.to_owned(),
        }
    }

    /// A store on a fresh scratch database (random name, migrated, dropped with the store);
    /// panics, saying what to fix, when there is no server. Nothing is skipped.
    pub async fn scratch_postgres() -> PostgresStore {
        let url = admin_url();
        match PostgresStore::scratch(&url).await {
            Ok(store) => store,
            Err(err) => panic!(
                "cannot create a scratch database through {}: {err}\n\
                 These tests need a running PostgreSQL server; set MISSIONOPS_TEST_DATABASE_URL \
                 to the URL of a role that may create databases.",
                redacted(&url)
            ),
        }
    }
}
