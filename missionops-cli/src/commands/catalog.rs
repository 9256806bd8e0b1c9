//! Commands over spacecraft, their configuration, documents, events and status.

use comfy_table::Table;
use missionops_core::{
    ConfigView, DocumentBody, DocumentFilter, Error, FleetEntry, JsonObject, Limit, MissionOps,
    NewDocument, NewSpacecraft, OpsDocument, SearchQuery, Spacecraft, SpacecraftConfig, Tags,
};
use serde_json::{Value, json};

use super::{Database, read_input};
use crate::args::{
    ConfigCommand, DocsCommand, ListEventsArgs, SearchDocsArgs, SpacecraftCommand, StatusArgs,
};
use crate::output::{Output, or_dash};

/// `limit` bounds as the HTTP API has them.
const EVENTS_LIMIT_MAX: u32 = 100;
const SEARCH_LIMIT_MAX: u32 = 50;
const SPACECRAFT_LIMIT_MAX: u32 = 100;
const DOCS_LIMIT_MAX: u32 = 100;

/// `list-events`.
pub(crate) async fn list_events(
    ops: &MissionOps,
    out: Output,
    args: ListEventsArgs,
) -> anyhow::Result<()> {
    let limit = Limit::new(args.limit, EVENTS_LIMIT_MAX)?;
    let events = ops.list_events(args.spacecraft_id.as_ref(), limit).await?;
    if out.is_json() {
        return out.json(&events);
    }
    let mut table = out.table([
        "seq",
        "timestamp",
        "type",
        "severity",
        "spacecraft",
        "message",
    ]);
    for event in &events {
        table.add_row(vec![
            event.sequence.into(),
            event.timestamp.to_string().into(),
            event.event_type.as_str().into(),
            out.severity(event.severity),
            or_dash(event.spacecraft_id.as_ref()).into(),
            event.message.clone().into(),
        ]);
    }
    out.table_or(&table, "No events.")
}

/// `search-docs`.
pub(crate) async fn search_docs(
    ops: &MissionOps,
    out: Output,
    args: SearchDocsArgs,
) -> anyhow::Result<()> {
    let query = SearchQuery::parse(&args.query)?;
    let limit = Limit::new(args.limit, SEARCH_LIMIT_MAX)?;
    let documents = ops.search_documents(&query, limit).await?;
    print_documents(
        out,
        &documents,
        &format!("No document matches {:?}.", args.query),
    )
}

fn print_documents(out: Output, documents: &[OpsDocument], empty: &str) -> anyhow::Result<()> {
    if out.is_json() {
        return out.json(documents);
    }
    let mut table = out.table([
        "id",
        "title",
        "category",
        "spacecraft",
        "tags",
        "updated",
        "v",
    ]);
    for document in documents {
        let tags: Vec<&str> = document
            .tags
            .as_slice()
            .iter()
            .map(|t| t.as_str())
            .collect();
        table.add_row([
            document.id.to_string(),
            document.title.to_string(),
            document.category.to_string(),
            or_dash(document.spacecraft_id.as_ref()),
            tags.join(", "),
            document.updated_at.to_string(),
            document.version.to_string(),
        ]);
    }
    out.table_or(&table, empty)
}

/// `migrate`.
pub(crate) async fn migrate(db: &Database, out: Output) -> anyhow::Result<()> {
    db.migrate().await?;
    out.either(&json!({"migrated": true}), || {
        format!("Database {} is up to date", db.display())
    })
}

/// `spacecraft …`.
pub(crate) async fn spacecraft(
    ops: &MissionOps,
    out: Output,
    command: SpacecraftCommand,
) -> anyhow::Result<()> {
    match command {
        SpacecraftCommand::Add {
            id,
            name,
            mission_type,
            metadata,
        } => {
            let metadata = metadata
                .map(|text| {
                    serde_json::from_str::<JsonObject>(&text).map_err(|e| {
                        Error::invalid("metadata", format!("must be a JSON object: {e}"))
                    })
                })
                .transpose()?;
            let spacecraft = ops
                .register_spacecraft(NewSpacecraft {
                    id,
                    name,
                    mission_type,
                    metadata,
                })
                .await?;
            out.either(&spacecraft, || {
                format!(
                    "Registered {} ({}, {})",
                    spacecraft.id, spacecraft.name, spacecraft.mission_type
                )
            })
        }
        SpacecraftCommand::List { limit, offset } => {
            let limit = Limit::new(limit, SPACECRAFT_LIMIT_MAX)?;
            let listing = ops.list_spacecraft(limit, offset).await?;
            if out.is_json() {
                return out.json(&listing);
            }
            let mut table =
                out.table(["id", "name", "mission type", "config", "source", "updated"]);
            for item in &listing.items {
                table.add_row([
                    item.spacecraft_id.to_string(),
                    item.name.to_string(),
                    item.mission_type.to_string(),
                    or_dash(item.status.map(|s| s.as_str())),
                    or_dash(item.source.map(|s| s.as_str())),
                    item.updated_at.to_string(),
                ]);
            }
            if listing.items.is_empty() {
                return out.line(format!("No spacecraft (of {} in all).", listing.total));
            }
            out.line(&table)?;
            out.line(format!(
                "{} to {} of {}",
                listing.offset + 1,
                listing.offset + listing.count as u64,
                listing.total
            ))
        }
        SpacecraftCommand::Show { id } => {
            let spacecraft = ops.get_spacecraft(&id).await?;
            if out.is_json() {
                return out.json(&spacecraft);
            }
            out.line(spacecraft_table(out, &spacecraft))
        }
    }
}

