//! Packet telemetry ports (SPEC §11): compiling a spacecraft's packet definition into a decoder
//! (implemented outside the core, by the packets crate, so that the core and HTTP need not
//! depend on it) and storing the definitions, every version kept.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{NewEvent, ParameterName, Parameters, SpacecraftId, TenantId, Timestamp};
use crate::error::Result;
use crate::rules::Thresholds;

/// How a buffer of packets treats a bad packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnPacketError {
    /// The first bad packet refuses the whole buffer (all-or-nothing), with an
    /// [`Error::Invalid`](crate::Error::Invalid) naming its byte offset.
    #[default]
    Reject,
    /// Bad packets are counted in [`PacketCounts::malformed`] and skipped.
    Skip,
}

/// What a buffer of packets held, as the packet ingest answers it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketCounts {
    /// Packets framed in the buffer: decoded, of an unknown APID, or malformed.
    pub packets: usize,
    /// Snapshots the decoded packets made (one per decoded packet).
    pub snapshots: usize,
    /// Well-formed packets of an APID the definition does not know (skipped, not an error).
    pub unknown_apid: usize,
    /// Bad packets skipped under [`OnPacketError::Skip`].
    pub malformed: usize,
}

/// One decoded packet: what identifies it and its calibrated values.
#[derive(Debug, Clone, PartialEq)]
pub struct PacketValues {
    /// The application process id.
    pub apid: u16,
    /// The packet sequence count.
    pub sequence_count: u16,
    /// The time of its first absolute-time parameter; `None`: timed by arrival.
    pub time: Option<Timestamp>,
    /// The values.
    pub parameters: Parameters,
}

/// A buffer of packets, decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodedPackets {
    /// The decoded packets, in buffer order.
    pub packets: Vec<PacketValues>,
    /// What the buffer held (`snapshots` is the number of decoded packets).
    pub counts: PacketCounts,
}

/// A packet definition compiled once per version, shared by every decode of it.
pub trait CompiledPackets: Send + Sync + std::fmt::Debug {
    /// Decodes a buffer of Space Packets back to back. With [`OnPacketError::Reject`] a bad
    /// packet is an [`Error::Invalid`](crate::Error::Invalid) whose reason names its byte offset.
    fn decode(&self, buffer: &[u8], on_error: OnPacketError) -> Result<DecodedPackets>;

    /// Every parameter the definition names, in document order.
    fn parameters(&self) -> Vec<ParameterName>;

    /// The definition's static alarm ranges as limit thresholds, per parameter that has some.
    fn limits(&self) -> Vec<(ParameterName, Thresholds)>;
}

/// Compiles packet definitions (the packets crate's adapter).
pub trait PacketDecoding: Send + Sync {
    /// Compiles a definition document; an [`Error::Invalid`](crate::Error::Invalid) naming the
    /// element and its line when it cannot be used.
    fn compile(&self, text: &str) -> Result<Arc<dyn CompiledPackets>>;
}

/// One version of a spacecraft's packet definition.
#[derive(Debug, Clone, PartialEq)]
pub struct PacketDefinitionRecord {
    /// The spacecraft.
    pub spacecraft_id: SpacecraftId,
    /// 1 for the first definition, +1 for every change.
    pub version: u32,
    /// The definition document as uploaded.
    pub text: String,
    /// When this version was written.
    pub created_at: Timestamp,
}

/// Packet definition storage, with every version kept.
#[async_trait]
pub trait PacketDefinitionRepository: Send + Sync {
    /// The newest packet definition of `spacecraft`, or `None`.
    async fn current_packet_definition(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<PacketDefinitionRecord>>;

    /// The version of [`current_packet_definition`], or `None`; the default reads the
    /// whole definition, a backend answers it without reading the document.
    ///
    /// [`current_packet_definition`]: PacketDefinitionRepository::current_packet_definition
    async fn current_packet_definition_version(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Option<u32>> {
        Ok(self
            .current_packet_definition(tenant, spacecraft)
            .await?
            .map(|record| record.version))
    }

    /// [`current_packet_definition_version`] of each of `spacecraft`, in their order (the clock
    /// tick's read, like
    /// [`ConfigRepository::current_configs`](crate::ConfigRepository::current_configs)). The
    /// default reads them one by one; a backend reads them in one query.
    ///
    /// [`current_packet_definition_version`]: PacketDefinitionRepository::current_packet_definition_version
    async fn current_packet_definition_versions(
        &self,
        tenant: &TenantId,
        spacecraft: &[SpacecraftId],
    ) -> Result<Vec<Option<u32>>> {
        let mut versions = Vec::with_capacity(spacecraft.len());
        for id in spacecraft {
            versions.push(self.current_packet_definition_version(tenant, id).await?);
        }
        Ok(versions)
    }

    /// Stores `record` as the newest version with its `CONFIG_CHANGED` event.
    /// `record.version` must be one more than the current version (1 for the first); otherwise
    /// [`Error::Conflict`](crate::Error::Conflict) and nothing is written.
    /// [`Error::NotFound`](crate::Error::NotFound) when the spacecraft does not exist.
    async fn put_packet_definition(
        &self,
        tenant: &TenantId,
        record: PacketDefinitionRecord,
        event: NewEvent,
    ) -> Result<()>;

    /// Every version of `spacecraft`'s packet definition, oldest first; empty when none.
    async fn packet_definition_history(
        &self,
        tenant: &TenantId,
        spacecraft: &SpacecraftId,
    ) -> Result<Vec<PacketDefinitionRecord>>;
}
