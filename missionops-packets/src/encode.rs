//! An encoder of the demo's packets: a snapshot of the `LEO_IMAGING` simulation as the APID 100
//! housekeeping packet of [`SAT_IMAGER_001_DEFINITION`](crate::SAT_IMAGER_001_DEFINITION), so
//! that the demo can send its telemetry through the packet path. Written from the definition,
//! apart from the decoder; a test decodes what it writes.

use missionops_core::{ParameterValue, Parameters, Timestamp};

use crate::time::tai_seconds;

/// The APID of the demo's housekeeping packets.
pub const SAT_IMAGER_001_APID: u16 = 100;

/// The imaging modes of the definition's `ImagingModeType`, by their raw value.
const IMAGING_MODES: [&str; 4] = ["STANDBY", "IMAGING", "DOWNLINK", "CALIBRATION"];

/// A number of `parameters`, 0 when absent or not a number.
fn number(parameters: &Parameters, name: &str) -> f64 {
    parameters
        .get(name)
        .and_then(ParameterValue::as_number)
        .unwrap_or(0.0)
}

/// One `Sat-Imager-001` housekeeping packet (APID 100, secondary header flag set, sequence
/// count `sequence_count` modulo 2^14) timed `time` (CUC 4+2 on TAI) holding `parameters`
/// in the definition's encodings; values are rounded to their encodings' resolution and
/// saturate at their ranges, an absent value is written as 0 (an unknown mode as `STANDBY`).
pub fn encode_sat_imager_001(
    sequence_count: u16,
    time: Timestamp,
    parameters: &Parameters,
) -> Vec<u8> {
    let mut data = Vec::with_capacity(36);
    let tai = tai_seconds(time.as_millis() as f64 / 1000.0);
    let coarse = tai.floor();
    let fine = ((tai - coarse) * 65_536.0).round().min(65_535.0);
    data.extend_from_slice(&(coarse as u32).to_be_bytes());
    data.extend_from_slice(&(fine as u16).to_be_bytes());
    let p = parameters;
    data.extend_from_slice(&((number(p, "battery_soc") / 0.01).round() as u16).to_be_bytes());
    data.extend_from_slice(&((number(p, "battery_temp") / 0.01).round() as i16).to_be_bytes());
    data.extend_from_slice(&((number(p, "bus_voltage") / 0.001).round() as u16).to_be_bytes());
    data.extend_from_slice(
        &((number(p, "solar_array_current") / 0.001).round() as u16).to_be_bytes(),
    );
    data.extend_from_slice(&((number(p, "panel_temp") / 0.01).round() as i16).to_be_bytes());
    data.extend_from_slice(&(number(p, "payload_temp") as f32).to_be_bytes());
    data.extend_from_slice(&(number(p, "attitude_error_deg") as f32).to_be_bytes());
    data.extend_from_slice(&(number(p, "rw1_speed_rpm").round() as i16).to_be_bytes());
    data.extend_from_slice(&(number(p, "rw2_speed_rpm").round() as i16).to_le_bytes());
    data.extend_from_slice(&(number(p, "images_captured").round() as u32).to_be_bytes());
    let mode = match p.get("imaging_mode") {
        Some(ParameterValue::Text(label)) => {
            IMAGING_MODES.iter().position(|m| m == label).unwrap_or(0)
        }
        _ => 0,
    };
    data.push(mode as u8);
    let sequence = sequence_count & 0x3FFF;
    let length = (data.len() - 1) as u16;
    let mut packet = Vec::with_capacity(6 + data.len());
    // Version 0, telemetry, secondary header flag set, APID; unsegmented.
    packet.push(0x08 | (SAT_IMAGER_001_APID >> 8) as u8);
    packet.push(SAT_IMAGER_001_APID as u8);
    packet.push(0xC0 | (sequence >> 8) as u8);
    packet.push(sequence as u8);
    packet.extend_from_slice(&length.to_be_bytes());
    packet.extend_from_slice(&data);
    packet
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decoder, OnError, SAT_IMAGER_001_DEFINITION};

    #[test]
    fn what_it_writes_decodes_to_the_snapshot_at_the_encodings_resolution() {
        let parameters = Parameters::from_json(&serde_json::json!({
            "battery_soc": 87.25, "battery_temp": -3.5, "bus_voltage": 28.123,
            "solar_array_current": 4.5, "panel_temp": 41.07, "payload_temp": 12.5,
            "attitude_error_deg": 0.25, "rw1_speed_rpm": -2500, "rw2_speed_rpm": 3100,
            "images_captured": 42, "imaging_mode": "DOWNLINK"
        }))
        .expect("parameters");
        let time = Timestamp::parse("2025-06-01T12:00:00.500Z").expect("time");
        let bytes = encode_sat_imager_001(7, time, &parameters);
        let decoder = Decoder::from_xml(SAT_IMAGER_001_DEFINITION).expect("definition");
        let decoded = decoder
            .decode_buffer(&bytes, OnError::Reject)
            .expect("decodes");
        let packet = &decoded.packets[0];
        assert_eq!((packet.apid, packet.sequence_count), (100, 7));
        assert_eq!(packet.time, Some(time));
        for (name, value) in parameters.iter() {
            let got = packet.parameters.get(name.as_str()).expect("decoded");
            match (value.as_number(), got.as_number()) {
                (Some(want), Some(got)) => {
                    assert!((want - got).abs() < 1e-6, "{name}: {want} vs {got}");
                }
                _ => assert_eq!(value, got, "{name}"),
            }
        }
    }
}
