//! The streaming monitor and the alarm lifecycle, through the application services over the
//! in-memory store: one test per rule field and per alarm transition.

use std::sync::Arc;

use missionops_core::{
    Alarm, AlarmFilter, AlarmId, AlarmState, AlarmStates, AnomalyKind, ConfigSource, ConfigStatus,
    Error, EventType, IngestMode, Limit, ManualClock, MissionEvent, MissionOps, NewSnapshot,
    Operator, SequentialIds, Severity, SnapshotId, SpacecraftConfig, SpacecraftId, Store,
    Timestamp,
};
use missionops_store::MemoryStore;
use serde_json::{Value, json};

/// One spacecraft, `SC-1`, fed one sample a second; the clock follows the samples.
struct Desk {
    app: MissionOps,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    ids: Arc<SequentialIds>,
    second: i64,
    /// Events already looked at.
    seen: usize,
}

fn t0() -> Timestamp {
    Timestamp::parse("2025-06-01T00:00:00Z").expect("ts")
}

fn sc1() -> SpacecraftId {
    SpacecraftId::parse("SC-1").expect("id")
}

fn operator(name: &str) -> Operator {
    Operator::parse(name).expect("operator")
}

impl Desk {
    async fn with_rules(parameters: Value) -> Desk {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(t0()));
        let ids = Arc::new(SequentialIds::new());
        let app = MissionOps::new(store.clone(), clock.clone(), ids.clone());
        let desk = Desk {
            app,
            store,
            clock,
            ids,
            second: 0,
            seen: 0,
        };
        desk.configure(parameters).await;
        desk
    }

    async fn configure(&self, parameters: Value) {
        let config = SpacecraftConfig::parse(json!({ "parameters": parameters })).expect("config");
        self.app
            .set_config(
                &sc1(),
                config,
                ConfigStatus::Approved,
                Some(ConfigSource::Manual),
            )
            .await
            .expect("config");
    }

    /// The same application restarted over the same store.
    fn restarted(&self) -> MissionOps {
        MissionOps::new(self.store.clone(), self.clock.clone(), self.ids.clone())
    }

    fn sample(&mut self, parameters: Value) -> NewSnapshot {
        self.second += 1;
        self.clock.set(t0().add_millis(self.second * 1000));
        self.sample_at(self.second, parameters)
    }

    fn sample_at(&self, second: i64, parameters: Value) -> NewSnapshot {
        serde_json::from_value(json!({
            "spacecraftId": "SC-1",
            "timestamp": t0().add_millis(second * 1000).to_string(),
            "parameters": parameters,
        }))
        .expect("snapshot")
    }

    /// Feeds one live sample a second.
    async fn feed(&mut self, parameters: Value) {
        let snapshot = self.sample(parameters);
        self.app.ingest(snapshot).await.expect("ingest");
    }

    /// Feeds `temp` values, one a second.
    async fn temps(&mut self, values: &[f64]) {
        for v in values {
            self.feed(json!({ "temp": v })).await;
        }
    }

    async fn alarms(&self, states: AlarmStates) -> Vec<Alarm> {
        self.app
            .list_alarms(&AlarmFilter {
                spacecraft_id: Some(sc1()),
                states,
            })
            .await
            .expect("alarms")
    }

    async fn only_alarm(&self) -> Alarm {
        let all = self.alarms(AlarmStates::All).await;
        assert_eq!(all.len(), 1, "exactly one alarm expected: {all:?}");
        all.into_iter().next().expect("one")
    }

    /// The events recorded since the last call, oldest first.
    async fn new_events(&mut self) -> Vec<MissionEvent> {
        let events = self
            .app
            .events_after(0, None, Limit::new(1000, 1000).expect("limit"))
            .await
            .expect("events");
        let fresh = events[self.seen..].to_vec();
        self.seen = events.len();
        fresh
    }

    async fn new_event_types(&mut self) -> Vec<EventType> {
        let events = self.new_events().await;
        events.into_iter().map(|e| e.event_type).collect()
    }

    async fn anomaly_kinds(&self) -> Vec<AnomalyKind> {
        let mut anomalies = self
            .app
            .list_anomalies(&sc1(), Limit::new(1000, 1000).expect("limit"))
            .await
            .expect("anomalies");
        anomalies.reverse();
        anomalies.into_iter().map(|a| a.kind).collect()
    }
}

