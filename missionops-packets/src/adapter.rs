//! The core's packet ports implemented with this crate: [`XtceDecoding`] compiles a definition
//! into a [`Decoder`], which decodes buffers for the core's packet ingest.

use std::sync::Arc;

use missionops_core::{
    CompiledPackets, DecodedPackets, Error, OnPacketError, PacketCounts, PacketDecoding,
    PacketValues, ParameterName, Result, Thresholds,
};

use crate::decoder::{Decoder, OnError};

/// The XTCE-subset packet decoding of this crate, for [`MissionOps::with_packet_decoding`].
///
/// [`MissionOps::with_packet_decoding`]: missionops_core::MissionOps::with_packet_decoding
#[derive(Debug, Clone, Copy, Default)]
pub struct XtceDecoding;

impl PacketDecoding for XtceDecoding {
    fn compile(&self, text: &str) -> Result<Arc<dyn CompiledPackets>> {
        let decoder = Decoder::from_xml(text).map_err(|e| Error::invalid("definition", e))?;
        Ok(Arc::new(decoder))
    }
}

impl CompiledPackets for Decoder {
    fn decode(&self, buffer: &[u8], on_error: OnPacketError) -> Result<DecodedPackets> {
        let on_error = match on_error {
            OnPacketError::Reject => OnError::Reject,
            OnPacketError::Skip => OnError::Skip,
        };
        let decoded = self
            .decode_buffer(buffer, on_error)
            .map_err(|e| Error::invalid("packets", e))?;
        let packets: Vec<PacketValues> = decoded
            .packets
            .into_iter()
            .map(|p| PacketValues {
                apid: p.apid,
                sequence_count: p.sequence_count,
                time: p.time,
                parameters: p.parameters,
            })
            .collect();
        Ok(DecodedPackets {
            counts: PacketCounts {
                packets: decoded.counts.packets,
                snapshots: packets.len(),
                unknown_apid: decoded.counts.unknown_apid,
                malformed: decoded.counts.malformed,
            },
            packets,
        })
    }

    fn parameters(&self) -> Vec<ParameterName> {
        Decoder::parameters(self)
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    fn limits(&self) -> Vec<(ParameterName, Thresholds)> {
        self.alarm_ranges()
            .map(|(name, ranges)| (name.clone(), ranges.thresholds()))
            .collect()
    }
}
