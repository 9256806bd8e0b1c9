//! The clock tick visits only the monitors that are due (the deadline index), and decides
//! exactly what visiting every monitor decides: the same stale anomalies, alarms,
//! `CONTACT_LOST` events and unshelvings, over random sequences of writes, configuration
//! changes, operator actions, restarts and ticks.

use std::sync::Arc;

use missionops_core::{
    AlarmFilter, AlarmState, AlarmStates, Clock, ConfigSource, ConfigStatus, Limit, ManualClock,
    MissionOps, NewSnapshot, Operator, SequentialIds, SpacecraftConfig, SpacecraftId, Timestamp,
};
use missionops_store::MemoryStore;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn t0() -> Timestamp {
    Timestamp::parse("2025-06-01T00:00:00Z").expect("ts")
}

fn sc(n: usize) -> SpacecraftId {
    SpacecraftId::parse(format!("SC-{n}")).expect("id")
}

/// One step of a scenario.
#[derive(Debug, Clone)]
enum Step {
    /// A live sample of spacecraft `sc`, taken `lag_ms` before now.
    Write {
        sc: usize,
        lag_ms: i64,
        temp: Option<f64>,
        volt: Option<f64>,
    },
    /// A new configuration for `sc`: `staleAfterSec` per parameter (none when `None`), and
    /// whether `volt` is monitored at all.
    Configure {
        sc: usize,
        temp_stale: Option<i64>,
        volt_stale: Option<i64>,
        volt_enabled: bool,
    },
    /// The operator acknowledges (or shelves for `shelve_ms`) the first open alarm of `sc`.
    Operate {
        sc: usize,
        shelve_ms: Option<i64>,
    },
    Advance(i64),
    Tick,
    /// A new application over the same store (monitors rebuilt from history).
    Restart,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let write = (
        0usize..3,
        prop_oneof![3 => Just(0i64), 1 => 0i64..20_000],
        proptest::option::weighted(0.8, 0.0f64..80.0),
        proptest::option::weighted(0.6, 0.0f64..40.0),
    )
        .prop_map(|(sc, lag_ms, temp, volt)| Step::Write {
            sc,
            lag_ms,
            temp,
            volt,
        });
    let configure = (
        0usize..3,
        proptest::option::weighted(0.7, 1i64..30),
        proptest::option::weighted(0.7, 1i64..30),
        proptest::bool::weighted(0.8),
    )
        .prop_map(
            |(sc, temp_stale, volt_stale, volt_enabled)| Step::Configure {
                sc,
                temp_stale,
                volt_stale,
                volt_enabled,
            },
        );
    let operate = (0usize..3, proptest::option::of(1i64..60_000))
        .prop_map(|(sc, shelve_ms)| Step::Operate { sc, shelve_ms });
    let step = prop_oneof![
        6 => write,
        2 => configure,
        1 => operate,
        4 => (0i64..40_000).prop_map(Step::Advance),
        4 => Just(Step::Tick),
        1 => Just(Step::Restart),
    ];
    proptest::collection::vec(step, 1..60)
}

/// An application with its own store, clock and ids.
struct Desk {
    app: MissionOps,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    ids: Arc<SequentialIds>,
    /// Whether this desk's ticks visit every monitor.
    every: bool,
}

