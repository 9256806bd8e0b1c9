//! Conformance of [`AnomalyRepository`](missionops_core::AnomalyRepository): uniqueness and
//! queries by time.

use missionops_core::TenantId;
use missionops_core::{AnomalyId, AnomalyKind, EventType, ParameterValue, Severity, Store};

use super::fixtures::*;

/// Persisting the same (spacecraft, parameter, timestamp, kind) twice stores and announces it
/// once.
pub async fn anomalies_are_unique_and_announced_once(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let first = store
        .persist_anomalies(
            &TenantId::default(),
            vec![
                (
                    anomaly("SC-1", 1, "temp", AnomalyKind::WarnHigh),
                    event(2, Some("SC-1"), EventType::Anomaly),
                ),
                (
                    anomaly("SC-1", 1, "temp", AnomalyKind::CritHigh),
                    event(3, Some("SC-1"), EventType::Anomaly),
                ),
            ],
        )
        .await
        .expect("persist");
    assert_eq!(first, 2);
    let again = store
        .persist_anomalies(
            &TenantId::default(),
            vec![
                (
                    anomaly("SC-1", 1, "temp", AnomalyKind::WarnHigh),
                    event(4, Some("SC-1"), EventType::Anomaly),
                ),
                (
                    anomaly("SC-1", 2, "temp", AnomalyKind::WarnHigh),
                    event(5, Some("SC-1"), EventType::Anomaly),
                ),
            ],
        )
        .await
        .expect("persist again");
    assert_eq!(again, 1, "only the new anomaly counts");
    let stored = store
        .recent_anomalies(&TenantId::default(), &sc("SC-1"), limit(10))
        .await
        .expect("list");
    assert_eq!(stored.len(), 3);
    let events = store
        .recent_events(&TenantId::default(), None, limit(10))
        .await
        .expect("events");
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        ["ev-5", "ev-3", "ev-2", "ev-1"],
        "a skipped anomaly records no event"
    );
}

/// Anomalies are listed newest first, as a timeline oldest first, counted since a time, and
/// found by id.
pub async fn anomalies_are_queried_by_time(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    let mut crit = anomaly("SC-1", 30, "volt", AnomalyKind::CritLow);
    crit.value = ParameterValue::Number(-3.5);
    store
        .persist_anomalies(
            &TenantId::default(),
            vec![
                (
                    anomaly("SC-1", 10, "temp", AnomalyKind::WarnHigh),
                    event(3, Some("SC-1"), EventType::Anomaly),
                ),
                (crit.clone(), event(4, Some("SC-1"), EventType::Anomaly)),
                (
                    anomaly("SC-1", 20, "temp", AnomalyKind::WarnHigh),
                    event(5, Some("SC-1"), EventType::Anomaly),
                ),
                (
                    anomaly("SC-2", 25, "temp", AnomalyKind::CritHigh),
                    event(6, Some("SC-2"), EventType::Anomaly),
                ),
            ],
        )
        .await
        .expect("persist");
    let recent = store
        .recent_anomalies(&TenantId::default(), &sc("SC-1"), limit(2))
        .await
        .expect("recent");
    let seconds: Vec<i64> = recent
        .iter()
        .map(|a| (a.timestamp.as_millis() - at(0).as_millis()) / 1000)
        .collect();
    assert_eq!(seconds, [30, 20]);
    let timeline = store
        .anomaly_timeline(&TenantId::default(), &sc("SC-1"), at(10), at(20))
        .await
        .expect("timeline");
    assert_eq!(timeline.len(), 2);
    assert!(timeline[0].timestamp < timeline[1].timestamp);
    let count = store
        .count_anomalies_since(&TenantId::default(), &sc("SC-1"), at(15))
        .await
        .expect("count");
    assert_eq!(count.count, 2);
    assert_eq!(count.highest, Some(Severity::High));
    let none = store
        .count_anomalies_since(&TenantId::default(), &sc("SC-1"), at(31))
        .await
        .expect("count");
    assert_eq!((none.count, none.highest), (0, None));
    assert_eq!(
        store
            .get_anomaly(&TenantId::default(), &crit.id)
            .await
            .expect("get"),
        Some(crit)
    );
    let missing = AnomalyId::parse("nope").expect("id");
    assert_eq!(
        store
            .get_anomaly(&TenantId::default(), &missing)
            .await
            .expect("get"),
        None
    );
}

