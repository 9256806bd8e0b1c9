//! `serve`: the HTTP service.

use anyhow::Context;
use missionops_core::Error;
use missionops_http::{AppState, HttpConfig, serve as serve_http, shutdown_signal};

use super::Database;
use crate::args::ServeArgs;

/// Where the server listens when told nothing.
const DEFAULT_BIND: &str = "127.0.0.1:3000";

/// `serve`: listens until ctrl-c or SIGTERM, then finishes the requests in flight.
pub(crate) async fn serve(db: &Database, args: ServeArgs) -> anyhow::Result<()> {
    let bind = bind_address(args.bind, std::env::var("PORT").ok())?;
    let ops = db.ops().await?;
    let config = HttpConfig {
        body_limit: args.body_limit,
        request_timeout: args.request_timeout,
        cors_origins: args
            .cors_origins
            .into_iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect(),
        ..HttpConfig::default()
    };
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let address = listener
        .local_addr()
        .with_context(|| format!("cannot read the address bound for {bind}"))?;
    tracing::info!(
        address = %address,
        database = %db.display(),
        body_limit = config.body_limit,
        request_timeout_ms = config.request_timeout.as_millis(),
        cors_origins = ?config.cors_origins,
        "MissionOps listening on http://{address}"
    );
    serve_http(listener, AppState::new(ops, config), shutdown_signal())
        .await
        .context("the HTTP server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// The address to listen on: `--bind` / `MISSIONOPS_BIND` when given, else `127.0.0.1:$PORT`
/// when `PORT` is set (the TypeScript service's variable; loopback, because exposing the
/// service on every interface should be a deliberate `MISSIONOPS_BIND=0.0.0.0:…`), else
/// [`DEFAULT_BIND`].
fn bind_address(bind: Option<String>, port: Option<String>) -> Result<String, Error> {
    if let Some(bind) = bind.filter(|b| !b.trim().is_empty()) {
        return Ok(bind.trim().to_owned());
    }
    match port.filter(|p| !p.trim().is_empty()) {
        Some(port) => {
            let port: u16 = port.trim().parse().map_err(|_| {
                Error::invalid(
                    "PORT",
                    format!("must be a port number from 0 to 65535 (got {port:?})"),
                )
            })?;
            Ok(format!("127.0.0.1:{port}"))
        }
        None => Ok(DEFAULT_BIND.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_wins_over_port_which_wins_over_the_default() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            bind_address(some("0.0.0.0:8080"), some("9000")).ok(),
            some("0.0.0.0:8080")
        );
        assert_eq!(
            bind_address(None, some("9000")).ok(),
            some("127.0.0.1:9000")
        );
        assert_eq!(bind_address(None, None).ok(), some(DEFAULT_BIND));
        assert_eq!(bind_address(some(" "), None).ok(), some(DEFAULT_BIND));
        let err = bind_address(None, some("http")).expect_err("not a port");
        assert!(
            err.to_string().starts_with("PORT: must be a port number"),
            "{err}"
        );
    }
}
