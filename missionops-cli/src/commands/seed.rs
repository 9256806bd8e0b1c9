//! The demo seeders: `seed-demo-data` and `seed-demo-docs`.

use missionops_core::{
    ConfigSource, ConfigStatus, DemoProfile, Error, IngestMode, MissionOps, OnPacketError,
    PacketCounts, SAT_IMAGER_001_PACKET_DEFINITION, SeedOptions, SeedProgress, SnapshotGenerator,
    SpacecraftId,
};
use serde_json::json;

use super::Database;
use crate::args::{SeedArgs, SeedDocsArgs};
use crate::output::Output;
use crate::progress;

/// `seed-demo-data`.
pub(crate) async fn data(db: &Database, out: Output, args: SeedArgs) -> anyhow::Result<()> {
    if args.packets && args.dry_run {
        return Err(Error::invalid("packets", "cannot be combined with --dry-run").into());
    }
    let ops = if args.dry_run {
        db.ops_for_dry_run().await?
    } else {
        db.ops().await?
    };
    let mut profiles = if args.profiles.is_empty() {
        DemoProfile::ALL.to_vec()
    } else {
        args.profiles.clone()
    };
    // With --packets, Sat-Imager-001 is seeded through the packet path instead.
    let via_packets = args.packets && profiles.contains(&DemoProfile::LeoImaging);
    if args.packets {
        profiles.retain(|p| *p != DemoProfile::LeoImaging);
    }
    let packets = if via_packets {
        Some(seed_packets(&ops, &args).await?)
    } else {
        None
    };
    if profiles.is_empty() {
        let counts = packets.unwrap_or_default();
        if out.is_json() {
            return out.json(&json!({"packets": packets_json(&counts)}));
        }
        return out.line(packets_line(&counts));
    }
    let options = SeedOptions {
        duration_minutes: args.duration_minutes,
        interval_seconds: args.interval_seconds,
        seed: args.seed,
        end: args.end,
        dry_run: args.dry_run,
        profiles,
    };
    let bar = progress::bar(0, "snapshots");
    let on_progress = |p: SeedProgress| {
        // Every profile has the same number of samples, so the whole run is a multiple of one.
        let total = p.snapshots_total * p.profile_count;
        let done = p.snapshots_total * p.profile_index + p.snapshots_done;
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(p.spacecraft_id.to_string());
    };
    let report = ops
        .seed_demo_data_with_progress(options, &on_progress)
        .await;
    bar.finish_and_clear();
    let report = report?;
    if out.is_json() {
        return match &packets {
            Some(counts) => out.json(&json!({"seed": report, "packets": packets_json(counts)})),
            None => out.json(&report),
        };
    }
    if let Some(counts) = &packets {
        out.line(packets_line(counts))?;
    }
    out.line(&report)?;
    let mut table = if report.dry_run {
        out.table([
            "spacecraft",
            "snapshots",
            "limit crossings",
            "registers",
            "sets limits",
        ])
    } else {
        out.table([
            "spacecraft",
            "snapshots",
            "new",
            "anomalies",
            "new anomalies",
            "registered",
            "limits set",
        ])
    };
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    for profile in &report.profiles {
        if report.dry_run {
            table.add_row([
                profile.spacecraft_id.to_string(),
                profile.snapshots.to_string(),
                profile.anomalies_detected.to_string(),
                yes_no(profile.registered),
                yes_no(profile.config_changed),
            ]);
        } else {
            table.add_row([
                profile.spacecraft_id.to_string(),
                profile.snapshots.to_string(),
                profile.snapshots_inserted.to_string(),
                profile.anomalies_detected.to_string(),
                profile.anomalies_persisted.to_string(),
                yes_no(profile.registered),
                yes_no(profile.config_changed),
            ]);
        }
    }
    out.line(&table)?;
    out.line(format!(
        "Window {} to {}, seed {}{}",
        report.from,
        report.to,
        report.seed,
        if report.dry_run {
            " (dry run: nothing was written)"
        } else {
            ""
        }
    ))
}

