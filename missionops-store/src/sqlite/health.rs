//! The write probe: takes the write lock the way a write does, then rolls back.

use async_trait::async_trait;
use missionops_core::{Result, WriteProbe};

use super::{DbResult, SqliteStore, begin_write};

#[async_trait]
impl WriteProbe for SqliteStore {
    /// `BEGIN IMMEDIATE` on the write connection (after the writes queued before it), then
    /// `ROLLBACK`: fails when another process holds the write lock past the busy timeout, when
    /// the file cannot be written, or when the store is closed.
    async fn probe_writes(&self) -> Result<()> {
        let mut writer = self.writer.lock().await?;
        let transaction = begin_write(&mut writer).await?;
        transaction.rollback().await.db()
    }
}
