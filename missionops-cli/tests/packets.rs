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

// ---- listen ----------------------------------------------------------------------------------

/// A `packets listen` process and its log, with the port it reported.
struct Listening {
    child: std::process::Child,
    port: u16,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Listening {
    fn start(db: &Db, protocol: &str) -> Self {
        use std::io::BufRead;
        let mut child = db
            .command(&[
                "packets",
                "listen",
                &format!("--{protocol}"),
                "127.0.0.1:0",
                "--spacecraft-id",
                "PKT-1",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn listen");
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let marker = format!("packet listener on {protocol}://127.0.0.1:");
        let reader = {
            let log = std::sync::Arc::clone(&log);
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some((_, after)) = line.split_once(&marker) {
                        let port: String = after.chars().take_while(char::is_ascii_digit).collect();
                        let _ = tx.send(port.parse::<u16>().expect("port"));
                    }
                    let mut log = log.lock().expect("log");
                    log.push_str(&line);
                    log.push('\n');
                }
            })
        };
        let port = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the listener reports its address");
        Listening {
            child,
            port,
            log,
            reader: Some(reader),
        }
    }

    /// Sends SIGTERM and returns the exit status and the whole log.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("try_wait") {
                break exit;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the listener did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let log = self.log.lock().expect("log").clone();
        (exit, log)
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn defined() -> Db {
    let db = Db::new();
    db.run_with_stdin(&["packets", "define", "PKT-1"], DEFINITION)
        .ok();
    db
}

/// Polls until `n` snapshots are stored (the listener commits them asynchronously).
fn wait_for_stored(db: &Db, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while stored(db) < n {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {n} snapshots stored",
            stored(db)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn the_udp_listener_ingests_one_packet_per_datagram_and_stops_cleanly() {
    let db = defined();
    let listening = Listening::start(&db, "udp");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    for seq in 1..=3 {
        socket
            .send_to(
                &hk(seq, u32::from(seq), 200, 28_000),
                ("127.0.0.1", listening.port),
            )
            .expect("send");
    }
    socket
        .send_to(&[0x20, 0, 0], ("127.0.0.1", listening.port))
        .expect("send garbage");
    wait_for_stored(&db, 3);
    let (exit, log) = listening.stop();
    assert!(exit.success(), "{exit}: {log}");
    assert!(log.contains("packet listener stopped"), "{log}");
    assert!(
        log.contains("snapshots=3") && log.contains("malformed=1"),
        "{log}"
    );
}

#[test]
fn the_tcp_listener_frames_a_stream_by_packet_length_and_stops_cleanly() {
    use std::io::Write;
    let db = defined();
    let listening = Listening::start(&db, "tcp");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", listening.port)).expect("connect");
    let mut bytes = Vec::new();
    for seq in 1..=4 {
        bytes.extend(hk(seq, u32::from(seq), 200, 28_000));
    }
    // Split mid-packet: the listener must wait for the rest.
    stream.write_all(&bytes[..17]).expect("write");
    stream.flush().expect("flush");
    std::thread::sleep(std::time::Duration::from_millis(200));
    stream.write_all(&bytes[17..]).expect("write");
    stream.flush().expect("flush");
    wait_for_stored(&db, 4);
    // Stops with the connection still open.
    let (exit, log) = listening.stop();
    assert!(exit.success(), "{exit}: {log}");
    assert!(
        log.contains("packet listener stopped") && log.contains("snapshots=4"),
        "{log}"
    );
    drop(stream);
}

// ---- seed-demo-data --packets ------------------------------------------------------------

#[test]
fn seeding_through_the_packet_path_stores_the_demo_once() {
    let db = Db::new();
    let args = [
        "seed-demo-data",
        "10",
        "60",
        "--end",
        "2025-01-01T00:00:00Z",
        "--profile",
        "LEO_IMAGING",
        "--profile",
        "CUBESAT",
        "--packets",
    ];
    let report = db.json(&args);
    let snapshots = report["packets"]["snapshots"].as_u64().expect("snapshots");
    assert!(snapshots >= 10, "{report}");
    assert_eq!(report["packets"]["packets"], report["packets"]["snapshots"]);
    assert_eq!(report["packets"]["malformed"], 0);
    // The other profiles are seeded as JSON, as without --packets.
    assert_eq!(report["seed"]["profiles"].as_array().map(Vec::len), Some(1));
    let listed = |db: &Db| {
        db.json(&[
            "list-telemetry",
            "--spacecraft-id",
            "Sat-Imager-001",
            "--limit",
            "100",
        ])
        .as_array()
        .expect("array")
        .len()
    };
    assert_eq!(listed(&db) as u64, snapshots);
    db.run(&args).ok();
    assert_eq!(
        listed(&db) as u64,
        snapshots,
        "seeding twice stores nothing twice"
    );
    let line = db
        .run(&["seed-demo-data", "--packets", "--dry-run"])
        .fails(2);
    assert!(line.contains("--dry-run"), "{line}");
}
