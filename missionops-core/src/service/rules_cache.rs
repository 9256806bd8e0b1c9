//! The compiled rules of each spacecraft's current configuration, compiled once per version and
//! dropped when a configuration change is made here (see [`super::app::RECHECK_MS`] for changes
//! made elsewhere). The static alarm ranges of the spacecraft's packet definition (SPEC §11)
//! are merged in as limits of the parameters the configuration does not set, so the cache key
//! is the pair (configuration version, packet definition version).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::domain::{ConfigRecord, JsonObject, SpacecraftId, Timestamp};
use crate::error::Result;
use crate::ports::CompiledPackets;
use crate::rules::{CompiledRules, Thresholds};

use super::MissionOps;
use super::app::{RECHECK_MS, Scoped};

/// What compiled rules come from: the configuration version and the packet definition
/// version, each `None` when the spacecraft has none.
pub(super) type RulesVersion = (Option<u32>, Option<u32>);

/// A packet definition version and its compiled form.
pub(super) type VersionedPackets = (u32, Arc<dyn CompiledPackets>);

/// The rules compiled for one configuration version of a spacecraft.
#[derive(Debug)]
pub(super) struct CachedRules {
    version: RulesVersion,
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
        let now = self.shared.clock.now();
        let key = self.scoped(id);
        if let Some(rules) = self.recently_checked_rules(&key, now) {
            return Ok(rules);
        }
        let config_version = self
            .shared
            .store
            .current_config_version(&self.tenant, id)
            .await?;
        let packets = self.packets_for_rules(&key).await?;
        let version = (config_version, packets.as_ref().map(|p| p.0));
        if version == (None, None) {
            return Ok(Arc::new(CompiledRules::empty()));
        }
        if let Some(rules) = self.cached_rules(&key, version) {
            if let Ok(mut cache) = self.shared.rules.lock() {
                if let Some(cached) = cache.get_mut(&key) {
                    cached.checked_at = now;
                }
            }
            return Ok(rules);
        }
        let record = match config_version {
            Some(_) => self.shared.store.current_config(&self.tenant, id).await?,
            None => None,
        };
        self.compiled_rules(&key, record.as_ref(), packets.as_ref())
    }

    /// The cached rules of `id` when their version was compared with the store less than
    /// [`RECHECK_MS`] ago (a configuration change made here drops them at once).
    fn recently_checked_rules(&self, key: &Scoped, now: Timestamp) -> Option<Arc<CompiledRules>> {
        let cache = self.shared.rules.lock().ok()?;
        cache
            .get(key)
            .filter(|cached| now.as_millis() - cached.checked_at.as_millis() < RECHECK_MS)
            .map(|cached| Arc::clone(&cached.rules))
    }

    /// The cached rules of `id`, when they are those of `version`.
    fn cached_rules(&self, key: &Scoped, version: RulesVersion) -> Option<Arc<CompiledRules>> {
        let cache = self.shared.rules.lock().ok()?;
        cache
            .get(key)
            .filter(|cached| cached.version == version)
            .map(|cached| Arc::clone(&cached.rules))
    }

    /// The compiled rules of `record` with the limits of `packets` merged in, from the cache
    /// when that pair of versions was compiled before.
    pub(super) fn compiled_rules(
        &self,
        key: &Scoped,
        record: Option<&ConfigRecord>,
        packets: Option<&VersionedPackets>,
    ) -> Result<Arc<CompiledRules>> {
        let version = (record.map(|r| r.version), packets.map(|p| p.0));
        if let Some(rules) = self.cached_rules(key, version) {
            return Ok(rules);
        }
        let rules = self
            .shared
            .shared_rules
            .compile(record.map(|r| r.config.as_object()), packets.map(|p| &*p.1))?;
        if let Ok(mut cache) = self.shared.rules.lock() {
            cache.insert(
                key.clone(),
                CachedRules {
                    version,
                    rules: Arc::clone(&rules),
                    checked_at: self.shared.clock.now(),
                },
            );
        }
        Ok(rules)
    }

    /// Makes the next ingest of `id` re-read the configuration and the packet definition (after
    /// a change here).
    pub(super) async fn forget_rules(&self, id: &SpacecraftId) {
        let key = self.scoped(id);
        if let Ok(mut rules) = self.shared.rules.lock() {
            rules.remove(&key);
        }
        let handle = self.slot_handle(&key);
        let mut slot = handle.slot.lock().await;
        slot.checked_at = None;
        slot.forgotten += 1;
        self.shared.deadlines.reschedule(&key, &slot);
    }
}

