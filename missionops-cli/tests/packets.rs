//! Packet telemetry through the CLI (SPEC §11): `packets define` and `import --format ccsds`.

mod support;
use support::Db;

const DEFINITION: &str = include_str!("../../fixtures/packets/housekeeping.xml");
/// 2025-06-01T12:00:00Z in UNIX seconds.
const START_SECS: u32 = 1_748_779_200;

/// A housekeeping Space Packet (APID 100): time, `temp` in 0.1 °C, `volt` in mV.
fn hk(seq: u16, seconds: u32, temp_tenths: i16, millivolts: u16) -> Vec<u8> {
    let mut data = (START_SECS + seconds).to_be_bytes().to_vec();
    data.extend_from_slice(&temp_tenths.to_be_bytes());
    data.extend_from_slice(&millivolts.to_be_bytes());
    let length = u16::try_from(data.len() - 1).expect("length");
    let mut bytes = vec![0x00, 100, 0xC0 | ((seq >> 8) as u8 & 0x3F), seq as u8];
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(&data);
    bytes
}

fn stored(db: &Db) -> usize {
    db.json(&[
        "list-telemetry",
        "--spacecraft-id",
        "PKT-1",
        "--limit",
        "100",
    ])
    .as_array()
    .expect("array")
    .len()
}

#[test]
fn a_definition_is_stored_and_a_bad_one_names_element_and_line() {
    let db = Db::new();
    let file = db.path("hk.xml");
    std::fs::write(&file, DEFINITION).expect("write");
    let view = db.json(&["packets", "define", "PKT-1", file.to_str().expect("path")]);
    assert_eq!(view["version"], 1);
    assert_eq!(
        view["parametersWithLimits"],
        serde_json::json!(["temp", "volt"])
    );
    let text = db
        .run_with_stdin(&["packets", "define", "PKT-1"], DEFINITION)
        .ok();
    assert!(text.contains("version 2"), "{text}");
    let bad = DEFINITION.replace("<ParameterSet>", "<ParameterSet>\n<Bogus/>");
    let line = db
        .run_with_stdin(&["packets", "define", "PKT-1"], &bad)
        .fails(2);
    assert!(line.contains("Bogus") && line.contains("line 26"), "{line}");
}

#[test]
fn ccsds_files_are_imported_once_and_a_bad_packet_imports_nothing() {
    let db = Db::new();
    let definition = db.path("hk.xml");
    std::fs::write(&definition, DEFINITION).expect("write");
    db.run(&[
        "packets",
        "define",
        "PKT-1",
        definition.to_str().expect("path"),
    ])
    .ok();
    let pass = db.path("pass.bin");
    let mut bytes = hk(1, 1, 200, 28_000);
    bytes.extend(hk(2, 2, 210, 28_100));
    std::fs::write(&pass, &bytes).expect("write");
    let args = [
        "import",
        "--format",
        "ccsds",
        "--spacecraft-id",
        "PKT-1",
        pass.to_str().expect("path"),
    ];
    let report = db.json(&args);
    assert_eq!(report["packets"], 2);
    assert_eq!(report["snapshots"], 2);
    db.run(&args).ok();
    assert_eq!(stored(&db), 2);

    let bad = db.path("bad.bin");
    let mut bytes = hk(3, 3, 200, 28_000);
    let offset = bytes.len();
    bytes.extend(&hk(4, 4, 200, 28_000)[..9]);
    std::fs::write(&bad, &bytes).expect("write");
    let bad_path = bad.to_str().expect("path");
    let line = db
        .run(&[
            "import",
            "--format",
            "ccsds",
            "--spacecraft-id",
            "PKT-1",
            bad_path,
        ])
        .fails(2);
    assert!(
        line.contains(&format!("byte offset {offset}")) && line.contains("nothing was imported"),
        "{line}"
    );
    assert_eq!(stored(&db), 2);
    let report = db.json(&[
        "import",
        "--format",
        "ccsds",
        "--spacecraft-id",
        "PKT-1",
        "--skip-invalid",
        bad_path,
    ]);
    assert_eq!(
        (report["snapshots"].clone(), report["malformed"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(stored(&db), 3);
    let line = db
        .run(&["import", "--format", "ccsds", pass.to_str().expect("path")])
        .fails(2);
    assert!(line.contains("--spacecraft-id"), "{line}");
}
