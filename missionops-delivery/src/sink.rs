//! The sink port: where the dispatcher hands events, and the event as a sink gets it.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use missionops_core::{Error, MissionEvent, Result, TenantId};

/// One event on its way to a sink: the event, its tenant and its JSON, rendered once for every
/// sink.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The tenant that recorded the event (SPEC §9): the NATS subject and a webhook header
    /// name it.
    pub tenant: TenantId,
    /// The event.
    pub event: MissionEvent,
    /// The event JSON, as `GET /events` renders it (numbers as JavaScript prints them).
    pub payload: Bytes,
}

impl Delivery {
    /// The delivery of `event`, recorded by `tenant`; [`Error::Backend`] if it cannot be
    /// rendered as JSON.
    pub fn new(tenant: TenantId, event: MissionEvent) -> Result<Self> {
        let payload = missionops_core::json::to_vec_js(&event).map_err(Error::backend)?;
        Ok(Delivery {
            tenant,
            event,
            payload: Bytes::from(payload),
        })
    }
}

/// What a sink did with a run of events: it accepted the first `accepted`, and `error` says
/// why it stopped there (`None` when it accepted them all).
#[derive(Debug)]
pub struct SinkOutcome {
    /// How many of the leading events were accepted.
    pub accepted: usize,
    /// Why the next one was not.
    pub error: Option<Error>,
}

impl SinkOutcome {
    /// Every one of `count` events accepted.
    pub fn all(count: usize) -> Self {
        SinkOutcome {
            accepted: count,
            error: None,
        }
    }

    /// The first `accepted` accepted, then `error`.
    pub fn stopped(accepted: usize, error: Error) -> Self {
        SinkOutcome {
            accepted,
            error: Some(error),
        }
    }
}

/// Where events are delivered: a message broker, a webhook, …
///
/// The contract:
/// - [`deliver`](Self::deliver) gets the events of one spacecraft (or the events without one)
///   in sequence order, and must make them reach its destination in that order.
/// - It stops at the first event it cannot deliver and reports how many came before it; the
///   dispatcher will offer that event and its successors again later. It may have delivered
///   some of those anyway (an acknowledgement lost in transit): delivery is at least once.
/// - It returns within a bounded time (its own timeouts); the dispatcher also cuts it off
///   after half the claim lease and counts that as a failure of the first event.
#[async_trait]
pub trait Sink: Send + Sync + fmt::Debug {
    /// A short name for logs and errors (`nats`, `webhook https://ops.example/hook`), without
    /// secrets.
    fn name(&self) -> &str;

    /// Delivers `events`, in order, stopping at the first failure.
    async fn deliver(&self, events: &[Delivery]) -> SinkOutcome;
}

#[cfg(test)]
mod tests {
    use missionops_core::{EventId, EventType, JsonObject, Severity, SpacecraftId, Timestamp};

    use super::*;

    #[test]
    fn deliveries_carry_the_event_json() {
        let tenant = TenantId::parse("mission-a").expect("tenant");
        let delivery = Delivery::new(
            tenant.clone(),
            MissionEvent {
                id: EventId::parse("ev-7").expect("id"),
                sequence: 7,
                spacecraft_id: Some(SpacecraftId::parse("SC-1").expect("spacecraft")),
                timestamp: Timestamp::from_millis(0).expect("time"),
                event_type: EventType::Info,
                severity: Severity::Low,
                message: "m".to_owned(),
                metadata: JsonObject::new(),
            },
        )
        .expect("render");
        let json: serde_json::Value = serde_json::from_slice(&delivery.payload).expect("json");
        assert_eq!(json["sequence"], 7);
        assert_eq!(json["spacecraftId"], "SC-1");
        assert_eq!(json["type"], "INFO");
        assert_eq!(delivery.tenant, tenant);
        assert!(json.get("tenant").is_none(), "the event JSON is unchanged");
    }
}
