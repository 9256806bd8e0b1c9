//! Packet telemetry use cases (SPEC §11) over the memory store with the real XTCE adapter:
//! definitions, ingest, duplicates, reject and skip, unknown APIDs, static alarm ranges as
//! limits, alarms raised by packet values.

use std::sync::Arc;

use missionops_core::{
    AlarmFilter, ConfigStatus, Error, EventType, IngestMode, Limit, ManualClock, MissionOps,
    OnPacketError, PacketCounts, SequentialIds, SpacecraftConfig, SpacecraftId, Timestamp,
};
use missionops_packets::XtceDecoding;
use missionops_store::MemoryStore;
use serde_json::json;

const START: &str = "2025-06-01T12:00:00Z";

/// APID 100: a UNIX-seconds time, then `temp` (0.1 °C, signed) and `volt` (mV); both with
/// static alarm ranges.
const DEFINITION: &str = include_str!("../../fixtures/packets/housekeeping.xml");

/// A Space Packet (version 0, telemetry, no secondary header, unsegmented) of `apid` and
/// `seq` with `data` as its data field, written here byte by byte, apart from the decoder.
fn packet(apid: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let length = u16::try_from(data.len() - 1).expect("length");
    let mut bytes = vec![
        (apid >> 8) as u8 & 0x07,
        apid as u8,
        0xC0 | ((seq >> 8) as u8 & 0x3F),
        seq as u8,
    ];
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// A housekeeping packet at `seconds` after START with `temp` (°C) and `volt` (V).
fn hk(seq: u16, seconds: u32, temp: f64, volt: f64) -> Vec<u8> {
    let start = Timestamp::parse(START).expect("ts").as_millis() / 1000;
    let time = u32::try_from(start).expect("secs") + seconds;
    let mut data = time.to_be_bytes().to_vec();
    data.extend_from_slice(&((temp * 10.0).round() as i16).to_be_bytes());
    data.extend_from_slice(&((volt * 1000.0).round() as u16).to_be_bytes());
    packet(100, seq, &data)
}

fn sc(id: &str) -> SpacecraftId {
    SpacecraftId::parse(id).expect("id")
}

fn app() -> MissionOps {
    let clock = Arc::new(ManualClock::new(Timestamp::parse(START).expect("ts")));
    MissionOps::new(
        Arc::new(MemoryStore::new()),
        clock,
        Arc::new(SequentialIds::new()),
    )
    .with_packet_decoding(Arc::new(XtceDecoding))
}

async fn defined() -> MissionOps {
    let app = app();
    app.put_packet_definition(&sc("SC-1"), DEFINITION)
        .await
        .expect("define");
    app
}

/// The parameters of `id`'s alarms, newest first.
async fn alarmed_parameters(app: &MissionOps, id: &str) -> Vec<String> {
    app.list_alarms(&AlarmFilter {
        spacecraft_id: Some(sc(id)),
        ..AlarmFilter::default()
    })
    .await
    .expect("alarms")
    .into_iter()
    .map(|alarm| alarm.parameter.as_str().to_owned())
    .collect()
}

async fn stored(app: &MissionOps) -> usize {
    app.recent_telemetry(&sc("SC-1"), Limit::new(1000, 1000).expect("limit"))
        .await
        .expect("recent")
        .len()
}

#[tokio::test]
async fn a_definition_is_versioned_with_an_event_naming_what_changed() {
    let app = app();
    let first = app
        .put_packet_definition(&sc("SC-1"), DEFINITION)
        .await
        .expect("define");
    assert_eq!(first.version, 1);
    assert!(first.created);
    assert_eq!(first.parameters, ["time", "temp", "volt"]);
    assert_eq!(first.parameters_with_limits, ["temp", "volt"]);
    // The spacecraft is registered implicitly, as a configuration does.
    app.get_spacecraft(&sc("SC-1")).await.expect("registered");
    let without_volt = DEFINITION
        .replace("          <ParameterRefEntry parameterRef=\"volt\"/>\n", "")
        .replace(
            "      <Parameter name=\"volt\" parameterTypeRef=\"VoltType\"/>\n",
            "",
        );
    let second = app
        .put_packet_definition(&sc("SC-1"), &without_volt)
        .await
        .expect("redefine");
    assert_eq!(second.version, 2);
    assert!(!second.created);
    assert_eq!(
        app.packet_definition(&sc("SC-1")).await.expect("get").text,
        without_volt
    );
    assert_eq!(
        app.packet_definition_history(&sc("SC-1"))
            .await
            .expect("history")
            .len(),
        2
    );
    let events = app
        .list_events(Some(&sc("SC-1")), Limit::new(10, 10).expect("limit"))
        .await
        .expect("events");
    let changed: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == EventType::ConfigChanged)
        .collect();
    assert_eq!(changed.len(), 2);
    let newest = serde_json::to_value(&changed[0].metadata).expect("json");
    assert_eq!(newest["version"], json!(2));
    assert_eq!(newest["previousVersion"], json!(1));
    assert_eq!(newest["parametersRemoved"], json!(["volt"]));
    assert_eq!(newest["parametersAdded"], json!([]));
}

