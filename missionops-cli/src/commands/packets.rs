//! Packet telemetry (SPEC §11): `packets define` and `import --format ccsds`.

use std::path::Path;

use anyhow::Context;
use missionops_core::{Error, IngestMode, MissionOps, OnPacketError, PacketCounts};
use serde_json::json;

use super::read_input;
use crate::args::{ImportArgs, PacketsCommand};
use crate::output::Output;

/// `packets …`.
pub(crate) async fn packets(
    ops: &MissionOps,
    out: Output,
    command: PacketsCommand,
) -> anyhow::Result<()> {
    match command {
        PacketsCommand::Define { id, file } => {
            let text = read_input(file.as_deref(), "definition")?;
            let view = ops.put_packet_definition(&id, &text).await?;
            if out.is_json() {
                return out.json(&view);
            }
            out.line(format!(
                "Packet definition of {} stored as version {}: {} parameters, {} with alarm ranges",
                view.spacecraft_id,
                view.version,
                view.parameters.len(),
                view.parameters_with_limits.len()
            ))
        }
        PacketsCommand::Listen {
            udp,
            tcp,
            spacecraft_id,
        } => match (udp, tcp) {
            (Some(address), _) => super::packet_links::udp(ops, &address, spacecraft_id).await,
            (None, Some(address)) => super::packet_links::tcp(ops, &address, spacecraft_id).await,
            (None, None) => Err(Error::invalid("listen", "give --udp ADDR or --tcp ADDR").into()),
        },
    }
}

/// `import --format ccsds --spacecraft-id ID FILE`: the whole file is one buffer of packets,
/// ingested all-or-nothing (or skipping bad packets with --skip-invalid), played back unless
/// --live.
pub(crate) async fn import_ccsds(
    ops: &MissionOps,
    out: Output,
    args: ImportArgs,
) -> anyhow::Result<()> {
    let id = args
        .spacecraft_id
        .ok_or_else(|| Error::invalid("spacecraftId", "--format ccsds needs --spacecraft-id"))?;
    let path = args.file.filter(|p| p != Path::new("-"));
    let source = path
        .as_ref()
        .map_or_else(|| "stdin".to_owned(), |p| p.display().to_string());
    let bytes = match &path {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("cannot read packets from {}", path.display()))?,
        None => read_stdin_bytes()?,
    };
    let on_error = if args.skip_invalid {
        OnPacketError::Skip
    } else {
        OnPacketError::Reject
    };
    let mode = if args.live {
        IngestMode::Live
    } else {
        IngestMode::Stored
    };
    let counts = ops
        .ingest_packets(&id, &bytes, on_error, mode)
        .await
        .with_context(|| format!("nothing was imported from {source}"))?;
    report(out, &source, &counts)
}

/// Prints what a buffer of packets held.
pub(crate) fn report(out: Output, source: &str, counts: &PacketCounts) -> anyhow::Result<()> {
    if out.is_json() {
        return out.json(&json!({
            "source": source,
            "packets": counts.packets,
            "snapshots": counts.snapshots,
            "unknownApid": counts.unknown_apid,
            "malformed": counts.malformed,
        }));
    }
    out.line(format!(
        "{source}: {} packets, {} snapshots, {} of unknown APIDs, {} malformed",
        counts.packets, counts.snapshots, counts.unknown_apid, counts.malformed
    ))
}

/// All of stdin as bytes; refused when stdin is a terminal.
fn read_stdin_bytes() -> anyhow::Result<Vec<u8>> {
    use std::io::{IsTerminal, Read};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::invalid("packets", "give a file, or pipe the packets on stdin").into());
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .read_to_end(&mut bytes)
        .context("cannot read packets from stdin")?;
    Ok(bytes)
}
