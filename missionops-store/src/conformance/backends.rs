//! Fresh stores of the durable backends, for the test targets that run the shared suites and
//! their own backend-specific cases.

#[cfg(feature = "sqlite")]
pub use sqlite::TempSqlite;

#[cfg(feature = "postgres")]
pub use postgres::{APP_ROLE, READONLY_ROLE, admin_url, scratch_postgres, scratch_postgres_as};

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
    use std::str::FromStr;

    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    use crate::PostgresStore;

    /// The role the service runs as: the DML it needs, history insert-only (SPEC §9).
    pub const APP_ROLE: &str = "missionops_app";
    /// The role of reports and ad-hoc queries: SELECT only.
    pub const READONLY_ROLE: &str = "missionops_readonly";

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

    /// A store connected as `role` (e.g. [`APP_ROLE`]) to a fresh scratch database that the
    /// role of [`admin_url`] created and migrated, as `migrate` run by the owner leaves it,
    /// and the owner's store on that database. Dropping the owner's store drops the database:
    /// keep it until the case ends. The role connects with no password (trust authentication
    /// on the test server); panics, saying so, when it cannot.
    pub async fn scratch_postgres_as(role: &str) -> (PostgresStore, PostgresStore) {
        let owner = scratch_postgres().await;
        let name = owner.scratch_database().expect("a scratch store");
        let admin = PgConnectOptions::from_str(&admin_url()).expect("the admin URL parses");
        let options = PgConnectOptions::new()
            .host(admin.get_host())
            .port(admin.get_port())
            .username(role)
            .database(name);
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .unwrap_or_else(|err| {
                panic!(
                    "cannot connect as {role} to scratch database {name}: {err}\n\
                     These tests connect as the roles `migrate` creates, without a password: \
                     the test server must trust them on {}.",
                    admin.get_host()
                )
            });
        (PostgresStore::from_pool(pool), owner)
    }
}
