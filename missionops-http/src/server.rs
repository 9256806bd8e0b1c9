//! The router with its middleware, and the server with graceful shutdown (its accept loop and
//! connection limits are in `connections`).

use std::future::Future;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::access_log;
use crate::body_budget::limit_bodies;
use crate::connections::{ConnectionLimits, Transport, serve_connections};
use crate::error::{ApiError, InternalCause};
use crate::state::AppState;

/// The whole API as an axum router over `state`: every route, the error shape for unknown
/// routes and wrong methods, body limit and the bound on bodies in flight, request timeout, request logging and metrics, CORS.
pub fn router(state: AppState) -> Router {
    let (api, _) = crate::openapi::api_router().split_for_parts();
    let mut router = api
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), front))
        .layer(DefaultBodyLimit::max(state.config.body_limit));
    if let Some(cors) = cors_layer(&state.config.cors_origins) {
        router = router.layer(cors);
    }
    router.with_state(state)
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new().allow_methods(Any).allow_headers(Any);
    if origins.iter().any(|o| o == "*") {
        return Some(layer.allow_origin(Any));
    }
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(layer.allow_origin(AllowOrigin::list(allowed)))
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::no_route(uri.path())
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(method.as_str(), uri.path())
}

/// Every request's way in, one middleware layer doing in order what four used to (a layer
/// costs a clone of the state and a boxed future per request, and single telemetry writes
/// spent a tenth of their time on them):
///
/// 1. [`observe`]: metrics and the access log, around everything else;
/// 2. the request timeout: a response that has not started within the configured time is
///    abandoned with 503;
/// 3. [`authorize`](crate::auth::authorize): outside the body budget, so that a request
///    without a valid key reserves no body bytes;
/// 4. [`limit_bodies`]: inside the timeout, so that a chunked body read by the budget is
///    timed like any other.
async fn front(State(state): State<AppState>, request: Request, next: Next) -> Response {
    observe(&state, request, |request| async {
        let authorized = crate::auth::authorize(&state, request, |request| {
            limit_bodies(&state, request, |request| next.run(request))
        });
        match tokio::time::timeout(state.config.request_timeout, authorized).await {
            Ok(response) => response,
            Err(_) => ApiError::timeout().into_response(),
        }
    })
    .await
}

/// Records every request's metrics, and logs it as the access log says (5xx with their cause,
/// slow requests; the others only when asked for).
async fn observe<F>(state: &AppState, request: Request, next: impl FnOnce(Request) -> F) -> Response
where
    F: Future<Output = Response>,
{
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let path = request.uri().path().to_owned();
    let response = next(request).await;
    let status = response.status();
    let elapsed = started.elapsed();
    state.metrics.observe(
        method.as_str(),
        &route,
        status.as_u16(),
        elapsed.as_secs_f64(),
    );
    let cause = response
        .extensions()
        .get::<InternalCause>()
        .map(|InternalCause(cause)| cause.as_str());
    access_log::record(
        &state.config,
        &access_log::Request {
            method: &method,
            path: &path,
            route: &route,
            status,
            elapsed,
            cause,
        },
    );
    response
}

/// Serves the API on `listener` until `shutdown` resolves, then stops accepting connections,
/// ends event streams and lets in-flight requests finish (so no acknowledged write is lost).
/// Connections are bounded as [`HttpConfig`](crate::HttpConfig) says: how many at once, how
/// long a client may take over its headers, how long a keep-alive connection may idle.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_over(listener, state, Transport::Plain, shutdown).await
}

/// [`serve`] over TLS (feature `tls`): every connection first completes a TLS handshake with
/// `tls`'s certificate, within the header-read timeout, then is served as [`serve`] serves
/// it, under the same connection cap and timeouts. Plain HTTP sent to this listener gets no
/// HTTP answer.
#[cfg(feature = "tls")]
pub async fn serve_tls(
    listener: TcpListener,
    state: AppState,
    tls: crate::TlsConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let transport = Transport::Tls(tls.acceptor().clone());
    serve_over(listener, state, transport, shutdown).await
}

