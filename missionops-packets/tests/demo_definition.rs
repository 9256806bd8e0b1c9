//! The demo spacecraft's definition: it parses, compiles, names the demo simulation's
//! parameters, and decodes a housekeeping packet built by the test encoder.

#![allow(clippy::unwrap_used)]

mod common;

use common::{BitWriter, packet};
use missionops_core::{DemoProfile, ParameterValue};
use missionops_packets::{Decoder, Definition, OnError, SAT_IMAGER_001_DEFINITION};

#[test]
fn the_demo_definition_names_exactly_the_demo_simulations_parameters() {
    let decoder = Decoder::from_xml(SAT_IMAGER_001_DEFINITION).unwrap();
    let simulated: Vec<&str> = DemoProfile::LeoImaging
        .parameters()
        .iter()
        .map(|p| p.name)
        .collect();
    let defined: Vec<&str> = decoder
        .parameters()
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| *n != "obt")
        .collect();
    assert_eq!(defined, simulated);
    // Units as the simulation documents them.
    for model in DemoProfile::LeoImaging.parameters() {
        let info = decoder
            .parameters()
            .iter()
            .find(|p| p.name.as_str() == model.name)
            .unwrap();
        assert_eq!(
            info.unit.as_deref().unwrap_or(""),
            model.unit,
            "{}",
            model.name
        );
    }
}

#[test]
fn the_demo_definition_has_its_containers_in_document_order() {
    let def = Definition::parse(SAT_IMAGER_001_DEFINITION).unwrap();
    let names: Vec<_> = def.container_names().collect();
    assert_eq!(names, ["TmPacket", "CcsdsRoot", "HousekeepingPacket"]);
}

#[test]
fn the_demo_alarm_ranges_are_the_demo_limits() {
    let decoder = Decoder::from_xml(SAT_IMAGER_001_DEFINITION).unwrap();
    let config = serde_json::to_value(DemoProfile::LeoImaging.config().unwrap()).unwrap();
    let limits = config["parameters"].as_object().unwrap();
    for (name, ranges) in decoder.alarm_ranges() {
        let t = ranges.thresholds();
        let rule = &limits[name.as_str()];
        let get = |k: &str, default: f64| rule.get(k).and_then(|v| v.as_f64()).unwrap_or(default);
        assert_eq!(t.warn_low, get("warnLow", f64::NEG_INFINITY), "{name}");
        assert_eq!(t.crit_low, get("critLow", f64::NEG_INFINITY), "{name}");
        assert_eq!(t.warn_high, get("warnHigh", f64::INFINITY), "{name}");
        assert_eq!(t.crit_high, get("critHigh", f64::INFINITY), "{name}");
    }
    assert_eq!(decoder.alarm_ranges().count(), 9);
}

#[test]
fn a_demo_housekeeping_packet_decodes_to_its_values_and_time() {
    let decoder = Decoder::from_xml(SAT_IMAGER_001_DEFINITION).unwrap();
    let mut w = BitWriter::new();
    // On-board time: TAI seconds of 2025-01-01T00:00:00Z (+37 s), and half a second.
    let tai_2025 = 1_735_689_600u64 + 378_691_200 + 37;
    w.put(tai_2025, 32).put(0x8000, 16);
    w.put(7_850, 16) // battery_soc 78.50 %
        .put((-250i16) as u16 as u64, 16) // battery_temp -2.50 °C
        .put(28_200, 16) // bus_voltage 28.200 V
        .put(3_150, 16) // solar_array_current 3.150 A
        .put(3_510, 16) // panel_temp 35.10 °C
        .put(u64::from(22.5f32.to_bits()), 32) // payload_temp
        .put(u64::from(0.25f32.to_bits()), 32) // attitude_error_deg
        .put(2_500, 16) // rw1 big-endian
        .put_le((-2_300i16) as u16 as u64, 16) // rw2 little-endian
        .put(1_234, 32) // images_captured
        .put(1, 8); // imaging_mode IMAGING
    let bytes = packet(100, 77, true, &w.bytes());
    let out = decoder.decode_buffer(&bytes, OnError::Reject).unwrap();
    let p = &out.packets[0];
    assert_eq!((p.apid, p.sequence_count), (100, 77));
    assert_eq!(p.time.unwrap().to_string(), "2025-01-01T00:00:00.500Z");
    let num = |n: &str| {
        p.parameters
            .get(n)
            .and_then(ParameterValue::as_number)
            .unwrap()
    };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(num("battery_soc"), 78.5));
    assert!(close(num("battery_temp"), -2.5));
    assert!(close(num("bus_voltage"), 28.2));
    assert!(close(num("solar_array_current"), 3.15));
    assert!(close(num("panel_temp"), 35.1));
    assert_eq!(num("payload_temp"), 22.5);
    assert_eq!(num("attitude_error_deg"), 0.25);
    assert_eq!(num("rw1_speed_rpm"), 2_500.0);
    assert_eq!(num("rw2_speed_rpm"), -2_300.0);
    assert_eq!(num("images_captured"), 1_234.0);
    assert_eq!(
        p.parameters.get("imaging_mode"),
        Some(&ParameterValue::Text("IMAGING".into()))
    );
    // A packet without the secondary header flag has no container: unknown, not an error.
    let plain = packet(100, 78, false, &w.bytes());
    let out = decoder.decode_buffer(&plain, OnError::Reject).unwrap();
    assert_eq!(out.counts.unknown_apid, 1);
}
