//! `packets listen`: Space Packets from UDP datagrams or TCP streams, as Yamcs data links take
//! them, ingested as live telemetry through the same use case as `POST /spacecraft/:id/packets`.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use missionops_core::{IngestMode, MissionOps, OnPacketError, PacketCounts, SpacecraftId};
use missionops_http::shutdown_signal;
use missionops_packets::{PRIMARY_HEADER_LEN, PrimaryHeader};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The largest datagram a UDP link reads: the largest Space Packet (6 + 65,536 bytes).
const MAX_PACKET: usize = 6 + 65_536;

/// What a link ingested since it started.
#[derive(Debug, Default)]
struct Totals(Mutex<PacketCounts>);

impl Totals {
    fn add(&self, counts: &PacketCounts) {
        if let Ok(mut totals) = self.0.lock() {
            totals.packets += counts.packets;
            totals.snapshots += counts.snapshots;
            totals.unknown_apid += counts.unknown_apid;
            totals.malformed += counts.malformed;
        }
    }

    fn get(&self) -> PacketCounts {
        self.0.lock().map(|t| *t).unwrap_or_default()
    }
}

/// Decodes and ingests `buffer`; a failure (no definition, a store error) is logged, never
/// fatal: the link keeps running.
async fn ingest(ops: &MissionOps, id: &SpacecraftId, buffer: &[u8], totals: &Totals) {
    match ops
        .ingest_packets(id, buffer, OnPacketError::Skip, IngestMode::Live)
        .await
    {
        Ok(counts) => {
            totals.add(&counts);
            tracing::debug!(
                packets = counts.packets,
                snapshots = counts.snapshots,
                unknown_apid = counts.unknown_apid,
                malformed = counts.malformed,
                "packets ingested"
            );
        }
        Err(e) => tracing::warn!(error = %e, bytes = buffer.len(), "packets not ingested"),
    }
}

fn log_stopped(totals: &Totals) {
    let t = totals.get();
    tracing::info!(
        packets = t.packets,
        snapshots = t.snapshots,
        unknown_apid = t.unknown_apid,
        malformed = t.malformed,
        "packet listener stopped"
    );
}

/// `--udp ADDR`: one packet per datagram, until ctrl-c or SIGTERM.
pub(crate) async fn udp(ops: &MissionOps, address: &str, id: SpacecraftId) -> anyhow::Result<()> {
    let socket = UdpSocket::bind(address)
        .await
        .with_context(|| format!("cannot listen on udp {address}"))?;
    tracing::info!("packet listener on udp://{} for {id}", socket.local_addr()?);
    let totals = Totals::default();
    let mut buffer = vec![0u8; MAX_PACKET];
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            received = socket.recv_from(&mut buffer) => match received {
                Ok((length, _)) => ingest(ops, &id, &buffer[..length], &totals).await,
                Err(e) => tracing::warn!(error = %e, "cannot receive a datagram"),
            },
        }
    }
    log_stopped(&totals);
    Ok(())
}

/// `--tcp ADDR`: every connection a stream of packets back to back, until ctrl-c or SIGTERM
/// (connections are closed then, after the packets already read are ingested).
pub(crate) async fn tcp(ops: &MissionOps, address: &str, id: SpacecraftId) -> anyhow::Result<()> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on tcp {address}"))?;
    tracing::info!(
        "packet listener on tcp://{} for {id}",
        listener.local_addr()?
    );
    let totals = Arc::new(Totals::default());
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::info!(%peer, "packet connection opened");
                    let (ops, id, totals) = (ops.clone(), id.clone(), Arc::clone(&totals));
                    let stopped = stopped.clone();
                    connections.spawn(async move {
                        connection(&ops, &id, stream, stopped, &totals).await;
                        tracing::info!(%peer, "packet connection closed");
                    });
                }
                Err(e) => tracing::warn!(error = %e, "cannot accept a connection"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    log_stopped(&totals);
    Ok(())
}

/// Reads one connection's stream, ingesting the complete packets of each read together.
async fn connection(
    ops: &MissionOps,
    id: &SpacecraftId,
    mut stream: TcpStream,
    mut stopped: watch::Receiver<bool>,
    totals: &Totals,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = tokio::select! {
            _ = stopped.changed() => break,
            read = stream.read(&mut chunk) => read,
        };
        match read {
            Ok(0) => break,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a packet connection");
                break;
            }
        }
        match complete_packets(&pending) {
            Ok(0) => {}
            Ok(end) => {
                ingest(ops, id, &pending[..end], totals).await;
                pending.drain(..end);
            }
            Err(reason) => {
                tracing::warn!(reason, "closing a packet connection whose stream is lost");
                break;
            }
        }
    }
}

/// How many leading bytes of `buffer` are whole Space Packets (framed by their length
/// fields); an error when a packet header is not version 0, after which the stream cannot be
/// framed.
fn complete_packets(buffer: &[u8]) -> Result<usize, &'static str> {
    let mut end = 0;
    // The header as the packets crate reads it: one framing rule for the stream and the decoder.
    while let Some(header) = buffer
        .get(end..end + PRIMARY_HEADER_LEN)
        .and_then(|bytes| <&[u8; PRIMARY_HEADER_LEN]>::try_from(bytes).ok())
        .map(PrimaryHeader::read)
    {
        if header.version != 0 {
            return Err("a packet header is not version 0");
        }
        let total = header.packet_len();
        if buffer.len() - end < total {
            break;
        }
        end += total;
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_packets_are_framed() {
        let one = [0x08, 100, 0xC0, 1, 0, 1, 7, 8];
        let mut two = one.to_vec();
        two.extend_from_slice(&one);
        assert_eq!(complete_packets(&two), Ok(16));
        assert_eq!(complete_packets(&two[..12]), Ok(8));
        assert_eq!(complete_packets(&two[..5]), Ok(0));
        assert!(complete_packets(&[0x20, 0, 0, 0, 0, 0, 0]).is_err());
    }
}
