//! CCSDS Space Packet framing: truncated packets, a length beyond the body, a wrong version;
//! all-or-nothing naming the byte offset, or counted with `OnError::Skip`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{container, definition, packet};
use missionops_packets::{Decoder, OnError, PacketErrorKind, Packets};

fn decoder() -> Decoder {
    Decoder::from_xml(&definition(
        r#"<IntegerParameterType name="U16"><IntegerDataEncoding sizeInBits="16"/></IntegerParameterType>"#,
        r#"<Parameter name="v" parameterTypeRef="U16"/>"#,
        &container("C", 42, &["v"]),
    ))
    .unwrap()
}

fn good(seq: u16) -> Vec<u8> {
    packet(42, seq, false, &seq.to_be_bytes())
}

#[test]
fn the_framer_reads_every_header_field_as_spacepackets_wrote_it() {
    let bytes = packet(0x7ff, 0x3fff, true, &[1, 2, 3]);
    let framed: Vec<_> = Packets::new(&bytes).collect();
    assert_eq!(framed.len(), 1);
    let p = framed[0].as_ref().unwrap();
    assert_eq!(p.offset, 0);
    assert_eq!(p.header.version, 0);
    assert_eq!(p.header.packet_type, 0);
    assert!(p.header.secondary_header);
    assert_eq!(p.header.apid, 0x7ff);
    assert_eq!(p.header.sequence_flags, 3);
    assert_eq!(p.header.sequence_count, 0x3fff);
    assert_eq!(p.header.data_length, 2);
    assert_eq!(p.bytes.len(), 9);
}

#[test]
fn back_to_back_packets_decode_in_order() {
    let buffer: Vec<u8> = (0..5).flat_map(good).collect();
    let out = decoder().decode_buffer(&buffer, OnError::Reject).unwrap();
    assert_eq!(out.counts.packets, 5);
    let values: Vec<_> = out
        .packets
        .iter()
        .map(|p| p.parameters.get("v").unwrap().as_number().unwrap())
        .collect();
    assert_eq!(values, [0.0, 1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn a_truncated_tail_is_refused_at_its_offset_or_counted_once() {
    let mut buffer = good(0);
    buffer.extend(good(1));
    buffer.extend_from_slice(&[0x00, 0x2a, 0xc0]);
    let err = decoder()
        .decode_buffer(&buffer, OnError::Reject)
        .unwrap_err();
    assert_eq!(err.offset, 16);
    assert_eq!(err.kind, PacketErrorKind::Truncated { remaining: 3 });
    assert!(
        err.to_string()
            .starts_with("packet at byte offset 16: truncated")
    );

    let out = decoder().decode_buffer(&buffer, OnError::Skip).unwrap();
    assert_eq!(out.packets.len(), 2);
    assert_eq!(out.counts.malformed, 1);
    assert_eq!(out.counts.packets, 3);
}

#[test]
fn a_length_field_beyond_the_body_is_refused_at_its_offset() {
    let mut buffer = good(0);
    let mut long = good(1);
    long[5] = 40; // claims 41 data bytes, has 2
    buffer.extend(long);
    let err = decoder()
        .decode_buffer(&buffer, OnError::Reject)
        .unwrap_err();
    assert_eq!(err.offset, 8);
    assert_eq!(
        err.kind,
        PacketErrorKind::LengthBeyondBody {
            declared: 47,
            remaining: 8
        }
    );
    let out = decoder().decode_buffer(&buffer, OnError::Skip).unwrap();
    assert_eq!((out.packets.len(), out.counts.malformed), (1, 1));
}

#[test]
fn a_wrong_version_is_refused_and_skipping_it_goes_on_with_the_next_packet() {
    let mut bad = good(1);
    bad[0] |= 0b0010_0000; // version 1
    let buffer: Vec<u8> = [good(0), bad, good(2)].concat();
    let err = decoder()
        .decode_buffer(&buffer, OnError::Reject)
        .unwrap_err();
    assert_eq!(err.offset, 8);
    assert_eq!(err.kind, PacketErrorKind::WrongVersion { version: 1 });
    assert_eq!(
        err.to_string(),
        "packet at byte offset 8: version is 1, a CCSDS Space Packet has version 0"
    );
    let out = decoder().decode_buffer(&buffer, OnError::Skip).unwrap();
    let seqs: Vec<_> = out.packets.iter().map(|p| p.sequence_count).collect();
    assert_eq!(seqs, [0, 2]);
    assert_eq!(out.counts.malformed, 1);
    assert_eq!(out.counts.packets, 3);
}

#[test]
fn an_empty_buffer_holds_no_packets_and_a_lone_header_is_beyond_its_body() {
    let out = decoder().decode_buffer(&[], OnError::Reject).unwrap();
    assert_eq!(out.counts.packets, 0);
    let err = decoder()
        .decode_buffer(&good(0)[..6], OnError::Reject)
        .unwrap_err();
    assert_eq!(err.offset, 0);
    assert!(matches!(
        err.kind,
        PacketErrorKind::LengthBeyondBody {
            declared: 8,
            remaining: 6
        }
    ));
}

#[test]
fn decoding_into_a_vector_keeps_it_unchanged_when_the_buffer_is_refused() {
    let d = decoder();
    let mut out = Vec::new();
    let counts = d
        .decode_buffer_into(&[good(0), good(1)].concat(), OnError::Reject, &mut out)
        .unwrap();
    assert_eq!((counts.packets, out.len()), (2, 2));
    let mut bad = good(3);
    bad[0] |= 0b0100_0000;
    let refused = [good(2), bad].concat();
    assert!(
        d.decode_buffer_into(&refused, OnError::Reject, &mut out)
            .is_err()
    );
    assert_eq!(out.len(), 2, "nothing of the refused buffer is kept");
    d.decode_buffer_into(&refused, OnError::Skip, &mut out)
        .unwrap();
    assert_eq!(out.len(), 3);
}
