//! # missionops-packets
//!
//! Packet telemetry for MissionOps (SPEC §11), pure like the core: no IO, no clock, no runtime.
//!
//! - [`Definition`]: a telemetry definition in a subset of XTCE 1.2, parsed; anything outside
//!   the subset is refused with a [`DefinitionError`] naming the element or attribute and its
//!   line.
//! - [`Decoder`]: a definition compiled once (names resolved, inheritance flattened, every entry
//!   laid out) into a decoder of CCSDS Space Packets that does no string lookups per packet.
//! - [`Packets`]: CCSDS Space Packet framing of a buffer of packets back to back; errors name
//!   the byte offset of the bad packet ([`PacketError`]).
//!
//! ```
//! use missionops_packets::{Decoder, OnError};
//!
//! let decoder = Decoder::from_xml(r#"
//!   <SpaceSystem name="Demo" xmlns="http://www.omg.org/spec/XTCE/20180204">
//!     <TelemetryMetaData>
//!       <ParameterTypeSet>
//!         <IntegerParameterType name="u8"><IntegerDataEncoding sizeInBits="8"/></IntegerParameterType>
//!       </ParameterTypeSet>
//!       <ParameterSet><Parameter name="mode" parameterTypeRef="u8"/></ParameterSet>
//!       <ContainerSet>
//!         <SequenceContainer name="Housekeeping">
//!           <EntryList><ParameterRefEntry parameterRef="mode"/></EntryList>
//!         </SequenceContainer>
//!       </ContainerSet>
//!     </TelemetryMetaData>
//!   </SpaceSystem>"#)?;
//! // APID 100, sequence count 7, one data byte: 3.
//! let buffer = [0x08, 100, 0xc0, 7, 0, 0, 3];
//! let decoded = decoder.decode_buffer(&buffer, OnError::Reject)?;
//! assert_eq!(decoded.packets[0].apid, 100);
//! assert_eq!(decoded.packets[0].parameters.get("mode").and_then(|v| v.as_number()), Some(3.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//! - `xtce`: the XTCE subset parser; `definition`: what it produces.
//! - `decoder`: compiling a definition, decoding packets and buffers.
//! - `framing`: the primary header and the splitting of a buffer; `bits`: bit fields.
//! - `time`: epochs and leap seconds.
//! - `adapter`: the core's packet ports ([`XtceDecoding`]); `encode`: the demo's packets.

#![deny(missing_docs)]

mod adapter;
mod bits;
mod decoder;
mod definition;
mod encode;
mod error;
mod framing;
mod time;
mod xtce;

pub use adapter::XtceDecoding;
pub use decoder::{Counts, DecodedBuffer, DecodedPacket, Decoder, OnError, ParameterInfo};
pub use definition::{AlarmRanges, Definition};
pub use encode::{SAT_IMAGER_001_APID, encode_sat_imager_001};
pub use error::{DefinitionError, PacketError, PacketErrorKind};
pub use framing::{MIN_PACKET_LEN, PRIMARY_HEADER_LEN, Packet, Packets, PrimaryHeader};

/// The demo spacecraft `Sat-Imager-001`'s packet definition (XTCE), whose parameters are the
/// demo simulation's `LEO_IMAGING` parameters.
pub const SAT_IMAGER_001_DEFINITION: &str = include_str!("../definitions/sat-imager-001.xml");
