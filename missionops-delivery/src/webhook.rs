//! The webhook sink: each event POSTed as JSON, signed with HMAC-SHA256.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use missionops_core::{Error, Result};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use sha2::Sha256;

use crate::sink::{Delivery, Sink, SinkOutcome};

/// The header with the time of signing, in whole seconds since the Unix epoch.
pub const TIMESTAMP_HEADER: &str = "x-missionops-timestamp";
/// The header with the signature: `sha256=` and the hex HMAC-SHA256 of
/// `<timestamp>.<body>` under the shared secret (see [`webhook_signature`]).
pub const SIGNATURE_HEADER: &str = "x-missionops-signature";
/// The header with the event id, for receivers that de-duplicate (delivery is at least once).
pub const EVENT_ID_HEADER: &str = "x-missionops-event-id";
/// The header with the tenant that recorded the event (SPEC §9); the event JSON does not name
/// it.
pub const TENANT_HEADER: &str = "x-missionops-tenant";

/// Settings of a [`WebhookSink`].
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Where events are POSTed (`http://` or `https://`).
    pub url: String,
    /// The shared secret the signature is made with.
    pub secret: String,
    /// How long one request may take, connecting included. Default 10 s.
    pub timeout: Duration,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &display_url(&self.url))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl WebhookConfig {
    /// A webhook to `url` signed with `secret`, with the default timeout.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        WebhookConfig {
            url: url.into(),
            secret: secret.into(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Checks the settings: [`Error::Invalid`] naming the flag (`webhook-url`,
    /// `webhook-secret`, `webhook-timeout`). Never quotes the URL (it may carry a token).
    pub fn validate(&self) -> Result<()> {
        self.parsed_url()?;
        if self.secret.is_empty() {
            return Err(Error::invalid(
                "webhook-secret",
                "is required with a webhook URL: receivers verify the signature with it",
            ));
        }
        if self.timeout.is_zero() {
            return Err(Error::invalid("webhook-timeout", "must be more than 0"));
        }
        Ok(())
    }

    fn parsed_url(&self) -> Result<reqwest::Url> {
        let url = reqwest::Url::parse(self.url.trim()).map_err(|_| {
            Error::invalid("webhook-url", "must be an absolute http:// or https:// URL")
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::invalid(
                "webhook-url",
                "must be an absolute http:// or https:// URL",
            ));
        }
        Ok(url)
    }
}

/// The hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`: what [`SIGNATURE_HEADER`]
/// carries after `sha256=`.
///
/// A receiver recomputes it from the [`TIMESTAMP_HEADER`] value and the raw body, compares in
/// constant time, and rejects timestamps too far from its own clock (replays).
///
/// ```
/// use missionops_delivery::webhook_signature;
///
/// let signature = webhook_signature(b"secret", "1700000000", br#"{"id":"ev-1"}"#);
/// assert_eq!(signature.len(), 64);
/// ```
pub fn webhook_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        // Writing into a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// POSTs each event's JSON to one URL, signed; any 2xx answer counts as delivered.
///
/// The events of one spacecraft are sent one after another, each after the previous one was
/// answered, and delivery stops at the first request that fails or is answered with anything
/// but 2xx. Headers: `content-type: application/json`, [`TIMESTAMP_HEADER`],
/// [`SIGNATURE_HEADER`], [`EVENT_ID_HEADER`] and [`TENANT_HEADER`].
pub struct WebhookSink {
    client: reqwest::Client,
    url: reqwest::Url,
    secret: Vec<u8>,
    /// `webhook <url without credentials or query>`, for logs.
    name: String,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the secret nor the URL's credentials or query.
        f.debug_struct("WebhookSink")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// A sink for `config`; [`Error::Invalid`] when the configuration cannot work.
    pub fn new(config: WebhookConfig) -> Result<Self> {
        config.validate()?;
        let url = config.parsed_url()?;
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("missionops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::backend(format!("cannot build the webhook client: {e}")))?;
        Ok(WebhookSink {
            client,
            name: format!("webhook {}", display_url(&config.url)),
            url,
            secret: config.secret.into_bytes(),
        })
    }

    async fn post(&self, delivery: &Delivery) -> Result<()> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string();
        let signature = webhook_signature(&self.secret, &timestamp, &delivery.payload);
        let header = |value: String| {
            HeaderValue::from_str(&value)
                .map_err(|e| Error::backend(format!("cannot make a header: {e}")))
        };
        let response = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, header(timestamp)?)
            .header(SIGNATURE_HEADER, header(format!("sha256={signature}"))?)
            .header(
                EVENT_ID_HEADER,
                header(delivery.event.id.as_str().to_owned())?,
            )
            .header(TENANT_HEADER, header(delivery.tenant.as_str().to_owned())?)
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(|e| {
                let kind = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "could not connect"
                } else {
                    "failed"
                };
                Error::backend(format!(
                    "the request {kind}: {}",
                    with_causes(&e.without_url())
                ))
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(Error::backend(format!(
                "the receiver answered HTTP {status}"
            )))
        }
    }
}

#[async_trait]
impl Sink for WebhookSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(&self, events: &[Delivery]) -> SinkOutcome {
        for (i, delivery) in events.iter().enumerate() {
            if let Err(e) = self.post(delivery).await {
                return SinkOutcome::stopped(i, e);
            }
        }
        SinkOutcome::all(events.len())
    }
}

/// `error` and its causes on one line (reqwest's own text is only "error sending request").
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = inner.source();
    }
    text
}

/// `url` without credentials, query or fragment, for logs; `(invalid URL)` when unparsable.
fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url.trim()) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => "(invalid URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_of_timestamp_dot_body() {
        // The hmac crate gives the well-known vector, so it is a sound reference…
        let direct = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"key").expect("key");
            mac.update(b"The quick brown fox jumps over the lazy dog");
            mac.finalize().into_bytes()
        };
        let hex: String = direct.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        // …for the signature over timestamp, a dot, and the body.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").expect("key");
        mac.update(b"1700000000.{\"id\":\"ev-1\"}");
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            webhook_signature(b"key", "1700000000", br#"{"id":"ev-1"}"#),
            expected
        );
        assert_ne!(
            webhook_signature(b"other", "1700000000", br#"{"id":"ev-1"}"#),
            expected
        );
    }

    #[test]
    fn bad_settings_name_their_flag_without_quoting_the_url() {
        for url in ["", "ftp://host/x", "not a url", "http://"] {
            let err = WebhookConfig::new(url, "s").validate().expect_err(url);
            assert!(err.to_string().starts_with("webhook-url:"), "{err}");
        }
        let err = WebhookConfig::new("https://host/hook?token=abc", "")
            .validate()
            .expect_err("no secret");
        assert!(err.to_string().starts_with("webhook-secret:"), "{err}");
        assert!(!err.to_string().contains("abc"));
        assert!(
            WebhookConfig::new("http://127.0.0.1:9/x", "s")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn names_hide_credentials_and_queries() {
        let sink = WebhookSink::new(WebhookConfig::new(
            "https://user:pw@ops.example/hook?token=abc",
            "s",
        ))
        .expect("sink");
        assert_eq!(sink.name(), "webhook https://ops.example/hook");
        assert!(!format!("{sink:?}").contains("pw"));
    }
}
