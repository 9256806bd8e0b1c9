//! Writes synthetic telemetry as NDJSON on stdout, for the import benchmark: `COUNT` snapshots
//! (default 1,000,000) of one spacecraft, one a second from 2025-01-01, each with ten parameters
//! (nine numbers and a mode string), with ids as `missionops export` writes them, or without
//! (`--no-ids`) so that the import derives them.
//!
//! ```text
//! cargo run --release -p missionops-cli --example gen_ndjson -- 1000000 > /tmp/1m.ndjson
//! /usr/bin/time -v target/release/missionops --database-url sqlite:///tmp/bench.db import /tmp/1m.ndjson
//! ```

use std::io::{BufWriter, Write};

use missionops_core::Timestamp;

/// 2025-01-01T00:00:00Z in milliseconds since the Unix epoch.
const START_MILLIS: i64 = 1_735_689_600_000;

fn main() -> std::io::Result<()> {
    let mut count: u64 = 1_000_000;
    let mut ids = true;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--no-ids" => ids = false,
            other => match other.parse() {
                Ok(n) => count = n,
                Err(_) => {
                    eprintln!("usage: gen_ndjson [COUNT] [--no-ids]");
                    std::process::exit(2);
                }
            },
        }
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    for i in 0..count {
        let timestamp = Timestamp::from_millis_clamped(START_MILLIS + i as i64 * 1000);
        // Cheap deterministic variation, so values differ from sample to sample.
        let x = (i % 1000) as f64 / 10.0;
        if ids {
            write!(out, r#"{{"id":"bench-{i:08}","#)?;
        } else {
            write!(out, "{{")?;
        }
        writeln!(
            out,
            r#""spacecraftId":"BENCH-1","timestamp":"{timestamp}","parameters":{{"battery_soc":{},"battery_temp":{},"bus_voltage":{},"solar_array_current":{},"panel_temp":{},"reaction_wheel_rpm":{},"gyro_rate":{},"downlink_snr":{},"payload_temp":{},"mode":"{}"}}}}"#,
            50.0 + x / 4.0,
            20.0 + x / 10.0,
            28.0 + x / 50.0,
            1.0 + x / 100.0,
            30.0 + x / 5.0,
            3000.0 + x * 3.0,
            0.01 * x,
            10.0 + x / 20.0,
            15.0 + x / 8.0,
            if i % 600 < 60 { "SAFE" } else { "NOMINAL" },
        )?;
    }
    out.flush()
}
