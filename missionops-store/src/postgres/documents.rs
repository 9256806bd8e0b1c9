//! Operational documents, their version history and their search.

use async_trait::async_trait;
use missionops_core::TenantId;
use missionops_core::{
    DocumentBody, DocumentCategory, DocumentFilter, DocumentId, DocumentRepository, DocumentTitle,
    Error, Limit, NewEvent, OpsDocument, Result, SearchQuery, SpacecraftId, Tag, Tags,
};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::codec::{PgTime, get, stored, time, version_column, version_to_i32};
use super::events::record_events;
use super::{PostgresStore, db, to_i64, unique_violation};

fn document_from_row(row: &PgRow) -> Result<OpsDocument> {
    let tags = get::<Vec<String>>(row, "tags")?
        .into_iter()
        .map(|t| stored("document tag", Tag::parse(t)))
        .collect::<Result<Vec<Tag>>>()?;
    Ok(OpsDocument {
        id: stored("document id", DocumentId::parse(get::<String>(row, "id")?))?,
        spacecraft_id: get::<Option<String>>(row, "spacecraft_id")?
            .map(|id| stored("document spacecraft id", SpacecraftId::parse(id)))
            .transpose()?,
        title: stored(
            "document title",
            DocumentTitle::parse(get::<String>(row, "title")?),
        )?,
        category: stored(
            "document category",
            DocumentCategory::parse(get::<String>(row, "category")?),
        )?,
        tags: stored("document tags", Tags::new(tags))?,
        body: stored(
            "document body",
            DocumentBody::parse(get::<String>(row, "body")?),
        )?,
        published_at: time(row, "published_at")?,
        updated_at: time(row, "updated_at")?,
        version: version_column(row, "version")?,
    })
}

/// The columns [`document_from_row`] reads.
macro_rules! document_columns {
    () => {
        "SELECT id, spacecraft_id, title, category, tags, body, published_at, updated_at, version
         FROM documents "
    };
}