/// The events of an alarm that is raised, escalates once and clears.
const RAISED_ESCALATED_CLEARED: [EventType; 3] = [
    EventType::Anomaly,
    EventType::Anomaly,
    EventType::AnomalyCleared,
];

#[tokio::test]
async fn compat_limits_open_one_alarm_per_excursion_and_record_every_violating_sample() {
    let mut desk = Desk::with_rules(json!({"temp": {"warnHigh": 45, "critHigh": 70}})).await;
    desk.new_events().await;
    desk.temps(&[20.0, 50.0, 55.0, 80.0, 30.0]).await;
    let alarm = desk.only_alarm().await;
    assert_eq!(alarm.kind, AnomalyKind::CritHigh, "the worst kind seen");
    assert_eq!(alarm.severity, Severity::High);
    assert_eq!(alarm.violation_count, 3);
    assert_eq!(alarm.opened_at, t0().add_millis(2000));
    assert_eq!(alarm.cleared_at, Some(t0().add_millis(5000)));
    assert_eq!(
        alarm.state,
        AlarmState::Active,
        "unacknowledged, it stays active"
    );
    assert_eq!(
        desk.anomaly_kinds().await,
        [
            AnomalyKind::WarnHigh,
            AnomalyKind::WarnHigh,
            AnomalyKind::CritHigh
        ]
    );
    // Raised, escalated, cleared.
    assert_eq!(desk.new_event_types().await, RAISED_ESCALATED_CLEARED);
}

#[tokio::test]
async fn persistence_waits_for_n_consecutive_violations() {
    let mut desk = Desk::with_rules(json!({"temp": {"warnHigh": 45, "persistence": 3}})).await;
    desk.new_events().await;
    desk.temps(&[50.0, 50.0, 20.0, 50.0, 50.0]).await;
    assert!(desk.alarms(AlarmStates::All).await.is_empty());
    assert!(desk.anomaly_kinds().await.is_empty());
    assert!(desk.new_events().await.is_empty());
    desk.temps(&[50.0, 51.0]).await;
    let alarm = desk.only_alarm().await;
    assert_eq!(
        alarm.opened_at,
        t0().add_millis(6000),
        "the third in a row raises it"
    );
    assert_eq!(alarm.violation_count, 2);
    assert_eq!(desk.anomaly_kinds().await.len(), 2);
    assert_eq!(desk.new_event_types().await, [EventType::Anomaly]);
}

#[tokio::test]
async fn a_deadband_holds_the_alarm_until_the_value_is_well_inside() {
    let mut desk = Desk::with_rules(json!({"temp": {"warnHigh": 45, "deadband": 5}})).await;
    desk.temps(&[50.0, 44.0, 46.0, 41.0, 39.0, 43.0]).await;
    let alarm = desk.only_alarm().await;
    assert_eq!(alarm.opened_at, t0().add_millis(1000));
    assert_eq!(
        alarm.cleared_at,
        Some(t0().add_millis(5000)),
        "44 and 41 are inside the deadband (above 45 - 5); 39 is not"
    );
    assert_eq!(alarm.violation_count, 2);
}

