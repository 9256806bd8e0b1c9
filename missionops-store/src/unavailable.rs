//! Which backend failures mean "cannot answer now" ([`Error::Unavailable`], HTTP 503, worth
//! retrying) rather than "something is wrong" ([`Error::Backend`], HTTP 500): the database
//! server cannot be reached or the connection broke, no pooled connection came free in time,
//! another process held the SQLite file locked past the busy timeout, or the disk is full.

use missionops_core::{BoxError, Error};

/// `err` as [`Error::Unavailable`] when it, or an error it wraps, says the backend cannot
/// answer now; otherwise as [`Error::Backend`].
pub(crate) fn backend_error(err: impl Into<BoxError>) -> Error {
    let err = err.into();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&*err);
    while let Some(e) = cause {
        if cannot_answer_now(e) {
            return Error::Unavailable(err);
        }
        cause = e.source();
    }
    Error::Backend(err)
}

fn cannot_answer_now(err: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(err) = err.downcast_ref::<sqlx::Error>() {
        return match err {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => database_cannot_answer_now(db.as_ref()),
            _ => false,
        };
    }
    #[cfg(feature = "sqlite")]
    if let Some(rusqlite::Error::SqliteFailure(failure, _)) = err.downcast_ref::<rusqlite::Error>()
    {
        return sqlite_code_cannot_answer_now(failure.extended_code);
    }
    false
}

#[cfg_attr(
    not(all(feature = "sqlite", feature = "postgres")),
    allow(unused_variables)
)]
fn database_cannot_answer_now(db: &dyn sqlx::error::DatabaseError) -> bool {
    #[cfg(feature = "postgres")]
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return sqlstate_cannot_answer_now(pg.code());
    }
    #[cfg(feature = "sqlite")]
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        return db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(sqlite_code_cannot_answer_now);
    }
    false
}

/// PostgreSQL's SQLSTATE classes 08 (connection exception) and 53 (insufficient resources:
/// disk full, out of memory, too many connections), and 57P01–57P03 (the server shutting
/// down, or starting and not yet accepting connections).
#[cfg(feature = "postgres")]
fn sqlstate_cannot_answer_now(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// SQLite's result codes (extended or primary) BUSY (5), LOCKED (6) and FULL (13).
#[cfg(feature = "sqlite")]
fn sqlite_code_cannot_answer_now(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6 | 13)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_pool_failures_are_unavailable_and_others_are_backend_failures() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(matches!(
            backend_error(sqlx::Error::Io(refused)),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            backend_error(sqlx::Error::PoolTimedOut),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            backend_error(sqlx::Error::RowNotFound),
            Error::Backend(_)
        ));
        assert!(matches!(
            backend_error("a corrupt row".to_owned()),
            Error::Backend(_)
        ));
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_connection_resource_and_shutdown_states_are_unavailable() {
        for code in ["08006", "08001", "53100", "53300", "57P01", "57P03"] {
            assert!(sqlstate_cannot_answer_now(code), "{code}");
        }
        for code in ["23505", "40P01", "42P01", "22P05", "57014"] {
            assert!(!sqlstate_cannot_answer_now(code), "{code}");
        }
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_busy_locked_and_full_are_unavailable_whatever_their_extended_code() {
        // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED, SQLITE_LOCKED_SHAREDCACHE, SQLITE_FULL.
        for code in [5, 517, 6, 262, 13] {
            assert!(sqlite_code_cannot_answer_now(code), "{code}");
        }
        // SQLITE_ERROR, SQLITE_CONSTRAINT_UNIQUE, SQLITE_CORRUPT, SQLITE_IOERR_WRITE.
        for code in [1, 2067, 11, 778] {
            assert!(!sqlite_code_cannot_answer_now(code), "{code}");
        }
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("database is locked".to_owned()),
        );
        assert!(matches!(backend_error(busy), Error::Unavailable(_)));
    }
}