fn spacecraft_table(out: Output, spacecraft: &Spacecraft) -> Table {
    let mut table = out.table(["field", "value"]);
    table.add_row(["id", spacecraft.id.as_str()]);
    table.add_row(["name", spacecraft.name.as_str()]);
    table.add_row(["mission type", spacecraft.mission_type.as_str()]);
    table.add_row([
        "metadata".to_owned(),
        Value::Object(spacecraft.metadata.clone()).to_string(),
    ]);
    table.add_row(["created".to_owned(), spacecraft.created_at.to_string()]);
    table.add_row(["updated".to_owned(), spacecraft.updated_at.to_string()]);
    table
}

/// `config …`.
pub(crate) async fn config(
    ops: &MissionOps,
    out: Output,
    command: ConfigCommand,
) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Get { id } => {
            let view = ConfigView::from(ops.get_config(&id).await?);
            if out.is_json() {
                return out.json(&view);
            }
            out.line(format!(
                "Configuration of {} (version {}, {}, source {})",
                view.spacecraft_id,
                view.version,
                view.status.as_str(),
                or_dash(view.source.map(|s| s.as_str()))
            ))?;
            out.line(missionops_core::json::to_string_pretty_js(
                &view.config,
                "  ",
            )?)
        }
        ConfigCommand::Set {
            id,
            file,
            status,
            source,
            over,
        } => {
            let text = read_input(file.as_deref(), "config")?;
            let document: Value = serde_json::from_str(&text)
                .map_err(|e| Error::invalid("config", format!("is not valid JSON: {e}")))?;
            let config = SpacecraftConfig::parse(document)?;
            let record = match over {
                Some(edited) => {
                    ops.set_config_over(&id, config, status, Some(source), edited)
                        .await?
                }
                None => ops.set_config(&id, config, status, Some(source)).await?,
            };
            let view = ConfigView::from(record);
            out.either(&view, || {
                format!(
                    "Configuration of {} is now version {} ({}, source {})",
                    view.spacecraft_id,
                    view.version,
                    view.status.as_str(),
                    source.as_str()
                )
            })
        }
        ConfigCommand::History { id } => {
            let history = ops.config_history(&id).await?;
            if out.is_json() {
                return out.json(&history);
            }
            let mut table = out.table(["version", "status", "source", "created", "rules"]);
            for record in &history {
                let rules = record
                    .config
                    .as_object()
                    .get("parameters")
                    .and_then(Value::as_object)
                    .map_or(0, serde_json::Map::len);
                table.add_row([
                    record.version.to_string(),
                    record.status.as_str().to_owned(),
                    or_dash(record.source.map(|s| s.as_str())),
                    record.created_at.to_string(),
                    rules.to_string(),
                ]);
            }
            out.table_or(&table, &format!("{id} has no configuration yet."))
        }
    }
}

/// `docs …`.
pub(crate) async fn docs(
    ops: &MissionOps,
    out: Output,
    command: DocsCommand,
) -> anyhow::Result<()> {
    match command {
        DocsCommand::Add {
            title,
            body,
            file,
            spacecraft_id,
            category,
            tags,
        } => {
            let body = match body {
                Some(body) => body,
                None => read_input(file.as_deref(), "body")?,
            };
            let document = ops
                .publish_document(NewDocument {
                    spacecraft_id,
                    title,
                    body: DocumentBody::parse(body)?,
                    tags: Some(Tags::new(tags)?),
                    category,
                })
                .await?;
            out.either(&document, || {
                format!("Published document {} \"{}\"", document.id, document.title)
            })
        }
        DocsCommand::Show { id } => {
            let document = ops.get_document(&id).await?;
            if out.is_json() {
                return out.json(&document);
            }
            let tags: Vec<&str> = document
                .tags
                .as_slice()
                .iter()
                .map(|t| t.as_str())
                .collect();
            let mut table = out.table(["field", "value"]);
            table.add_row(["id".to_owned(), document.id.to_string()]);
            table.add_row(["title".to_owned(), document.title.to_string()]);
            table.add_row(["category".to_owned(), document.category.to_string()]);
            table.add_row([
                "spacecraft".to_owned(),
                or_dash(document.spacecraft_id.as_ref()),
            ]);
            table.add_row(["tags".to_owned(), tags.join(", ")]);
            table.add_row(["version".to_owned(), document.version.to_string()]);
            table.add_row(["published".to_owned(), document.published_at.to_string()]);
            table.add_row(["updated".to_owned(), document.updated_at.to_string()]);
            out.line(&table)?;
            out.line("")?;
            out.line(document.body.as_str())
        }
        DocsCommand::List {
            spacecraft_id,
            category,
            tag,
            limit,
            offset,
        } => {
            let filter = DocumentFilter {
                spacecraft_id,
                category,
                tag,
                limit: Limit::new(limit, DOCS_LIMIT_MAX)?,
                offset,
            };
            let documents = ops.list_documents(&filter).await?;
            print_documents(out, &documents, "No documents.")
        }
    }
}