#[tokio::test]
async fn max_rate_opens_a_rate_alarm_that_escalates_and_clears() {
    let mut desk = Desk::with_rules(json!({"temp": {"maxRate": {"warn": 2, "crit": 10}}})).await;
    desk.new_events().await;
    desk.temps(&[10.0, 13.0, 30.0, 31.0]).await;
    let alarm = desk.only_alarm().await;
    assert_eq!(alarm.kind, AnomalyKind::RateCrit);
    assert_eq!(alarm.severity, Severity::High);
    assert_eq!(alarm.cleared_at, Some(t0().add_millis(4000)));
    assert_eq!(
        desk.anomaly_kinds().await,
        [AnomalyKind::RateWarn, AnomalyKind::RateCrit]
    );
    assert_eq!(desk.new_event_types().await, RAISED_ESCALATED_CLEARED);
}

#[tokio::test]
async fn allowed_and_forbidden_states_raise_state_alarms_with_their_severity() {
    let mut desk = Desk::with_rules(json!({
        "mode": {"allowed": ["CRUISE", "SAFE"], "severity": {"state": "CRITICAL"}},
        "heater": {"forbidden": [true]},
    }))
    .await;
    desk.feed(json!({"mode": "CRUISE", "heater": false})).await;
    assert!(desk.alarms(AlarmStates::All).await.is_empty());
    desk.feed(json!({"mode": "TUMBLE", "heater": true})).await;
    let alarms = desk.alarms(AlarmStates::All).await;
    assert_eq!(alarms.len(), 2);
    let mode = alarms
        .iter()
        .find(|a| a.parameter.as_str() == "mode")
        .expect("mode alarm");
    assert_eq!(
        (mode.kind, mode.severity),
        (AnomalyKind::State, Severity::Critical)
    );
    let heater = alarms
        .iter()
        .find(|a| a.parameter.as_str() == "heater")
        .expect("heater alarm");
    assert_eq!(
        (heater.kind, heater.severity),
        (AnomalyKind::State, Severity::Medium)
    );
    desk.feed(json!({"mode": "SAFE", "heater": false})).await;
    assert!(
        desk.alarms(AlarmStates::All)
            .await
            .iter()
            .all(|a| a.cleared_at.is_some())
    );
}

#[tokio::test]
async fn severity_overrides_apply_to_limit_alarms() {
    let mut desk = Desk::with_rules(json!({
        "temp": {"warnHigh": 45, "critHigh": 70, "severity": {"warn": "LOW", "crit": "CRITICAL"}}
    }))
    .await;
    desk.temps(&[50.0]).await;
    assert_eq!(desk.only_alarm().await.severity, Severity::Low);
    desk.temps(&[90.0]).await;
    assert_eq!(desk.only_alarm().await.severity, Severity::Critical);
}

#[tokio::test]
async fn a_disabled_rule_raises_nothing() {
    let mut desk = Desk::with_rules(json!({"temp": {"warnHigh": 45, "enabled": false}})).await;
    desk.temps(&[90.0, 95.0]).await;
    assert!(desk.alarms(AlarmStates::All).await.is_empty());
    assert!(desk.anomaly_kinds().await.is_empty());
}

#[tokio::test]
async fn switching_the_limit_set_context_changes_thresholds_from_the_next_sample() {
    let mut desk = Desk::with_rules(json!({
        "ccd_temp": {
            "warnHigh": -10,
            "limitSets": [{"when": {"imaging_mode": "IDLE"}, "warnHigh": 5}]
        }
    }))
    .await;
    desk.feed(json!({"imaging_mode": "IDLE", "ccd_temp": 0}))
        .await;
    assert!(
        desk.alarms(AlarmStates::All).await.is_empty(),
        "IDLE allows up to 5"
    );
    desk.feed(json!({"imaging_mode": "IMAGING", "ccd_temp": 0}))
        .await;
    let alarm = desk.only_alarm().await;
    assert_eq!(alarm.opened_at, t0().add_millis(2000));
    assert_eq!(alarm.kind, AnomalyKind::WarnHigh);
    desk.feed(json!({"imaging_mode": "IDLE", "ccd_temp": 0}))
        .await;
    assert_eq!(
        desk.only_alarm().await.cleared_at,
        Some(t0().add_millis(3000))
    );
}

