//! The clock tick loading the monitors of a fleet after a restart: their history and open
//! alarms read for the list, not one spacecraft at a time, and an operator's change to an
//! alarm made while those reads run never undone by a monitor built from an older copy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use missionops_core::{
    Alarm, AlarmFilter, AlarmRepository, AlarmState, AlarmStates, ConfigStatus, ManualClock,
    MissionOps, NewSnapshot, NewSpacecraft, Operator, SequentialIds, SpacecraftConfig,
    SpacecraftId, SpacecraftName, Store, TenantId, Timestamp,
};
use missionops_store::MemoryStore;
use missionops_store::conformance::intercept::{Intercepted, Interceptor};
use serde_json::json;

const FLEET: [&str; 4] = ["SC-1", "SC-2", "SC-3", "SC-4"];

fn t0() -> Timestamp {
    Timestamp::parse("2025-06-01T00:00:00Z").expect("ts")
}

fn sc(id: &str) -> SpacecraftId {
    SpacecraftId::parse(id).expect("id")
}

fn sample(spacecraft: &str, second: i64, temp: f64) -> NewSnapshot {
    serde_json::from_value(json!({
        "id": format!("{spacecraft}-{second}"),
        "spacecraftId": spacecraft,
        "timestamp": t0().add_millis(second * 1000).to_string(),
        "parameters": {"temp": temp},
    }))
    .expect("snapshot")
}

/// The reads a monitor is rebuilt from: one spacecraft's at a time, and for a list.
#[derive(Default)]
struct RebuildReads {
    /// `recent_telemetry` and `list_alarms` of one spacecraft, by spacecraft.
    one_by_one: Mutex<HashMap<String, usize>>,
    /// The spacecraft of each `open_alarms_of`, then of each `recent_telemetry_of`.
    alarm_lists: Mutex<Vec<Vec<String>>>,
    history_lists: Mutex<Vec<Vec<String>>>,
    /// Run (once) before the next history read for a list: after its alarms were read.
    between: Mutex<Option<BoxFuture<'static, ()>>>,
}

impl RebuildReads {
    fn take_one_by_one(&self) -> HashMap<String, usize> {
        std::mem::take(&mut *self.one_by_one.lock().expect("reads"))
    }

    fn count(&self, spacecraft: &SpacecraftId) {
        *self
            .one_by_one
            .lock()
            .expect("reads")
            .entry(spacecraft.as_str().to_owned())
            .or_default() += 1;
    }
}

fn names(spacecraft: &[SpacecraftId]) -> Vec<String> {
    spacecraft.iter().map(|id| id.as_str().to_owned()).collect()
}

#[async_trait::async_trait]
impl Interceptor for RebuildReads {
    async fn before_recent_telemetry(&self, spacecraft: &SpacecraftId) {
        self.count(spacecraft);
    }

    async fn before_list_alarms(&self, filter: &AlarmFilter) {
        if let Some(spacecraft) = &filter.spacecraft_id {
            self.count(spacecraft);
        }
    }

    async fn before_open_alarms_of(&self, spacecraft: &[SpacecraftId]) {
        self.alarm_lists
            .lock()
            .expect("reads")
            .push(names(spacecraft));
    }

    async fn before_recent_telemetry_of(&self, spacecraft: &[SpacecraftId]) {
        self.history_lists
            .lock()
            .expect("reads")
            .push(names(spacecraft));
        let step = self.between.lock().expect("reads").take();
        if let Some(step) = step {
            step.await;
        }
    }
}

/// A fleet with limits on `temp` whose every spacecraft sent a violating sample (one `ACTIVE`
/// alarm each), written by an application that is then gone; and a new application over the
/// same store (a restart) that has loaded no monitor yet.
struct Restarted {
    app: MissionOps,
    store: Arc<Intercepted<RebuildReads>>,
    clock: Arc<ManualClock>,
}

impl Restarted {
    async fn new() -> Self {
        let store = Arc::new(Intercepted::wrap(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            RebuildReads::default(),
        ));
        let clock = Arc::new(ManualClock::new(t0()));
        // One generator for both: the restarted application goes on where the first stopped.
        let ids = Arc::new(SequentialIds::new());
        let before = MissionOps::new(store.clone(), clock.clone(), ids.clone());
        let limits = SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": 45}}}))
            .expect("config");
        for id in FLEET {
            before
                .register_spacecraft(NewSpacecraft::named(
                    sc(id),
                    SpacecraftName::parse(id).expect("name"),
                ))
                .await
                .expect("register");
            before
                .set_config(&sc(id), limits.clone(), ConfigStatus::Approved, None)
                .await
                .expect("config");
            before.ingest(sample(id, 1, 20.0)).await.expect("in limits");
            before.ingest(sample(id, 2, 50.0)).await.expect("violating");
        }
        drop(before);
        let app = MissionOps::new(store.clone(), clock.clone(), ids);
        store.take_one_by_one();
        Restarted { app, store, clock }
    }

