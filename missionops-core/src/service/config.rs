//! Configuration: the current document of a spacecraft, a new version with its
//! `CONFIG_CHANGED` event, and the history of versions.

use serde_json::Map;

use crate::domain::{
    ConfigRecord, ConfigSource, ConfigStatus, NewEvent, SpacecraftConfig, SpacecraftId,
};
use crate::error::{Error, Result};

use super::{MissionOps, config_diff};

/// How many times a configuration change is retried when another change wins the race.
const CONFIG_WRITE_ATTEMPTS: usize = 5;

impl MissionOps {
    /// The current configuration of `id`; [`Error::NotFound`] when it has none.
    pub async fn get_config(&self, id: &SpacecraftId) -> Result<ConfigRecord> {
        self.shared
            .store
            .current_config(&self.tenant, id)
            .await?
            .ok_or_else(|| Error::not_found("configuration of spacecraft", id))
    }

    /// Stores `config` as the next version of `id`'s configuration, with a `CONFIG_CHANGED` event
    /// carrying the diff from the previous version. Registers the spacecraft when unknown.
    pub async fn set_config(
        &self,
        id: &SpacecraftId,
        config: SpacecraftConfig,
        status: ConfigStatus,
        source: Option<ConfigSource>,
    ) -> Result<ConfigRecord> {
        self.put_config_version(id, config, status, source, None)
            .await
    }

    /// [`MissionOps::set_config`], only over version `edited` (0: over no configuration yet): an
    /// editor who started from that version does not replace one saved meanwhile without
    /// knowing. [`Error::Conflict`] naming both versions when the newest is another.
    pub async fn set_config_over(
        &self,
        id: &SpacecraftId,
        config: SpacecraftConfig,
        status: ConfigStatus,
        source: Option<ConfigSource>,
        edited: u32,
    ) -> Result<ConfigRecord> {
        self.put_config_version(id, config, status, source, Some(edited))
            .await
    }

    async fn put_config_version(
        &self,
        id: &SpacecraftId,
        config: SpacecraftConfig,
        status: ConfigStatus,
        source: Option<ConfigSource>,
        edited: Option<u32>,
    ) -> Result<ConfigRecord> {
        self.ensure_spacecraft(id).await?;
        let mut last_conflict = None;
        for _ in 0..CONFIG_WRITE_ATTEMPTS {
            let previous = self.shared.store.current_config(&self.tenant, id).await?;
            let newest = previous.as_ref().map_or(0, |p| p.version);
            // Checked on each attempt: a version another writer stored in the race makes the
            // insert of the next number fail, and the read after it sees that version.
            if let Some(edited) = edited.filter(|&edited| edited != newest) {
                return Err(Error::conflict(
                    "configuration of spacecraft",
                    id,
                    format!(
                        "version {newest} was saved after version {edited}, which this change was made from"
                    ),
                ));
            }
            let empty = Map::new();
            let before = previous.as_ref().map_or(&empty, |p| p.config.as_object());
            let diff = config_diff::config_diff(before, config.as_object());
            let version = previous.as_ref().map_or(1, |p| p.version + 1);
            let record = ConfigRecord {
                spacecraft_id: id.clone(),
                version,
                config: config.clone(),
                status,
                source,
                created_at: self.shared.clock.now(),
            };
            let previous = previous.as_ref().map(|p| p.version);
            let event = NewEvent::config_changed(self.event_stamp(), &record, previous, diff);
            match self
                .shared
                .store
                .put_config(&self.tenant, record.clone(), self.audited(event))
                .await
            {
                Ok(()) => {
                    self.forget_rules(id).await;
                    return Ok(record);
                }
                Err(conflict @ Error::Conflict { .. }) => last_conflict = Some(conflict),
                Err(e) => return Err(e),
            }
        }
        Err(last_conflict.unwrap_or_else(|| {
            Error::conflict("configuration of spacecraft", id, "changed concurrently")
        }))
    }

    /// Every version of `id`'s configuration, oldest first.
    pub async fn config_history(&self, id: &SpacecraftId) -> Result<Vec<ConfigRecord>> {
        self.get_spacecraft(id).await?;
        self.shared.store.config_history(&self.tenant, id).await
    }
}