impl Desk {
    fn new(every: bool) -> Desk {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(t0()));
        let ids = Arc::new(SequentialIds::new());
        let app = MissionOps::new(store.clone(), clock.clone(), ids.clone());
        Desk {
            app,
            store,
            clock,
            ids,
            every,
        }
    }

    async fn run(&mut self, step: &Step) {
        match step {
            Step::Write {
                sc: n,
                lag_ms,
                temp,
                volt,
            } => {
                let mut parameters = Map::new();
                if let Some(t) = temp {
                    parameters.insert("temp".into(), json!(t));
                }
                if let Some(v) = volt {
                    parameters.insert("volt".into(), json!(v));
                }
                parameters.insert("mode".into(), json!("CRUISE"));
                let at = self.clock.now().add_millis(-lag_ms);
                let snapshot: NewSnapshot = serde_json::from_value(json!({
                    "spacecraftId": sc(*n).as_str(),
                    "timestamp": at.to_string(),
                    "parameters": parameters,
                }))
                .expect("snapshot");
                // A repeated sample with other values conflicts: the same on both desks.
                let _ = self.app.ingest(snapshot).await;
            }
            Step::Configure {
                sc: n,
                temp_stale,
                volt_stale,
                volt_enabled,
            } => {
                let mut temp = json!({"warnHigh": 45});
                if let Some(s) = temp_stale {
                    temp["staleAfterSec"] = json!(s);
                }
                let mut volt = json!({"warnLow": 20, "enabled": volt_enabled});
                if let Some(s) = volt_stale {
                    volt["staleAfterSec"] = json!(s);
                }
                let config =
                    SpacecraftConfig::parse(json!({"parameters": {"temp": temp, "volt": volt}}))
                        .expect("config");
                self.app
                    .set_config(
                        &sc(*n),
                        config,
                        ConfigStatus::Approved,
                        Some(ConfigSource::Manual),
                    )
                    .await
                    .expect("config");
            }
            Step::Operate { sc: n, shelve_ms } => {
                let open = self
                    .app
                    .list_alarms(&AlarmFilter {
                        spacecraft_id: Some(sc(*n)),
                        states: AlarmStates::Open,
                    })
                    .await
                    .expect("alarms");
                let by = Operator::parse("flight").expect("operator");
                // The oldest open alarm not shelved (alarm ids differ between the desks).
                let mut open: Vec<_> = open
                    .into_iter()
                    .filter(|a| a.state != AlarmState::Shelved)
                    .collect();
                open.sort_by(|a, b| {
                    (a.opened_at, a.parameter.as_str(), a.kind as u8).cmp(&(
                        b.opened_at,
                        b.parameter.as_str(),
                        b.kind as u8,
                    ))
                });
                if let Some(alarm) = open.first() {
                    let _ = match shelve_ms {
                        Some(ms) => {
                            let until = self.clock.now().add_millis(*ms);
                            self.app.shelve_alarm(&alarm.id, until, by, None).await
                        }
                        None => self.app.acknowledge_alarm(&alarm.id, by, None).await,
                    };
                }
            }
            Step::Advance(ms) => self.clock.advance_millis(*ms),
            Step::Tick => {
                if self.every {
                    self.app.tick_every_monitor().await.expect("tick");
                } else {
                    self.app.tick().await.expect("tick");
                }
            }
            Step::Restart => {
                self.app =
                    MissionOps::new(self.store.clone(), self.clock.clone(), self.ids.clone());
            }
        }
    }

    /// Events, anomalies and alarms of every spacecraft, without the ids the two desks draw
    /// in different orders; events of each spacecraft in the order recorded.
    async fn outcome(&self) -> (Vec<Value>, Vec<String>, Vec<String>) {
        let events = self
            .app
            .events_after(0, None, Limit::new(10_000, 10_000).expect("limit"))
            .await
            .expect("events");
        let mut events: Vec<Value> = events
            .into_iter()
            .map(|e| {
                let mut v = serde_json::to_value(&e).expect("json");
                if let Value::Object(o) = &mut v {
                    o.remove("sequence");
                }
                without_ids(v)
            })
            .collect();
        events.sort_by_key(|e| e["spacecraftId"].to_string());
        let mut anomalies = Vec::new();
        let mut alarms = Vec::new();
        for n in 0..3 {
            for a in self
                .app
                .list_anomalies(&sc(n), Limit::new(10_000, 10_000).expect("limit"))
                .await
                .expect("anomalies")
            {
                anomalies.push(without_ids(serde_json::to_value(&a).expect("json")).to_string());
            }
            for a in self
                .app
                .list_alarms(&AlarmFilter {
                    spacecraft_id: Some(sc(n)),
                    states: AlarmStates::All,
                })
                .await
                .expect("alarms")
            {
                alarms.push(without_ids(serde_json::to_value(&a).expect("json")).to_string());
            }
        }
        anomalies.sort();
        alarms.sort();
        (events, anomalies, alarms)
    }
}

/// `value` without the ids the application draws (of events, alarms, anomalies).
fn without_ids(value: Value) -> Value {
    match value {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "id" | "alarmId" | "anomalyId"))
                .map(|(k, v)| (k, without_ids(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_ids).collect()),
        other => other,
    }
}

async fn compare(steps: &[Step]) -> Result<(), TestCaseError> {
    let mut due = Desk::new(false);
    let mut every = Desk::new(true);
    for (i, step) in steps.iter().enumerate() {
        due.run(step).await;
        every.run(step).await;
        if matches!(step, Step::Tick) {
            prop_assert_eq!(
                due.outcome().await,
                every.outcome().await,
                "after step {}",
                i
            );
        }
    }
    prop_assert_eq!(due.outcome().await, every.outcome().await);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A tick visiting only the monitors that are due records what a tick visiting every
    /// monitor records.
    #[test]
    fn ticking_the_due_monitors_equals_ticking_every_monitor(steps in steps()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(compare(&steps))?;
    }
}

