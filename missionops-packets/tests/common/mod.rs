//! Test helpers: an encoder of packets independent of the decoder (headers by the
//! `spacepackets` crate, payloads by a bit writer of our own) and a builder of definitions.

#![allow(dead_code, clippy::unwrap_used)]

use arbitrary_int::{u11, u14};
use spacepackets::{PacketType, SequenceFlags, SpHeader};

/// Writes fields of 1 to 64 bits, most significant bit first, into a growing byte vector.
#[derive(Debug, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the low `bits` bits of `value`, big-endian.
    pub fn put(&mut self, value: u64, bits: u32) -> &mut Self {
        for i in (0..bits).rev() {
            let bit = (value >> i) & 1;
            if self.bits % 8 == 0 {
                self.bytes.push(0);
            }
            if bit == 1 {
                let last = self.bytes.len() - 1;
                self.bytes[last] |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
        }
        self
    }

    /// Appends the low `bits` bits of `value` least significant byte first (`bits` a multiple
    /// of 8): the bytes of the big-endian field, reversed.
    pub fn put_le(&mut self, value: u64, bits: u32) -> &mut Self {
        let bytes = bits / 8;
        for i in 0..bytes {
            self.put((value >> (8 * i)) & 0xff, 8);
        }
        self
    }

    /// Skips `bits` zero bits.
    pub fn pad(&mut self, bits: u32) -> &mut Self {
        for _ in 0..bits {
            self.put(0, 1);
        }
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

/// A telemetry Space Packet: the header written by `spacepackets`, then `data`.
pub fn packet(apid: u16, seq: u16, sec_header: bool, data: &[u8]) -> Vec<u8> {
    assert!(
        !data.is_empty(),
        "a Space Packet carries at least one data byte"
    );
    let header = SpHeader::new_from_fields(
        PacketType::Tm,
        sec_header,
        u11::new(apid),
        SequenceFlags::Unsegmented,
        u14::new(seq),
        u16::try_from(data.len() - 1).unwrap(),
    );
    let mut out = header.to_vec();
    out.extend_from_slice(data);
    out
}

/// A telecommand packet, to test restriction criteria on the packet type.
pub fn tc_packet(apid: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let header = SpHeader::new_from_fields(
        PacketType::Tc,
        false,
        u11::new(apid),
        SequenceFlags::Unsegmented,
        u14::new(seq),
        u16::try_from(data.len() - 1).unwrap(),
    );
    let mut out = header.to_vec();
    out.extend_from_slice(data);
    out
}

/// A one-system definition of `types`, `parameters` and `containers` (XML fragments).
pub fn definition(types: &str, parameters: &str, containers: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<SpaceSystem name="Test" xmlns="http://www.omg.org/spec/XTCE/20180204">
  <TelemetryMetaData>
    <ParameterTypeSet>
{types}
    </ParameterTypeSet>
    <ParameterSet>
{parameters}
    </ParameterSet>
    <ContainerSet>
{containers}
    </ContainerSet>
  </TelemetryMetaData>
</SpaceSystem>"#
    )
}

/// A container named `name` with `entries` in order (parameter names), for APID `apid`.
pub fn container(name: &str, apid: u16, entries: &[&str]) -> String {
    let list: String = entries
        .iter()
        .map(|e| format!(r#"<ParameterRefEntry parameterRef="{e}"/>"#))
        .collect();
    format!(
        r#"<SequenceContainer name="Root" abstract="true"/>
<SequenceContainer name="{name}">
  <EntryList>{list}</EntryList>
  <BaseContainer containerRef="Root"><RestrictionCriteria>
    <Comparison parameterRef="CCSDS_APID" value="{apid}"/>
  </RestrictionCriteria></BaseContainer>
</SequenceContainer>"#
    )
}
