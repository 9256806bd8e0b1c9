//! Conformance of the read side of [`TelemetryRepository`](missionops_core::TelemetryRepository):
//! recent snapshots and ranges, exact parameters, the last sample time, latest values, series.

use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use missionops_core::TenantId;
use missionops_core::{
    BucketWidth, ParameterName, Parameters, RangePages, SnapshotId, Store, TelemetryPage,
    TelemetrySnapshot, TelemetryWrite, Timestamp,
};
use serde_json::json;

use super::fixtures::*;

/// SC-1's snapshots `c` (second 3), `a` (1), `b1` and `b2` (both 2), stored in that order, and
/// SC-2's `x` (2), in one write.
async fn insert_sc1_and_sc2_telemetry(store: &dyn Store) {
    store
        .insert_telemetry(write(vec![
            snapshot("c", "SC-1", 3, 1.0),
            snapshot("a", "SC-1", 1, 1.0),
            snapshot("b1", "SC-1", 2, 1.0),
            snapshot("b2", "SC-1", 2, 2.0),
            snapshot("x", "SC-2", 2, 1.0),
        ]))
        .await
        .expect("insert");
}

/// Recent telemetry is newest first (ties: last stored first); ranges are inclusive and oldest
/// first (ties: first stored first), capped at `max`.
pub async fn recent_telemetry_is_newest_first_and_ranges_oldest_first(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    insert_sc1_and_sc2_telemetry(store).await;
    let recent = store
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(3))
        .await
        .expect("recent");
    assert_eq!(ids(&recent), ["c", "b2", "b1"]);
    let range = store
        .telemetry_range(&TenantId::default(), &sc("SC-1"), at(1), at(2), 100)
        .await
        .expect("range");
    assert_eq!(ids(&range), ["a", "b1", "b2"]);
    let capped = store
        .telemetry_range(&TenantId::default(), &sc("SC-1"), at(0), at(10), 2)
        .await
        .expect("range");
    assert_eq!(ids(&capped), ["a", "b1"]);
    let none = store
        .recent_telemetry(&TenantId::default(), &sc("SC-3"), limit(3))
        .await
        .expect("recent");
    assert!(none.is_empty());
}

/// The clock tick's read for a list: each spacecraft's newest snapshots as
/// `recent_telemetry` answers them, in the order asked (a repeat answered again), none for one
/// without telemetry (or unknown); another tenant's are not seen.
pub async fn recent_telemetry_is_read_for_a_list(store: &dyn Store) {
    let tenant = TenantId::default_tenant();
    for (n, id) in (1..).zip(["SC-1", "SC-2", "SC-3"]) {
        register(store, id, 0, n).await;
    }
    insert_sc1_and_sc2_telemetry(store).await;
    let other = register_sc3_in_other_tenant(store).await;
    store
        .insert_telemetry(TelemetryWrite {
            tenant: other.clone(),
            ..write(vec![snapshot("o", "SC-3", 5, 1.0)])
        })
        .await
        .expect("insert in the other tenant");
    let wanted = [sc("SC-2"), sc("SC-1"), sc("NOPE"), sc("SC-3"), sc("SC-1")];
    let recent = store
        .recent_telemetry_of(&tenant, &wanted, limit(3))
        .await
        .expect("recent");
    let listed: Vec<Vec<&str>> = recent.iter().map(|r| ids(r)).collect();
    assert_eq!(
        listed,
        [
            vec!["x"],
            vec!["c", "b2", "b1"],
            vec![],
            vec![],
            vec!["c", "b2", "b1"]
        ]
    );
    for (id, list) in wanted.iter().zip(&recent) {
        let one = store
            .recent_telemetry(&tenant, id, limit(3))
            .await
            .expect("recent");
        assert_eq!(list, &one, "{id}: as recent_telemetry answers");
    }
    assert!(
        store
            .recent_telemetry_of(&tenant, &[], limit(3))
            .await
            .expect("none asked")
            .is_empty()
    );
}

