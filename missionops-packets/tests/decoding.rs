//! Decoding: every encoding, size, byte order, calibrator and time epoch, against packets built
//! by an encoder independent of the decoder.

#![allow(clippy::unwrap_used)]

mod common;

use common::{BitWriter, container, definition, packet};
use missionops_core::{ParameterValue, Timestamp};
use missionops_packets::{DecodedPacket, Decoder, OnError};

fn decode_one(decoder: &Decoder, bytes: &[u8]) -> DecodedPacket {
    let mut out = decoder.decode_buffer(bytes, OnError::Reject).unwrap();
    assert_eq!(out.counts.packets, 1);
    assert_eq!(out.packets.len(), 1, "{:?}", out.counts);
    out.packets.pop().unwrap()
}

fn number(p: &DecodedPacket, name: &str) -> f64 {
    match p.parameters.get(name) {
        Some(ParameterValue::Number(v)) => *v,
        other => panic!("{name}: {other:?}"),
    }
}

/// A definition of one integer parameter `v` of the given encoding, on APID 1.
fn integer_decoder(bits: u32, signed: bool, lsb_first: bool) -> Decoder {
    let encoding = if signed { "twosComplement" } else { "unsigned" };
    let order = if lsb_first {
        "leastSignificantByteFirst"
    } else {
        "mostSignificantByteFirst"
    };
    Decoder::from_xml(&definition(
        &format!(
            r#"<IntegerParameterType name="T"><IntegerDataEncoding sizeInBits="{bits}" encoding="{encoding}" byteOrder="{order}"/></IntegerParameterType>"#
        ),
        r#"<Parameter name="pad" parameterTypeRef="P"/><Parameter name="v" parameterTypeRef="T"/>"#,
        &container("C", 1, &["pad", "v"]),
    )
    .replace(
        "</ParameterTypeSet>",
        r#"<IntegerParameterType name="P"><IntegerDataEncoding sizeInBits="3"/></IntegerParameterType></ParameterTypeSet>"#,
    ))
    .unwrap()
}

#[test]
fn integers_of_every_size_signedness_and_byte_order_decode_to_their_value() {
    for bits in 1..=64u32 {
        let mask = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        for signed in [false, true] {
            for lsb_first in [false, true] {
                if lsb_first && bits % 8 != 0 {
                    continue;
                }
                let decoder = integer_decoder(bits, signed, lsb_first);
                // The largest, the smallest and an irregular pattern of the field.
                let patterns: Vec<u64> =
                    vec![mask, 0, 0x5a5a_a5a5_1234_5678 & mask, 1 << (bits - 1)];
                for raw in patterns {
                    let mut w = BitWriter::new();
                    // 3 bits of padding so most fields straddle byte boundaries.
                    w.put(0b101, 3);
                    if lsb_first {
                        w.put_le(raw, bits);
                    } else {
                        w.put(raw, bits);
                    }
                    let decoded = decode_one(&decoder, &packet(1, 9, false, &w.bytes()));
                    let expected = if signed {
                        let shift = 64 - bits;
                        (((raw << shift) as i64) >> shift) as f64
                    } else {
                        raw as f64
                    };
                    assert_eq!(
                        number(&decoded, "v"),
                        expected,
                        "{bits} bits, signed {signed}, lsb first {lsb_first}, raw {raw:#x}"
                    );
                    assert_eq!(number(&decoded, "pad"), 5.0);
                }
            }
        }
    }
}

