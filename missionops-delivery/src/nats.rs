//! The NATS JetStream sink: one message per event, de-duplicated by event id.

use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::{self, stream};
use async_nats::{ConnectOptions, HeaderMap, ServerAddr, header};
use async_trait::async_trait;
use missionops_core::{Error, MissionEvent, Result, TenantId};
use tokio::sync::OnceCell;

use crate::sink::{Delivery, Sink, SinkOutcome};

/// The subject prefix when none is configured.
pub const DEFAULT_SUBJECT_PREFIX: &str = "missionops.events";

/// The subject token of events that concern no spacecraft.
const NO_SPACECRAFT_TOKEN: &str = "_";

/// Settings of a [`NatsSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsConfig {
    /// The server (`nats://host:4222`; several separated by commas; `tls://…` for TLS).
    pub url: String,
    /// Subjects are `<prefix>.<tenant>.<spacecraftId>.<TYPE>`. Default `missionops.events`.
    pub subject_prefix: String,
    /// Create the stream (subjects `<prefix>.>`) when it does not exist. Default off: the
    /// stream is usually managed with the rest of the NATS set-up.
    pub create_stream: bool,
    /// The name of the stream created with `create_stream`; default the prefix in capitals
    /// with `_` for `.` (`MISSIONOPS_EVENTS`).
    pub stream_name: Option<String>,
    /// How long to wait for JetStream to acknowledge a message. Default 5 s.
    pub ack_timeout: Duration,
    /// The duplicate window of a stream created with `create_stream`: a redelivery within it
    /// is dropped by JetStream. It must be longer than the dispatcher's lease plus the time a
    /// crashed worker takes to come back. Default 10 min.
    pub duplicate_window: Duration,
}

impl NatsConfig {
    /// The defaults for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        NatsConfig {
            url: url.into(),
            subject_prefix: DEFAULT_SUBJECT_PREFIX.to_owned(),
            create_stream: false,
            stream_name: None,
            ack_timeout: Duration::from_secs(5),
            duplicate_window: Duration::from_secs(600),
        }
    }

    /// Checks the settings: [`Error::Invalid`] naming the flag (`nats-url`,
    /// `nats-subject-prefix`) when one cannot work. Never quotes the URL (it may hold a
    /// password).
    pub fn validate(&self) -> Result<()> {
        self.server_addrs()?;
        validate_prefix(&self.subject_prefix)?;
        let name = self.stream_name();
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || ".*>/\\".contains(c))
        {
            return Err(Error::invalid(
                "nats-stream",
                "must be a non-empty name without spaces, '.', '*', '>', '/' or '\\'",
            ));
        }
        if self.ack_timeout.is_zero() {
            return Err(Error::invalid("nats-ack-timeout", "must be more than 0"));
        }
        Ok(())
    }

    /// The stream created with `create_stream`.
    pub fn stream_name(&self) -> String {
        match &self.stream_name {
            Some(name) => name.clone(),
            None => self
                .subject_prefix
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect(),
        }
    }

    fn server_addrs(&self) -> Result<Vec<ServerAddr>> {
        let addrs: Vec<&str> = self
            .url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if addrs.is_empty() {
            return Err(Error::invalid("nats-url", "must not be empty"));
        }
        addrs
            .into_iter()
            .map(|addr| {
                addr.parse::<ServerAddr>().map_err(|_| {
                    Error::invalid(
                        "nats-url",
                        "must be a NATS server URL such as nats://127.0.0.1:4222",
                    )
                })
            })
            .collect()
    }
}

fn validate_prefix(prefix: &str) -> Result<()> {
    let bad = prefix.is_empty()
        || prefix.split('.').any(|token| {
            token.is_empty()
                || token
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '*' || c == '>')
        });
    if bad {
        return Err(Error::invalid(
            "nats-subject-prefix",
            "must be dot-separated non-empty tokens without spaces, '*' or '>' (e.g. missionops.events)",
        ));
    }
    Ok(())
}