    async fn alarm_of(&self, id: &str) -> Alarm {
        let mut alarms = self
            .store
            .list_alarms(
                &TenantId::default_tenant(),
                &AlarmFilter {
                    spacecraft_id: Some(sc(id)),
                    states: AlarmStates::All,
                },
            )
            .await
            .expect("alarms");
        assert_eq!(alarms.len(), 1, "{id}: one alarm, {alarms:?}");
        alarms.remove(0)
    }
}

#[tokio::test]
async fn after_a_restart_the_tick_rebuilds_the_fleets_monitors_from_one_read_for_the_list() {
    let fleet = Restarted::new().await;
    let store = &fleet.store;
    let before: Vec<Alarm> =
        futures_util::future::join_all(FLEET.map(|id| fleet.alarm_of(id))).await;
    store.take_one_by_one();
    fleet.clock.advance_millis(3_000);
    let report = fleet.app.tick().await.expect("tick");
    assert_eq!(report.spacecraft, FLEET.len(), "every monitor loaded");
    assert_eq!(
        store.take_one_by_one(),
        HashMap::new(),
        "nothing read one spacecraft at a time"
    );
    let every: Vec<String> = FLEET.map(str::to_owned).to_vec();
    assert_eq!(
        *store.alarm_lists.lock().expect("reads"),
        std::slice::from_ref(&every)
    );
    assert_eq!(*store.history_lists.lock().expect("reads"), [every]);
    // Rebuilt with their alarms: a further violation counts on the alarm it belongs to (a
    // monitor without it would open a second one), and its level is unchanged.
    for id in FLEET {
        fleet
            .app
            .ingest(sample(id, 4, 55.0))
            .await
            .expect("violating again");
    }
    assert_eq!(
        store.take_one_by_one(),
        HashMap::new(),
        "the writes read nothing to rebuild"
    );
    for (id, was) in FLEET.iter().zip(before) {
        let alarm = fleet.alarm_of(id).await;
        assert_eq!(alarm.id, was.id, "{id}");
        assert_eq!(alarm.state, AlarmState::Active, "{id}");
        assert_eq!(alarm.violation_count, was.violation_count + 1, "{id}");
    }
}

#[tokio::test]
async fn an_alarm_acknowledged_while_the_tick_reads_for_the_list_stays_acknowledged() {
    // The tick reads the fleet's open alarms, then their history; an operator acknowledges
    // SC-2's alarm in between. SC-2's monitor must not be built from the alarm read before
    // (still ACTIVE): its next violation would store that copy over the acknowledgement.
    let fleet = Restarted::new().await;
    let store = &fleet.store;
    let was = fleet.alarm_of("SC-2").await;
    let alarm = was.id.clone();
    store.take_one_by_one();
    let app = fleet.app.clone();
    *store.between.lock().expect("reads") = Some(Box::pin(async move {
        app.acknowledge_alarm(
            &alarm,
            Operator::parse("flight").expect("operator"),
            Some("on it".to_owned()),
        )
        .await
        .expect("acknowledged during the tick's reads");
    }));
    fleet.clock.advance_millis(3_000);
    fleet.app.tick().await.expect("tick");
    let reads = store.take_one_by_one();
    assert!(
        reads.get("SC-2").is_some_and(|n| *n >= 2),
        "SC-2 read its own history and alarms: {reads:?}"
    );
    assert!(
        reads.keys().all(|id| id == "SC-2"),
        "the others took the list's: {reads:?}"
    );
    fleet
        .app
        .ingest(sample("SC-2", 4, 55.0))
        .await
        .expect("violating again");
    let alarm = fleet.alarm_of("SC-2").await;
    assert_eq!(alarm.state, AlarmState::Acknowledged, "{alarm:?}");
    assert_eq!(
        alarm.acknowledged_by.as_ref().map(Operator::as_str),
        Some("flight")
    );
    assert_eq!(
        alarm.violation_count,
        was.violation_count + 1,
        "the violation still counted"
    );
}