/// `seed-demo-docs`.
pub(crate) async fn docs(db: &Database, out: Output, args: SeedDocsArgs) -> anyhow::Result<()> {
    let ops = if args.dry_run {
        db.ops_for_dry_run().await?
    } else {
        db.ops().await?
    };
    let seeded = ops.seed_demo_docs(args.dry_run).await?;
    if out.is_json() {
        return out.json(&seeded);
    }
    for document in &seeded {
        out.line(document)?;
    }
    let published = seeded.iter().filter(|d| d.published).count();
    out.line(format!(
        "{published} of {} demo documents {}",
        seeded.len(),
        if args.dry_run {
            "would be published (dry run: nothing was written)"
        } else {
            "published"
        }
    ))
}

/// How many simulated snapshots are encoded into one buffer of packets.
const PACKETS_PER_BUFFER: usize = 1_000;

/// `seed-demo-data --packets` for Sat-Imager-001: its packet definition (a new version only
/// when the stored one differs) and limits configuration, then the same simulated window as
/// the JSON seed, each snapshot encoded as a housekeeping packet and ingested as played-back
/// telemetry, so that seeding twice stores nothing twice.
async fn seed_packets(ops: &MissionOps, args: &SeedArgs) -> anyhow::Result<PacketCounts> {
    let profile = DemoProfile::LeoImaging;
    let id = SpacecraftId::parse(profile.spacecraft_name())?;
    let current = ops.packet_definition(&id).await.ok();
    if current.is_none_or(|c| c.text != SAT_IMAGER_001_PACKET_DEFINITION) {
        ops.put_packet_definition(&id, SAT_IMAGER_001_PACKET_DEFINITION)
            .await?;
    }
    let config = profile.config()?;
    let stored = ops.get_config(&id).await.ok();
    if stored.is_none_or(|c| c.config.as_object() != config.as_object()) {
        ops.set_config(
            &id,
            config,
            ConfigStatus::Approved,
            Some(ConfigSource::Seed),
        )
        .await?;
    }
    let end = args.end.unwrap_or_else(|| ops.now());
    let start = end.add_millis(-args.duration_minutes.saturating_mul(60_000));
    let generator = SnapshotGenerator::for_spacecraft(
        profile,
        id.clone(),
        start,
        args.duration_minutes,
        args.interval_seconds,
        args.seed,
    )?;
    let mut totals = PacketCounts::default();
    let mut buffer = Vec::new();
    let mut in_buffer = 0;
    for (index, snapshot) in generator.enumerate() {
        let sequence = (index % 16_384) as u16;
        buffer.extend(missionops_packets::encode_sat_imager_001(
            sequence,
            snapshot.timestamp,
            &snapshot.parameters,
        ));
        in_buffer += 1;
        if in_buffer == PACKETS_PER_BUFFER {
            add(&mut totals, &ingest(ops, &id, &buffer).await?);
            buffer.clear();
            in_buffer = 0;
        }
    }
    if in_buffer > 0 {
        add(&mut totals, &ingest(ops, &id, &buffer).await?);
    }
    Ok(totals)
}

async fn ingest(
    ops: &MissionOps,
    id: &SpacecraftId,
    buffer: &[u8],
) -> anyhow::Result<PacketCounts> {
    Ok(ops
        .ingest_packets(id, buffer, OnPacketError::Reject, IngestMode::Stored)
        .await?)
}

fn add(totals: &mut PacketCounts, counts: &PacketCounts) {
    totals.packets += counts.packets;
    totals.snapshots += counts.snapshots;
    totals.unknown_apid += counts.unknown_apid;
    totals.malformed += counts.malformed;
}

fn packets_json(counts: &PacketCounts) -> serde_json::Value {
    json!({
        "spacecraftId": DemoProfile::LeoImaging.spacecraft_name(),
        "packets": counts.packets,
        "snapshots": counts.snapshots,
        "unknownApid": counts.unknown_apid,
        "malformed": counts.malformed,
    })
}

fn packets_line(counts: &PacketCounts) -> String {
    format!(
        "{} through the packet path: {} packets decoded into {} snapshots",
        DemoProfile::LeoImaging.spacecraft_name(),
        counts.packets,
        counts.snapshots
    )
}