#[tokio::test]
async fn a_bad_definition_is_refused_naming_element_and_line() {
    let app = app();
    let bad = DEFINITION.replace("<ParameterSet>", "<ParameterSet>\n<Bogus/>");
    let err = app
        .put_packet_definition(&sc("SC-1"), &bad)
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert!(text.contains("Bogus") && text.contains("line 26"), "{text}");
    assert!(app.packet_definition(&sc("SC-1")).await.is_err());
}

#[tokio::test]
async fn without_packet_decoding_the_use_cases_say_so() {
    let app = MissionOps::new(
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::new(Timestamp::parse(START).expect("ts"))),
        Arc::new(SequentialIds::new()),
    );
    let err = app
        .put_packet_definition(&sc("SC-1"), DEFINITION)
        .await
        .expect_err("not enabled");
    assert!(
        err.to_string().contains("packet decoding is not enabled"),
        "{err}"
    );
    let err = app
        .ingest_packets(
            &sc("SC-1"),
            &hk(1, 1, 20.0, 28.0),
            OnPacketError::Reject,
            IngestMode::Live,
        )
        .await
        .expect_err("not enabled");
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
}

#[tokio::test]
async fn packets_are_ingested_once_and_a_repost_stores_nothing_twice() {
    let app = defined().await;
    let mut body = hk(1, 1, 20.0, 28.0);
    body.extend(hk(2, 2, 21.5, 28.1));
    let counts = app
        .ingest_packets(&sc("SC-1"), &body, OnPacketError::Reject, IngestMode::Live)
        .await
        .expect("ingest");
    assert_eq!(
        counts,
        PacketCounts {
            packets: 2,
            snapshots: 2,
            unknown_apid: 0,
            malformed: 0
        }
    );
    let again = app
        .ingest_packets(&sc("SC-1"), &body, OnPacketError::Reject, IngestMode::Live)
        .await
        .expect("repost");
    assert_eq!(again.snapshots, 2);
    assert_eq!(stored(&app).await, 2);
    let recent = app
        .recent_telemetry(&sc("SC-1"), Limit::new(10, 10).expect("limit"))
        .await
        .expect("recent");
    // Timed by the packet's time field, not by arrival.
    assert_eq!(recent[0].timestamp.to_string(), "2025-06-01T12:00:02.000Z");
    assert_eq!(
        recent[0].parameters.get("temp").and_then(|v| v.as_number()),
        Some(21.5)
    );
}

#[tokio::test]
async fn a_bad_packet_rejects_the_request_naming_its_offset_and_stores_nothing() {
    let app = defined().await;
    let mut body = hk(1, 1, 20.0, 28.0);
    let offset = body.len();
    let mut bad = hk(2, 2, 20.0, 28.0);
    bad[0] |= 0x20; // version 1
    body.extend(bad);
    let err = app
        .ingest_packets(&sc("SC-1"), &body, OnPacketError::Reject, IngestMode::Live)
        .await
        .expect_err("rejected");
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("packet at byte offset {offset}")),
        "{err}"
    );
    assert_eq!(stored(&app).await, 0);
}

