//! CCSDS Space Packet framing (CCSDS 133.0-B-2): the primary header, and a buffer of packets
//! back to back split into packets.

use crate::error::{PacketError, PacketErrorKind};

/// The length of the primary header in bytes.
pub const PRIMARY_HEADER_LEN: usize = 6;
/// The smallest Space Packet: the header and one data byte (the length field counts data bytes
/// minus one, so a packet always has at least one).
pub const MIN_PACKET_LEN: usize = PRIMARY_HEADER_LEN + 1;

/// The fields of a Space Packet's primary header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrimaryHeader {
    /// The version (3 bits), 0 for every Space Packet.
    pub version: u8,
    /// The packet type (1 bit): 0 telemetry, 1 telecommand.
    pub packet_type: u8,
    /// The secondary header flag (1 bit).
    pub secondary_header: bool,
    /// The application process id (11 bits).
    pub apid: u16,
    /// The sequence flags (2 bits): 3 for an unsegmented packet.
    pub sequence_flags: u8,
    /// The packet sequence count (14 bits).
    pub sequence_count: u16,
    /// The packet data length field (16 bits): data bytes minus one.
    pub data_length: u16,
}

impl PrimaryHeader {
    /// Reads the six header bytes.
    #[inline]
    pub fn read(bytes: &[u8; PRIMARY_HEADER_LEN]) -> Self {
        let id = u16::from_be_bytes([bytes[0], bytes[1]]);
        let control = u16::from_be_bytes([bytes[2], bytes[3]]);
        PrimaryHeader {
            version: (id >> 13) as u8,
            packet_type: ((id >> 12) & 1) as u8,
            secondary_header: (id >> 11) & 1 == 1,
            apid: id & 0x7ff,
            sequence_flags: (control >> 14) as u8,
            sequence_count: control & 0x3fff,
            data_length: u16::from_be_bytes([bytes[4], bytes[5]]),
        }
    }

    /// The whole packet's length according to the length field, header included.
    #[inline]
    pub fn packet_len(&self) -> usize {
        usize::from(self.data_length) + MIN_PACKET_LEN
    }
}

/// One framed packet of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Where it starts in the buffer.
    pub offset: usize,
    /// Its header.
    pub header: PrimaryHeader,
    /// All its bytes, header included.
    pub bytes: &'a [u8],
}

/// Splits a buffer of Space Packets back to back, checking each header.
///
/// Yields each packet, or the error of a bad one with its byte offset. After a packet with a
/// wrong version whose length field still fits the buffer, it continues with the next packet
/// (the length is the only framing there is); after a truncated packet or a length beyond the
/// body, nothing of the buffer can be framed any more, and it ends.
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    buffer: &'a [u8],
    offset: usize,
}

impl<'a> Packets<'a> {
    /// The packets of `buffer`.
    pub fn new(buffer: &'a [u8]) -> Self {
        Packets { buffer, offset: 0 }
    }
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<Packet<'a>, PacketError>;

    fn next(&mut self) -> Option<Self::Item> {
        let offset = self.offset;
        let rest = self.buffer.get(offset..).filter(|r| !r.is_empty())?;
        let fail = |kind| Some(Err(PacketError { offset, kind }));
        let Some(head) = rest.first_chunk::<PRIMARY_HEADER_LEN>() else {
            self.offset = self.buffer.len();
            return fail(PacketErrorKind::Truncated {
                remaining: rest.len(),
            });
        };
        let header = PrimaryHeader::read(head);
        let len = header.packet_len();
        if len > rest.len() {
            self.offset = self.buffer.len();
            return fail(PacketErrorKind::LengthBeyondBody {
                declared: len,
                remaining: rest.len(),
            });
        }
        self.offset = offset + len;
        if header.version != 0 {
            return fail(PacketErrorKind::WrongVersion {
                version: header.version,
            });
        }
        Some(Ok(Packet {
            offset,
            header,
            bytes: &rest[..len],
        }))
    }
}