/// `status`.
pub(crate) async fn status(ops: &MissionOps, out: Output, args: StatusArgs) -> anyhow::Result<()> {
    let header = [
        "spacecraft",
        "name",
        "last telemetry",
        "1h",
        "6h",
        "24h",
        "worst 24h",
        "status",
        "active alarms",
        "marks",
    ];
    match args.id {
        Some(id) => {
            // Unlike the HTTP compat answer, an unknown id is an error here (likely a typo).
            let status = ops.registered_status(&id).await?;
            if out.is_json() {
                return out.json(&status);
            }
            let mut table = out.table([
                "spacecraft",
                "last telemetry",
                "1h",
                "6h",
                "24h",
                "worst 24h",
                "status",
                "active alarms",
            ]);
            table.add_row(vec![
                status.spacecraft_id.to_string().into(),
                or_dash(status.last_telemetry_timestamp).into(),
                status.anomalies.last1h.into(),
                status.anomalies.last6h.into(),
                status.anomalies.last24h.into(),
                out.severity(status.highest_severity_last24h),
                out.status(status.overall_status),
                status.active_alarms.into(),
            ]);
            out.line(&table)
        }
        None => {
            let fleet = ops.fleet_status().await?;
            if out.is_json() {
                return out.json(&fleet);
            }
            let mut table = out.table(header);
            for entry in &fleet {
                let status = &entry.status;
                table.add_row(vec![
                    status.spacecraft_id.to_string().into(),
                    entry.name.to_string().into(),
                    or_dash(status.last_telemetry_timestamp).into(),
                    status.anomalies.last1h.into(),
                    status.anomalies.last6h.into(),
                    status.anomalies.last24h.into(),
                    out.severity(status.highest_severity_last24h),
                    out.status(status.overall_status),
                    entry.status.active_alarms.into(),
                    fleet_marks(entry).into(),
                ]);
            }
            out.table_or(
                &table,
                "No spacecraft yet: register one with `missionops spacecraft add`, or try \
                 `missionops seed-demo-data`.",
            )
        }
    }
}

/// The marks the console puts on a fleet tile: `CONTACT LOST` (with the time it was lost) and
/// `STALE`, `-` for none.
fn fleet_marks(entry: &FleetEntry) -> String {
    let mut marks = Vec::new();
    if let Some(lost) = entry.contact_lost_at {
        marks.push(format!("CONTACT LOST {lost}"));
    }
    if entry.stale {
        marks.push("STALE".to_owned());
    }
    if marks.is_empty() {
        "-".to_owned()
    } else {
        marks.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use missionops_core::{
        AnomalyCounts, FleetEntry, OverallStatus, Severity, SpacecraftId, SpacecraftName,
        SpacecraftStatus, Timestamp,
    };

    use super::fleet_marks;

    fn entry(stale: bool, contact_lost_at: Option<Timestamp>) -> FleetEntry {
        let id = SpacecraftId::parse("SC-1").expect("id");
        FleetEntry {
            status: SpacecraftStatus {
                spacecraft_id: id,
                last_telemetry_timestamp: None,
                anomalies: AnomalyCounts::default(),
                highest_severity_last24h: Severity::Low,
                overall_status: OverallStatus::Nominal,
                active_alarms: 0,
            },
            name: SpacecraftName::parse("SC-1").expect("name"),
            stale,
            contact_lost_at,
        }
    }

    #[test]
    fn a_fleet_line_shows_the_consoles_marks() {
        let lost = Timestamp::parse("2026-01-01T00:00:00Z").expect("time");
        assert_eq!(fleet_marks(&entry(false, None)), "-");
        assert_eq!(fleet_marks(&entry(true, None)), "STALE");
        assert_eq!(
            fleet_marks(&entry(true, Some(lost))),
            "CONTACT LOST 2026-01-01T00:00:00.000Z, STALE"
        );
    }
}
