//! Spacecraft: registration (explicit, or implicit when data arrives for an unknown id),
//! lookup and listing.

use serde_json::Map;

use crate::domain::{
    Limit, MissionType, NewEvent, NewSpacecraft, Spacecraft, SpacecraftId, SpacecraftName,
};
use crate::error::{Error, Result};

use super::{MissionOps, SpacecraftListItem, SpacecraftListing};

impl MissionOps {
    /// Registers a spacecraft (`SPACECRAFT_REGISTERED` event); the id is generated when absent.
    /// [`Error::Conflict`] when the id exists; [`Error::Invalid`] when the metadata is over a
    /// limit of [`check_metadata`](crate::check_metadata).
    pub async fn register_spacecraft(&self, new: NewSpacecraft) -> Result<Spacecraft> {
        // Checked again here: a `NewSpacecraft` built in code was never parsed.
        if let Some(metadata) = &new.metadata {
            crate::domain::check_metadata(metadata)?;
        }
        let now = self.shared.clock.now();
        let spacecraft = Spacecraft {
            id: new.id.unwrap_or_else(|| self.shared.ids.new_id().into()),
            name: new.name,
            mission_type: new.mission_type.unwrap_or_else(MissionType::unspecified),
            metadata: new.metadata.unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        self.store_registration(&spacecraft, false).await?;
        Ok(spacecraft)
    }

    async fn store_registration(&self, spacecraft: &Spacecraft, implicit: bool) -> Result<()> {
        let event = NewEvent::spacecraft_registered(self.event_stamp(), spacecraft, implicit);
        self.shared
            .store
            .register_spacecraft(&self.tenant, spacecraft.clone(), self.audited(event))
            .await?;
        let key = self.scoped(&spacecraft.id);
        self.remember(key.clone());
        self.start_new_monitor(&key).await;
        Ok(())
    }

    /// Makes sure `id` exists, registering it under its own name when telemetry or a
    /// configuration arrives for a spacecraft nobody registered (as the TypeScript service
    /// accepted them).
    pub(super) async fn ensure_spacecraft(&self, id: &SpacecraftId) -> Result<()> {
        if self.is_known(&self.scoped(id)) {
            return Ok(());
        }
        if self
            .shared
            .store
            .get_spacecraft(&self.tenant, id)
            .await?
            .is_some()
        {
            self.remember(self.scoped(id));
            return Ok(());
        }
        let spacecraft = self.implicit_spacecraft(id);
        match self.store_registration(&spacecraft, true).await {
            // Another request registered it first: it exists, which is all we need.
            Ok(()) | Err(Error::Conflict { .. }) => {
                self.remember(self.scoped(id));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The spacecraft `id` as registered implicitly now: named by its id, mission type
    /// `UNSPECIFIED`.
    pub(super) fn implicit_spacecraft(&self, id: &SpacecraftId) -> Spacecraft {
        let now = self.shared.clock.now();
        Spacecraft {
            id: id.clone(),
            name: SpacecraftName::from_id(id),
            mission_type: MissionType::unspecified(),
            metadata: Map::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The spacecraft with `id`; [`Error::NotFound`] when unknown.
    pub async fn get_spacecraft(&self, id: &SpacecraftId) -> Result<Spacecraft> {
        self.shared
            .store
            .get_spacecraft(&self.tenant, id)
            .await?
            .ok_or_else(|| Error::not_found("spacecraft", id))
    }

    /// A page of spacecraft with their current configurations (`GET /spacecraft`).
    pub async fn list_spacecraft(&self, limit: Limit, offset: u64) -> Result<SpacecraftListing> {
        let page = self
            .shared
            .store
            .list_spacecraft(&self.tenant, limit, offset)
            .await?;
        // One read for the page's configurations: one each made a page of 100 wait for 100
        // reads one after another.
        let ids: Vec<SpacecraftId> = page.items.iter().map(|s| s.id.clone()).collect();
        let configs = self
            .shared
            .store
            .current_configs(&self.tenant, &ids)
            .await?;
        let items: Vec<SpacecraftListItem> = page
            .items
            .into_iter()
            .zip(configs)
            .map(|(spacecraft, config)| SpacecraftListItem::new(spacecraft, config))
            .collect();
        Ok(SpacecraftListing {
            total: page.total,
            count: items.len(),
            limit: limit.get(),
            offset,
            items,
        })
    }

    /// Every registered spacecraft in registration order.
    pub(super) async fn every_spacecraft(&self) -> Result<Vec<Spacecraft>> {
        self.shared.store.every_spacecraft(&self.tenant).await
    }
}
