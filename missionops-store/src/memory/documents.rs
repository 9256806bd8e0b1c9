//! Operational documents in memory: versioned updates, the compat search ranking, filtered
//! listing.

use async_trait::async_trait;
use missionops_core::TenantId;
use missionops_core::{
    DocumentFilter, DocumentId, DocumentRepository, Error, Limit, NewEvent, OpsDocument, Result,
    SearchQuery,
};

use super::MemoryStore;

/// The relevance of `document` to `query` under the compat rule, or `None` when it does not
/// match: title hits weigh three times body hits, and an exact tag adds five.
fn relevance(document: &OpsDocument, query: &str) -> Option<usize> {
    let needle = query.to_lowercase();
    let title_hits = document
        .title
        .as_str()
        .to_lowercase()
        .matches(&needle)
        .count();
    let body_hits = document
        .body
        .as_str()
        .to_lowercase()
        .matches(&needle)
        .count();
    let tag_hit = document.tags.contains(query);
    if title_hits == 0 && body_hits == 0 && !tag_hit {
        return None;
    }
    Some(3 * title_hits + body_hits + if tag_hit { 5 } else { 0 })
}

fn newest_first(a: &OpsDocument, b: &OpsDocument) -> std::cmp::Ordering {
    b.published_at
        .cmp(&a.published_at)
        .then_with(|| b.id.cmp(&a.id))
}

#[async_trait]
impl DocumentRepository for MemoryStore {
    async fn publish_document(
        &self,
        tenant: &TenantId,
        document: OpsDocument,
        event: NewEvent,
    ) -> Result<()> {
        let mut world = self.lock()?;
        let (inner, log) = world.split(tenant);
        if inner.documents.contains_key(&document.id) {
            return Err(Error::conflict("document", &document.id, "already exists"));
        }
        log.check_events([&event])?;
        inner.documents.insert(document.id.clone(), document);
        log.record(tenant, event);
        Ok(())
    }

    async fn update_document(
        &self,
        tenant: &TenantId,
        document: OpsDocument,
        event: NewEvent,
    ) -> Result<()> {
        let mut world = self.lock()?;
        let (inner, log) = world.split(tenant);
        let Some(current) = inner.documents.get(&document.id) else {
            return Err(Error::not_found("document", &document.id));
        };
        if document.version != current.version + 1 {
            return Err(Error::conflict(
                "document",
                &document.id,
                format!(
                    "version {} was written concurrently (current is {})",
                    document.version, current.version
                ),
            ));
        }
        log.check_events([&event])?;
        inner.documents.insert(document.id.clone(), document);
        log.record(tenant, event);
        Ok(())
    }

    async fn get_document(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
    ) -> Result<Option<OpsDocument>> {
        Ok(self.lock()?.tenant(tenant).documents.get(id).cloned())
    }

    async fn search_documents(
        &self,
        tenant: &TenantId,
        query: &SearchQuery,
        limit: Limit,
    ) -> Result<Vec<OpsDocument>> {
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        let mut found: Vec<(usize, &OpsDocument)> = inner
            .documents
            .values()
            .filter_map(|d| relevance(d, query.as_str()).map(|score| (score, d)))
            .collect();
        found.sort_by(|(sa, a), (sb, b)| sb.cmp(sa).then_with(|| newest_first(a, b)));
        Ok(found
            .into_iter()
            .take(limit.get())
            .map(|(_, d)| d.clone())
            .collect())
    }

    async fn list_documents(
        &self,
        tenant: &TenantId,
        filter: &DocumentFilter,
    ) -> Result<Vec<OpsDocument>> {
        let mut world = self.lock()?;
        let inner = world.tenant(tenant);
        let mut found: Vec<&OpsDocument> = inner
            .documents
            .values()
            .filter(|d| d.matches(filter))
            .collect();
        found.sort_by(|a, b| newest_first(a, b));
        Ok(found
            .into_iter()
            .skip(filter.offset)
            .take(filter.limit.get())
            .cloned()
            .collect())
    }
}