async fn serve_over(
    listener: TcpListener,
    state: AppState,
    transport: Transport,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    if let Some(every) = state.config.monitor_tick {
        tokio::spawn(run_ticks(state.clone(), every));
    }
    let flusher = tokio::spawn(flush_key_uses(state.clone()));
    let auth = std::sync::Arc::clone(&state.auth);
    let limits = ConnectionLimits {
        header_read_timeout: state.config.header_read_timeout,
        idle_timeout: state.config.idle_timeout,
        max_connections: state.config.max_connections,
    };
    serve_connections(listener, app, limits, transport, async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        state.begin_shutdown();
    })
    .await;
    // The last uses noted since the previous flush.
    let _ = flusher.await;
    if let Err(e) = auth.flush_uses().await {
        tracing::warn!(error = %e, "cannot record the last uses of API keys");
    }
    Ok(())
}

/// How often the uses of API keys noted in memory are written (`lastUsedAt`).
const KEY_USE_FLUSH: std::time::Duration = std::time::Duration::from_secs(10);

/// Writes the noted uses of API keys every [`KEY_USE_FLUSH`] until shutdown begins.
async fn flush_key_uses(state: AppState) {
    let mut shutdown = state.shutdown_signal();
    let mut interval = tokio::time::interval(KEY_USE_FLUSH);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        if let Err(e) = state.auth.flush_uses().await {
            tracing::warn!(error = %e, "cannot record the last uses of API keys");
        }
    }
}

/// How often the tick visits every monitor instead of only the due ones: that sweep brings a
/// silent spacecraft's monitor up to date with a configuration another server sharing the
/// database changed, at a cost that grows with the fleet, so it runs once a minute.
const FULL_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs the monitor's clock tick every `every` until shutdown begins, visiting every monitor
/// once per [`FULL_SWEEP_EVERY`]. A failed tick is logged and tried again at the next one.
async fn run_ticks(state: AppState, every: std::time::Duration) {
    let mut shutdown = state.shutdown_signal();
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sweep_every = (FULL_SWEEP_EVERY.as_millis() / every.as_millis().max(1)).max(1);
    let mut ticks: u128 = 0;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        ticks += 1;
        let started = std::time::Instant::now();
        let ticked = if ticks % sweep_every == 0 {
            state.ops.tick_every_monitor().await
        } else {
            state.ops.tick().await
        };
        if let Ok(report) = &ticked {
            state
                .metrics
                .tick(started.elapsed().as_secs_f64(), report.spacecraft);
        }
        match ticked {
            Ok(report) if report.events > 0 || report.unshelved > 0 => {
                tracing::info!(
                    alarms = report.alarms,
                    events = report.events,
                    unshelved = report.unshelved,
                    "monitor tick"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "monitor tick failed"),
        }
    }
}

/// Resolves on ctrl-c or SIGTERM, for [`serve`]'s `shutdown` argument.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use missionops_core::MissionOps;
    use missionops_store::{MemoryStore, SystemClock, UuidV7Ids};
    use tower::ServiceExt;

    use super::*;
    use crate::state::HttpConfig;

    fn state(timeout: Duration) -> AppState {
        let ops = MissionOps::new(
            Arc::new(MemoryStore::new()),
            Arc::new(SystemClock),
            Arc::new(UuidV7Ids),
        );
        AppState::new(
            ops,
            HttpConfig {
                request_timeout: timeout,
                ..HttpConfig::default()
            },
        )
    }

    #[tokio::test]
    async fn a_request_over_the_timeout_is_abandoned_with_503_in_the_error_shape() {
        let state = state(Duration::from_millis(20));
        let app: Router = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route("/fast", get(|| async { "ok" }))
            .layer(from_fn_with_state(state.clone(), front))
            .with_state(state);
        let slow = app
            .clone()
            .oneshot(Request::get("/slow").body(Body::empty()).expect("request"))
            .await
            .expect("response");
        assert_eq!(slow.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(slow.into_body(), 1 << 16)
            .await
            .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["error"], "Timeout");
        let fast = app
            .oneshot(Request::get("/fast").body(Body::empty()).expect("request"))
            .await
            .expect("response");
        assert_eq!(fast.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn cors_is_off_by_default_and_follows_the_configured_origins() {
        assert!(cors_layer(&[]).is_none());
        let router = router(AppState::new(
            MissionOps::new(
                Arc::new(MemoryStore::new()),
                Arc::new(SystemClock),
                Arc::new(UuidV7Ids),
            ),
            HttpConfig {
                cors_origins: vec!["https://ops.example".to_owned()],
                ..HttpConfig::default()
            },
        ));
        let response = router
            .oneshot(
                Request::get("/healthz")
                    .header("origin", "https://ops.example")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(
            response
                .headers()
                .get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok()),
            Some("https://ops.example")
        );
    }
}