/// Compiles `config`'s rules with the static alarm ranges of `packets` added as the limits of
/// every parameter the configuration does not set (the configuration wins, SPEC §11).
pub(super) fn merged_rules(
    config: Option<&JsonObject>,
    packets: Option<&dyn CompiledPackets>,
) -> Result<CompiledRules> {
    let limits = packets.map(|p| p.limits()).unwrap_or_default();
    let empty = JsonObject::new();
    CompiledRules::compile(&merged_document(config.unwrap_or(&empty), &limits))
}

/// Compiled rules shared by every spacecraft whose configuration (with its packet
/// definition's limits merged in) is the same document: a fleet of one model keeps one copy
/// instead of one per spacecraft (3.5 kB a spacecraft of ten parameters; 35 MB for 10,000).
/// Holds them weakly: the copy goes when the last monitor and cache entry using it do.
#[derive(Debug, Default)]
pub(super) struct SharedRules {
    /// A std mutex: held to look up or insert, never across an await.
    by_document: std::sync::Mutex<SharedRulesTable>,
}

#[derive(Debug, Default)]
struct SharedRulesTable {
    /// The merged configuration as JSON text, and the rules compiled from it.
    rules: std::collections::HashMap<String, std::sync::Weak<CompiledRules>>,
    /// Past this many entries, those nobody uses any more are dropped.
    sweep_at: usize,
}

impl SharedRules {
    /// The rules of `config` with the limits of `packets` merged in (see [`merged_rules`]), the
    /// same `Arc` for every caller whose merged document is the same.
    pub(super) fn compile(
        &self,
        config: Option<&JsonObject>,
        packets: Option<&dyn CompiledPackets>,
    ) -> Result<Arc<CompiledRules>> {
        let limits = packets.map(|p| p.limits()).unwrap_or_default();
        let empty = JsonObject::new();
        let document = merged_document(config.unwrap_or(&empty), &limits);
        let Ok(text) = serde_json::to_string(&document) else {
            return Ok(Arc::new(CompiledRules::compile(&document)?));
        };
        if let Some(rules) = self
            .by_document
            .lock()
            .ok()
            .and_then(|table| table.rules.get(&text).and_then(std::sync::Weak::upgrade))
        {
            return Ok(rules);
        }
        let rules = Arc::new(CompiledRules::compile(&document)?);
        if let Ok(mut table) = self.by_document.lock() {
            if table.rules.len() >= table.sweep_at {
                table.rules.retain(|_, rules| rules.strong_count() > 0);
                table.sweep_at = (table.rules.len() * 2).max(64);
            }
            // Another caller may have compiled the same document meanwhile: keep the first.
            if let Some(first) = table.rules.get(&text).and_then(std::sync::Weak::upgrade) {
                return Ok(first);
            }
            table.rules.insert(text, Arc::downgrade(&rules));
        }
        Ok(rules)
    }
}

/// `config` with a rule for each parameter of `limits` it does not set.
fn merged_document(
    config: &JsonObject,
    limits: &[(crate::domain::ParameterName, Thresholds)],
) -> JsonObject {
    let mut merged = config.clone();
    if limits.is_empty() {
        return merged;
    }
    let parameters = merged
        .entry("parameters")
        .or_insert_with(|| Value::Object(JsonObject::new()));
    if let Value::Object(parameters) = parameters {
        for (name, thresholds) in limits {
            if !parameters.contains_key(name.as_str()) {
                parameters.insert(name.as_str().to_owned(), thresholds_rule(thresholds));
            }
        }
    }
    merged
}

/// A rule object holding the finite ones of `thresholds`.
fn thresholds_rule(thresholds: &Thresholds) -> Value {
    let mut rule = JsonObject::new();
    for (field, value) in [
        ("critLow", thresholds.crit_low),
        ("warnLow", thresholds.warn_low),
        ("critHigh", thresholds.crit_high),
        ("warnHigh", thresholds.warn_high),
    ] {
        if value.is_finite() {
            rule.insert(field.to_owned(), json!(value));
        }
    }
    Value::Object(rule)
}