/// The subject of `event`, recorded by `tenant`, under `prefix`:
/// `<prefix>.<tenant>.<spacecraftId>.<TYPE>` (SPEC §9), so that a subscriber takes one
/// tenant's events with `<prefix>.<tenant>.>`.
///
/// A tenant and a spacecraft id are one subject token each: `%`, `.`, `*` and `>` in them are
/// written `%25`, `%2E`, `%2A` and `%3E` (neither has whitespace). Events without a spacecraft
/// use the token `_`; a spacecraft whose id is `_` is written `%5F`.
pub fn nats_subject(prefix: &str, tenant: &TenantId, event: &MissionEvent) -> String {
    let spacecraft = match &event.spacecraft_id {
        None => NO_SPACECRAFT_TOKEN.to_owned(),
        Some(id) if id.as_str() == NO_SPACECRAFT_TOKEN => "%5F".to_owned(),
        Some(id) => one_token(id.as_str()),
    };
    format!(
        "{prefix}.{}.{spacecraft}.{}",
        one_token(tenant.as_str()),
        event.event_type.as_str()
    )
}

/// `text` as one subject token (see [`nats_subject`]).
fn one_token(text: &str) -> String {
    let mut token = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => token.push_str("%25"),
            '.' => token.push_str("%2E"),
            '*' => token.push_str("%2A"),
            '>' => token.push_str("%3E"),
            c => token.push(c),
        }
    }
    token
}

/// Publishes each event to NATS JetStream and waits for the stream's acknowledgement.
///
/// The subject is [`nats_subject`], the payload the event JSON, and the header `Nats-Msg-Id`
/// the event id, so that JetStream drops a redelivery within the stream's duplicate window.
/// The events of one spacecraft are published back to back on one connection (the server
/// stores them in that order), then their acknowledgements are awaited in order; delivery
/// stops at the first that fails.
///
/// The client reconnects by itself; while it is not connected every delivery fails at once,
/// and the dispatcher's backoff retries.
#[derive(Debug)]
pub struct NatsSink {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    prefix: String,
    /// The stream to create before the first publish, when asked to.
    stream: Option<stream::Config>,
    /// Set once the stream is known to exist (or need not be created).
    stream_ready: OnceCell<()>,
}

impl NatsSink {
    /// Validates `config` and starts connecting to the server. Returns at once, also when the
    /// server is not up yet: the client keeps trying, and deliveries fail until it is
    /// connected. [`Error::Invalid`] when the configuration cannot work.
    pub async fn connect(config: NatsConfig) -> Result<Self> {
        config.validate()?;
        let addrs = config.server_addrs()?;
        let client = ConnectOptions::new()
            .name("missionops")
            .retry_on_initial_connect()
            .connect(addrs)
            .await
            .map_err(|e| Error::backend(format!("cannot connect to NATS: {e}")))?;
        let mut jetstream = jetstream::new(client.clone());
        jetstream.set_timeout(config.ack_timeout);
        let stream = config.create_stream.then(|| stream::Config {
            name: config.stream_name(),
            subjects: vec![format!("{}.>", config.subject_prefix)],
            storage: stream::StorageType::File,
            duplicate_window: config.duplicate_window,
            ..stream::Config::default()
        });
        Ok(NatsSink {
            client,
            jetstream,
            prefix: config.subject_prefix,
            stream,
            stream_ready: OnceCell::new(),
        })
    }

    /// The NATS client, to subscribe or flush beside the sink.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The subject `delivery` is published on.
    pub fn subject(&self, delivery: &Delivery) -> String {
        nats_subject(&self.prefix, &delivery.tenant, &delivery.event)
    }

    /// Creates the configured stream unless it exists (once per sink; a failure is tried
    /// again on the next call). A no-op when no stream is to be created.
    pub async fn ensure_stream(&self) -> Result<()> {
        let Some(config) = &self.stream else {
            return Ok(());
        };
        self.stream_ready
            .get_or_try_init(|| async {
                self.jetstream
                    .get_or_create_stream(config.clone())
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        Error::backend(format!(
                            "cannot create the JetStream stream {}: {e}",
                            config.name
                        ))
                    })
            })
            .await
            .map(|_| ())
    }

    fn publish_error(&self, subject: &str, kind: PublishErrorKind, detail: String) -> Error {
        Error::backend(match kind {
            PublishErrorKind::StreamNotFound => format!(
                "no JetStream stream takes subject {subject} (create one for {}.>, or start with --nats-create-stream)",
                self.prefix
            ),
            PublishErrorKind::TimedOut => {
                format!("JetStream did not acknowledge {subject} in time")
            }
            _ => format!("publishing {subject} failed: {detail}"),
        })
    }
}

#[async_trait]
impl Sink for NatsSink {
    fn name(&self) -> &str {
        "nats"
    }

