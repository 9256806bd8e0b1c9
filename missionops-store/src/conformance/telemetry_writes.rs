//! Conformance of the write side of [`TelemetryRepository`](missionops_core::TelemetryRepository):
//! idempotent ingest, conflicts that reject a whole batch, group commit, what a write carries.

use missionops_core::TenantId;
use missionops_core::{
    AlarmState, AnomalyKind, Error, EventType, IngestOutcome, ParameterValue, Store, TelemetryWrite,
};

use super::fixtures::*;

/// Ingest is idempotent by id: the same content again is a duplicate, stored once.
pub async fn the_same_snapshot_twice_is_stored_once(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let first = store
        .insert_telemetry(write(vec![snapshot("a", "SC-1", 1, 1.0)]))
        .await
        .expect("insert");
    assert_eq!((first.inserted, first.duplicates), (1, 0));
    let again = store
        .insert_telemetry(write(vec![
            snapshot("a", "SC-1", 1, 1.0),
            snapshot("b", "SC-1", 2, 1.0),
        ]))
        .await
        .expect("insert again");
    assert_eq!((again.inserted, again.duplicates), (1, 1));
    let all = store
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(ids(&all), ["b", "a"]);
}

/// The same id with different content rejects the whole batch, naming the index.
pub async fn a_conflicting_snapshot_rejects_the_whole_batch(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    store
        .insert_telemetry(write(vec![snapshot("a", "SC-1", 1, 1.0)]))
        .await
        .expect("insert");
    let err = store
        .insert_telemetry(TelemetryWrite {
            tenant: Default::default(),
            registrations: Vec::new(),
            snapshots: vec![snapshot("b", "SC-1", 2, 1.0), snapshot("a", "SC-1", 1, 7.0)],
            anomalies: vec![anomaly("SC-1", 2, "temp", AnomalyKind::WarnHigh)],
            alarms: Vec::new(),
            events: vec![event(5, Some("SC-1"), EventType::Anomaly)],
        })
        .await
        .expect_err("conflict");
    match err {
        Error::Conflict { id, reason, .. } => {
            assert_eq!(id, "a");
            assert!(
                reason.contains("snapshots[1]"),
                "reason must name the index: {reason}"
            );
        }
        other => panic!("expected a conflict, got {other}"),
    }
    let all = store
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(ids(&all), ["a"], "nothing of a failed batch may be stored");
    assert_eq!(
        all[0],
        snapshot("a", "SC-1", 1, 1.0),
        "the stored snapshot must not change"
    );
    let anomalies = store
        .recent_anomalies(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("anomalies");
    assert!(
        anomalies.is_empty(),
        "no anomaly of a failed batch may be stored"
    );
    assert_eq!(
        event_count(store).await,
        1,
        "no event of a failed batch may be recorded"
    );
}

/// A group of writes stores each as it would be stored alone after the ones before it: all
/// new (one transaction on a backend that groups them), then with a snapshot stored before
/// and an id repeated across writes (each write's own duplicates counted).
pub async fn a_group_of_writes_is_stored_in_order_each_with_its_outcome(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let fresh = store
        .insert_telemetry_group(vec![
            TelemetryWrite {
                tenant: Default::default(),
                registrations: Vec::new(),
                snapshots: vec![snapshot("a", "SC-1", 1, 1.0), snapshot("b", "SC-1", 2, 1.0)],
                anomalies: vec![anomaly("SC-1", 2, "temp", AnomalyKind::WarnHigh)],
                alarms: Vec::new(),
                events: vec![event(10, Some("SC-1"), EventType::Anomaly)],
            },
            write(vec![snapshot("c", "SC-1", 3, 2.0)]),
            TelemetryWrite {
                tenant: Default::default(),
                registrations: Vec::new(),
                snapshots: vec![snapshot("d", "SC-1", 3, 5.0)],
                // The same anomaly again: stored once, as two writes in a row would.
                anomalies: vec![anomaly("SC-1", 2, "temp", AnomalyKind::WarnHigh)],
                alarms: Vec::new(),
                events: vec![event(11, Some("SC-1"), EventType::Anomaly)],
            },
        ])
        .await;
    assert!(fresh.failure.is_none(), "{:?}", fresh.failure);
    assert_eq!(
        fresh.stored,
        vec![outcome(2, 0), outcome(1, 0), outcome(1, 0),]
    );
    let retried = store
        .insert_telemetry_group(vec![
            write(vec![
                snapshot("a", "SC-1", 1, 1.0),
                snapshot("e", "SC-1", 4, 1.0),
            ]),
            write(vec![snapshot("f", "SC-1", 5, 1.0)]),
            write(vec![snapshot("f", "SC-1", 5, 1.0)]),
        ])
        .await;
    assert!(retried.failure.is_none(), "{:?}", retried.failure);
    assert_eq!(
        retried.stored,
        vec![outcome(1, 1), outcome(1, 0), outcome(0, 1),]
    );
    let all = store
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(ids(&all), ["f", "e", "d", "c", "b", "a"]);
    let latest = store
        .latest_values(&TenantId::default(), &sc("SC-1"))
        .await
        .expect("latest");
    let temp = latest
        .iter()
        .find(|v| v.parameter.as_str() == "temp")
        .expect("temp");
    assert_eq!(temp.timestamp, at(5));
    let anomalies = store
        .recent_anomalies(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("anomalies");
    assert_eq!(anomalies.len(), 1);
    assert_eq!(event_count(store).await, 3);
}

/// A write of a group that fails gets its error and leaves nothing behind; the writes before
/// it are stored, the ones after it are not attempted.
pub async fn a_failed_write_of_a_group_fails_alone_and_stops_the_group(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    store
        .insert_telemetry(write(vec![snapshot("a", "SC-1", 1, 1.0)]))
        .await
        .expect("insert");
    let group = store
        .insert_telemetry_group(vec![
            write(vec![snapshot("b", "SC-1", 2, 1.0)]),
            TelemetryWrite {
                tenant: Default::default(),
                registrations: Vec::new(),
                snapshots: vec![snapshot("c", "SC-1", 3, 1.0), snapshot("a", "SC-1", 1, 7.0)],
                anomalies: Vec::new(),
                alarms: Vec::new(),
                events: vec![event(10, Some("SC-1"), EventType::Anomaly)],
            },
            write(vec![snapshot("d", "SC-1", 4, 1.0)]),
        ])
        .await;
    assert_eq!(group.stored, vec![outcome(1, 0)]);
    match group.failure {
        Some(Error::Conflict { id, reason, .. }) => {
            assert_eq!(id, "a");
            assert!(reason.contains("snapshots[1]"), "{reason}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let all = store
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(ids(&all), ["b", "a"]);
    assert_eq!(event_count(store).await, 1);
}

/// Telemetry needs its spacecraft; nothing of the batch is stored otherwise.
pub async fn telemetry_for_an_unknown_spacecraft_is_rejected(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let err = store
        .insert_telemetry(write(vec![
            snapshot("a", "SC-1", 1, 1.0),
            snapshot("b", "SC-404", 1, 1.0),
        ]))
        .await
        .expect_err("unknown spacecraft");
    assert!(matches!(err, Error::NotFound { .. }), "got {err}");
    let all = store
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert!(all.is_empty());
}

/// Anomalies and events given with telemetry are stored with it.
pub async fn telemetry_writes_carry_their_anomalies_and_events(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let outcome = store
        .insert_telemetry(TelemetryWrite {
            tenant: Default::default(),
            registrations: Vec::new(),
            snapshots: vec![snapshot("a", "SC-1", 1, 99.5)],
            anomalies: vec![anomaly("SC-1", 1, "temp", AnomalyKind::WarnHigh)],
            alarms: vec![test_alarm("al-1", "SC-1", 1)],
            events: vec![event(2, Some("SC-1"), EventType::Anomaly)],
        })
        .await
        .expect("insert");
    assert_eq!(outcome.inserted, 1);
    assert_eq!(
        store
            .get_alarm(&TenantId::default(), &test_alarm("al-1", "SC-1", 1).id)
            .await
            .expect("alarm"),
        Some(test_alarm("al-1", "SC-1", 1))
    );
    // An alarm change alone (a clock tick's) is a write of its own, replacing by id.
    let mut cleared = test_alarm("al-1", "SC-1", 1);
    cleared.state = AlarmState::Cleared;
    cleared.cleared_at = Some(at(3));
    cleared.violation_count = 4;
    let outcome = store
        .insert_telemetry(TelemetryWrite {
            tenant: Default::default(),
            alarms: vec![cleared.clone()],
            events: vec![event(3, Some("SC-1"), EventType::AnomalyCleared)],
            ..TelemetryWrite::default()
        })
        .await
        .expect("alarm alone");
    assert_eq!(outcome, IngestOutcome::default());
    assert_eq!(
        store
            .get_alarm(&TenantId::default(), &cleared.id)
            .await
            .expect("alarm"),
        Some(cleared)
    );
    let anomalies = store
        .recent_anomalies(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("anomalies");
    assert_eq!(
        anomalies,
        vec![anomaly("SC-1", 1, "temp", AnomalyKind::WarnHigh)]
    );
    let events = store
        .recent_events(&TenantId::default(), None, limit(10))
        .await
        .expect("events");
    assert_eq!(events[0].event_type, EventType::AnomalyCleared);
    assert_eq!(events[1].event_type, EventType::Anomaly);
    assert_eq!(events.len(), 3);
}

/// A batch that cannot be stored names its first bad snapshot by index, whatever is wrong
/// with it and however many duplicates come before it, and leaves nothing behind.
pub async fn a_rejected_batch_names_its_first_bad_snapshot(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    store
        .insert_telemetry(write(vec![
            snapshot("a", "SC-1", 1, 1.0),
            snapshot("b", "SC-1", 2, 2.0),
        ]))
        .await
        .expect("insert");
    let expect_conflict_at = |err: Error, id: &str, index: &str| match err {
        Error::Conflict {
            id: got, reason, ..
        } => {
            assert_eq!(got, id);
            assert!(reason.contains(index), "{reason} should name {index}");
        }
        other => panic!("expected a conflict at {index}, got {other}"),
    };
    // Different content under a stored id.
    let err = store
        .insert_telemetry(write(vec![
            snapshot("a", "SC-1", 1, 9.0),
            snapshot("c", "SC-1", 2, 1.0),
        ]))
        .await
        .expect_err("conflict");
    expect_conflict_at(err, "a", "snapshots[0]");
    // A stored id moved to another spacecraft, after a new snapshot and a true duplicate.
    let err = store
        .insert_telemetry(write(vec![
            snapshot("new", "SC-1", 3, 3.0),
            snapshot("a", "SC-1", 1, 1.0),
            snapshot("b", "SC-2", 2, 2.0),
        ]))
        .await
        .expect_err("b moved to another spacecraft");
    expect_conflict_at(err, "b", "snapshots[2]");
    let err = store
        .insert_telemetry(write(vec![
            snapshot("x", "SC-1", 3, 3.0),
            snapshot("x", "SC-1", 4, 3.0),
        ]))
        .await
        .expect_err("repeated id");
    assert!(matches!(err, Error::Conflict { .. }), "got {err}");
    let err = store
        .insert_telemetry(write(vec![
            snapshot("d", "SC-404", 2, 1.0),
            snapshot("a", "SC-1", 1, 9.0),
        ]))
        .await
        .expect_err("unknown spacecraft first");
    assert!(matches!(err, Error::NotFound { .. }), "got {err}");
    let stored = store
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("recent");
    assert_eq!(stored.len(), 2, "nothing of the rejected batches is stored");
    assert!(
        store
            .latest_values(&TenantId::default(), &sc("SC-2"))
            .await
            .expect("latest")
            .is_empty()
    );
}

/// A group of writes of many spacecraft in which one write conflicts: the writes before it are
/// stored, each with its outcome; it fails with its own conflict and leaves nothing behind; the
/// writes after it are not stored, and given again (as the services do) they are.
pub async fn a_group_of_many_spacecraft_fails_only_the_conflicting_write(store: &dyn Store) {
    for n in 1..=6 {
        register(store, &format!("SC-{n}"), 0, n).await;
    }
    store
        .insert_telemetry(write(vec![snapshot("taken", "SC-3", 1, 1.0)]))
        .await
        .expect("insert");
    let of = |n: u32| {
        let spacecraft = format!("SC-{n}");
        TelemetryWrite {
            tenant: Default::default(),
            registrations: Vec::new(),
            snapshots: vec![snapshot(&format!("s-{n}"), &spacecraft, 2, 50.0)],
            anomalies: vec![anomaly(&spacecraft, 2, "temp", AnomalyKind::WarnHigh)],
            alarms: Vec::new(),
            events: vec![event(10 + n, Some(&spacecraft), EventType::Anomaly)],
        }
    };
    let mut clash = of(3);
    clash.snapshots.push(snapshot("taken", "SC-3", 1, 7.0));
    let group = store
        .insert_telemetry_group(vec![of(1), of(2), clash, of(4), of(5), of(6)])
        .await;
    assert_eq!(group.stored, vec![outcome(1, 0), outcome(1, 0)]);
    match group.failure {
        Some(Error::Conflict { id, reason, .. }) => {
            assert_eq!(id, "taken");
            assert!(reason.contains("snapshots[1]"), "{reason}");
        }
        other => panic!("expected the conflict of the third write, got {other:?}"),
    }
    let rest = store
        .insert_telemetry_group(vec![of(4), of(5), of(6)])
        .await;
    assert!(rest.failure.is_none(), "{:?}", rest.failure);
    assert_eq!(rest.stored, vec![outcome(1, 0); 3]);
    for n in 1..=6 {
        let spacecraft = format!("SC-{n}");
        let stored = store
            .recent_telemetry(&TenantId::default(), &sc(&spacecraft), limit(10))
            .await
            .expect("recent");
        let anomalies = store
            .recent_anomalies(&TenantId::default(), &sc(&spacecraft), limit(10))
            .await
            .expect("anomalies");
        if n == 3 {
            assert_eq!(ids(&stored), ["taken"], "nothing of the failed write");
            assert!(anomalies.is_empty(), "no anomaly of the failed write");
        } else {
            assert_eq!(ids(&stored), [format!("s-{n}")], "{spacecraft}");
            assert_eq!(anomalies.len(), 1, "{spacecraft}");
        }
    }
    // Six registrations and the five stored writes' events.
    assert_eq!(event_count(store).await, 11);
}

/// A write registers the spacecraft nobody registered, before its snapshots, with its event;
/// a spacecraft registered before, or by an earlier write of the group, is left as it is and
/// its event dropped, without failing the write; a write that fails registers nothing.
pub async fn registrations_with_telemetry_register_each_spacecraft_once(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let with = |registrations: Vec<(&str, u32)>, snapshots, events| TelemetryWrite {
        tenant: Default::default(),
        registrations: registrations
            .into_iter()
            .map(|(id, n)| registration(id, 5, n))
            .collect(),
        snapshots,
        anomalies: Vec::new(),
        alarms: Vec::new(),
        events,
    };
    let group = store
        .insert_telemetry_group(vec![
            with(
                vec![("NEW-1", 10)],
                vec![snapshot("n1-a", "NEW-1", 1, 1.0)],
                Vec::new(),
            ),
            with(
                vec![("NEW-1", 11)],
                vec![snapshot("n1-b", "NEW-1", 2, 1.0)],
                Vec::new(),
            ),
            with(
                vec![("SC-1", 12)],
                vec![snapshot("s1-a", "SC-1", 1, 1.0)],
                Vec::new(),
            ),
            with(
                vec![("NEW-2", 13), ("NEW-3", 14)],
                vec![
                    snapshot("n2-a", "NEW-2", 1, 1.0),
                    snapshot("n3-a", "NEW-3", 1, 1.0),
                ],
                vec![event(15, Some("NEW-2"), EventType::Anomaly)],
            ),
        ])
        .await;
    assert!(group.failure.is_none(), "{:?}", group.failure);
    assert_eq!(
        group.stored,
        vec![outcome(1, 0), outcome(1, 0), outcome(1, 0), outcome(2, 0)]
    );
    for (id, count) in [("NEW-1", 2), ("NEW-2", 1), ("NEW-3", 1)] {
        let registered = store
            .get_spacecraft(&TenantId::default(), &sc(id))
            .await
            .expect("get");
        assert_eq!(registered, Some(registration(id, 5, 0).spacecraft), "{id}");
        let stored = store
            .recent_telemetry(&TenantId::default(), &sc(id), limit(10))
            .await
            .expect("recent");
        assert_eq!(stored.len(), count, "{id}");
    }
    assert_eq!(
        store
            .get_spacecraft(&TenantId::default(), &sc("SC-1"))
            .await
            .expect("get"),
        Some(spacecraft("SC-1", 0)),
        "a registered spacecraft is left as it is"
    );
    // Oldest first: each registration before what its write caused; the repeated and the
    // needless registrations left no event.
    let mut events = store
        .recent_events(&TenantId::default(), None, limit(20))
        .await
        .expect("events");
    events.reverse();
    let recorded: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(recorded, ["ev-1", "ev-10", "ev-13", "ev-14", "ev-15"]);
    // A write that fails registers nothing; one alone registers as one in a group.
    let failed = store
        .insert_telemetry(with(
            vec![("NEW-4", 16)],
            vec![
                snapshot("n4-a", "NEW-4", 1, 1.0),
                snapshot("n1-a", "NEW-1", 1, 9.0),
            ],
            Vec::new(),
        ))
        .await
        .expect_err("conflict");
    assert!(matches!(failed, Error::Conflict { .. }), "got {failed}");
    assert_eq!(
        store
            .get_spacecraft(&TenantId::default(), &sc("NEW-4"))
            .await
            .expect("get"),
        None
    );
    let alone = store
        .insert_telemetry(with(
            vec![("NEW-4", 17)],
            vec![snapshot("n4-a", "NEW-4", 1, 1.0)],
            Vec::new(),
        ))
        .await
        .expect("alone");
    assert_eq!(alone, outcome(1, 0));
    assert_eq!(event_count(store).await, 6);
    let last = store
        .recent_events(&TenantId::default(), None, limit(1))
        .await
        .expect("events");
    assert_eq!(last[0].id.as_str(), "ev-17");
    assert_eq!(last[0].event_type, EventType::SpacecraftRegistered);
}

/// A group of writes from spacecraft nobody registered (a fleet coming up) registers each
/// spacecraft once, with its one SPACECRAFT_REGISTERED event and that event's outbox row, in
/// the order of the writes; the spacecraft then take writes, groups and latest values like any
/// other, and so do the ones a later group registers beside them.
pub async fn a_group_of_new_spacecraft_registers_each_once_with_its_outbox_row(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let new = |k: u32| TelemetryWrite {
        registrations: vec![registration(&format!("NEW-{k}"), 5, 10 + k)],
        ..write(vec![snapshot(
            &format!("n{k}-a"),
            &format!("NEW-{k}"),
            1,
            1.0,
        )])
    };
    let first = store
        .insert_telemetry_group((0..5).map(new).collect())
        .await;
    assert!(first.failure.is_none(), "{:?}", first.failure);
    assert_eq!(first.stored, vec![outcome(1, 0); 5]);
    let second = store
        .insert_telemetry_group(vec![
            write(vec![snapshot("n0-b", "NEW-0", 2, 7.0)]),
            write(vec![snapshot("s1-a", "SC-1", 1, 1.0)]),
            new(5),
            write(vec![snapshot("n4-b", "NEW-4", 2, 3.0)]),
        ])
        .await;
    assert!(second.failure.is_none(), "{:?}", second.failure);
    assert_eq!(second.stored, vec![outcome(1, 0); 4]);
    let tenant = TenantId::default();
    for k in 0..6 {
        let id = format!("NEW-{k}");
        let registered = store.get_spacecraft(&tenant, &sc(&id)).await.expect("get");
        assert_eq!(registered, Some(registration(&id, 5, 0).spacecraft), "{id}");
        let stored = store
            .recent_telemetry(&tenant, &sc(&id), limit(10))
            .await
            .expect("recent");
        let expected = if k == 0 || k == 4 { 2 } else { 1 };
        assert_eq!(stored.len(), expected, "{id}");
        assert!(stored.iter().all(|s| s.spacecraft_id == sc(&id)), "{id}");
    }
    for (id, second, temp) in [("NEW-0", 2, 7.0), ("NEW-4", 2, 3.0), ("NEW-5", 1, 1.0)] {
        let latest = store.latest_values(&tenant, &sc(id)).await.expect("latest");
        let temps: Vec<_> = latest
            .iter()
            .filter(|v| v.parameter.as_str() == "temp")
            .map(|v| (v.timestamp, v.value.clone()))
            .collect();
        assert_eq!(temps, [(at(second), ParameterValue::Number(temp))], "{id}");
    }
    let registered = ["ev-1", "ev-10", "ev-11", "ev-12", "ev-13", "ev-14", "ev-15"];
    let mut events = store
        .recent_events(&tenant, None, limit(20))
        .await
        .expect("events");
    events.reverse();
    let recorded: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(recorded, registered, "one event per spacecraft, in order");
    let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(
        sequences,
        (1..=7).collect::<Vec<u64>>(),
        "numbered without gaps"
    );
    let claim = store
        .claim(at(10), 20, std::time::Duration::from_secs(60))
        .await
        .expect("claim");
    let pending: Vec<&str> = claim.entries.iter().map(|e| e.event.id.as_str()).collect();
    assert_eq!(pending, registered, "each event has its outbox row");
}

/// A group of writes that carry nothing but snapshots and the spacecraft they register (what
/// PostgreSQL stores in one statement) records the events of the spacecraft it registers in
/// the order of the writes, not of the ids, numbered without gaps, each with its outbox row; a
/// registration of a spacecraft that exists, or repeated in the group, leaves no event. A write
/// that names a spacecraft nobody registers fails and registers nothing, even the spacecraft it
/// registers itself.
pub async fn registrations_in_a_group_are_announced_in_the_order_of_the_writes(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let tenant = TenantId::default();
    let registering = |id: &str, n: u32, snapshot_id: &str| TelemetryWrite {
        registrations: vec![registration(id, 5, n)],
        ..write(vec![snapshot(snapshot_id, id, 1, 1.0)])
    };
    let group = store
        .insert_telemetry_group(vec![
            registering("NEW-9", 20, "a"),
            registering("NEW-10", 21, "b"),
            registering("SC-1", 22, "c"),
            registering("NEW-9", 23, "d"),
            registering("NEW-1", 24, "e"),
        ])
        .await;
    assert!(group.failure.is_none(), "{:?}", group.failure);
    assert_eq!(group.stored, vec![outcome(1, 0); 5]);
    let mut events = store
        .recent_events(&tenant, None, limit(20))
        .await
        .expect("events");
    events.reverse();
    let recorded: Vec<(&str, u64)> = events.iter().map(|e| (e.id.as_str(), e.sequence)).collect();
    let announced = [("ev-1", 1), ("ev-20", 2), ("ev-21", 3), ("ev-24", 4)];
    assert_eq!(recorded, announced, "in the writes' order, without gaps");
    let claim = store
        .claim(at(10), 20, std::time::Duration::from_secs(60))
        .await
        .expect("claim");
    let pending: Vec<&str> = claim.entries.iter().map(|e| e.event.id.as_str()).collect();
    assert_eq!(pending, ["ev-1", "ev-20", "ev-21", "ev-24"], "outbox rows");
    assert_eq!(
        store
            .get_spacecraft(&tenant, &sc("SC-1"))
            .await
            .expect("get"),
        Some(spacecraft("SC-1", 0)),
        "a registered spacecraft is left as it is"
    );
    let stored = store
        .recent_telemetry(&tenant, &sc("NEW-9"), limit(10))
        .await
        .expect("recent");
    assert_eq!(ids(&stored), ["d", "a"]);
    let refused = store
        .insert_telemetry(TelemetryWrite {
            registrations: vec![registration("NEW-2", 5, 25)],
            ..write(vec![
                snapshot("f", "NEW-2", 1, 1.0),
                snapshot("g", "NOBODY", 1, 1.0),
            ])
        })
        .await;
    assert!(
        matches!(&refused, Err(Error::NotFound { id, .. }) if id == "NOBODY"),
        "names the unknown spacecraft: {refused:?}"
    );
    assert_eq!(
        store
            .get_spacecraft(&tenant, &sc("NEW-2"))
            .await
            .expect("get"),
        None,
        "a refused write registers nothing"
    );
    // A registration whose event id is taken fails the write whole: nothing registered, nothing
    // stored, no number used up.
    let taken = store
        .insert_telemetry(TelemetryWrite {
            registrations: vec![registration("NEW-3", 5, 20)],
            ..write(vec![snapshot("h", "NEW-3", 1, 1.0)])
        })
        .await;
    assert!(
        matches!(&taken, Err(Error::Conflict { .. })),
        "the event id is taken: {taken:?}"
    );
    assert_eq!(
        store
            .get_spacecraft(&tenant, &sc("NEW-3"))
            .await
            .expect("get"),
        None
    );
    let stored = store
        .recent_telemetry(&tenant, &sc("NEW-3"), limit(10))
        .await
        .expect("recent");
    assert!(stored.is_empty(), "nothing stored");
    assert_eq!(event_count(store).await, 4);
    let next = store
        .record_event(&tenant, event(26, None, EventType::Info))
        .await
        .expect("event");
    assert_eq!(next.sequence, 5, "no number used up");
}

/// Alarms written with telemetry: an alarm listed twice in one write keeps its last copy, as
/// one write after another would leave it, and every field of each round-trips, the optional
/// ones set and unset.
pub async fn alarms_written_with_telemetry_keep_the_last_copy_and_every_field(store: &dyn Store) {
    use missionops_core::{AlarmFilter, AlarmStates, Operator};
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    let first = test_alarm("al-1", "SC-1", 5);
    let mut last = test_alarm("al-1", "SC-1", 5);
    last.state = AlarmState::Acknowledged;
    last.violation_count = 7;
    last.last_value = missionops_core::ParameterValue::Number(61.5);
    last.acknowledged_by = Some(Operator::parse("jane").expect("operator"));
    last.acknowledged_at = Some(at(8));
    last.comment = Some("looking into it".to_owned());
    let mut other = test_alarm("al-2", "SC-2", 6);
    other.state = AlarmState::Shelved;
    other.cleared_at = Some(at(9));
    other.shelved_until = Some(at(600));
    store
        .insert_telemetry(TelemetryWrite {
            alarms: vec![first, other.clone(), last.clone()],
            events: vec![event(3, Some("SC-1"), EventType::Anomaly)],
            ..write(vec![snapshot("s1", "SC-1", 5, 50.0)])
        })
        .await
        .expect("write");
    let mut stored = store
        .list_alarms(
            &TenantId::default(),
            &AlarmFilter {
                spacecraft_id: None,
                states: AlarmStates::All,
            },
        )
        .await
        .expect("alarms");
    stored.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    assert_eq!(stored, [last, other]);
}

/// A group of writes with no snapshots, as a clock tick stores what the monitors of many
/// spacecraft decided: every write's anomalies, alarms and events are stored, each write
/// answered, and an alarm that two writes of the group change ends as the later one says
/// (the backends store such a group in one transaction, alarms in multi-row statements).
pub async fn a_group_of_decisions_without_snapshots_stores_every_alarm_and_event(
    store: &dyn Store,
) {
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    let decided = |n: u32, spacecraft: &str, alarm: missionops_core::Alarm| TelemetryWrite {
        tenant: Default::default(),
        anomalies: vec![anomaly(
            spacecraft,
            i64::from(n),
            "temp",
            AnomalyKind::WarnHigh,
        )],
        alarms: vec![alarm],
        events: vec![event(10 + n, Some(spacecraft), EventType::ContactLost)],
        ..TelemetryWrite::default()
    };
    let first = test_alarm("al-1", "SC-1", 1);
    let other = test_alarm("al-2", "SC-2", 2);
    let mut later = test_alarm("al-1", "SC-1", 1);
    later.state = AlarmState::Cleared;
    later.cleared_at = Some(at(3));
    let outcome = store
        .insert_telemetry_group(vec![
            decided(1, "SC-1", first),
            decided(2, "SC-2", other.clone()),
            decided(3, "SC-1", later.clone()),
        ])
        .await;
    assert!(outcome.failure.is_none(), "{:?}", outcome.failure);
    assert_eq!(outcome.stored, vec![IngestOutcome::default(); 3]);
    let tenant = TenantId::default();
    for alarm in [later, other] {
        assert_eq!(
            store.get_alarm(&tenant, &alarm.id).await.expect("alarm"),
            Some(alarm)
        );
    }
    for (spacecraft, count) in [("SC-1", 2), ("SC-2", 1)] {
        let anomalies = store
            .recent_anomalies(&tenant, &sc(spacecraft), limit(10))
            .await
            .expect("anomalies");
        assert_eq!(anomalies.len(), count, "{spacecraft}: {anomalies:?}");
    }
    let events = store
        .recent_events(&tenant, None, limit(10))
        .await
        .expect("events");
    let lost = events
        .iter()
        .filter(|e| e.event_type == EventType::ContactLost)
        .count();
    assert_eq!(lost, 3, "{events:?}");
}