#[tokio::test]
async fn skip_counts_malformed_and_unknown_apid_packets() {
    let app = defined().await;
    let mut body = hk(1, 1, 20.0, 28.0);
    body.extend(packet(200, 1, &[1, 2, 3])); // well-formed, unknown APID
    body.extend(packet(100, 3, &[1, 2])); // shorter than its container
    body.extend(hk(4, 4, 22.0, 28.0));
    let counts = app
        .ingest_packets(&sc("SC-1"), &body, OnPacketError::Skip, IngestMode::Stored)
        .await
        .expect("ingest");
    assert_eq!(
        counts,
        PacketCounts {
            packets: 4,
            snapshots: 2,
            unknown_apid: 1,
            malformed: 1
        }
    );
    assert_eq!(stored(&app).await, 2);
    // An unknown APID alone is no error, even when rejecting.
    let counts = app
        .ingest_packets(
            &sc("SC-1"),
            &packet(200, 9, &[0]),
            OnPacketError::Reject,
            IngestMode::Live,
        )
        .await
        .expect("unknown apid");
    assert_eq!(
        (counts.packets, counts.unknown_apid, counts.snapshots),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn static_alarm_ranges_become_limits_unless_the_config_sets_them() {
    let app = defined().await;
    let rules = app.rules_for(&sc("SC-1")).await.expect("rules");
    let temp = rules
        .rule_for(&"temp".parse().expect("name"))
        .expect("temp rule");
    assert_eq!(temp.thresholds.warn_high, 35.0);
    assert_eq!(temp.thresholds.crit_low, -10.0);
    app.set_config(
        &sc("SC-1"),
        SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": 60}}})).expect("c"),
        ConfigStatus::Approved,
        None,
    )
    .await
    .expect("config");
    let rules = app.rules_for(&sc("SC-1")).await.expect("rules");
    let temp = rules
        .rule_for(&"temp".parse().expect("name"))
        .expect("temp rule");
    assert_eq!(temp.thresholds.warn_high, 60.0, "the config wins");
    assert_eq!(temp.thresholds.crit_low, f64::NEG_INFINITY);
    let volt = rules
        .rule_for(&"volt".parse().expect("name"))
        .expect("volt keeps its ranges");
    assert_eq!(volt.thresholds.crit_high, 36.0);
}

#[tokio::test]
async fn a_packet_value_beyond_its_static_range_raises_an_alarm() {
    let app = defined().await;
    app.ingest_packets(
        &sc("SC-1"),
        &hk(1, 1, 50.0, 28.0),
        OnPacketError::Reject,
        IngestMode::Live,
    )
    .await
    .expect("ingest");
    assert_eq!(alarmed_parameters(&app, "SC-1").await, ["temp"]);
}

#[test]
fn the_demo_documents_carry_the_packets_crate_demo_definition() {
    assert_eq!(
        missionops_core::SAT_IMAGER_001_PACKET_DEFINITION,
        missionops_packets::SAT_IMAGER_001_DEFINITION
    );
    let documents = missionops_core::DemoProfile::LeoImaging
        .documents(&sc("Sat-Imager-001"))
        .expect("documents");
    let xtce = documents
        .iter()
        .find(|d| d.title.as_str().contains("packet definition"))
        .expect("the packet definition document");
    assert_eq!(
        xtce.category.as_ref().map(|c| c.as_str()),
        Some("telemetry_definition")
    );
    assert!(
        xtce.body
            .as_str()
            .contains(missionops_packets::SAT_IMAGER_001_DEFINITION)
    );
}

#[tokio::test]
async fn the_demo_definition_is_accepted_with_the_demo_limits_config() {
    let app = app();
    app.put_packet_definition(
        &sc("Sat-Imager-001"),
        missionops_core::SAT_IMAGER_001_PACKET_DEFINITION,
    )
    .await
    .expect("the demo definition compiles and its ranges make limits");
}

#[tokio::test]
async fn after_a_restart_the_tick_builds_monitors_with_the_packet_ranges_read_for_the_list() {
    // The tick loads both monitors of a restarted application, reading their packet
    // definition versions for the list (`packets_for_rules_at`): the static alarm ranges are
    // their limits from the first packet on, without a version read of their own (each
    // monitor was checked just now and is not checked again before that packet).
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Timestamp::parse(START).expect("ts")));
    let ids = Arc::new(SequentialIds::new());
    let before = MissionOps::new(store.clone(), clock.clone(), ids.clone())
        .with_packet_decoding(Arc::new(XtceDecoding));
    for id in ["SC-1", "SC-2"] {
        before
            .put_packet_definition(&sc(id), DEFINITION)
            .await
            .expect("define");
    }
    drop(before);
    let app =
        MissionOps::new(store, clock.clone(), ids).with_packet_decoding(Arc::new(XtceDecoding));
    clock.advance_millis(1_000);
    let report = app.tick().await.expect("tick");
    assert_eq!(report.spacecraft, 2, "both monitors loaded by the tick");
    for id in ["SC-1", "SC-2"] {
        app.ingest_packets(
            &sc(id),
            &hk(1, 2, 50.0, 28.0),
            OnPacketError::Reject,
            IngestMode::Live,
        )
        .await
        .expect("ingest");
        assert_eq!(
            alarmed_parameters(&app, id).await,
            ["temp"],
            "{id}: beyond the static range"
        );
    }
}
