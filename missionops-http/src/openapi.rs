//! The API's routes, registered once: each `routes!` entry adds the handler to the router and
//! its annotation to the OpenAPI document, so the two cannot drift.

use std::sync::OnceLock;

use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::routes::{anomalies, docs, events, ops, outbox, packets, spacecraft, telemetry};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "MissionOps", description = "Spacecraft operations data: telemetry, limits, anomalies, documents and events."),
    components(schemas(crate::error::ErrorBody)),
    tags(
        (name = "telemetry"), (name = "spacecraft"), (name = "events"),
        (name = "docs"), (name = "anomalies"), (name = "outbox"), (name = "ops"), (name = "packets")
    )
)]
struct ApiDoc;

/// Every route of the API with its OpenAPI description.
pub(crate) fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(telemetry::ingest, telemetry::recent))
        .routes(routes!(telemetry::ingest_batch))
        .routes(routes!(telemetry::ingest_ndjson))
        .routes(routes!(telemetry::analyze))
        .routes(routes!(telemetry::latest))
        .routes(routes!(telemetry::series))
        .routes(routes!(spacecraft::list, spacecraft::register))
        .routes(routes!(spacecraft::get))
        .routes(routes!(spacecraft::status))
        .routes(routes!(spacecraft::get_config, spacecraft::put_config))
        .routes(routes!(spacecraft::config_history))
        .routes(routes!(spacecraft::detect))
        .routes(routes!(spacecraft::fleet))
        .routes(routes!(packets::put_definition, packets::get_definition))
        .routes(routes!(packets::ingest))
        .routes(routes!(events::list))
        .routes(routes!(events::stream))
        .routes(routes!(docs::publish, docs::list))
        .routes(routes!(docs::search))
        .routes(routes!(docs::get, docs::update))
        .routes(routes!(anomalies::list))
        .routes(routes!(anomalies::timeline))
        .routes(routes!(anomalies::procedures))
        .routes(routes!(anomalies::alarms))
        .routes(routes!(anomalies::acknowledge))
        .routes(routes!(anomalies::shelve))
        .routes(routes!(anomalies::unshelve))
        .routes(routes!(outbox::stats))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
}

/// The OpenAPI document of [`api_router`], built once.
pub fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| api_router().split_for_parts().1)
}
