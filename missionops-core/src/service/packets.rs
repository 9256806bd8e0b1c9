//! Packet telemetry (SPEC §11): a spacecraft's packet definition, versioned like its
//! configuration, and packets decoded with it and ingested through the batch ingest path, so
//! that duplicates, the monitor and alarms apply to them as to JSON telemetry.

use std::sync::Arc;

use serde::Serialize;

use crate::domain::{NewEvent, NewSnapshot, SnapshotId, SpacecraftId, TenantId, Timestamp};
use crate::error::{Error, Result};
use crate::ports::{OnPacketError, PacketCounts, PacketDefinitionRecord};

use super::app::{RECHECK_MS, Scoped};
use super::rules_cache::{VersionedPackets, merged_rules};
use super::{IngestMode, MissionOps};

/// How many times a definition change is retried when another change wins the race.
const DEFINITION_WRITE_ATTEMPTS: usize = 5;

/// What the service answers when no packet decoder was injected.
const NOT_ENABLED: &str = "packet decoding is not enabled in this build";

/// The compiled packet definition of one spacecraft.
#[derive(Debug)]
pub(super) struct CachedPackets {
    packets: VersionedPackets,
    /// When the version was last compared with the store.
    checked_at: Timestamp,
}

/// A stored packet definition as the API answers a change: its version and parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PacketDefinitionView {
    /// The spacecraft.
    pub spacecraft_id: SpacecraftId,
    /// The version stored.
    pub version: u32,
    /// Whether this is the first version (HTTP 201) rather than a change (200).
    pub created: bool,
    /// Every parameter the definition names, in document order.
    pub parameters: Vec<String>,
    /// The parameters with static alarm ranges.
    pub parameters_with_limits: Vec<String>,
    /// When it was written.
    pub created_at: Timestamp,
}

impl MissionOps {
    /// The tenant of the packet use cases: the default one until tenancy reaches them (the one
    /// place to change then).
    fn packet_tenant(&self) -> TenantId {
        self.tenant.clone()
    }

