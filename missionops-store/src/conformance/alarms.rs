//! Conformance of [`AlarmRepository`](missionops_core::AlarmRepository): saved, replaced by id,
//! filtered.

use missionops_core::TenantId;
use missionops_core::{
    Alarm, AlarmCursor, AlarmFilter, AlarmId, AlarmPage, AlarmState, AlarmStates, AnomalyKind,
    EventType, OpenAlarmSummary, SpacecraftId, Store,
};

use super::fixtures::*;

/// Alarms are created, replaced by id, filtered by spacecraft and state, newest first.
pub async fn alarms_are_saved_replaced_and_filtered(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    let alarm = in_state;
    store
        .save_alarm(
            &TenantId::default(),
            alarm("a1", "SC-1", 1, AlarmState::Active),
            vec![event(3, Some("SC-1"), EventType::Anomaly)],
        )
        .await
        .expect("save");
    store
        .save_alarm(
            &TenantId::default(),
            alarm("a2", "SC-1", 2, AlarmState::Active),
            vec![],
        )
        .await
        .expect("save");
    store
        .save_alarm(
            &TenantId::default(),
            alarm("a3", "SC-2", 3, AlarmState::Active),
            vec![],
        )
        .await
        .expect("save");
    let mut acked = alarm("a1", "SC-1", 1, AlarmState::Acknowledged);
    acked.acknowledged_by = Some(missionops_core::Operator::parse("flight").expect("op"));
    acked.acknowledged_at = Some(at(4));
    acked.comment = Some("looking".to_owned());
    acked.violation_count = 3;
    store
        .save_alarm(
            &TenantId::default(),
            acked.clone(),
            vec![event(4, Some("SC-1"), EventType::AlarmAcknowledged)],
        )
        .await
        .expect("replace");
    assert_eq!(
        store
            .get_alarm(&TenantId::default(), &acked.id)
            .await
            .expect("get"),
        Some(acked)
    );
    let all = store
        .list_alarms(&TenantId::default(), &AlarmFilter::default())
        .await
        .expect("list");
    let ids: Vec<&str> = all.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a3", "a2", "a1"]);
    let filter = AlarmFilter {
        spacecraft_id: Some(sc("SC-1")),
        states: AlarmStates::Only(AlarmState::Active),
    };
    let active = store
        .list_alarms(&TenantId::default(), &filter)
        .await
        .expect("list");
    let ids: Vec<&str> = active.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a2"]);
    // A cleared alarm leaves the default (open) listing but stays in the history.
    let mut cleared = alarm("a2", "SC-1", 2, AlarmState::Cleared);
    cleared.cleared_at = Some(at(5));
    store
        .save_alarm(&TenantId::default(), cleared, vec![])
        .await
        .expect("clear");
    let open = store
        .list_alarms(&TenantId::default(), &AlarmFilter::default())
        .await
        .expect("list");
    let ids: Vec<&str> = open.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a3", "a1"]);
    let every = store
        .list_alarms(
            &TenantId::default(),
            &AlarmFilter {
                spacecraft_id: None,
                states: AlarmStates::All,
            },
        )
        .await
        .expect("list");
    assert_eq!(every.len(), 3);
    let history = store
        .list_alarms(
            &TenantId::default(),
            &AlarmFilter {
                spacecraft_id: None,
                states: AlarmStates::Only(AlarmState::Cleared),
            },
        )
        .await
        .expect("list");
    let ids: Vec<&str> = history.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a2"]);
    assert_eq!(event_count(store).await, 4);
}

/// The clock tick's read for a list: each spacecraft's alarms in every state but `CLEARED`,
/// most recently opened first, in the order asked (a repeat answered again), none for one
/// without (or unknown); another tenant's are not seen.
pub async fn open_alarms_are_read_for_a_list(store: &dyn Store) {
    let tenant = TenantId::default_tenant();
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    register(store, "SC-3", 0, 3).await;
    let alarm = in_state;
    save_beside_another_tenants(
        store,
        &tenant,
        [
            alarm("a1", "SC-1", 1, AlarmState::Active),
            alarm("a2", "SC-1", 2, AlarmState::Acknowledged),
            alarm("a3", "SC-1", 3, AlarmState::Cleared),
            alarm("b1", "SC-2", 1, AlarmState::Shelved),
        ],
        alarm("o1", "SC-3", 1, AlarmState::Active),
    )
    .await;
    let wanted = [sc("SC-2"), sc("NOPE"), sc("SC-1"), sc("SC-3"), sc("SC-2")];
    let open = store
        .open_alarms_of(&tenant, &wanted)
        .await
        .expect("open alarms");
    let listed: Vec<Vec<&str>> = open
        .iter()
        .map(|alarms| alarms.iter().map(|a| a.id.as_str()).collect())
        .collect();
    assert_eq!(
        listed,
        [vec!["b1"], vec![], vec!["a2", "a1"], vec![], vec!["b1"]]
    );
    for (id, alarms) in wanted.iter().zip(&open) {
        let one = store
            .list_alarms(
                &tenant,
                &AlarmFilter {
                    spacecraft_id: Some(id.clone()),
                    states: AlarmStates::Open,
                },
            )
            .await
            .expect("list");
        assert_eq!(alarms, &one, "{id}: as list_alarms answers");
    }
    assert!(
        store
            .open_alarms_of(&tenant, &[])
            .await
            .expect("none asked")
            .is_empty()
    );
}