/// Keeps `document` as version `document.version` in the history.
async fn insert_version(
    conn: &mut PgConnection,
    tenant: &TenantId,
    document: &OpsDocument,
) -> Result<()> {
    let tags: Vec<&str> = document.tags.as_slice().iter().map(Tag::as_str).collect();
    sqlx::query(
        "INSERT INTO document_versions
             (tenant, document_id, version, spacecraft_id, title, category, tags, body, written_at)
         VALUES ($9, $1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(document.id.as_str())
    .bind(version_to_i32(document.version)?)
    .bind(document.spacecraft_id.as_ref().map(SpacecraftId::as_str))
    .bind(document.title.as_str())
    .bind(document.category.as_str())
    .bind(&tags)
    .bind(document.body.as_str())
    .bind(PgTime(document.updated_at))
    .bind(tenant.as_str())
    .execute(&mut *conn)
    .await
    .map_err(|e| match unique_violation(&e) {
        Some("document_versions_pkey") => Error::conflict(
            "document",
            &document.id,
            format!("version {} is already stored", document.version),
        ),
        _ => db(e),
    })?;
    Ok(())
}

/// `text` as an ILIKE pattern matching it anywhere, with `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[async_trait]
impl DocumentRepository for PostgresStore {
    async fn publish_document(
        &self,
        tenant: &TenantId,
        document: OpsDocument,
        event: NewEvent,
    ) -> Result<()> {
        let tags: Vec<&str> = document.tags.as_slice().iter().map(Tag::as_str).collect();
        let mut tx = self.begin_for(tenant).await?;
        let inserted = sqlx::query(
            "INSERT INTO documents (tenant, id, spacecraft_id, title, category, tags, body,
                                    published_at, updated_at, version)
             VALUES ($10, $1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (tenant, id) DO NOTHING",
        )
        .bind(document.id.as_str())
        .bind(document.spacecraft_id.as_ref().map(SpacecraftId::as_str))
        .bind(document.title.as_str())
        .bind(document.category.as_str())
        .bind(&tags)
        .bind(document.body.as_str())
        .bind(PgTime(document.published_at))
        .bind(PgTime(document.updated_at))
        .bind(version_to_i32(document.version)?)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if inserted.rows_affected() == 0 {
            return Err(Error::conflict("document", &document.id, "already exists"));
        }
        insert_version(&mut tx, tenant, &document).await?;
        record_events(&mut tx, tenant, &[&event], &[]).await?;
        tx.commit().await.map_err(db)
    }

    async fn update_document(
        &self,
        tenant: &TenantId,
        document: OpsDocument,
        event: NewEvent,
    ) -> Result<()> {
        let tags: Vec<&str> = document.tags.as_slice().iter().map(Tag::as_str).collect();
        let mut tx = self.begin_for(tenant).await?;
        // The row lock makes concurrent updates of one document take turns, so the version
        // check below cannot be raced.
        let current: Option<i32> = sqlx::query_scalar(
            "SELECT version FROM documents WHERE tenant = $2 AND id = $1 FOR UPDATE",
        )
        .bind(document.id.as_str())
        .bind(tenant.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(current) = current else {
            return Err(Error::not_found("document", &document.id));
        };
        if i64::from(document.version) != i64::from(current) + 1 {
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
            "UPDATE documents SET spacecraft_id = $2, title = $3, category = $4, tags = $5,
                                  body = $6, published_at = $7, updated_at = $8, version = $9
             WHERE tenant = $10 AND id = $1",
        )
        .bind(document.id.as_str())
        .bind(document.spacecraft_id.as_ref().map(SpacecraftId::as_str))
        .bind(document.title.as_str())
        .bind(document.category.as_str())
        .bind(&tags)
        .bind(document.body.as_str())
        .bind(PgTime(document.published_at))
        .bind(PgTime(document.updated_at))
        .bind(version_to_i32(document.version)?)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        insert_version(&mut tx, tenant, &document).await?;
        record_events(&mut tx, tenant, &[&event], &[]).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_document(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
    ) -> Result<Option<OpsDocument>> {
        const SQL: &str = concat!(document_columns!(), "WHERE tenant = $2 AND id = $1");
        self.one_of_tenant(tenant, SQL, id.as_str(), document_from_row)
            .await
    }

    async fn search_documents(
        &self,
        tenant: &TenantId,
        query: &SearchQuery,
        limit: Limit,
    ) -> Result<Vec<OpsDocument>> {
        let mut reader = self.read_for(tenant).await?;
        // Which documents match is the compat rule: the query in the title or body ignoring
        // case, or equal to a tag. How they rank is full-text relevance (ts_rank over title
        // words weighted A, tags A and body words B), then the compat hits (title 3, body 1,
        // tag 5) for queries that are no whole word, then newest first.
        let rows = sqlx::query(concat!(
            document_columns!(),
            ", LATERAL (SELECT title ILIKE $2 AS in_title, body ILIKE $2 AS in_body,
                              $1 = ANY(tags) AS in_tags) AS hit
             WHERE tenant = $4 AND (hit.in_title OR hit.in_body OR hit.in_tags)
             ORDER BY ts_rank(search || setweight(to_tsvector('english'::regconfig,
                                                              array_to_string(tags, ' ')), 'A'),
                              plainto_tsquery('english'::regconfig, $1)) DESC,
                      3 * hit.in_title::int + hit.in_body::int + 5 * hit.in_tags::int DESC,
                      published_at DESC, id DESC
             LIMIT $3"
        ))
        .bind(query.as_str())
        .bind(contains_pattern(query.as_str()))
        .bind(to_i64(limit.get()))
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        rows.iter().map(document_from_row).collect()
    }

    async fn list_documents(
        &self,
        tenant: &TenantId,
        filter: &DocumentFilter,
    ) -> Result<Vec<OpsDocument>> {
        let mut reader = self.filtered_read_for(tenant).await?;
        let rows = sqlx::query(concat!(
            document_columns!(),
            "WHERE tenant = $6
               AND ($1::text IS NULL OR spacecraft_id = $1)
               AND ($2::text IS NULL OR category = $2)
               AND ($3::text IS NULL OR $3 = ANY(tags))
             ORDER BY published_at DESC, id DESC
             LIMIT $4 OFFSET $5"
        ))
        .bind(filter.spacecraft_id.as_ref().map(SpacecraftId::as_str))
        .bind(filter.category.as_ref().map(DocumentCategory::as_str))
        .bind(filter.tag.as_ref().map(Tag::as_str))
        .bind(to_i64(filter.limit.get()))
        .bind(to_i64(filter.offset))
        .bind(tenant.as_str())
        .fetch_all(&mut *reader)
        .await
        .map_err(db)?;
        reader.succeeded();
        rows.iter().map(document_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("battery"), "%battery%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