#[test]
fn floats_of_32_and_64_bits_in_both_byte_orders_decode_to_their_value() {
    for (bits, lsb_first) in [(32, false), (32, true), (64, false), (64, true)] {
        let order = if lsb_first {
            "leastSignificantByteFirst"
        } else {
            "mostSignificantByteFirst"
        };
        let decoder = Decoder::from_xml(&definition(
            &format!(
                r#"<FloatParameterType name="F"><FloatDataEncoding sizeInBits="{bits}" byteOrder="{order}"/></FloatParameterType>"#
            ),
            r#"<Parameter name="f" parameterTypeRef="F"/>"#,
            &container("C", 2, &["f"]),
        ))
        .unwrap();
        for value in [0.0f64, -1.5, 3.25e10, 1.0e-30, 123.456] {
            let raw = if bits == 32 {
                u64::from((value as f32).to_bits())
            } else {
                value.to_bits()
            };
            let mut w = BitWriter::new();
            if lsb_first {
                w.put_le(raw, bits);
            } else {
                w.put(raw, bits);
            }
            let decoded = decode_one(&decoder, &packet(2, 0, false, &w.bytes()));
            let expected = if bits == 32 {
                f64::from(value as f32)
            } else {
                value
            };
            assert_eq!(
                number(&decoded, "f"),
                expected,
                "{bits} bits lsb {lsb_first}"
            );
        }
    }
}

#[test]
fn a_float_that_is_nan_is_left_out_of_the_parameters() {
    let decoder = Decoder::from_xml(&definition(
        r#"<FloatParameterType name="F"><FloatDataEncoding sizeInBits="32"/></FloatParameterType>"#,
        r#"<Parameter name="f" parameterTypeRef="F"/><Parameter name="g" parameterTypeRef="F"/>"#,
        &container("C", 2, &["f", "g"]),
    ))
    .unwrap();
    let mut w = BitWriter::new();
    w.put(u64::from(f32::NAN.to_bits()), 32)
        .put(u64::from(2.5f32.to_bits()), 32);
    let decoded = decode_one(&decoder, &packet(2, 0, false, &w.bytes()));
    assert_eq!(decoded.parameters.len(), 1);
    assert_eq!(number(&decoded, "g"), 2.5);
}

#[test]
fn polynomial_calibrators_apply_to_integer_and_float_encodings() {
    let decoder = Decoder::from_xml(&definition(
        r#"<FloatParameterType name="Volts">
             <IntegerDataEncoding sizeInBits="16" encoding="twosComplement">
               <DefaultCalibrator><PolynomialCalibrator>
                 <Term coefficient="0.5" exponent="0"/><Term coefficient="0.001" exponent="1"/><Term coefficient="2e-6" exponent="2"/>
               </PolynomialCalibrator></DefaultCalibrator>
             </IntegerDataEncoding>
           </FloatParameterType>
           <FloatParameterType name="Scaled">
             <FloatDataEncoding sizeInBits="64">
               <DefaultCalibrator><PolynomialCalibrator><Term coefficient="10" exponent="1"/><Term coefficient="-3" exponent="0"/></PolynomialCalibrator></DefaultCalibrator>
             </FloatDataEncoding>
           </FloatParameterType>
           <IntegerParameterType name="Raw"><IntegerDataEncoding sizeInBits="8">
             <DefaultCalibrator><PolynomialCalibrator><Term coefficient="4" exponent="1"/></PolynomialCalibrator></DefaultCalibrator>
           </IntegerDataEncoding></IntegerParameterType>"#,
        r#"<Parameter name="v" parameterTypeRef="Volts"/><Parameter name="s" parameterTypeRef="Scaled"/><Parameter name="r" parameterTypeRef="Raw"/>"#,
        &container("C", 3, &["v", "s", "r"]),
    ))
    .unwrap();
    let mut w = BitWriter::new();
    w.put((-1000i16) as u16 as u64, 16)
        .put(1.25f64.to_bits(), 64)
        .put(200, 8);
    let d = decode_one(&decoder, &packet(3, 0, false, &w.bytes()));
    let x = -1000.0f64;
    assert!((number(&d, "v") - (0.5 + 0.001 * x + 2e-6 * x * x)).abs() < 1e-9);
    assert_eq!(number(&d, "s"), 9.5);
    assert_eq!(number(&d, "r"), 800.0);
}

