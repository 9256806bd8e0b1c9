//! Conformance of [`DocumentRepository`](missionops_core::DocumentRepository): versions, search,
//! filtered listing.

use missionops_core::TenantId;
use missionops_core::{
    DocumentBody, DocumentCategory, DocumentFilter, DocumentId, Error, EventType, OpsDocument,
    SearchQuery, Store, Tag,
};

use super::fixtures::*;

/// Documents are published once, updated to the next version only, and read back exactly.
pub async fn documents_are_published_updated_and_versioned(store: &dyn Store) {
    let doc = document("d1", 1, "Battery recovery", "Steps", &["battery_soc"]);
    store
        .publish_document(
            &TenantId::default(),
            doc.clone(),
            event(1, Some("SC-1"), EventType::DocumentPublished),
        )
        .await
        .expect("publish");
    assert_eq!(
        store
            .get_document(&TenantId::default(), &doc.id)
            .await
            .expect("get"),
        Some(doc.clone())
    );
    let err = store
        .publish_document(
            &TenantId::default(),
            doc.clone(),
            event(2, None, EventType::DocumentPublished),
        )
        .await
        .expect_err("publish twice");
    assert!(matches!(err, Error::Conflict { .. }), "got {err}");
    let mut next = doc.clone();
    next.version = 2;
    next.body = DocumentBody::parse("Steps, revised").expect("body");
    next.updated_at = at(5);
    store
        .update_document(
            &TenantId::default(),
            next.clone(),
            event(3, Some("SC-1"), EventType::DocumentUpdated),
        )
        .await
        .expect("update");
    assert_eq!(
        store
            .get_document(&TenantId::default(), &doc.id)
            .await
            .expect("get"),
        Some(next.clone())
    );
    let err = store
        .update_document(
            &TenantId::default(),
            next.clone(),
            event(4, None, EventType::DocumentUpdated),
        )
        .await
        .expect_err("same version again");
    assert!(matches!(err, Error::Conflict { .. }), "got {err}");
    let mut missing = next;
    missing.id = DocumentId::parse("d404").expect("id");
    let err = store
        .update_document(
            &TenantId::default(),
            missing,
            event(5, None, EventType::DocumentUpdated),
        )
        .await
        .expect_err("missing");
    assert!(matches!(err, Error::NotFound { .. }), "got {err}");
    assert_eq!(event_count(store).await, 2);
}

/// Search matches title or body ignoring case, or an exact tag; title hits rank first.
pub async fn document_search_is_case_insensitive_ranked_and_matches_tags(store: &dyn Store) {
    let docs = [
        document("body", 1, "Power notes", "check the BATTERY heaters", &[]),
        document("title", 2, "Battery recovery", "steps", &[]),
        document("tag", 3, "Thermal", "nothing here", &["battery"]),
        document("none", 4, "Attitude", "wheels", &["adcs"]),
    ];
    for (n, doc) in docs.iter().enumerate() {
        store
            .publish_document(
                &TenantId::default(),
                doc.clone(),
                event(n as u32 + 1, None, EventType::DocumentPublished),
            )
            .await
            .expect("publish");
    }
    let query = SearchQuery::parse("battery").expect("query");
    let found = store
        .search_documents(&TenantId::default(), &query, limit(10))
        .await
        .expect("search");
    let ids: Vec<&str> = found.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "three documents match: {ids:?}");
    assert!(!ids.contains(&"none"));
    let rank = |id: &str| ids.iter().position(|d| *d == id);
    assert!(
        rank("title") < rank("body"),
        "a title match ranks above a body match: {ids:?}"
    );
    let found = store
        .search_documents(&TenantId::default(), &query, limit(1))
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    let query = SearchQuery::parse("adcs").expect("query");
    let found = store
        .search_documents(&TenantId::default(), &query, limit(10))
        .await
        .expect("search");
    assert_eq!(found.len(), 1, "an exact tag matches");
}

/// Listing filters by spacecraft, category and tag, newest first, with an offset.
pub async fn documents_are_listed_with_filters_newest_first(store: &dyn Store) {
    let mut note = document("note", 3, "Note", "text", &["ops"]);
    note.category = DocumentCategory::parse("mission_note").expect("category");
    note.spacecraft_id = Some(sc("SC-2"));
    let docs = [
        document("p1", 1, "Proc 1", "text", &["battery_soc"]),
        document("p2", 2, "Proc 2", "text", &["bus_voltage"]),
        note,
    ];
    for (n, doc) in docs.iter().enumerate() {
        store
            .publish_document(
                &TenantId::default(),
                doc.clone(),
                event(n as u32 + 1, None, EventType::DocumentPublished),
            )
            .await
            .expect("publish");
    }
    let list = |spacecraft: Option<&str>, category: Option<&str>, tag: Option<&str>, offset| {
        DocumentFilter {
            spacecraft_id: spacecraft.map(sc),
            category: category.map(|c| DocumentCategory::parse(c).expect("category")),
            tag: tag.map(|t| Tag::parse(t).expect("tag")),
            limit: limit(10),
            offset,
        }
    };
    let names = |docs: Vec<OpsDocument>| -> Vec<String> {
        docs.into_iter().map(|d| d.id.into_string()).collect()
    };
    let all = store
        .list_documents(&TenantId::default(), &list(None, None, None, 0))
        .await
        .expect("list");
    assert_eq!(names(all), ["note", "p2", "p1"]);
    let skipped = store
        .list_documents(&TenantId::default(), &list(None, None, None, 1))
        .await
        .expect("list");
    assert_eq!(names(skipped), ["p2", "p1"]);
    let by_sc = store
        .list_documents(&TenantId::default(), &list(Some("SC-1"), None, None, 0))
        .await
        .expect("list");
    assert_eq!(names(by_sc), ["p2", "p1"]);
    let by_cat = store
        .list_documents(
            &TenantId::default(),
            &list(None, Some("mission_note"), None, 0),
        )
        .await
        .expect("list");
    assert_eq!(names(by_cat), ["note"]);
    let by_tag = store
        .list_documents(
            &TenantId::default(),
            &list(None, None, Some("battery_soc"), 0),
        )
        .await
        .expect("list");
    assert_eq!(names(by_tag), ["p1"]);
}
