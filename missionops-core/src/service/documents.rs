//! Operational documents: publish, update, read, search, list, and the procedures relevant to
//! an anomaly.

use crate::domain::{
    AnomalyId, DocumentCategory, DocumentFilter, DocumentId, Limit, NewDocument, NewEvent,
    OpsDocument, SearchQuery, Tag,
};
use crate::error::{Error, Result};

use super::MissionOps;

/// The most procedures returned for one anomaly.
const MAX_PROCEDURES: u32 = 50;

impl MissionOps {
    /// Publishes a document (version 1, `DOCUMENT_PUBLISHED` event).
    pub async fn publish_document(&self, new: NewDocument) -> Result<OpsDocument> {
        let now = self.shared.clock.now();
        let document = OpsDocument {
            id: self.shared.ids.new_id().into(),
            spacecraft_id: new.spacecraft_id,
            title: new.title,
            category: new.category.unwrap_or_else(DocumentCategory::general),
            tags: new.tags.unwrap_or_default(),
            body: new.body,
            published_at: now,
            updated_at: now,
            version: 1,
        };
        let event = NewEvent::document_published(self.event_stamp(), &document);
        self.shared
            .store
            .publish_document(&self.tenant, document.clone(), self.audited(event))
            .await?;
        Ok(document)
    }

    /// Replaces a document's content with its next version (`DOCUMENT_UPDATED` event).
    pub async fn update_document(&self, id: &DocumentId, new: NewDocument) -> Result<OpsDocument> {
        let current = self.get_document(id).await?;
        let document = OpsDocument {
            id: current.id,
            spacecraft_id: new.spacecraft_id,
            title: new.title,
            category: new.category.unwrap_or_else(DocumentCategory::general),
            tags: new.tags.unwrap_or_default(),
            body: new.body,
            published_at: current.published_at,
            updated_at: self.shared.clock.now(),
            version: current.version + 1,
        };
        let event = NewEvent::document_updated(self.event_stamp(), &document);
        self.shared
            .store
            .update_document(&self.tenant, document.clone(), self.audited(event))
            .await?;
        Ok(document)
    }

    /// The document with `id`; [`Error::NotFound`] when unknown.
    pub async fn get_document(&self, id: &DocumentId) -> Result<OpsDocument> {
        self.shared
            .store
            .get_document(&self.tenant, id)
            .await?
            .ok_or_else(|| Error::not_found("document", id))
    }

    /// Documents matching `query`, best match first.
    pub async fn search_documents(
        &self,
        query: &SearchQuery,
        limit: Limit,
    ) -> Result<Vec<OpsDocument>> {
        self.shared
            .store
            .search_documents(&self.tenant, query, limit)
            .await
    }

    /// Documents passing `filter`, newest first.
    pub async fn list_documents(&self, filter: &DocumentFilter) -> Result<Vec<OpsDocument>> {
        self.shared.store.list_documents(&self.tenant, filter).await
    }

    /// `procedure` documents relevant to a persisted anomaly: those tagged with its parameter
    /// first (newest first), then those whose text names it (best match first).
    pub async fn procedures_for_anomaly(&self, id: &AnomalyId) -> Result<Vec<OpsDocument>> {
        let anomaly = self.get_anomaly(id).await?;
        let limit = Limit::clamped(i64::from(MAX_PROCEDURES), MAX_PROCEDURES);
        let procedure = DocumentCategory::parse("procedure")?;
        let tagged = match Tag::parse(anomaly.parameter.as_str()) {
            Ok(tag) => {
                self.shared
                    .store
                    .list_documents(
                        &self.tenant,
                        &DocumentFilter {
                            spacecraft_id: None,
                            category: Some(procedure),
                            tag: Some(tag),
                            limit,
                            offset: 0,
                        },
                    )
                    .await?
            }
            Err(_) => Vec::new(),
        };
        let mentioned = match SearchQuery::parse(anomaly.parameter.as_str()) {
            Ok(query) => {
                self.shared
                    .store
                    .search_documents(&self.tenant, &query, limit)
                    .await?
            }
            Err(_) => Vec::new(),
        };
        let mut found = tagged;
        for document in mentioned {
            if document.category.is_procedure() && !found.iter().any(|d| d.id == document.id) {
                found.push(document);
            }
        }
        let for_this_spacecraft = |d: &OpsDocument| {
            d.spacecraft_id
                .as_ref()
                .is_none_or(|s| s == &anomaly.spacecraft_id)
        };
        found.retain(for_this_spacecraft);
        found.truncate(MAX_PROCEDURES as usize);
        Ok(found)
    }
}