/// An anomaly timeline read by pages after a cursor gives exactly the one-call timeline,
/// whatever the page size, across runs of equal sample times; the last page has no cursor.
pub async fn anomaly_timelines_are_read_by_pages_after_a_cursor(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    let kinds = [
        AnomalyKind::WarnHigh,
        AnomalyKind::CritHigh,
        AnomalyKind::WarnLow,
    ];
    let mut batch = Vec::new();
    let mut event_second = 10;
    for second in [12_i64, 11, 11, 13, 11, 12, 9, 14] {
        for (k, kind) in (0_i64..).zip(kinds) {
            if (second + k) % 2 == 0 || k == 0 {
                event_second += 1;
                let parameter = format!("p{k}");
                batch.push((
                    anomaly("SC-1", second, &parameter, kind),
                    event(event_second, Some("SC-1"), EventType::Anomaly),
                ));
            }
        }
    }
    event_second += 1;
    batch.push((
        anomaly("SC-2", 12, "p0", AnomalyKind::WarnHigh),
        event(event_second, Some("SC-2"), EventType::Anomaly),
    ));
    store
        .persist_anomalies(&TenantId::default(), batch)
        .await
        .expect("persist");
    let whole = store
        .anomaly_timeline(&TenantId::default(), &sc("SC-1"), at(11), at(13))
        .await
        .expect("timeline");
    assert!(whole.len() >= 6, "{}", whole.len());
    for page_size in [1, 2, 3, whole.len(), whole.len() + 1] {
        let mut paged = Vec::new();
        let mut after = None;
        for _ in 0..=whole.len() + 1 {
            let page = store
                .anomaly_timeline_page(
                    &TenantId::default(),
                    &sc("SC-1"),
                    at(11),
                    at(13),
                    after,
                    page_size,
                )
                .await
                .expect("page");
            assert!(page.anomalies.len() <= page_size);
            paged.extend(page.anomalies);
            after = page.next;
            if after.is_none() {
                break;
            }
        }
        assert!(after.is_none(), "pages of {page_size} never end");
        assert_eq!(paged, whole, "pages of {page_size}");
    }
}

/// The fleet's status reads, asked for a list of spacecraft at once: each one's anomaly count
/// since a time with the worst severity, and its newest sample time, in the order asked, as
/// the one-by-one reads answer them; a spacecraft with none, one of another tenant and one
/// nobody registered answer zero and no time.
pub async fn anomaly_counts_and_last_times_are_read_for_a_list(store: &dyn Store) {
    use missionops_core::{AnomalyCount, SpacecraftId};

    let tenant = TenantId::default();
    for (id, n) in [("SC-1", 1), ("SC-2", 2), ("SC-3", 3)] {
        register(store, id, 0, n).await;
    }
    let other = TenantId::parse("other").expect("tenant");
    store
        .register_spacecraft(
            &other,
            spacecraft("SC-9", 4),
            event(4, Some("SC-9"), EventType::SpacecraftRegistered),
        )
        .await
        .expect("register in the other tenant");
    store
        .persist_anomalies(
            &tenant,
            vec![
                (
                    anomaly("SC-1", 10, "temp", AnomalyKind::WarnHigh),
                    event(5, Some("SC-1"), EventType::Anomaly),
                ),
                (
                    anomaly("SC-1", 20, "temp", AnomalyKind::CritHigh),
                    event(6, Some("SC-1"), EventType::Anomaly),
                ),
                (
                    anomaly("SC-3", 30, "volt", AnomalyKind::WarnHigh),
                    event(7, Some("SC-3"), EventType::Anomaly),
                ),
            ],
        )
        .await
        .expect("persist");
    store
        .insert_telemetry(write(vec![
            snapshot("a", "SC-1", 40, 1.0),
            snapshot("b", "SC-1", 35, 1.0),
            snapshot("c", "SC-3", 12, 1.0),
        ]))
        .await
        .expect("insert");
    let asked: Vec<SpacecraftId> = ["SC-3", "SC-9", "SC-1", "SC-404", "SC-2"]
        .into_iter()
        .map(sc)
        .collect();
    // Windows in no particular order: each spacecraft's counts come in the order asked.
    let windows = [at(25), at(0), at(15)];
    let counts = store
        .count_anomalies_since_of(&tenant, &asked, &windows)
        .await
        .expect("counts");
    let mut one_by_one = Vec::new();
    for id in &asked {
        let mut of_one = Vec::new();
        for since in windows {
            of_one.push(
                store
                    .count_anomalies_since(&tenant, id, since)
                    .await
                    .expect("count"),
            );
        }
        one_by_one.push(of_one);
    }
    assert_eq!(counts, one_by_one, "every window of every spacecraft");
    let none = AnomalyCount::default();
    let high = |count| AnomalyCount {
        count,
        highest: Some(Severity::High),
    };
    let medium = AnomalyCount {
        count: 1,
        highest: Some(Severity::Medium),
    };
    assert_eq!(
        store
            .count_anomalies_since_of(&tenant, &asked, &[at(0), at(15), at(25)])
            .await
            .expect("counts"),
        [
            [medium, medium, medium],
            [none; 3],
            [high(2), high(1), none],
            [none; 3],
            [none; 3]
        ]
    );
    assert_eq!(
        store
            .count_anomalies_since_of(&tenant, &asked, &[])
            .await
            .expect("no window"),
        vec![Vec::<AnomalyCount>::new(); 5]
    );
    assert_eq!(
        store
            .last_telemetry_timestamps_of(&tenant, &asked)
            .await
            .expect("last times"),
        [Some(at(12)), None, Some(at(40)), None, None]
    );
    assert_eq!(
        store
            .last_telemetry_timestamps_of(&tenant, &[])
            .await
            .expect("none asked"),
        []
    );
    assert_eq!(
        store
            .count_anomalies_since_of(&other, &asked, &[at(0)])
            .await
            .expect("other tenant"),
        [[none]; 5]
    );
}