/// The fleet's status's summary of open alarms: for each spacecraft with any, how many are
/// `ACTIVE` or `ACKNOWLEDGED` (not `SHELVED`, not `CLEARED`) and whether an open one (shelved
/// included) is `STALE` with its parameter not back, as the open list says; another tenant's are not counted.
pub async fn open_alarms_are_summed_up_per_spacecraft(store: &dyn Store) {
    let tenant = TenantId::default_tenant();
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    register(store, "SC-3", 0, 3).await;
    register(store, "SC-4", 0, 4).await;
    let alarm = |id: &str, spacecraft: &str, state: AlarmState, kind: AnomalyKind| Alarm {
        state,
        kind,
        ..test_alarm(id, spacecraft, 1)
    };
    let other = save_beside_another_tenants(
        store,
        &tenant,
        [
            alarm("a1", "SC-1", AlarmState::Active, AnomalyKind::WarnHigh),
            alarm(
                "a2",
                "SC-1",
                AlarmState::Acknowledged,
                AnomalyKind::CritHigh,
            ),
            alarm("a3", "SC-1", AlarmState::Cleared, AnomalyKind::Stale),
            alarm("a4", "SC-1", AlarmState::Active, AnomalyKind::WarnLow),
            alarm("b1", "SC-2", AlarmState::Shelved, AnomalyKind::Stale),
            alarm("b2", "SC-2", AlarmState::Cleared, AnomalyKind::WarnHigh),
            alarm("c1", "SC-3", AlarmState::Acknowledged, AnomalyKind::Stale),
            alarm("d1", "SC-4", AlarmState::Cleared, AnomalyKind::Stale),
            // Its parameter came back; open until acknowledged, but no longer stale.
            Alarm {
                cleared_at: Some(at(2)),
                ..alarm("d2", "SC-4", AlarmState::Active, AnomalyKind::Stale)
            },
        ],
        alarm("o1", "SC-3", AlarmState::Active, AnomalyKind::WarnHigh),
    )
    .await;
    let sorted = |mut summaries: Vec<(SpacecraftId, OpenAlarmSummary)>| {
        summaries.sort();
        summaries
    };
    let summary = |needing_attention, stale| OpenAlarmSummary {
        needing_attention,
        stale,
    };
    let summaries = sorted(
        store
            .open_alarm_summaries(&tenant)
            .await
            .expect("summaries"),
    );
    assert_eq!(
        summaries,
        [
            (sc("SC-1"), summary(3, false)),
            (sc("SC-2"), summary(0, true)),
            (sc("SC-3"), summary(1, true)),
            (sc("SC-4"), summary(1, false)),
        ]
    );
    let open = store
        .list_alarms(&tenant, &AlarmFilter::default())
        .await
        .expect("list");
    let mut from_the_list: std::collections::HashMap<SpacecraftId, OpenAlarmSummary> =
        std::collections::HashMap::new();
    for alarm in &open {
        from_the_list
            .entry(alarm.spacecraft_id.clone())
            .or_default()
            .add(alarm);
    }
    assert_eq!(summaries, sorted(from_the_list.into_iter().collect()));
    assert_eq!(
        store
            .open_alarm_summaries(&other)
            .await
            .expect("the other tenant's"),
        [(sc("SC-3"), summary(1, false))]
    );
    assert!(
        store
            .open_alarm_summaries(&TenantId::parse("nobody").expect("tenant"))
            .await
            .expect("a tenant with no alarm")
            .is_empty()
    );
}

/// Saves `mine` in `tenant`, and `theirs` (of SC-3) in another tenant, which it returns.
async fn save_beside_another_tenants(
    store: &dyn Store,
    tenant: &TenantId,
    mine: impl IntoIterator<Item = Alarm>,
    theirs: Alarm,
) -> TenantId {
    for alarm in mine {
        store.save_alarm(tenant, alarm, vec![]).await.expect("save");
    }
    let other = register_sc3_in_other_tenant(store).await;
    store
        .save_alarm(&other, theirs, vec![])
        .await
        .expect("save in the other tenant");
    other
}

