//! The API's routes, registered once: each `routes!` entry adds the handler to the router and
//! its annotation to the OpenAPI document, so the two cannot drift.

use std::sync::OnceLock;

use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ADMIN, ENGINEER, OPERATOR, PUBLIC, SECURITY_SCHEME, VIEWER, secured};
use crate::routes::{
    anomalies, docs, events, keys, ops, outbox, packets, session, spacecraft, telemetry,
};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "MissionOps", description = "Spacecraft operations data: telemetry, limits, anomalies, documents and events."),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&BearerScheme),
    tags(
        (name = "telemetry"), (name = "spacecraft"), (name = "events"),
        (name = "docs"), (name = "anomalies"), (name = "outbox"), (name = "ops"), (name = "keys"),
        (name = "packets"), (name = "session"), (name = "console")
    )
)]
struct ApiDoc;

/// Every route of the API with its OpenAPI description and, declared beside it, the minimum
/// role of each of its operations (SPEC §9; see `auth::secured`). An operation without a
/// declared role cannot be registered here (the router would not build), and one registered
/// elsewhere fails the route table test.
pub(crate) fn api_router() -> OpenApiRouter<AppState> {
    use axum::http::Method as M;
    let router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(secured(
            routes!(telemetry::ingest, telemetry::recent),
            &[(M::POST, OPERATOR), (M::GET, VIEWER)],
        ))
        .routes(secured(
            routes!(telemetry::ingest_batch),
            &[(M::POST, OPERATOR)],
        ))
        .routes(secured(
            routes!(telemetry::ingest_ndjson),
            &[(M::POST, OPERATOR)],
        ))
        .routes(secured(routes!(telemetry::analyze), &[(M::GET, VIEWER)]))
        .routes(secured(routes!(telemetry::latest), &[(M::GET, VIEWER)]))
        .routes(secured(routes!(telemetry::series), &[(M::GET, VIEWER)]))
        .routes(secured(
            routes!(spacecraft::list, spacecraft::register),
            &[(M::GET, VIEWER), (M::POST, ENGINEER)],
        ))
        .routes(secured(routes!(spacecraft::get), &[(M::GET, VIEWER)]))
        .routes(secured(routes!(spacecraft::status), &[(M::GET, VIEWER)]))
        .routes(secured(
            routes!(spacecraft::get_config, spacecraft::put_config),
            &[(M::GET, VIEWER), (M::PUT, ENGINEER)],
        ))
        .routes(secured(
            routes!(spacecraft::config_history),
            &[(M::GET, VIEWER)],
        ))
        .routes(secured(routes!(spacecraft::detect), &[(M::POST, OPERATOR)]))
        .routes(secured(routes!(spacecraft::fleet), &[(M::GET, VIEWER)]))
        .routes(secured(
            routes!(packets::put_definition, packets::get_definition),
            &[(M::PUT, ENGINEER), (M::GET, VIEWER)],
        ))
        .routes(secured(routes!(packets::ingest), &[(M::POST, OPERATOR)]))
        .routes(secured(routes!(events::list), &[(M::GET, VIEWER)]))
        .routes(secured(routes!(events::stream), &[(M::GET, VIEWER)]))
        .routes(secured(
            routes!(docs::publish, docs::list),
            &[(M::POST, ENGINEER), (M::GET, VIEWER)],
        ))
        .routes(secured(routes!(docs::search), &[(M::GET, VIEWER)]))
        .routes(secured(
            routes!(docs::get, docs::update),
            &[(M::GET, VIEWER), (M::PUT, ENGINEER)],
        ))
        .routes(secured(routes!(anomalies::list), &[(M::GET, VIEWER)]))
        .routes(secured(routes!(anomalies::timeline), &[(M::GET, VIEWER)]))
        .routes(secured(routes!(anomalies::procedures), &[(M::GET, VIEWER)]))
        .routes(secured(routes!(anomalies::alarms), &[(M::GET, VIEWER)]))
        .routes(secured(
            routes!(anomalies::acknowledge),
            &[(M::POST, OPERATOR)],
        ))
        .routes(secured(routes!(anomalies::shelve), &[(M::POST, OPERATOR)]))
        .routes(secured(
            routes!(anomalies::unshelve),
            &[(M::POST, OPERATOR)],
        ))
        .routes(secured(routes!(outbox::stats), &[(M::GET, VIEWER)]))
        .routes(secured(
            routes!(keys::create, keys::list),
            &[(M::POST, ADMIN), (M::GET, ADMIN)],
        ))
        .routes(secured(routes!(keys::revoke), &[(M::DELETE, ADMIN)]))
        .routes(secured(routes!(ops::healthz), &[(M::GET, PUBLIC)]))
        .routes(secured(routes!(ops::readyz), &[(M::GET, PUBLIC)]))
        .routes(secured(routes!(ops::metrics), &[(M::GET, VIEWER)]))
        .routes(secured(routes!(ops::openapi), &[(M::GET, PUBLIC)]))
        // Public: sign-in authenticates the key it is given, the others read or end the
        // request's own session (see `routes::session`).
        .routes(secured(
            routes!(session::sign_in, session::current, session::sign_out),
            &[(M::POST, PUBLIC), (M::GET, PUBLIC), (M::DELETE, PUBLIC)],
        ));
    console_routes(router)
}

/// The console's page and assets (feature `console`): public, because they hold no data and
/// a browser must load them to sign in; every request the page then makes for data goes
/// through the roles above. Compressed.
#[cfg(feature = "console")]
fn console_routes(router: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    use axum::http::Method as M;
    use tower_http::compression::CompressionLayer;

    use crate::console;
    let compressed = |(schemas, paths, method_router): utoipa_axum::router::UtoipaMethodRouter<
        AppState,
    >| { (schemas, paths, method_router.layer(CompressionLayer::new())) };
    router
        .routes(secured(
            compressed(routes!(console::index)),
            &[(M::GET, PUBLIC)],
        ))
        .routes(secured(
            compressed(routes!(console::asset)),
            &[(M::GET, PUBLIC)],
        ))
}

/// Without the console: nothing more.
#[cfg(not(feature = "console"))]
fn console_routes(router: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    router
}

/// Adds the bearer security scheme the secured operations refer to.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut Document) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                SECURITY_SCHEME,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("mo_<keyId>_<secret>")
                        .description(Some(
                            "An API key (SPEC §9). While no key exists the server runs open.",
                        ))
                        .build(),
                ),
            );
    }
}

/// The OpenAPI document of `api_router`, built once: the operations as the handlers annotate
/// them. `/openapi.json` serves it with the server's full contract written in (parameter and
/// body schemas, every error answer; see `contract`).
pub fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| api_router().split_for_parts().1)
}
