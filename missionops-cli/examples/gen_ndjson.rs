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

/// 2025-01-01T00:00:00Z in seconds since the Unix epoch.
const START: i64 = 1_735_689_600;

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
        let t = START + i as i64;
        let (days, rem) = (t.div_euclid(86_400), t.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
        // Cheap deterministic variation, so values differ from sample to sample.
        let x = (i % 1000) as f64 / 10.0;
        if ids {
            write!(out, r#"{{"id":"bench-{i:08}","#)?;
        } else {
            write!(out, "{{")?;
        }
        writeln!(
            out,
            r#""spacecraftId":"BENCH-1","timestamp":"{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.000Z","parameters":{{"battery_soc":{},"battery_temp":{},"bus_voltage":{},"solar_array_current":{},"panel_temp":{},"reaction_wheel_rpm":{},"gyro_rate":{},"downlink_snr":{},"payload_temp":{},"mode":"{}"}}}}"#,
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

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