/// Alarms are read by pages after a cursor: the pages, walked from the first, hold the list in
/// its order, no page longer than asked and only the last without a next cursor; an alarm
/// opened after the first page is read does not shift the pages after it; counts agree with
/// the list; another tenant's alarms are in neither.
pub async fn alarms_are_read_by_pages_after_a_cursor(store: &dyn Store) {
    let tenant = TenantId::default_tenant();
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    let alarm = in_state;
    // Ties of opening time (a1, a2, a3 at 5 s) go by id, greatest first.
    let other = save_beside_another_tenants(
        store,
        &tenant,
        [
            alarm("a2", "SC-1", 5, AlarmState::Active),
            alarm("a1", "SC-2", 5, AlarmState::Acknowledged),
            alarm("a3", "SC-1", 5, AlarmState::Cleared),
            alarm("b1", "SC-1", 3, AlarmState::Shelved),
            alarm("b2", "SC-2", 7, AlarmState::Active),
            alarm("b3", "SC-1", 9, AlarmState::Cleared),
            alarm("b4", "SC-2", 1, AlarmState::Active),
            alarm("b5", "SC-1", 2, AlarmState::Active),
        ],
        alarm("o1", "SC-3", 6, AlarmState::Active),
    )
    .await;
    let filters = [
        AlarmFilter::default(),
        AlarmFilter {
            states: AlarmStates::All,
            ..AlarmFilter::default()
        },
        AlarmFilter {
            states: AlarmStates::Only(AlarmState::Cleared),
            ..AlarmFilter::default()
        },
        AlarmFilter {
            spacecraft_id: Some(sc("SC-1")),
            ..AlarmFilter::default()
        },
        AlarmFilter {
            spacecraft_id: Some(sc("SC-2")),
            states: AlarmStates::Only(AlarmState::Shelved),
        },
    ];
    for filter in &filters {
        let listed = store.list_alarms(&tenant, filter).await.expect("list");
        assert_eq!(
            store.count_alarms(&tenant, filter).await.expect("count"),
            listed.len() as u64,
            "{filter:?}"
        );
        for size in [1, 2, 3, 10] {
            let pages = walk_alarm_pages(store, &tenant, filter, None, size).await;
            for (n, page) in pages.iter().enumerate() {
                assert!(page.alarms.len() <= size as usize, "{filter:?} by {size}");
                assert_eq!(
                    page.next.is_none(),
                    n + 1 == pages.len(),
                    "{filter:?} by {size}: only the last page ends the list"
                );
            }
            let walked: Vec<Alarm> = pages.into_iter().flat_map(|page| page.alarms).collect();
            assert_eq!(walked, listed, "{filter:?} by {size}");
        }
    }
    let ids = |alarms: &[Alarm]| -> Vec<String> {
        alarms.iter().map(|alarm| alarm.id.to_string()).collect()
    };
    let all = AlarmFilter {
        states: AlarmStates::All,
        ..AlarmFilter::default()
    };
    let first = store
        .list_alarms_page(&tenant, &all, None, limit(3))
        .await
        .expect("first page");
    assert_eq!(ids(&first.alarms), ["b3", "b2", "a3"]);
    store
        .save_alarm(&tenant, alarm("c1", "SC-2", 20, AlarmState::Active), vec![])
        .await
        .expect("a newer alarm");
    let rest = walk_alarm_pages(store, &tenant, &all, first.next, 2).await;
    let rest: Vec<Alarm> = rest.into_iter().flat_map(|page| page.alarms).collect();
    assert_eq!(ids(&rest), ["a2", "a1", "b1", "b5", "b4"]);
    // A cursor between alarms (no alarm of its own) starts right after where it points.
    let between = AlarmCursor {
        opened_at: at(5),
        id: AlarmId::parse("a15").expect("id"),
    };
    let page = store
        .list_alarms_page(&tenant, &all, Some(&between), limit(10))
        .await
        .expect("page after a cursor between alarms");
    assert_eq!(ids(&page.alarms), ["a1", "b1", "b5", "b4"]);
    assert_eq!(page.next, None);
    let theirs = store
        .list_alarms_page(&other, &all, None, limit(10))
        .await
        .expect("the other tenant's");
    assert_eq!(ids(&theirs.alarms), ["o1"]);
    assert_eq!(store.count_alarms(&other, &all).await.expect("count"), 1);
    assert_eq!(store.count_alarms(&tenant, &all).await.expect("count"), 9);
}

/// Every page of `filter`'s alarms from `after` on, `size` a page.
async fn walk_alarm_pages(
    store: &dyn Store,
    tenant: &TenantId,
    filter: &AlarmFilter,
    mut after: Option<AlarmCursor>,
    size: i64,
) -> Vec<AlarmPage> {
    let mut pages = Vec::new();
    loop {
        let page = store
            .list_alarms_page(tenant, filter, after.as_ref(), limit(size))
            .await
            .expect("page");
        after = page.next.clone();
        pages.push(page);
        if after.is_none() || pages.len() > 20 {
            return pages;
        }
    }
}

/// [`test_alarm`] in `state`.
fn in_state(id: &str, spacecraft: &str, opened: i64, state: AlarmState) -> Alarm {
    Alarm {
        state,
        ..test_alarm(id, spacecraft, opened)
    }
}