#[test]
fn enumerations_give_their_label_and_booleans_their_flag() {
    let decoder = Decoder::from_xml(&definition(
        r#"<EnumeratedParameterType name="Mode"><IntegerDataEncoding sizeInBits="4"/>
             <EnumerationList><Enumeration value="0" label="SAFE"/><Enumeration value="7" label="NOMINAL"/></EnumerationList>
           </EnumeratedParameterType>
           <EnumeratedParameterType name="Signed"><IntegerDataEncoding sizeInBits="4" encoding="twosComplement"/>
             <EnumerationList><Enumeration value="-1" label="MINUS_ONE"/></EnumerationList>
           </EnumeratedParameterType>
           <BooleanParameterType name="Flag"><IntegerDataEncoding sizeInBits="1"/></BooleanParameterType>"#,
        r#"<Parameter name="mode" parameterTypeRef="Mode"/><Parameter name="other" parameterTypeRef="Mode"/>
           <Parameter name="s" parameterTypeRef="Signed"/><Parameter name="on" parameterTypeRef="Flag"/><Parameter name="off" parameterTypeRef="Flag"/>"#,
        &container("C", 4, &["mode", "other", "s", "on", "off"]),
    ))
    .unwrap();
    let mut w = BitWriter::new();
    w.put(7, 4).put(5, 4).put(0xf, 4).put(1, 1).put(0, 1);
    let d = decode_one(&decoder, &packet(4, 0, false, &w.bytes()));
    assert_eq!(
        d.parameters.get("mode"),
        Some(&ParameterValue::Text("NOMINAL".into()))
    );
    assert_eq!(
        d.parameters.get("other"),
        Some(&ParameterValue::Text("UNDEFINED(5)".into()))
    );
    assert_eq!(
        d.parameters.get("s"),
        Some(&ParameterValue::Text("MINUS_ONE".into()))
    );
    assert_eq!(d.parameters.get("on"), Some(&ParameterValue::Bool(true)));
    assert_eq!(d.parameters.get("off"), Some(&ParameterValue::Bool(false)));
}

#[test]
fn fixed_strings_stop_at_the_first_nul_even_when_not_byte_aligned() {
    let decoder = Decoder::from_xml(&definition(
        r#"<StringParameterType name="S"><StringDataEncoding encoding="UTF-8"><SizeInBits><Fixed><FixedValue>64</FixedValue></Fixed></SizeInBits></StringDataEncoding></StringParameterType>
           <BooleanParameterType name="B"><IntegerDataEncoding sizeInBits="1"/></BooleanParameterType>"#,
        r#"<Parameter name="b" parameterTypeRef="B"/><Parameter name="name" parameterTypeRef="S"/><Parameter name="full" parameterTypeRef="S"/>"#,
        &container("C", 5, &["b", "name", "full"]),
    ))
    .unwrap();
    let mut w = BitWriter::new();
    w.put(1, 1);
    for byte in b"CRUISE\0\0ABCDEFGH" {
        w.put(u64::from(*byte), 8);
    }
    let d = decode_one(&decoder, &packet(5, 0, false, &w.bytes()));
    assert_eq!(
        d.parameters.get("name"),
        Some(&ParameterValue::Text("CRUISE".into()))
    );
    assert_eq!(
        d.parameters.get("full"),
        Some(&ParameterValue::Text("ABCDEFGH".into()))
    );
}

fn time_decoder(epoch: &str, encoding: &str) -> Decoder {
    Decoder::from_xml(&definition(
        &format!(
            r#"<AbsoluteTimeParameterType name="Time">{encoding}<ReferenceTime><Epoch>{epoch}</Epoch></ReferenceTime></AbsoluteTimeParameterType>
               <IntegerParameterType name="U8"><IntegerDataEncoding sizeInBits="8"/></IntegerParameterType>"#
        ),
        r#"<Parameter name="t" parameterTypeRef="Time"/><Parameter name="t2" parameterTypeRef="Time"/><Parameter name="x" parameterTypeRef="U8"/>"#,
        &container("C", 6, &["t", "t2", "x"]),
    ))
    .unwrap()
}

