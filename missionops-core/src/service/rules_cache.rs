//! The compiled rules of each spacecraft's current configuration, compiled once per version and
//! dropped when a configuration change is made here (see [`super::app::RECHECK_MS`] for changes
//! made elsewhere).

use std::sync::Arc;

use crate::domain::{ConfigRecord, SpacecraftId, Timestamp};

use crate::error::Result;
use crate::rules::CompiledRules;

use super::MissionOps;
use super::app::{RECHECK_MS, Scoped};

/// The rules compiled for one configuration version of a spacecraft.
#[derive(Debug)]
pub(super) struct CachedRules {
    version: u32,
    rules: Arc<CompiledRules>,
    /// When `version` was last compared with the store.
    checked_at: Timestamp,
}

impl MissionOps {
    /// The compiled rules of `id`'s current configuration (empty without one), compiled once
    /// per version.
    pub async fn rules_for(&self, id: &SpacecraftId) -> Result<Arc<CompiledRules>> {
        // The version alone tells whether the cached rules are current: `analyze` asks on
        // every request, and reading and validating the whole document each time cost more
        // than the rest of a small analysis.
        let now = self.clock.now();
        let key = self.scoped(id);
        if let Some(rules) = self.recently_checked_rules(&key, now) {
            return Ok(rules);
        }
        let Some(version) = self.store.current_config_version(&self.tenant, id).await? else {
            return Ok(Arc::new(CompiledRules::empty()));
        };
        if let Some(rules) = self.cached_rules(&key, version) {
            if let Ok(mut cache) = self.rules.lock() {
                if let Some(cached) = cache.get_mut(&key) {
                    cached.checked_at = now;
                }
            }
            return Ok(rules);
        }
        match self.store.current_config(&self.tenant, id).await? {
            Some(record) => self.compiled_rules(&key, &record),
            None => Ok(Arc::new(CompiledRules::empty())),
        }
    }

    /// The cached rules of `id` when their version was compared with the store less than
    /// [`RECHECK_MS`] ago (a configuration change made here drops them at once).
    fn recently_checked_rules(&self, key: &Scoped, now: Timestamp) -> Option<Arc<CompiledRules>> {
        let cache = self.rules.lock().ok()?;
        cache
            .get(key)
            .filter(|cached| now.as_millis() - cached.checked_at.as_millis() < RECHECK_MS)
            .map(|cached| Arc::clone(&cached.rules))
    }

    /// The cached rules of `id`, when they are those of `version`.
    fn cached_rules(&self, key: &Scoped, version: u32) -> Option<Arc<CompiledRules>> {
        let cache = self.rules.lock().ok()?;
        cache
            .get(key)
            .filter(|cached| cached.version == version)
            .map(|cached| Arc::clone(&cached.rules))
    }

    /// The compiled rules of `record`, from the cache when that version was compiled before.
    pub(super) fn compiled_rules(
        &self,
        key: &Scoped,
        record: &ConfigRecord,
    ) -> Result<Arc<CompiledRules>> {
        if let Some(rules) = self.cached_rules(key, record.version) {
            return Ok(rules);
        }
        let rules = Arc::new(CompiledRules::compile(record.config.as_object())?);
        if let Ok(mut cache) = self.rules.lock() {
            cache.insert(
                key.clone(),
                CachedRules {
                    version: record.version,
                    rules: Arc::clone(&rules),
                    checked_at: self.clock.now(),
                },
            );
        }
        Ok(rules)
    }

    /// Makes the next ingest of `id` re-read the configuration (after a change here).
    pub(super) async fn forget_rules(&self, id: &SpacecraftId) {
        let key = self.scoped(id);
        if let Ok(mut rules) = self.rules.lock() {
            rules.remove(&key);
        }
        let handle = self.slot_handle(&key);
        handle.slot.lock().await.checked_at = None;
    }
}
