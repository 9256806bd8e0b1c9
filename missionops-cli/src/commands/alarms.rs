//! `alarms list|ack|shelve|unshelve`: the operator's side of the alarm lifecycle.

use missionops_core::{Alarm, AlarmFilter, Limit, MissionOps};

use crate::args::AlarmsCommand;
use crate::output::{self, Output, or_dash};

/// The largest `alarms list --limit`, as the API's page.
const ALARMS_LIMIT_MAX: u32 = 1_000;

/// Runs one `alarms` subcommand.
pub(crate) async fn alarms(
    ops: &MissionOps,
    out: Output,
    command: AlarmsCommand,
) -> anyhow::Result<()> {
    match command {
        AlarmsCommand::List {
            spacecraft_id,
            state,
            limit,
        } => {
            let filter = AlarmFilter {
                spacecraft_id,
                states: state,
            };
            // With a limit, the most recent page and how many there are in all.
            let (alarms, total) = match limit {
                None => (ops.list_alarms(&filter).await?, None),
                Some(limit) => {
                    let limit = Limit::new(limit, ALARMS_LIMIT_MAX)?;
                    let page = ops.alarm_page(&filter, None, limit).await?;
                    (page.alarms, Some(page.total))
                }
            };
            if out.is_json() {
                return out.json(&alarms);
            }
            let mut table = out.table([
                "id",
                "spacecraft",
                "parameter",
                "kind",
                "state",
                "severity",
                "count",
                "opened",
                "cleared",
                "acknowledged by",
                "last value",
            ]);
            for alarm in &alarms {
                table.add_row(vec![
                    alarm.id.to_string().into(),
                    alarm.spacecraft_id.to_string().into(),
                    alarm.parameter.to_string().into(),
                    alarm.kind.as_str().into(),
                    alarm.state.as_str().into(),
                    out.severity(alarm.severity),
                    alarm.violation_count.to_string().into(),
                    alarm.opened_at.to_string().into(),
                    or_dash(alarm.cleared_at).into(),
                    or_dash(alarm.acknowledged_by.as_ref()).into(),
                    output::value_text(&alarm.last_value).into(),
                ]);
            }
            out.table_or(&table, "No alarms.")?;
            match total {
                Some(total) if total > alarms.len() as u64 => out.line(format!(
                    "{} most recent of {total} alarms (--limit)",
                    alarms.len()
                )),
                _ => Ok(()),
            }
        }
        AlarmsCommand::Ack { id, by, comment } => {
            let alarm = ops.acknowledge_alarm(&id, by, comment).await?;
            done(out, &alarm, "acknowledged")
        }
        AlarmsCommand::Shelve {
            id,
            until,
            by,
            comment,
        } => {
            let alarm = ops.shelve_alarm(&id, until, by, comment).await?;
            done(out, &alarm, "shelved")
        }
        AlarmsCommand::Unshelve { id, by } => {
            let alarm = ops.unshelve_alarm(&id, by).await?;
            done(out, &alarm, "unshelved")
        }
    }
}

fn done(out: Output, alarm: &Alarm, what: &str) -> anyhow::Result<()> {
    if out.is_json() {
        return out.json(alarm);
    }
    out.line(format!(
        "Alarm {} on {} {} {what}: now {}.",
        alarm.id,
        alarm.spacecraft_id,
        alarm.parameter,
        alarm.state.as_str()
    ))
}