fn millis(rfc3339: &str) -> i64 {
    Timestamp::parse(rfc3339).unwrap().as_millis()
}

#[test]
fn absolute_times_of_every_epoch_give_the_packet_time_in_utc() {
    let seconds = r#"<Encoding><IntegerDataEncoding sizeInBits="32"/></Encoding>"#;
    // (epoch, seconds on the wire, the UTC time they stand for)
    let cases = [
        ("UNIX", 1_700_000_000u64, "2023-11-14T22:13:20Z"),
        // GPS runs 18 s ahead of UTC since 2017.
        ("GPS", 1_261_872_018, "2020-01-01T00:00:00Z"),
        // TAI runs 37 s ahead; 1958-01-01 → 2020-01-01 is 22645 days.
        ("TAI", 22_645 * 86_400 + 37, "2020-01-01T00:00:00Z"),
        // J2000 is 2000-01-01T11:58:55.816Z (TAI 11:59:27.816); 5 leap seconds since.
        ("J2000", 631_108_869, "2019-12-31T23:59:59.816Z"),
        ("2020-01-01", 3_600, "2020-01-01T01:00:00Z"),
        ("2020-01-01T00:00:00Z", 60, "2020-01-01T00:01:00Z"),
    ];
    for (epoch, wire, utc) in cases {
        let decoder = time_decoder(epoch, seconds);
        let mut w = BitWriter::new();
        w.put(wire, 32).put(0, 32).put(42, 8);
        let d = decode_one(&decoder, &packet(6, 0, false, &w.bytes()));
        let time = d.time.unwrap_or_else(|| panic!("{epoch}: no time"));
        // Float arithmetic on the seconds: compare to within a millisecond.
        assert!(
            (time.as_millis() - millis(utc)).abs() <= 1,
            "{epoch}: {time} != {utc}"
        );
        assert_eq!(number(&d, "x"), 42.0);
        assert_eq!(
            d.parameters.get("t"),
            Some(&ParameterValue::Text(time.to_string()))
        );
    }
}

#[test]
fn the_first_time_parameter_of_the_container_is_the_packet_time() {
    let decoder = time_decoder(
        "UNIX",
        r#"<Encoding><IntegerDataEncoding sizeInBits="32"/></Encoding>"#,
    );
    let mut w = BitWriter::new();
    w.put(1_000, 32).put(2_000, 32).put(0, 8);
    let d = decode_one(&decoder, &packet(6, 0, false, &w.bytes()));
    assert_eq!(d.time.unwrap().as_millis(), 1_000_000);
}

#[test]
fn cuc_coarse_and_fine_times_with_scale_and_offset_decode() {
    let cuc = r#"<Encoding scale="1" offset="0.5"><IntegerDataEncoding sizeInBits="32"/><IntegerDataEncoding sizeInBits="16"/></Encoding>"#;
    let decoder = Decoder::from_xml(&definition(
        &format!(
            r#"<AbsoluteTimeParameterType name="Time">{cuc}<ReferenceTime><Epoch>UNIX</Epoch></ReferenceTime></AbsoluteTimeParameterType>"#
        ),
        r#"<Parameter name="t" parameterTypeRef="Time"/>"#,
        &container("C", 6, &["t"]),
    ))
    .unwrap();
    let mut w = BitWriter::new();
    // 1_700_000_000 s + 0x4000/65536 (0.25 s), plus the offset 0.5 s.
    w.put(1_700_000_000, 32).put(0x4000, 16);
    let d = decode_one(&decoder, &packet(6, 0, false, &w.bytes()));
    assert_eq!(d.time.unwrap().as_millis(), 1_700_000_000_750);

    let scaled = Decoder::from_xml(&definition(
        r#"<AbsoluteTimeParameterType name="Time"><Encoding scale="0.001"><IntegerDataEncoding sizeInBits="64"/></Encoding><ReferenceTime><Epoch>UNIX</Epoch></ReferenceTime></AbsoluteTimeParameterType>"#,
        r#"<Parameter name="t" parameterTypeRef="Time"/>"#,
        &container("C", 6, &["t"]),
    ))
    .unwrap();
    let mut w = BitWriter::new();
    w.put(1_700_000_000_123, 64);
    let d = decode_one(&scaled, &packet(6, 0, false, &w.bytes()));
    assert_eq!(d.time.unwrap().as_millis(), 1_700_000_000_123);
}