#[tokio::test]
async fn silence_goes_stale_on_the_tick_and_contact_is_lost_once() {
    let mut desk = Desk::with_rules(json!({
        "temp": {"staleAfterSec": 10},
        "volt": {"staleAfterSec": 30},
    }))
    .await;
    desk.feed(json!({"temp": 20, "volt": 28})).await;
    desk.new_events().await;
    desk.clock.advance_millis(5_000);
    desk.app.tick().await.expect("tick");
    assert!(desk.new_events().await.is_empty(), "not stale yet");
    desk.clock.advance_millis(10_000);
    desk.app.tick().await.expect("tick");
    assert_eq!(desk.new_event_types().await, [EventType::Anomaly]);
    let stale = desk.only_alarm().await;
    assert_eq!(
        (stale.kind, stale.parameter.as_str()),
        (AnomalyKind::Stale, "temp")
    );
    assert_eq!(desk.anomaly_kinds().await, [AnomalyKind::Stale]);
    desk.clock.advance_millis(20_000);
    desk.app.tick().await.expect("tick");
    assert_eq!(
        desk.new_event_types().await,
        [EventType::Anomaly, EventType::ContactLost],
        "volt goes stale too, and with it the whole spacecraft"
    );
    desk.clock.advance_millis(60_000);
    desk.app.tick().await.expect("tick");
    assert!(desk.new_events().await.is_empty(), "contact is lost once");
    // Telemetry comes back: both stale alarms clear and contact is regained.
    desk.second = 200;
    desk.feed(json!({"temp": 20, "volt": 28})).await;
    let types = desk.new_event_types().await;
    assert_eq!(
        types,
        [
            EventType::AnomalyCleared,
            EventType::AnomalyCleared,
            EventType::Info
        ]
    );
    assert!(
        desk.alarms(AlarmStates::All)
            .await
            .iter()
            .all(|a| a.cleared_at.is_some())
    );
}

#[tokio::test]
async fn an_operator_acknowledges_then_the_alarm_clears() {
    let mut desk =
        Desk::with_rules(json!({"temp": {"warnHigh": 45, "persistence": 3, "deadband": 2}})).await;
    desk.new_events().await;
    // A noisy excursion: one alarm however much it wobbles around the limit.
    desk.temps(&[46.0, 47.0, 46.5, 44.5, 46.0, 45.5, 44.0])
        .await;
    let alarm = desk.only_alarm().await;
    assert_eq!(alarm.state, AlarmState::Active);
    let acked = desk
        .app
        .acknowledge_alarm(&alarm.id, operator("flight"), Some("on it".to_owned()))
        .await
        .expect("ack");
    assert_eq!(acked.state, AlarmState::Acknowledged);
    assert_eq!(acked.acknowledged_by, Some(operator("flight")));
    assert_eq!(acked.comment.as_deref(), Some("on it"));
    assert_eq!(acked.acknowledged_at, Some(desk.clock_now()));
    let again = desk
        .app
        .acknowledge_alarm(&alarm.id, operator("flight"), None)
        .await;
    assert!(matches!(again, Err(Error::Conflict { .. })), "{again:?}");
    desk.temps(&[42.0]).await;
    let done = desk.only_alarm().await;
    assert_eq!(done.state, AlarmState::Cleared);
    assert_eq!(
        done.acknowledged_by,
        Some(operator("flight")),
        "the monitor kept the operator's changes"
    );
    assert_eq!(
        desk.new_event_types().await,
        [
            EventType::Anomaly,
            EventType::AlarmAcknowledged,
            EventType::AnomalyCleared
        ]
    );
    assert!(desk.alarms(AlarmStates::Open).await.is_empty());
}

impl Desk {
    fn clock_now(&self) -> Timestamp {
        use missionops_core::Clock;
        self.clock.now()
    }
}

