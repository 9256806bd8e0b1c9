//! `outbox stats|list|retry`: the operator's view of event delivery.

use missionops_core::RetrySelection;

use super::Database;
use crate::args::OutboxCommand;
use crate::output::{Output, or_dash};

/// Runs one `outbox` subcommand.
pub(crate) async fn outbox(
    db: &Database,
    out: Output,
    command: OutboxCommand,
) -> anyhow::Result<()> {
    let ops = db.ops().await?;
    match command {
        OutboxCommand::Stats => {
            let stats = ops.outbox_stats().await?;
            out.either(&stats, || {
                format!(
                    "pending {}, delivered {}, dead {}",
                    stats.pending, stats.delivered, stats.dead
                )
            })
        }
        OutboxCommand::List { limit } => {
            let dead = ops.dead_letters(limit).await?;
            if out.is_json() {
                return out.json(&dead);
            }
            let mut table = out.table([
                "seq",
                "event id",
                "type",
                "spacecraft",
                "timestamp",
                "attempts",
                "last error",
            ]);
            for letter in &dead {
                table.add_row(vec![
                    letter.sequence.to_string(),
                    letter.event.id.to_string(),
                    letter.event.event_type.as_str().to_owned(),
                    or_dash(letter.event.spacecraft_id.as_ref()),
                    letter.event.timestamp.to_string(),
                    letter.attempts.to_string(),
                    or_dash(letter.last_error.as_ref()),
                ]);
            }
            out.table_or(&table, "No dead letters.")
        }
        OutboxCommand::Retry { sequences, all } => {
            let which = if all {
                RetrySelection::All
            } else {
                RetrySelection::Sequences(sequences)
            };
            let report = ops.retry_dead_letters(&which).await?;
            let retried = report.retried;
            for sequence in &report.not_dead {
                eprintln!("warning: {sequence} is not a dead letter; left alone");
            }
            out.either(
                &serde_json::json!({ "retried": retried }),
                || match retried.len() {
                    0 => "No dead letters retried.".to_owned(),
                    1 => "1 dead letter back in the outbox for delivery.".to_owned(),
                    n => format!("{n} dead letters back in the outbox for delivery."),
                },
            )
        }
    }
}