    /// Compiles `text` and stores it as the next version of `id`'s packet definition, with a
    /// `CONFIG_CHANGED` event naming the parameters added and removed. Registers the
    /// spacecraft when unknown. [`Error::Invalid`] naming the element and line of a definition
    /// that cannot be used, or whose alarm ranges do not make consistent limits.
    pub async fn put_packet_definition(
        &self,
        id: &SpacecraftId,
        text: &str,
    ) -> Result<PacketDefinitionView> {
        let decoding = self
            .shared
            .packet_decoding
            .as_ref()
            .ok_or_else(|| Error::invalid("packets", NOT_ENABLED))?;
        let compiled = decoding.compile(text)?;
        // Check now, not at the next ingest, that the ranges make limits the rules accept.
        let config = self.shared.store.current_config(&self.tenant, id).await?;
        merged_rules(
            config.as_ref().map(|c| c.config.as_object()),
            Some(&*compiled),
        )
        .map_err(|e| {
            Error::invalid(
                "definition",
                format!("its alarm ranges are not usable limits: {e}"),
            )
        })?;
        let parameters: Vec<String> = compiled
            .parameters()
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        let parameters_with_limits = compiled
            .limits()
            .iter()
            .map(|(p, _)| p.as_str().to_owned())
            .collect();
        self.ensure_spacecraft(id).await?;
        let tenant = self.packet_tenant();
        let mut last_conflict = None;
        for _ in 0..DEFINITION_WRITE_ATTEMPTS {
            let previous = self
                .shared
                .store
                .current_packet_definition(&tenant, id)
                .await?;
            let before: Vec<String> = match &previous {
                // A stored version compiled when it was stored; should it no longer, every
                // parameter counts as added.
                Some(p) => decoding
                    .compile(&p.text)
                    .map(|c| {
                        c.parameters()
                            .iter()
                            .map(|p| p.as_str().to_owned())
                            .collect()
                    })
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            let added: Vec<String> = parameters
                .iter()
                .filter(|p| !before.contains(p))
                .cloned()
                .collect();
            let removed: Vec<String> = before
                .iter()
                .filter(|p| !parameters.contains(p))
                .cloned()
                .collect();
            let previous_version = previous.as_ref().map(|p| p.version);
            let version = previous_version.map_or(1, |v| v + 1);
            let record = PacketDefinitionRecord {
                spacecraft_id: id.clone(),
                version,
                text: text.to_owned(),
                created_at: self.shared.clock.now(),
            };
            let event = NewEvent::packet_definition_changed(
                self.event_stamp(),
                id,
                version,
                previous_version,
                &added,
                &removed,
            );
            match self
                .shared
                .store
                .put_packet_definition(&tenant, record.clone(), self.audited(event))
                .await
            {
                Ok(()) => {
                    if let Ok(mut cache) = self.shared.packet_decoders.lock() {
                        cache.insert(
                            self.scoped(id),
                            CachedPackets {
                                packets: (version, Arc::clone(&compiled)),
                                checked_at: self.shared.clock.now(),
                            },
                        );
                    }
                    self.forget_rules(id).await;
                    return Ok(PacketDefinitionView {
                        spacecraft_id: id.clone(),
                        version,
                        created: version == 1,
                        parameters,
                        parameters_with_limits,
                        created_at: record.created_at,
                    });
                }
                Err(conflict @ Error::Conflict { .. }) => last_conflict = Some(conflict),
                Err(e) => return Err(e),
            }
        }
        Err(last_conflict.unwrap_or_else(|| {
            Error::conflict(
                "packet definition of spacecraft",
                id,
                "changed concurrently",
            )
        }))
    }

    /// The current packet definition of `id`; [`Error::NotFound`] when it has none.
    pub async fn packet_definition(&self, id: &SpacecraftId) -> Result<PacketDefinitionRecord> {
        self.shared
            .store
            .current_packet_definition(&self.packet_tenant(), id)
            .await?
            .ok_or_else(|| Error::not_found("packet definition of spacecraft", id))
    }

    /// Every version of `id`'s packet definition, oldest first.
    pub async fn packet_definition_history(
        &self,
        id: &SpacecraftId,
    ) -> Result<Vec<PacketDefinitionRecord>> {
        self.shared
            .store
            .packet_definition_history(&self.packet_tenant(), id)
            .await
    }

    /// Decodes a buffer of Space Packets with `id`'s current packet definition and ingests the
    /// snapshots they make all-or-nothing, live or played back. Each snapshot is timed by its
    /// packet's time, else by now, and its id derives from (spacecraft, APID, sequence count,
    /// time) ([`SnapshotId::from_packet`]), so a packet sent again is stored once.
    ///
    /// [`Error::Invalid`] when packet decoding is not enabled, when `id` has no packet
    /// definition, or (with [`OnPacketError::Reject`]) naming the byte offset of the first bad
    /// packet; nothing is stored then.
    pub async fn ingest_packets(
        &self,
        id: &SpacecraftId,
        buffer: &[u8],
        on_error: OnPacketError,
        mode: IngestMode,
    ) -> Result<PacketCounts> {
        if self.shared.packet_decoding.is_none() {
            return Err(Error::invalid("packets", NOT_ENABLED));
        }
        let Some((_, compiled)) = self.packets_for(&self.scoped(id), None).await? else {
            return Err(Error::invalid(
                "packets",
                format!("spacecraft {id} has no packet definition; upload one first"),
            ));
        };
        let decoded = compiled.decode(buffer, on_error)?;
        let mut counts = decoded.counts;
        counts.snapshots = decoded.packets.len();
        let now = self.shared.clock.now();
        let snapshots: Vec<NewSnapshot> = decoded
            .packets
            .into_iter()
            .map(|packet| {
                let timestamp = packet.time.unwrap_or(now);
                NewSnapshot {
                    id: Some(SnapshotId::from_packet(
                        id,
                        packet.apid,
                        packet.sequence_count,
                        timestamp,
                    )),
                    spacecraft_id: id.clone(),
                    timestamp,
                    parameters: packet.parameters,
                }
            })
            .collect();
        if !snapshots.is_empty() {
            self.ingest_batch_as(snapshots, mode).await?;
        }
        Ok(counts)
    }

    /// `id`'s compiled packet definition for the rules: `None` without packet decoding or
    /// without a definition.
    pub(super) async fn packets_for_rules(&self, key: &Scoped) -> Result<Option<VersionedPackets>> {
        if self.shared.packet_decoding.is_none() {
            return Ok(None);
        }
        self.packets_for(key, None).await
    }

    /// [`Self::packets_for_rules`] when the current version is known (`version`, read by the
    /// clock tick for many spacecraft at once): no version read, the compiled definition from
    /// the cache when it is that version.
    pub(super) async fn packets_for_rules_at(
        &self,
        key: &Scoped,
        version: Option<u32>,
    ) -> Result<Option<VersionedPackets>> {
        if self.shared.packet_decoding.is_none() {
            return Ok(None);
        }
        self.packets_for(key, Some(version)).await
    }

    /// `id`'s current packet definition compiled, once per version; its version is compared
    /// with the store at most every [`RECHECK_MS`], or is `known` (read by the caller).
    async fn packets_for(
        &self,
        key: &Scoped,
        known: Option<Option<u32>>,
    ) -> Result<Option<VersionedPackets>> {
        let (tenant, id) = key;
        let Some(decoding) = &self.shared.packet_decoding else {
            return Ok(None);
        };
        let now = self.shared.clock.now();
        let cached = self.shared.packet_decoders.lock().ok().and_then(|cache| {
            cache
                .get(key)
                .map(|c| (c.packets.0, Arc::clone(&c.packets.1), c.checked_at))
        });
        if let Some((version, compiled, checked_at)) = &cached {
            if known.is_none() && now.as_millis() - checked_at.as_millis() < RECHECK_MS {
                return Ok(Some((*version, Arc::clone(compiled))));
            }
        }
        let version = match known {
            Some(version) => version,
            None => {
                self.shared
                    .store
                    .current_packet_definition_version(tenant, id)
                    .await?
            }
        };
        let Some(version) = version else {
            if let Ok(mut cache) = self.shared.packet_decoders.lock() {
                cache.remove(key);
            }
            return Ok(None);
        };
        let (version, compiled) = match cached {
            Some((cached_version, compiled, _)) if cached_version == version => (version, compiled),
            // The record read may be newer than the version read just before: key by its own.
            _ => match self
                .shared
                .store
                .current_packet_definition(tenant, id)
                .await?
            {
                Some(record) => (record.version, decoding.compile(&record.text)?),
                None => return Ok(None),
            },
        };
        if let Ok(mut cache) = self.shared.packet_decoders.lock() {
            cache.insert(
                key.clone(),
                CachedPackets {
                    packets: (version, Arc::clone(&compiled)),
                    checked_at: now,
                },
            );
        }
        Ok(Some((version, compiled)))
    }
}