/// A tick over many silent spacecraft visits none of them until one is due, then only that
/// one; a configuration change makes its spacecraft due at once.
#[tokio::test]
async fn a_tick_visits_only_the_monitors_that_are_due() {
    let desk = Desk::new(false);
    for n in 0..50 {
        let stale = if n == 7 { 10 } else { 100 };
        let config = SpacecraftConfig::parse(
            json!({"parameters": {"temp": {"warnHigh": 45, "staleAfterSec": stale}}}),
        )
        .expect("config");
        desk.app
            .set_config(&sc(n), config, ConfigStatus::Approved, None)
            .await
            .expect("config");
    }
    for n in 0..50 {
        let snapshot: NewSnapshot = serde_json::from_value(json!({
            "spacecraftId": sc(n).as_str(),
            "timestamp": t0().to_string(),
            "parameters": {"temp": 20},
        }))
        .expect("snapshot");
        desk.app.ingest(snapshot).await.expect("ingest");
    }
    // Every configuration change above made its spacecraft due; the writes rescheduled them.
    assert_eq!(desk.app.tick().await.expect("tick").spacecraft, 0);
    desk.clock.advance_millis(10_000);
    assert_eq!(
        desk.app.tick().await.expect("tick").spacecraft,
        0,
        "not overdue yet"
    );
    desk.clock.advance_millis(1);
    let report = desk.app.tick().await.expect("tick");
    assert_eq!(
        (report.spacecraft, report.alarms),
        (1, 1),
        "SC-7 goes stale"
    );
    assert_eq!(
        desk.app.tick().await.expect("tick").spacecraft,
        0,
        "and stays so"
    );
    let config =
        SpacecraftConfig::parse(json!({"parameters": {"temp": {"warnHigh": 45}}})).expect("config");
    desk.app
        .set_config(&sc(3), config, ConfigStatus::Approved, None)
        .await
        .expect("config");
    assert_eq!(desk.app.tick().await.expect("tick").spacecraft, 1);
    assert_eq!(
        desk.app
            .tick_every_monitor()
            .await
            .expect("tick")
            .spacecraft,
        50
    );
}

/// A fleet-wide outage: every spacecraft goes stale in one tick. What the monitors decide is
/// stored in groups of up to 256 spacecraft (one commit each), not one write per spacecraft,
/// and every decision is stored.
#[tokio::test]
async fn a_tick_with_the_whole_fleet_due_stores_its_decisions_in_groups() {
    use missionops_store::conformance::recording::{Recorded, RecordingStore};
    let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new())));
    let clock = Arc::new(ManualClock::new(t0()));
    let app = MissionOps::new(store.clone(), clock.clone(), Arc::new(SequentialIds::new()));
    let fleet = 300;
    let config = SpacecraftConfig::parse(
        json!({"parameters": {"temp": {"warnHigh": 45, "staleAfterSec": 10}}}),
    )
    .expect("config");
    for n in 0..fleet {
        app.set_config(&sc(n), config.clone(), ConfigStatus::Approved, None)
            .await
            .expect("config");
        let snapshot: NewSnapshot = serde_json::from_value(json!({
            "spacecraftId": sc(n).as_str(),
            "timestamp": t0().to_string(),
            "parameters": {"temp": 20},
        }))
        .expect("snapshot");
        app.ingest(snapshot).await.expect("ingest");
    }
    let before = store.calls().len();
    clock.advance_millis(11_000);
    let report = app.tick().await.expect("tick");
    assert_eq!((report.spacecraft, report.alarms), (fleet, fleet));
    let sizes: Vec<(bool, usize)> = store.calls()[before..]
        .iter()
        .map(|call| (matches!(call, Recorded::Group(_)), call.writes().len()))
        .collect();
    assert_eq!(sizes, vec![(true, 256), (true, fleet - 256)]);
    let stale = app
        .list_alarms(&AlarmFilter {
            spacecraft_id: None,
            states: AlarmStates::Open,
        })
        .await
        .expect("alarms");
    assert_eq!(stale.len(), fleet, "every stale alarm is stored");
    assert_eq!(
        app.tick().await.expect("tick").spacecraft,
        0,
        "and every monitor took its new state: none is due again"
    );
}
