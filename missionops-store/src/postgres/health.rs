//! The write probe: a write statement that matches no row, in a transaction rolled back.

use async_trait::async_trait;
use missionops_core::{Result, WriteProbe};

use super::PostgresStore;

#[async_trait]
impl WriteProbe for PostgresStore {
    /// An `UPDATE` of the event counter that matches no row, rolled back. PostgreSQL checks
    /// that the transaction may write (not read-only, not a standby) and that the role may
    /// update the table when the statement starts, so it fails as any write would; matching
    /// no row, it takes no row lock and waits for no writer.
    async fn probe_writes(&self) -> Result<()> {
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(crate::unavailable::backend_error)?;
        sqlx::query("UPDATE event_counter SET last_sequence = last_sequence WHERE false")
            .execute(&mut *transaction)
            .await
            .map_err(crate::unavailable::backend_error)?;
        transaction
            .rollback()
            .await
            .map_err(crate::unavailable::backend_error)
    }
}