#[tokio::test]
async fn an_alarm_that_clears_unacknowledged_stays_listed_until_acknowledged() {
    let mut desk = Desk::with_rules(json!({"temp": {"warnHigh": 45}})).await;
    desk.temps(&[50.0, 20.0]).await;
    let open = desk.alarms(AlarmStates::Open).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].state, AlarmState::Active);
    assert!(open[0].cleared_at.is_some());
    let acked = desk
        .app
        .acknowledge_alarm(&open[0].id, operator("flight"), None)
        .await
        .expect("ack");
    assert_eq!(acked.state, AlarmState::Cleared);
    assert!(desk.alarms(AlarmStates::Open).await.is_empty());
    assert_eq!(
        desk.alarms(AlarmStates::Only(AlarmState::Cleared))
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_shelved_alarm_raises_no_events_until_unshelved() {
    let mut desk = Desk::with_rules(json!({"temp": {"warnHigh": 45, "critHigh": 70}})).await;
    desk.temps(&[50.0]).await;
    let alarm = desk.only_alarm().await;
    desk.new_events().await;
    let past = desk
        .app
        .shelve_alarm(&alarm.id, t0(), operator("flight"), None)
        .await;
    assert!(
        matches!(&past, Err(Error::Invalid { field, .. }) if field == "until"),
        "{past:?}"
    );
    let until = t0().add_millis(3_600_000);
    let shelved = desk
        .app
        .shelve_alarm(
            &alarm.id,
            until,
            operator("flight"),
            Some("known heater issue".to_owned()),
        )
        .await
        .expect("shelve");
    assert_eq!(shelved.state, AlarmState::Shelved);
    assert_eq!(shelved.shelved_until, Some(until));
    assert_eq!(desk.new_event_types().await, [EventType::Info]);
    desk.temps(&[90.0, 95.0]).await;
    assert!(
        desk.new_events().await.is_empty(),
        "no escalation event while shelved"
    );
    let during = desk.only_alarm().await;
    assert_eq!(
        (during.violation_count, during.severity),
        (3, Severity::High)
    );
    assert_eq!(during.state, AlarmState::Shelved);
    let back = desk
        .app
        .unshelve_alarm(&alarm.id, operator("flight"))
        .await
        .expect("unshelve");
    assert_eq!((back.state, back.shelved_until), (AlarmState::Active, None));
    let twice = desk.app.unshelve_alarm(&alarm.id, operator("flight")).await;
    assert!(matches!(twice, Err(Error::Conflict { .. })), "{twice:?}");
    desk.temps(&[20.0]).await;
    assert_eq!(
        desk.new_event_types().await,
        [EventType::Info, EventType::AnomalyCleared]
    );
}

#[tokio::test]
async fn a_shelving_runs_out_on_the_tick_and_clearing_while_shelved_is_silent() {
    let mut desk =
        Desk::with_rules(json!({"temp": {"warnHigh": 45}, "volt": {"warnLow": 20}})).await;
    desk.feed(json!({"temp": 50, "volt": 10})).await;
    let alarms = desk.alarms(AlarmStates::All).await;
    let temp = alarms
        .iter()
        .find(|a| a.parameter.as_str() == "temp")
        .expect("temp")
        .clone();
    let volt = alarms
        .iter()
        .find(|a| a.parameter.as_str() == "volt")
        .expect("volt")
        .clone();
    let soon = desk.clock_now().add_millis(60_000);
    for alarm in [&temp, &volt] {
        desk.app
            .shelve_alarm(&alarm.id, soon, operator("flight"), None)
            .await
            .expect("shelve");
    }
    desk.new_events().await;
    desk.feed(json!({"temp": 50, "volt": 28})).await;
    assert!(desk.new_events().await.is_empty(), "volt cleared silently");
    let volt_now = desk.app.get_alarm(&volt.id).await.expect("volt");
    assert_eq!(volt_now.state, AlarmState::Cleared);
    desk.clock.advance_millis(120_000);
    let report = desk.app.tick().await.expect("tick");
    assert_eq!(report.unshelved, 1);
    let temp_now = desk.app.get_alarm(&temp.id).await.expect("temp");
    assert_eq!(
        (temp_now.state, temp_now.shelved_until),
        (AlarmState::Active, None)
    );
}

#[tokio::test]
async fn played_back_telemetry_records_anomalies_but_pages_nobody() {
    let mut desk = Desk::with_rules(json!({"temp": {"warnHigh": 45, "persistence": 2}})).await;
    desk.new_events().await;
    let old_pass: Vec<NewSnapshot> = [50.0, 50.0, 20.0, 60.0]
        .iter()
        .enumerate()
        .map(|(i, v)| desk.sample_at(-100 + i as i64, json!({ "temp": v })))
        .collect();
    let done = desk
        .app
        .ingest_batch_as(old_pass, IngestMode::Stored)
        .await
        .expect("stored ingest");
    assert_eq!(done.outcome.inserted, 4);
    assert_eq!(
        desk.anomaly_kinds().await,
        [AnomalyKind::WarnHigh],
        "persistence 2 holds within the pass too"
    );
    assert!(desk.alarms(AlarmStates::All).await.is_empty());
    assert!(desk.new_events().await.is_empty());
    // The live monitor did not see the pass: one live violation is not two in a row.
    desk.temps(&[50.0]).await;
    assert!(desk.alarms(AlarmStates::All).await.is_empty());
}

#[tokio::test]
async fn out_of_order_samples_are_checked_but_move_no_state() {
    let mut desk = Desk::with_rules(json!({
        "temp": {"warnHigh": 45},
        "volt": {"warnHigh": 30, "persistence": 2},
    }))
    .await;
    desk.feed(json!({"temp": 20, "volt": 20})).await;
    desk.feed(json!({"temp": 20, "volt": 20})).await;
    desk.new_events().await;
    // Older than the newest sample of each parameter: recorded, but no alarm.
    let late = desk.sample_at(1, json!({"temp": 50, "volt": 40}));
    desk.app.ingest(late).await.expect("late");
    assert_eq!(desk.anomaly_kinds().await, [AnomalyKind::WarnHigh]);
    assert!(desk.alarms(AlarmStates::All).await.is_empty());
    assert!(desk.new_events().await.is_empty());
    // It did not count towards volt's persistence either.
    desk.feed(json!({"temp": 20, "volt": 40})).await;
    assert!(desk.alarms(AlarmStates::All).await.is_empty());
    desk.feed(json!({"temp": 20, "volt": 40})).await;
    assert_eq!(desk.only_alarm().await.parameter.as_str(), "volt");
}

#[tokio::test]
async fn a_retried_batch_moves_no_state_twice() {
    let mut desk = Desk::with_rules(json!({"temp": {"warnHigh": 45}})).await;
    let batch = vec![
        desk.sample(json!({"temp": 50})),
        desk.sample(json!({"temp": 55})),
    ];
    let mut with_ids = Vec::new();
    for (i, mut s) in batch.into_iter().enumerate() {
        s.id = Some(SnapshotId::parse(format!("retry-{i}")).expect("id"));
        with_ids.push(s);
    }
    desk.app
        .ingest_batch(with_ids.clone())
        .await
        .expect("first");
    desk.app.ingest_batch(with_ids).await.expect("retry");
    assert_eq!(desk.only_alarm().await.violation_count, 2);
    assert_eq!(desk.anomaly_kinds().await.len(), 2);
}

#[tokio::test]
async fn a_failed_write_leaves_the_monitor_as_it_was() {
    let mut desk = Desk::with_rules(json!({"temp": {"warnHigh": 45, "persistence": 2}})).await;
    let mut stored = desk.sample(json!({"temp": 20}));
    stored.id = Some(SnapshotId::parse("taken").expect("id"));
    desk.app.ingest(stored.clone()).await.expect("store");
    // A batch whose second snapshot reuses a stored id with other content is rejected whole.
    let violating = desk.sample(json!({"temp": 50}));
    let mut clash = stored;
    clash.parameters = serde_json::from_value(json!({"temp": 21})).expect("parameters");
    let rejected = desk.app.ingest_batch(vec![violating, clash]).await;
    assert!(
        matches!(rejected, Err(Error::Conflict { .. })),
        "{rejected:?}"
    );
    // Had the rejected violation counted, this one would be the second in a row.
    desk.temps(&[50.0]).await;
    assert!(desk.alarms(AlarmStates::All).await.is_empty());
    desk.temps(&[50.0]).await;
    assert_eq!(desk.alarms(AlarmStates::All).await.len(), 1);
}

#[tokio::test]
async fn a_restart_rebuilds_runs_and_open_alarms_from_the_store() {
    let mut desk = Desk::with_rules(json!({
        "temp": {"warnHigh": 45},
        "volt": {"warnHigh": 30, "persistence": 3},
    }))
    .await;
    desk.feed(json!({"temp": 50, "volt": 40})).await;
    desk.feed(json!({"temp": 50, "volt": 40})).await;
    let before = desk.only_alarm().await;
    desk.app = desk.restarted();
    desk.feed(json!({"temp": 55, "volt": 40})).await;
    let alarms = desk.alarms(AlarmStates::All).await;
    assert_eq!(
        alarms.len(),
        2,
        "temp continues its alarm; volt reaches 3 in a row"
    );
    let temp = alarms
        .iter()
        .find(|a| a.parameter.as_str() == "temp")
        .expect("temp");
    assert_eq!(temp.id, before.id);
    assert_eq!(temp.violation_count, 3);
}

#[tokio::test]
async fn a_removed_rule_clears_its_alarm() {
    let mut desk =
        Desk::with_rules(json!({"temp": {"warnHigh": 45}, "volt": {"warnHigh": 30}})).await;
    desk.temps(&[50.0]).await;
    desk.new_events().await;
    desk.configure(json!({"volt": {"warnHigh": 30}})).await;
    desk.feed(json!({"volt": 20})).await;
    let alarm = desk.only_alarm().await;
    assert!(alarm.cleared_at.is_some());
    assert_eq!(
        desk.new_event_types().await,
        [EventType::ConfigChanged, EventType::AnomalyCleared]
    );
}

#[tokio::test]
async fn operator_actions_name_what_is_wrong() {
    let desk = Desk::with_rules(json!({"temp": {"warnHigh": 45}})).await;
    let unknown = AlarmId::parse("no-such-alarm").expect("id");
    let missing = desk
        .app
        .acknowledge_alarm(&unknown, operator("flight"), None)
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
    let store: &dyn Store = desk.store.as_ref();
    assert!(
        store
            .list_alarms(
                &missionops_core::TenantId::default(),
                &AlarmFilter::default()
            )
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn an_alarm_older_than_the_replayed_history_still_clears_after_a_restart() {
    let mut desk = Desk::with_rules(json!({
        "mode": {"allowed": ["NOMINAL"]},
        "temp": {"warnHigh": 45},
    }))
    .await;
    desk.feed(json!({"mode": "TUMBLE"})).await;
    // The mode is not reported again for longer than the history a restart replays.
    for _ in 0..missionops_core::REBUILD_HISTORY + 5 {
        desk.feed(json!({"temp": 20})).await;
    }
    desk.app = desk.restarted();
    desk.feed(json!({"mode": "NOMINAL"})).await;
    let alarm = desk.only_alarm().await;
    assert_eq!(alarm.kind, AnomalyKind::State);
    assert!(alarm.cleared_at.is_some(), "{alarm:?}");
}