/// Parameters come back in the order given, with numbers, strings and booleans intact.
pub async fn parameters_round_trip_in_order_with_their_types(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let parameters = Parameters::from_json(&json!({
        "z_last_alpha": 1e21, "tiny": 1e-7, "mode": "SAFE", "flag": true, "neg": -150,
        "frac": 0.30000000000000004, "big": 300_000_000_000_000_070_000.0
    }))
    .expect("parameters");
    let original = TelemetrySnapshot {
        id: SnapshotId::parse("p1").expect("id"),
        spacecraft_id: sc("SC-1"),
        timestamp: ts("2025-06-01T00:00:00.123Z"),
        parameters,
    };
    store
        .insert_telemetry(write(vec![original.clone()]))
        .await
        .expect("insert");
    let back = store
        .recent_telemetry(&TenantId::default(), &sc("SC-1"), limit(1))
        .await
        .expect("recent");
    assert_eq!(back, vec![original], "snapshot must round-trip exactly");
}

/// Pages of a range read give back exactly what was stored, as the one-call range read does:
/// numbers that need every digit, escaped and non-ASCII strings, booleans, changing layouts,
/// times with milliseconds and before 1970, and rows whose ids and texts hold the characters
/// a page's text is split on.
pub async fn range_pages_read_back_exact_values(store: &Arc<dyn Store>) {
    register(&**store, "SC-1", 0, 1).await;
    let snap = |id: &str, time: &str, parameters: serde_json::Value| TelemetrySnapshot {
        id: SnapshotId::parse(id).expect("id"),
        spacecraft_id: sc("SC-1"),
        timestamp: ts(time),
        parameters: Parameters::from_json(&parameters).expect("parameters"),
    };
    let stored = vec![
        snap(
            "old",
            "1969-07-20T20:17:40.001Z",
            json!({"frac": 0.30000000000000004, "big": 1e21, "tiny": -1e-7, "neg": -150}),
        ),
        snap(
            "mid.1",
            "2025-06-01T00:00:00.123Z",
            json!({"mode": "SAFE \"quoted\" \\ é \u{1F680} \u{1e}\u{1f}", "flag": true}),
        ),
        snap("mid.2", "2025-06-01T00:00:00.123Z", json!({"flag": false})),
        snap(
            "new",
            "2025-06-01T00:00:01.999Z",
            json!({"frac": 3.0000000000000007e20, "zero": -0.0, "int": 9_007_199_254_740_991_i64}),
        ),
    ];
    store
        .insert_telemetry(write(stored.clone()))
        .await
        .expect("insert");
    let (from, to) = (ts("1969-01-01T00:00:00Z"), ts("2026-01-01T00:00:00Z"));
    let whole = store
        .telemetry_range(&TenantId::default(), &sc("SC-1"), from, to, 100)
        .await
        .expect("range");
    assert_eq!(whole, stored, "the one-call range read");
    for page in [1, 2, 4] {
        let read: Vec<TelemetryPage> = Arc::clone(store)
            .telemetry_range_pages(TenantId::default(), sc("SC-1"), from, to, page, usize::MAX)
            .pages
            .try_collect()
            .await
            .expect("pages");
        let paged: Vec<_> = read.into_iter().flat_map(|p| p.snapshots).collect();
        assert_eq!(paged, stored, "pages of {page}");
        let mut after = None;
        let mut by_cursor = Vec::new();
        loop {
            let read = store
                .telemetry_range_page(&TenantId::default(), &sc("SC-1"), from, to, after, page)
                .await
                .expect("page");
            by_cursor.extend(read.snapshots);
            match read.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(by_cursor, stored, "pages of {page} after cursors");
    }
}

/// The last telemetry timestamp is the newest sample time, not the last stored.
pub async fn the_last_telemetry_timestamp_is_the_newest_sample(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    assert_eq!(
        store
            .last_telemetry_timestamp(&TenantId::default(), &sc("SC-1"))
            .await
            .expect("last"),
        None
    );
    store
        .insert_telemetry(write(vec![
            snapshot("b", "SC-1", 9, 1.0),
            snapshot("a", "SC-1", 4, 1.0),
        ]))
        .await
        .expect("insert");
    assert_eq!(
        store
            .last_telemetry_timestamp(&TenantId::default(), &sc("SC-1"))
            .await
            .expect("last"),
        Some(at(9))
    );
}

/// The latest value of each parameter is the one of its newest sample time, whatever the
/// order of arrival; parameters are ordered by name.
pub async fn latest_values_are_the_newest_sample_of_each_parameter(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let snap = |id: &str, second: i64, parameters: serde_json::Value| TelemetrySnapshot {
        id: SnapshotId::parse(id).expect("id"),
        spacecraft_id: sc("SC-1"),
        timestamp: at(second),
        parameters: Parameters::from_json(&parameters).expect("parameters"),
    };
    store
        .insert_telemetry(write(vec![
            snap("new", 5, json!({"temp": 30, "mode": "SAFE"})),
            snap(
                "old",
                1,
                json!({"temp": 10, "mode": "CRUISE", "volt": 28.5}),
            ),
        ]))
        .await
        .expect("insert");
    assert_eq!(
        latest_of(store, "SC-1").await,
        vec![
            ("mode".to_owned(), "SAFE".to_owned(), at(5)),
            ("temp".to_owned(), "30".to_owned(), at(5)),
            ("volt".to_owned(), "28.5".to_owned(), at(1)),
        ]
    );
    assert!(
        store
            .latest_values(&TenantId::default(), &sc("SC-9"))
            .await
            .expect("latest")
            .is_empty()
    );
    // Across batches: an older sample arriving later does not replace a newer one...
    store
        .insert_telemetry(write(vec![snap("older", 4, json!({"temp": 2, "volt": 3}))]))
        .await
        .expect("insert");
    // ...a sample of the same time arriving later does, the last stored of a tie winning...
    store
        .insert_telemetry(write(vec![
            snap("tie-1", 5, json!({"mode": "B"})),
            snap("tie-2", 5, json!({"mode": "C"})),
        ]))
        .await
        .expect("insert");
    // ...and a repeated snapshot is not stored again, so it does not count as the last stored.
    store
        .insert_telemetry(write(vec![snap("tie-1", 5, json!({"mode": "B"}))]))
        .await
        .expect("duplicate");
    assert_eq!(
        latest_of(store, "SC-1").await,
        vec![
            ("mode".to_owned(), "C".to_owned(), at(5)),
            ("temp".to_owned(), "30".to_owned(), at(5)),
            ("volt".to_owned(), "3".to_owned(), at(4)),
        ]
    );
}

/// `spacecraft`'s latest values as (parameter, value text, sample time), by parameter name.
async fn latest_of(store: &dyn Store, spacecraft: &str) -> Vec<(String, String, Timestamp)> {
    store
        .latest_values(&TenantId::default(), &sc(spacecraft))
        .await
        .expect("latest")
        .into_iter()
        .map(|l| (l.parameter.into_string(), l.value.to_string(), l.timestamp))
        .collect()
}

/// Series buckets hold min, max, avg, count and last of the numeric samples in range.
pub async fn series_are_downsampled_into_epoch_aligned_buckets(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    let values = [
        (0, 1.0),
        (30, 3.0),
        (59, 2.0),
        (60, 10.0),
        (200, 7.0),
        (250, 9.0),
    ];
    let mut snapshots: Vec<TelemetrySnapshot> = values
        .iter()
        .map(|(second, v)| snapshot(&format!("s{second}"), "SC-1", *second, *v))
        .collect();
    snapshots.push(TelemetrySnapshot {
        id: SnapshotId::parse("text").expect("id"),
        spacecraft_id: sc("SC-1"),
        timestamp: at(61),
        parameters: Parameters::from_json(&json!({"temp": "n/a"})).expect("parameters"),
    });
    store
        .insert_telemetry(write(snapshots))
        .await
        .expect("insert");
    let temp = ParameterName::parse("temp").expect("name");
    let minute = BucketWidth::parse("1m").expect("bucket");
    let series = store
        .telemetry_series(
            &TenantId::default(),
            &sc("SC-1"),
            &temp,
            at(0),
            at(210),
            minute,
        )
        .await
        .expect("series");
    let got: Vec<(i64, f64, f64, f64, u64, f64)> = series
        .iter()
        .map(|b| {
            let start = (b.start.as_millis() - at(0).as_millis()) / 1000;
            (start, b.min, b.max, b.avg, b.count, b.last)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (0, 1.0, 3.0, 2.0, 3, 2.0),
            (60, 10.0, 10.0, 10.0, 1, 10.0),
            (180, 7.0, 7.0, 7.0, 1, 7.0)
        ],
        "empty buckets are omitted and strings are not counted"
    );
    let other = ParameterName::parse("mode").expect("name");
    let none = store
        .telemetry_series(
            &TenantId::default(),
            &sc("SC-1"),
            &other,
            at(0),
            at(300),
            minute,
        )
        .await
        .expect("series");
    assert!(none.is_empty(), "a string parameter has no numeric series");
}

/// Twelve snapshots of SC-1 at seconds 1 to 4 in runs of three equal times (`s00`…`s11`),
/// one before them at second 0 and one after at second 9, and one of SC-2 at second 2.
async fn store_runs_of_equal_times(store: &dyn Store) {
    register(store, "SC-1", 0, 1).await;
    register(store, "SC-2", 0, 2).await;
    let mut snapshots = Vec::new();
    for i in 0..12_u8 {
        // Seconds 1, 1, 1, 2, 2, 2, …: runs of equal times that pages must not split wrongly.
        let second = 1 + i64::from(i / 3);
        snapshots.push(snapshot(&format!("s{i:02}"), "SC-1", second, f64::from(i)));
    }
    snapshots.push(snapshot("other", "SC-2", 2, 1.0));
    snapshots.push(snapshot("before", "SC-1", 0, 1.0));
    snapshots.push(snapshot("after", "SC-1", 9, 1.0));
    store
        .insert_telemetry(write(snapshots))
        .await
        .expect("insert");
}

/// A range read by pages after a cursor gives exactly the one-call range read, whatever the
/// page size, even when a page ends inside a run of equal sample times; the last page has no
/// cursor; the count of a range stops at its cap.
pub async fn ranges_are_read_by_pages_after_a_cursor(store: &dyn Store) {
    store_runs_of_equal_times(store).await;
    let whole = store
        .telemetry_range(&TenantId::default(), &sc("SC-1"), at(1), at(4), 100)
        .await
        .expect("range");
    assert_eq!(whole.len(), 12);
    for page_size in [1, 2, 5, 12, 13] {
        let mut paged = Vec::new();
        let mut after = None;
        let mut pages = 0;
        loop {
            let page = store
                .telemetry_range_page(
                    &TenantId::default(),
                    &sc("SC-1"),
                    at(1),
                    at(4),
                    after,
                    page_size,
                )
                .await
                .expect("page");
            assert!(page.snapshots.len() <= page_size);
            pages += 1;
            assert!(pages <= 14, "pages of {page_size} never end");
            paged.extend(page.snapshots);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(paged, whole, "pages of {page_size}");
    }
    let empty = store
        .telemetry_range_page(&TenantId::default(), &sc("SC-3"), at(1), at(4), None, 5)
        .await
        .expect("page");
    assert!(empty.snapshots.is_empty() && empty.next.is_none());
    let sc1 = sc("SC-1");
    let tenant = TenantId::default();
    let count = |from, to, at_most| store.count_telemetry_range(&tenant, &sc1, from, to, at_most);
    assert_eq!(count(at(1), at(4), 100).await.expect("count"), 12);
    assert_eq!(count(at(1), at(4), 5).await.expect("count"), 5);
    assert_eq!(count(at(0), at(9), 100).await.expect("count"), 14);
    assert_eq!(count(at(5), at(8), 100).await.expect("count"), 0);
    assert_eq!(count(at(4), at(1), 100).await.expect("count"), 0);
}

/// The pages of a range say whether it holds more snapshots than the cap, whatever the page
/// size (a cap inside a page, at a page's end, at the range's size and past it); when it does
/// not, the pages hold the whole range. A reversed window, an unknown spacecraft and another
/// tenant's spacecraft hold none.
pub async fn range_pages_say_whether_the_range_holds_more_than_the_cap(store: &Arc<dyn Store>) {
    store_runs_of_equal_times(&**store).await;
    let tenant = TenantId::default();
    // 14 snapshots of SC-1 in 0..=9 s.
    let whole = store
        .telemetry_range(&tenant, &sc("SC-1"), at(0), at(9), 100)
        .await
        .expect("range");
    assert_eq!(whole.len(), 14);
    for page in [1, 3, 5, 7, 14, 100] {
        for cap in [0, 1, 6, 7, 13, 14, 15, 100] {
            let RangePages {
                more_than_cap,
                pages,
            } = Arc::clone(store).telemetry_range_pages(
                tenant.clone(),
                sc("SC-1"),
                at(0),
                at(9),
                page,
                cap,
            );
            let more = more_than_cap.await.expect("size");
            assert_eq!(more, whole.len() > cap, "cap {cap}, pages of {page}");
            if !more {
                let read: Vec<_> = pages
                    .try_collect::<Vec<TelemetryPage>>()
                    .await
                    .expect("pages")
                    .into_iter()
                    .flat_map(|p| p.snapshots)
                    .collect();
                assert_eq!(read, whole, "cap {cap}, pages of {page}");
            }
        }
    }
    let other = TenantId::parse("other-tenant").expect("tenant");
    for (tenant, spacecraft, from, to) in [
        (tenant.clone(), "SC-1", at(9), at(0)),
        (tenant.clone(), "SC-3", at(0), at(9)),
        (other, "SC-1", at(0), at(9)),
    ] {
        let RangePages { more_than_cap, .. } =
            Arc::clone(store).telemetry_range_pages(tenant, sc(spacecraft), from, to, 2, 0);
        assert!(
            !more_than_cap.await.expect("size"),
            "{spacecraft} {from}..={to} holds nothing"
        );
    }
}

/// The stream of pages of a range read, concatenated, is the one-call range read, whatever the
/// page size, also when pages end inside runs of equal sample times; no page holds more than
/// asked while nothing is stored; an empty window, an unknown spacecraft and another tenant's
/// spacecraft give no snapshots; a stream dropped part way leaves the store answering.
pub async fn ranges_are_read_as_a_stream_of_pages(store: &Arc<dyn Store>) {
    store_runs_of_equal_times(&**store).await;
    let tenant = TenantId::default();
    let pages = |spacecraft: &str, from, to, page| {
        Arc::clone(store)
            .telemetry_range_pages(tenant.clone(), sc(spacecraft), from, to, page, usize::MAX)
            .pages
            .try_collect::<Vec<TelemetryPage>>()
    };
    for (from, to) in [(at(1), at(4)), (at(0), at(9)), (at(2), at(2))] {
        let whole = store
            .telemetry_range(&tenant, &sc("SC-1"), from, to, 100)
            .await
            .expect("range");
        for page_size in [1, 2, 3, 5, 12, 13, 100] {
            let read = pages("SC-1", from, to, page_size).await.expect("pages");
            assert!(
                read.iter().all(|p| p.snapshots.len() <= page_size),
                "a page of {page_size} holds more"
            );
            let paged: Vec<_> = read.into_iter().flat_map(|p| p.snapshots).collect();
            assert_eq!(paged, whole, "pages of {page_size} over {from}..={to}");
        }
    }
    for (spacecraft, from, to) in [
        ("SC-1", at(5), at(8)),
        ("SC-1", at(4), at(1)),
        ("SC-3", at(0), at(9)),
    ] {
        let read = pages(spacecraft, from, to, 2).await.expect("pages");
        assert!(
            read.iter().all(|p| p.snapshots.is_empty()),
            "{spacecraft} {from}..={to} has no snapshots"
        );
    }
    let other = TenantId::parse("other-tenant").expect("tenant");
    let foreign = Arc::clone(store)
        .telemetry_range_pages(other, sc("SC-1"), at(0), at(9), 2, usize::MAX)
        .pages
        .try_collect::<Vec<TelemetryPage>>()
        .await
        .expect("pages");
    assert!(foreign.iter().all(|p| p.snapshots.is_empty()));
    let mut stream = Arc::clone(store)
        .telemetry_range_pages(tenant.clone(), sc("SC-1"), at(0), at(9), 1, usize::MAX)
        .pages;
    let first = stream.next().await.expect("a page").expect("read");
    assert_eq!(ids(&first.snapshots), ["before"]);
    drop(stream);
    let again = store
        .telemetry_range(&tenant, &sc("SC-1"), at(0), at(0), 10)
        .await
        .expect("range after a dropped stream");
    assert_eq!(ids(&again), ["before"]);
}
