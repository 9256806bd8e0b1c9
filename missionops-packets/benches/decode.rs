//! Packet decoding (SPEC §8: ≥ 2 M packets/s on one core): 10,000 Space Packets of 64 bytes
//! back to back, each of 10 parameters (calibrated unsigned and signed integers, floats of 32
//! and 64 bits, a little-endian integer, an enumeration and a flag). Throughput is in packets.
//!
//! - `decode_buffer`: framing, container selection and decoding of the whole buffer into
//!   snapshot parameters (what an ingest does), into a reused output vector
//!   (`Decoder::decode_buffer_into`);
//! - `baseline_read`: a bare loop over the same buffer that frames each packet by its length
//!   field and reads the same 10 fields as plain integers and sums them, with no calibration,
//!   no values built. The ratio of the two is the figure to report; the machine is shared and
//!   noisy.
//!
//! `cargo bench -p missionops-packets --bench decode`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use missionops_packets::{Decoder, OnError};

const PACKETS: usize = 10_000;
const PACKET_LEN: usize = 64;

/// 10 parameters, 40 bytes, then padding to 64 bytes: (name, type, bytes).
const DEFINITION: &str = r#"<SpaceSystem name="Bench" xmlns="http://www.omg.org/spec/XTCE/20180204">
<TelemetryMetaData>
  <ParameterTypeSet>
    <FloatParameterType name="U16c"><IntegerDataEncoding sizeInBits="16">
      <DefaultCalibrator><PolynomialCalibrator><Term coefficient="0.5" exponent="0"/><Term coefficient="0.01" exponent="1"/></PolynomialCalibrator></DefaultCalibrator>
    </IntegerDataEncoding></FloatParameterType>
    <FloatParameterType name="I32c"><IntegerDataEncoding sizeInBits="32" encoding="twosComplement">
      <DefaultCalibrator><PolynomialCalibrator><Term coefficient="0.001" exponent="1"/></PolynomialCalibrator></DefaultCalibrator>
    </IntegerDataEncoding></FloatParameterType>
    <FloatParameterType name="F32"><FloatDataEncoding sizeInBits="32"/></FloatParameterType>
    <FloatParameterType name="F64"><FloatDataEncoding sizeInBits="64"/></FloatParameterType>
    <IntegerParameterType name="U16le"><IntegerDataEncoding sizeInBits="16" byteOrder="leastSignificantByteFirst"/></IntegerParameterType>
    <EnumeratedParameterType name="Mode"><IntegerDataEncoding sizeInBits="8"/>
      <EnumerationList><Enumeration value="0" label="STANDBY"/><Enumeration value="1" label="IMAGING"/></EnumerationList>
    </EnumeratedParameterType>
    <BooleanParameterType name="Flag"><IntegerDataEncoding sizeInBits="8"/></BooleanParameterType>
  </ParameterTypeSet>
  <ParameterSet>
    <Parameter name="p0" parameterTypeRef="U16c"/><Parameter name="p1" parameterTypeRef="U16c"/>
    <Parameter name="p2" parameterTypeRef="I32c"/><Parameter name="p3" parameterTypeRef="I32c"/>
    <Parameter name="p4" parameterTypeRef="F32"/><Parameter name="p5" parameterTypeRef="F32"/>
    <Parameter name="p6" parameterTypeRef="F64"/><Parameter name="p7" parameterTypeRef="U16le"/>
    <Parameter name="p8" parameterTypeRef="Mode"/><Parameter name="p9" parameterTypeRef="Flag"/>
  </ParameterSet>
  <ContainerSet>
    <SequenceContainer name="Root" abstract="true"/>
    <SequenceContainer name="Hk">
      <EntryList>
        <ParameterRefEntry parameterRef="p0"/><ParameterRefEntry parameterRef="p1"/>
        <ParameterRefEntry parameterRef="p2"/><ParameterRefEntry parameterRef="p3"/>
        <ParameterRefEntry parameterRef="p4"/><ParameterRefEntry parameterRef="p5"/>
        <ParameterRefEntry parameterRef="p6"/><ParameterRefEntry parameterRef="p7"/>
        <ParameterRefEntry parameterRef="p8"/><ParameterRefEntry parameterRef="p9"/>
      </EntryList>
      <BaseContainer containerRef="Root"><RestrictionCriteria><Comparison parameterRef="CCSDS_APID" value="100"/></RestrictionCriteria></BaseContainer>
    </SequenceContainer>
  </ContainerSet>
