//! Documents: the current version of each, every version in `document_versions`, and search.
//!
//! Search keeps the compat rule for *which* documents match — the query appears in the title or
//! body ignoring case, or equals a tag — and uses the FTS5 index only to *rank* them: documents
//! the index also finds (the query as a phrase of whole words) come first, by bm25 with the
//! title weighted above tags and body; the others (the query inside a word, or only a tag)
//! follow, by how often the query appears (title hits count three times, a tag five); ties go
//! to the newest. So a document is never missed because tokenization split a word differently.

use async_trait::async_trait;
use missionops_core::TenantId;
use missionops_core::{
    DocumentBody, DocumentCategory, DocumentFilter, DocumentId, DocumentRepository, DocumentTitle,
    Error, Limit, NewEvent, OpsDocument, Result, SearchQuery, SpacecraftId, Tag, Tags,
};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::{
    DbResult, SqliteStore, begin_write, corrupt, events, is_unique_violation, sql_count, stored,
    stored_time,
};
use crate::json_text::{read_strings, to_json};

const DOCUMENT_COLUMNS: &str = "d.id, d.spacecraft_id, d.title, d.category, d.tags, d.body, d.published_at, d.updated_at, \
     d.version";

type DocumentRow = (
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
);

fn document_from_row(row: DocumentRow) -> Result<OpsDocument> {
    let (id, spacecraft_id, title, category, tags, body, published_at, updated_at, version) = row;
    let what = "document";
    let tags = read_strings(&tags)
        .map_err(|e| corrupt(what, &id, e))?
        .into_iter()
        .map(|t| stored(Tag::parse(t), what, &id))
        .collect::<Result<Vec<_>>>()?;
    Ok(OpsDocument {
        spacecraft_id: spacecraft_id
            .map(|s| stored(SpacecraftId::parse(s), what, &id))
            .transpose()?,
        title: stored(DocumentTitle::parse(title), what, &id)?,
        category: stored(DocumentCategory::parse(category), what, &id)?,
        tags: stored(Tags::new(tags), what, &id)?,
        body: stored(DocumentBody::parse(body), what, &id)?,
        published_at: stored_time(published_at, what, &id)?,
        updated_at: stored_time(updated_at, what, &id)?,
        version: u32::try_from(version).map_err(|e| corrupt(what, &id, e))?,
        id: stored(DocumentId::parse(id.clone()), what, &id)?,
    })
}

/// The text columns of a document as stored.
struct Stored<'a> {
    document: &'a OpsDocument,
    tags: String,
    title_folded: String,
    body_folded: String,
}

impl<'a> Stored<'a> {
    fn new(document: &'a OpsDocument) -> Result<Self> {
        Ok(Stored {
            document,
            tags: to_json(&document.tags)?,
            title_folded: document.title.as_str().to_lowercase(),
            body_folded: document.body.as_str().to_lowercase(),
        })
    }

    /// Keeps this version in the history table.
    async fn keep_version(&self, conn: &mut SqliteConnection, tenant: &TenantId) -> Result<()> {
        let d = self.document;
        sqlx::query(
            "INSERT INTO document_versions (tenant, document_id, version, spacecraft_id, title, \
             category, tags, body, published_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant.as_str())
        .bind(d.id.as_str())
        .bind(i64::from(d.version))
        .bind(d.spacecraft_id.as_ref().map(SpacecraftId::as_str))
        .bind(d.title.as_str())
        .bind(d.category.as_str())
        .bind(self.tags.as_str())
        .bind(d.body.as_str())
        .bind(d.published_at.as_millis())
        .bind(d.updated_at.as_millis())
        .execute(&mut *conn)
        .await
        .db()?;
        Ok(())
    }
}

/// The FTS5 query for `query`: the whole text as one phrase (`"` doubled inside), or `None`
/// when it has no letter or digit to index, so FTS5 could match nothing.
fn fts_phrase(query: &str) -> Option<String> {
    query
        .chars()
        .any(char::is_alphanumeric)
        .then(|| format!("\"{}\"", query.replace('"', "\"\"")))
}

#[async_trait]
impl DocumentRepository for SqliteStore {
    async fn publish_document(
        &self,
        tenant: &TenantId,
        document: OpsDocument,
        event: NewEvent,
    ) -> Result<()> {
        let row = Stored::new(&document)?;
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        let inserted = sqlx::query(
            "INSERT INTO documents (tenant, id, spacecraft_id, title, category, tags, body, \
             title_folded, body_folded, published_at, updated_at, version) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant.as_str())
        .bind(document.id.as_str())
        .bind(document.spacecraft_id.as_ref().map(SpacecraftId::as_str))
        .bind(document.title.as_str())
        .bind(document.category.as_str())
        .bind(row.tags.as_str())
        .bind(document.body.as_str())
        .bind(row.title_folded.as_str())
        .bind(row.body_folded.as_str())
        .bind(document.published_at.as_millis())
        .bind(document.updated_at.as_millis())
        .bind(i64::from(document.version))
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(err) if is_unique_violation(&err) => {
                return Err(Error::conflict("document", &document.id, "already exists"));
            }
            other => other.db()?,
        };
        row.keep_version(&mut tx, tenant).await?;
        events::record(&mut tx, tenant, std::slice::from_ref(&event)).await?;
        tx.commit().await.db()
    }