    async fn deliver(&self, events: &[Delivery]) -> SinkOutcome {
        if self.client.connection_state() != State::Connected {
            return SinkOutcome::stopped(
                0,
                Error::backend("not connected to the NATS server".to_owned()),
            );
        }
        if let Err(e) = self.ensure_stream().await {
            return SinkOutcome::stopped(0, e);
        }
        let mut acks: Vec<(String, PublishAckFuture)> = Vec::with_capacity(events.len());
        let mut stopped = None;
        for delivery in events {
            let subject = self.subject(delivery);
            let mut headers = HeaderMap::new();
            headers.insert(header::NATS_MESSAGE_ID, delivery.event.id.as_str());
            match self
                .jetstream
                .publish_with_headers(subject.clone(), headers, delivery.payload.clone())
                .await
            {
                Ok(ack) => acks.push((subject, ack)),
                Err(e) => {
                    stopped = Some(self.publish_error(&subject, e.kind(), e.to_string()));
                    break;
                }
            }
        }
        let mut accepted = 0;
        for (subject, ack) in acks {
            match ack.await {
                Ok(_) => accepted += 1,
                Err(e) => {
                    return SinkOutcome::stopped(
                        accepted,
                        self.publish_error(&subject, e.kind(), e.to_string()),
                    );
                }
            }
        }
        match stopped {
            Some(error) => SinkOutcome::stopped(accepted, error),
            None => SinkOutcome::all(accepted),
        }
    }
}

#[cfg(test)]
mod tests {
    use missionops_core::{EventId, EventType, JsonObject, Severity, SpacecraftId, Timestamp};

    use super::*;

    fn event(spacecraft: Option<&str>) -> MissionEvent {
        MissionEvent {
            id: EventId::parse("ev-1").expect("id"),
            sequence: 1,
            spacecraft_id: spacecraft.map(|s| SpacecraftId::parse(s).expect("spacecraft")),
            timestamp: Timestamp::from_millis(0).expect("time"),
            event_type: EventType::ConfigChanged,
            severity: Severity::Low,
            message: "m".to_owned(),
            metadata: JsonObject::new(),
        }
    }

    #[test]
    fn subjects_name_the_tenant_the_spacecraft_and_the_type() {
        let p = DEFAULT_SUBJECT_PREFIX;
        let default = TenantId::default();
        assert_eq!(
            nats_subject(p, &default, &event(Some("SC-001"))),
            "missionops.events.default.SC-001.CONFIG_CHANGED"
        );
        assert_eq!(
            nats_subject(p, &default, &event(None)),
            "missionops.events.default._.CONFIG_CHANGED"
        );
        let mission = TenantId::parse("mission-a").expect("tenant");
        assert_eq!(
            nats_subject(p, &mission, &event(Some("SC-001"))),
            "missionops.events.mission-a.SC-001.CONFIG_CHANGED"
        );
    }

    #[test]
    fn tenants_and_spacecraft_ids_stay_one_token() {
        let p = "ops";
        let default = TenantId::default();
        assert_eq!(
            nats_subject(p, &default, &event(Some("a.b*c>d%e"))),
            "ops.default.a%2Eb%2Ac%3Ed%25e.CONFIG_CHANGED"
        );
        assert_eq!(
            nats_subject(p, &default, &event(Some("_"))),
            "ops.default.%5F.CONFIG_CHANGED"
        );
        let odd = TenantId::parse("a.b*c>d%e").expect("tenant");
        assert_eq!(
            nats_subject(p, &odd, &event(None)),
            "ops.a%2Eb%2Ac%3Ed%25e._.CONFIG_CHANGED"
        );
    }

    #[test]
    fn bad_settings_name_their_flag_without_quoting_the_url() {
        let err = NatsConfig::new("nats://user:secret@[::1")
            .validate()
            .expect_err("bad url");
        assert!(err.to_string().starts_with("nats-url:"), "{err}");
        assert!(!err.to_string().contains("secret"));
        for prefix in ["", "a..b", "a.*", "a.>", "a b"] {
            let config = NatsConfig {
                subject_prefix: prefix.to_owned(),
                ..NatsConfig::new("nats://127.0.0.1:4222")
            };
            let err = config.validate().expect_err(prefix);
            assert!(err.to_string().starts_with("nats-subject-prefix:"), "{err}");
        }
        assert!(NatsConfig::new("nats://127.0.0.1:4222").validate().is_ok());
        assert!(
            NatsConfig::new("127.0.0.1:4222, nats://h:4223")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn the_default_stream_name_follows_the_prefix() {
        assert_eq!(
            NatsConfig::new("nats://x").stream_name(),
            "MISSIONOPS_EVENTS"
        );
    }
}