</TelemetryMetaData>
</SpaceSystem>"#;

/// The byte offset and width of each field in the packet (after the 6-byte header).
const FIELDS: [(usize, usize); 10] = [
    (6, 2),
    (8, 2),
    (10, 4),
    (14, 4),
    (18, 4),
    (22, 4),
    (26, 8),
    (34, 2),
    (36, 1),
    (37, 1),
];

fn buffer() -> Vec<u8> {
    let mut out = Vec::with_capacity(PACKETS * PACKET_LEN);
    for i in 0..PACKETS {
        let seq = (i % 16384) as u16;
        let mut p = vec![0u8; PACKET_LEN];
        p[0] = 0x08; // version 0, telemetry, secondary header flag
        p[1] = 100; // APID 100
        p[2..4].copy_from_slice(&(0xc000 | seq).to_be_bytes());
        p[4..6].copy_from_slice(&((PACKET_LEN - 7) as u16).to_be_bytes());
        let x = i as u32;
        p[6..8].copy_from_slice(&(x as u16).to_be_bytes());
        p[8..10].copy_from_slice(&((x * 7) as u16).to_be_bytes());
        p[10..14].copy_from_slice(&(x as i32 - 5000).to_be_bytes());
        p[14..18].copy_from_slice(&(x.wrapping_mul(31) as i32).to_be_bytes());
        p[18..22].copy_from_slice(&(x as f32 * 0.5).to_be_bytes());
        p[22..26].copy_from_slice(&(-(x as f32)).to_be_bytes());
        p[26..34].copy_from_slice(&(f64::from(x) / 3.0).to_be_bytes());
        p[34..36].copy_from_slice(&(x as u16).to_le_bytes());
        p[36] = (x % 2) as u8;
        p[37] = (x % 3 == 0) as u8;
        out.extend(p);
    }
    out
}

/// The same fields as plain integers, framed by the length field: what any decoder must at
/// least do.
fn baseline(buffer: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut at = 0;
    while at + 6 <= buffer.len() {
        let len = usize::from(u16::from_be_bytes([buffer[at + 4], buffer[at + 5]])) + 7;
        let packet = &buffer[at..at + len];
        for (offset, width) in FIELDS {
            let mut v = 0u64;
            for &b in &packet[offset..offset + width] {
                v = (v << 8) | u64::from(b);
            }
            sum = sum.wrapping_add(v);
        }
        at += len;
    }
    sum
}

fn bench(c: &mut Criterion) {
    let decoder = Decoder::from_xml(DEFINITION).expect("the bench definition is valid");
    let buffer = buffer();
    let check = decoder
        .decode_buffer(&buffer, OnError::Reject)
        .expect("the bench packets decode");
    assert_eq!(check.packets.len(), PACKETS);
    assert_eq!(check.packets[0].parameters.len(), 10);

    let mut group = c.benchmark_group("packet_decoding");
    group.throughput(Throughput::Elements(PACKETS as u64));
    // The output vector is reused as an ingest loop would; dropping the previous buffer's
    // packets is part of each iteration.
    let mut out = Vec::with_capacity(PACKETS);
    group.bench_function("decode_buffer", |b| {
        b.iter(|| {
            out.clear();
            decoder.decode_buffer_into(black_box(&buffer), OnError::Reject, &mut out)
        })
    });
    group.bench_function("baseline_read", |b| b.iter(|| baseline(black_box(&buffer))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