    async fn update_document(
        &self,
        tenant: &TenantId,
        document: OpsDocument,
        event: NewEvent,
    ) -> Result<()> {
        let row = Stored::new(&document)?;
        let mut writer = self.writer.lock().await?;
        let mut tx = begin_write(&mut writer).await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT version FROM documents WHERE tenant = ? AND id = ?")
                .bind(tenant.as_str())
                .bind(document.id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .db()?;
        let Some(current) = current else {
            return Err(Error::not_found("document", &document.id));
        };
        if i64::from(document.version) != current + 1 {
            return Err(Error::conflict(
                "document",
                &document.id,
                format!(
                    "version {} was written concurrently (current is {current})",
                    document.version
                ),
            ));
        }
        sqlx::query(
            "UPDATE documents SET spacecraft_id = ?, title = ?, category = ?, tags = ?, body = ?, \
             title_folded = ?, body_folded = ?, published_at = ?, updated_at = ?, version = ? \
             WHERE tenant = ? AND id = ?",
        )
        .bind(document.spacecraft_id.as_ref().map(SpacecraftId::as_str))
        .bind(document.title.as_str())
        .bind(document.category.as_str())
        .bind(row.tags.as_str())
        .bind(document.body.as_str())
        .bind(row.title_folded.as_str())
        .bind(row.body_folded.as_str())
        .bind(document.published_at.as_millis())
        .bind(document.updated_at.as_millis())
        .bind(i64::from(document.version))
        .bind(tenant.as_str())
        .bind(document.id.as_str())
        .execute(&mut *tx)
        .await
        .db()?;
        row.keep_version(&mut tx, tenant).await?;
        events::record(&mut tx, tenant, std::slice::from_ref(&event)).await?;
        tx.commit().await.db()
    }

    async fn get_document(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
    ) -> Result<Option<OpsDocument>> {
        let row: Option<DocumentRow> = sqlx::query_as(&format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents d WHERE d.tenant = ? AND d.id = ?"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.reader)
        .await
        .db()?;
        row.map(document_from_row).transpose()
    }

    async fn search_documents(
        &self,
        tenant: &TenantId,
        query: &SearchQuery,
        limit: Limit,
    ) -> Result<Vec<OpsDocument>> {
        let text = query.as_str();
        let folded = text.to_lowercase();
        // ?1 the FTS5 phrase, ?2 the lower-cased query, ?3 the query as a tag, ?4 the limit,
        // ?5 the tenant.
        let ranked = match fts_phrase(text) {
            Some(_) => {
                "(SELECT rowid AS key, bm25(documents_fts, 10.0, 1.0, 5.0) AS score \
                 FROM documents_fts WHERE documents_fts MATCH ?1)"
            }
            None => "(SELECT NULL AS key, NULL AS score WHERE ?1 IS NULL)",
        };
        let sql = format!(
            "WITH hits AS ( \
               SELECT d.key, \
                 (length(d.title_folded) - length(replace(d.title_folded, ?2, ''))) \
                   / length(?2) AS title_hits, \
                 (length(d.body_folded) - length(replace(d.body_folded, ?2, ''))) \
                   / length(?2) AS body_hits, \
                 EXISTS (SELECT 1 FROM json_each(d.tags) t WHERE t.value = ?3) AS tag_hit \
               FROM documents d WHERE d.tenant = ?5) \
             SELECT {DOCUMENT_COLUMNS} FROM documents d \
             JOIN hits h ON h.key = d.key \
             LEFT JOIN {ranked} f ON f.key = d.key \
             WHERE h.title_hits > 0 OR h.body_hits > 0 OR h.tag_hit \
             ORDER BY f.score IS NULL, f.score, \
               3 * h.title_hits + h.body_hits + 5 * h.tag_hit DESC, \
               d.published_at DESC, d.id DESC \
             LIMIT ?4"
        );
        let rows: Vec<DocumentRow> = sqlx::query_as(&sql)
            .bind(fts_phrase(text))
            .bind(folded)
            .bind(text)
            .bind(sql_count(limit.get()))
            .bind(tenant.as_str())
            .fetch_all(&self.reader)
            .await
            .db()?;
        rows.into_iter().map(document_from_row).collect()
    }

    async fn list_documents(
        &self,
        tenant: &TenantId,
        filter: &DocumentFilter,
    ) -> Result<Vec<OpsDocument>> {
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents d WHERE d.tenant = "
        ));
        query.push_bind(tenant.as_str());
        if let Some(id) = &filter.spacecraft_id {
            query.push(" AND d.spacecraft_id = ").push_bind(id.as_str());
        }
        if let Some(category) = &filter.category {
            query
                .push(" AND d.category = ")
                .push_bind(category.as_str());
        }
        if let Some(tag) = &filter.tag {
            query
                .push(" AND EXISTS (SELECT 1 FROM json_each(d.tags) t WHERE t.value = ")
                .push_bind(tag.as_str())
                .push(")");
        }
        query
            .push(" ORDER BY d.published_at DESC, d.id DESC LIMIT ")
            .push_bind(sql_count(filter.limit.get()))
            .push(" OFFSET ")
            .push_bind(sql_count(filter.offset));
        let rows: Vec<DocumentRow> = query.build_query_as().fetch_all(&self.reader).await.db()?;
        rows.into_iter().map(document_from_row).collect()
    }
}