#[test]
fn location_in_container_places_entries_from_the_start_or_the_previous_entry() {
    let xml = definition(
        r#"<IntegerParameterType name="U8"><IntegerDataEncoding sizeInBits="8"/></IntegerParameterType>"#,
        r#"<Parameter name="a" parameterTypeRef="U8"/><Parameter name="b" parameterTypeRef="U8"/><Parameter name="c" parameterTypeRef="U8"/>"#,
        r#"<SequenceContainer name="C"><EntryList>
             <ParameterRefEntry parameterRef="a"><LocationInContainerInBits referenceLocation="containerStart"><FixedValue>16</FixedValue></LocationInContainerInBits></ParameterRefEntry>
             <ParameterRefEntry parameterRef="b"><LocationInContainerInBits referenceLocation="previousEntry"><FixedValue>8</FixedValue></LocationInContainerInBits></ParameterRefEntry>
             <ParameterRefEntry parameterRef="c"><LocationInContainerInBits referenceLocation="containerStart"><FixedValue>0</FixedValue></LocationInContainerInBits></ParameterRefEntry>
           </EntryList></SequenceContainer>"#,
    );
    let decoder = Decoder::from_xml(&xml).unwrap();
    let d = decode_one(&decoder, &packet(9, 0, false, &[1, 2, 3, 4, 5]));
    assert_eq!(number(&d, "a"), 3.0);
    assert_eq!(number(&d, "b"), 5.0);
    assert_eq!(number(&d, "c"), 1.0);
    // The order of the values is the order of the entries.
    let names: Vec<_> = d.parameters.names().iter().map(|n| n.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn header_fields_are_reported_with_the_values() {
    let decoder = integer_decoder(8, false, false);
    let d = decode_one(&decoder, &packet(1, 16383, true, &[0, 0]));
    assert_eq!((d.apid, d.sequence_count), (1, 16383));
    assert_eq!(d.time, None);
}

#[test]
fn static_alarm_ranges_become_the_parameters_thresholds() {
    let decoder = Decoder::from_xml(&definition(
        r#"<FloatParameterType name="Temp"><UnitSet><Unit>°C</Unit></UnitSet><FloatDataEncoding/>
             <DefaultAlarm><StaticAlarmRanges><WarningRange minInclusive="-5" maxInclusive="35"/><CriticalRange maxInclusive="45"/></StaticAlarmRanges></DefaultAlarm>
           </FloatParameterType>
           <IntegerParameterType name="Plain"><IntegerDataEncoding/></IntegerParameterType>"#,
        r#"<Parameter name="temp" parameterTypeRef="Temp"/><Parameter name="n" parameterTypeRef="Plain"/>"#,
        &container("C", 1, &["temp", "n"]),
    ))
    .unwrap();
    let alarms: Vec<_> = decoder.alarm_ranges().collect();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].0.as_str(), "temp");
    let t = alarms[0].1.thresholds();
    assert_eq!((t.warn_low, t.warn_high, t.crit_high), (-5.0, 35.0, 45.0));
    assert_eq!(t.crit_low, f64::NEG_INFINITY);
    // The compat check of the core fires exactly outside the inclusive range.
    assert!(t.check(35.0).is_none());
    assert!(t.check(35.5).is_some());
    assert_eq!(decoder.parameters()[0].unit.as_deref(), Some("°C"));
    assert_eq!(decoder.parameters()[1].unit, None);
}
