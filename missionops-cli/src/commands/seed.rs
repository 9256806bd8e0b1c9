//! The demo seeders: `seed-demo-data` and `seed-demo-docs`.

use missionops_core::{DemoProfile, SeedOptions, SeedProgress};

use super::Database;
use crate::args::{SeedArgs, SeedDocsArgs};
use crate::output::Output;
use crate::progress;

/// `seed-demo-data`.
pub(crate) async fn data(db: &Database, out: Output, args: SeedArgs) -> anyhow::Result<()> {
    let ops = if args.dry_run {
        db.ops_for_dry_run().await?
    } else {
        db.ops().await?
    };
    let options = SeedOptions {
        duration_minutes: args.duration_minutes,
        interval_seconds: args.interval_seconds,
        seed: args.seed,
        end: args.end,
        dry_run: args.dry_run,
        profiles: if args.profiles.is_empty() {
            DemoProfile::ALL.to_vec()
        } else {
            args.profiles
        },
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
        return out.json(&report);
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
