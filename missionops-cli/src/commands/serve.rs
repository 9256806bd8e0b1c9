//! `serve`: the HTTP service, and event delivery beside it when a sink is configured.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use missionops_core::{Error, OutboxStore, RetryPolicy};
use missionops_delivery::{
    Dispatcher, DispatcherConfig, DispatcherHandle, Sink, WebhookConfig, WebhookSink,
};
use missionops_http::{
    AppState, HttpConfig, TlsConfig, TlsError, serve as serve_http, serve_tls, shutdown_signal,
};
use missionops_store::SystemClock;

use super::Database;
use super::listen::listen;
use crate::args::{DeliveryArgs, ServeArgs};

/// Where the server listens when told nothing.
const DEFAULT_BIND: &str = "127.0.0.1:3000";

/// `serve`: listens until ctrl-c or SIGTERM, then finishes the requests in flight.
pub(crate) async fn serve(db: &Database, args: ServeArgs) -> anyhow::Result<()> {
    let bind = bind_address(args.bind, std::env::var("PORT").ok())?;
    // Bad delivery settings are reported before anything is opened.
    let plan = DeliveryPlan::from_args(args.delivery)?;
    let tls = tls_config(args.tls_cert.as_deref(), args.tls_key.as_deref())?;
    let store = db
        .store_for_server(args.telemetry_durability.into())
        .await?;
    let ops = super::compose(store.clone());
    let config = HttpConfig {
        body_limit: args.body_limit,
        request_timeout: args.request_timeout,
        header_read_timeout: args.header_read_timeout,
        idle_timeout: args.idle_timeout,
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        max_body_bytes_in_flight: args.max_body_bytes_in_flight,
        max_auth_failures: args.max_auth_failures,
        monitor_tick: Some(args.monitor_tick),
        cors_origins: args
            .cors_origins
            .into_iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect(),
        access_log: args.access_log,
        slow_request: args.slow_request,
        ..HttpConfig::default()
    };
    let listener = listen(&bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let address = listener
        .local_addr()
        .with_context(|| format!("cannot read the address bound for {bind}"))?;
    let auth_on = ops.any_key_exists().await?;
    if !auth_on && !address.ip().is_loopback() && !args.allow_anonymous {
        return Err(Error::invalid(
            "bind",
            format!(
                "refusing to serve {address} with no API key, where anyone who reaches it would be admin: \
                 create one with `missionops keys create --name admin --role admin`, or pass --allow-anonymous"
            ),
        )
        .into());
    }
    tracing::info!(
        address = %address,
        database = %db.display(),
        body_limit = config.body_limit,
        request_timeout_ms = config.request_timeout.as_millis(),
        header_read_timeout_ms = config.header_read_timeout.as_millis(),
        idle_timeout_ms = config.idle_timeout.as_millis(),
        max_connections = config.max_connections,
        max_body_bytes_in_flight = config.max_body_bytes_in_flight.max(config.body_limit),
        cors_origins = ?config.cors_origins,
        access_log = config.access_log,
        slow_request_ms = config.slow_request.as_millis(),
        tls = tls.is_some(),
        "MissionOps listening on {}://{address}",
        if tls.is_some() { "https" } else { "http" }
    );
    if auth_on {
        tracing::info!(
            "authentication on: every route but /healthz, /readyz and /openapi.json needs an API key"
        );
    } else {
        tracing::warn!(
            "no API key exists: running open as admin of tenant default; create one with `missionops keys create`"
        );
    }
    // The dispatcher drains the outbox of the same store (a store is its own outbox).
    let dispatcher = plan.start(Arc::new(store)).await?;
    let state = AppState::new(ops, config).with_outbox();
    let served = match tls {
        Some(tls) => serve_tls(listener, state, tls, shutdown_signal()).await,
        None => serve_http(listener, state, shutdown_signal()).await,
    };
    // The HTTP server has finished its requests (and recorded their events); the dispatcher
    // finishes the batch it is delivering. What is still pending goes at the next start.
    if let Some(dispatcher) = dispatcher {
        dispatcher.shutdown().await;
    }
    served.context("the HTTP server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// The TLS certificate and key of `--tls-cert` and `--tls-key` (clap makes sure both or
/// neither are given), read before anything is opened; a file that cannot be used is an
/// [`Error::Invalid`] naming the flag and the file.
fn tls_config(
    cert: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
) -> Result<Option<TlsConfig>, Error> {
    let (Some(cert), Some(key)) = (cert, key) else {
        return Ok(None);
    };
    TlsConfig::from_pem_files(cert, key).map(Some).map_err(|e| {
        let flag = match &e {
            TlsError::Read { path, .. } if path == cert => "tls-cert",
            TlsError::Certificate { .. } => "tls-cert",
            _ => "tls-key",
        };
        Error::invalid(flag, e)
    })
}

/// What `serve` delivers events to, checked before the server starts.
#[derive(Debug)]
struct DeliveryPlan {
    #[cfg(feature = "nats")]
    nats: Option<missionops_delivery::NatsConfig>,
    webhooks: Vec<WebhookConfig>,
    dispatcher: DispatcherConfig,
}

impl DeliveryPlan {
    /// Checks the delivery flags; [`Error::Invalid`] naming the flag when one cannot work.
    fn from_args(args: DeliveryArgs) -> Result<Self, Error> {
        let dispatcher = DispatcherConfig {
            batch_size: args.outbox_batch_size,
            poll_interval: Duration::from_millis(args.outbox_poll_ms),
            retry: RetryPolicy {
                max_attempts: args.outbox_max_attempts,
                ..RetryPolicy::default()
            },
            ..DispatcherConfig::default()
        };
        dispatcher.validate()?;
        let urls: Vec<String> = args
            .webhook_urls
            .into_iter()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .collect();
        let webhooks = urls
            .into_iter()
            .map(|url| {
                let config = WebhookConfig {
                    timeout: args.webhook_timeout,
                    ..WebhookConfig::new(url, args.webhook_secret.clone().unwrap_or_default())
                };
                config.validate().map(|()| config)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let nats_url = args.nats_url.filter(|u| !u.trim().is_empty());
        #[cfg(feature = "nats")]
        let nats = match nats_url {
            Some(url) => {
                let config = missionops_delivery::NatsConfig {
                    subject_prefix: args.nats_subject_prefix.trim().to_owned(),
                    create_stream: args.nats_create_stream,
                    ..missionops_delivery::NatsConfig::new(url.trim())
                };
                config.validate()?;
                Some(config)
            }
            None => None,
        };
        #[cfg(not(feature = "nats"))]
        if nats_url.is_some() {
            let _ = (args.nats_subject_prefix, args.nats_create_stream);
            return Err(Error::invalid(
                "nats-url",
                "this build has no NATS support; build missionops-cli with the `nats` feature",
            ));
        }
        Ok(DeliveryPlan {
            #[cfg(feature = "nats")]
            nats,
            webhooks,
            dispatcher,
        })
    }

    /// Connects the sinks and starts the dispatcher; `None` when no sink is configured.
    async fn start(self, outbox: Arc<dyn OutboxStore>) -> anyhow::Result<Option<DispatcherHandle>> {
        let mut sinks: Vec<Arc<dyn Sink>> = Vec::new();
        #[cfg(feature = "nats")]
        if let Some(config) = self.nats {
            let sink = missionops_delivery::NatsSink::connect(config)
                .await
                .context("cannot set up NATS delivery")?;
            sinks.push(Arc::new(sink));
        }
        for config in self.webhooks {
            sinks.push(Arc::new(
                WebhookSink::new(config).context("cannot set up webhook delivery")?,
            ));
        }
        if sinks.is_empty() {
            return Ok(None);
        }
        // Leases and backoffs on the same clock as the application's.
        let dispatcher =
            Dispatcher::new(outbox, sinks, self.dispatcher)?.with_clock(Arc::new(SystemClock));
        Ok(Some(dispatcher.spawn()))
    }
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
                    format!(
                        "must be a port number from 0 to 65535 (got {})",
                        missionops_core::quote(&port)
                    ),
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
