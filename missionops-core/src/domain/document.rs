//! Operational documents: procedures, telemetry definitions, notes.

use serde::{Deserialize, Serialize};

use super::ids::{DocumentCategory, DocumentId, DocumentTitle, SpacecraftId, Tag};
use super::limit::Limit;
use super::time::Timestamp;
use crate::error::{Error, Result};

/// The most tags a document may carry.
pub const MAX_TAGS: usize = 32;

/// The Markdown body of a document: at most [`DocumentBody::MAX_LEN`] bytes, no NUL characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DocumentBody(String);

impl DocumentBody {
    /// The longest accepted body, in bytes (1 MiB).
    pub const MAX_LEN: usize = 1024 * 1024;

    /// Parses a body.
    pub fn parse(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        if value.len() > Self::MAX_LEN {
            return Err(Error::invalid(
                "body",
                format!("must be at most {} bytes long", Self::MAX_LEN),
            ));
        }
        if value.contains('\0') {
            return Err(Error::invalid("body", "must not contain NUL characters"));
        }
        Ok(DocumentBody(value))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DocumentBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DocumentBody::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The tags of a document: at most [`MAX_TAGS`], each once, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Tags(Vec<Tag>);

impl Tags {
    /// Parses tags, dropping repeats.
    pub fn new(tags: Vec<Tag>) -> Result<Self> {
        if tags.len() > MAX_TAGS {
            return Err(Error::invalid(
                "tags",
                format!("must have at most {MAX_TAGS} tags (got {})", tags.len()),
            ));
        }
        let mut unique: Vec<Tag> = Vec::with_capacity(tags.len());
        for tag in tags {
            if !unique.contains(&tag) {
                unique.push(tag);
            }
        }
        Ok(Tags(unique))
    }

    /// The tags in order.
    pub fn as_slice(&self) -> &[Tag] {
        &self.0
    }

    /// Whether `tag` is among them.
    pub fn contains(&self, tag: &str) -> bool {
        self.0.iter().any(|t| t.as_str() == tag)
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Tags::new(Vec::<Tag>::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// An operational document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpsDocument {
    /// The id.
    pub id: DocumentId,
    /// The spacecraft it is about, if one.
    pub spacecraft_id: Option<SpacecraftId>,
    /// The title.
    pub title: DocumentTitle,
    /// `procedure`, `telemetry_definition`, … or any label.
    pub category: DocumentCategory,
    /// Tags, e.g. the parameters a procedure covers.
    pub tags: Tags,
    /// Markdown.
    pub body: DocumentBody,
    /// When the first version was published.
    pub published_at: Timestamp,
    /// When the latest version was written.
    pub updated_at: Timestamp,
    /// 1 on publication, +1 on every update.
    pub version: u32,
}

/// A document to publish (`POST /docs`) or the new content of one (`PUT /docs/:id`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewDocument {
    /// The spacecraft it is about, if one.
    #[serde(default)]
    pub spacecraft_id: Option<SpacecraftId>,
    /// The title.
    pub title: DocumentTitle,
    /// Markdown.
    pub body: DocumentBody,
    /// Tags; none when absent.
    #[serde(default)]
    pub tags: Option<Tags>,
    /// The category; `general` when absent.
    #[serde(default)]
    pub category: Option<DocumentCategory>,
}

/// A full-text query: 1–200 bytes of text that is not blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery(String);

impl SearchQuery {
    /// The longest accepted query, in bytes.
    pub const MAX_LEN: usize = 200;

    /// Parses a query, trimming surrounding white space.
    pub fn parse(value: &str) -> Result<Self> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(Error::invalid("q", "must not be empty"));
        }
        if trimmed.len() > Self::MAX_LEN {
            return Err(Error::invalid(
                "q",
                format!("must be at most {} bytes long", Self::MAX_LEN),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Error::invalid("q", "must not contain control characters"));
        }
        Ok(SearchQuery(trimmed.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which documents to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentFilter {
    /// Only documents about this spacecraft.
    pub spacecraft_id: Option<SpacecraftId>,
    /// Only this category.
    pub category: Option<DocumentCategory>,
    /// Only documents with this tag.
    pub tag: Option<Tag>,
    /// At most this many.
    pub limit: Limit,
    /// After skipping this many.
    pub offset: usize,
}

impl OpsDocument {
    /// Whether this document passes the filter's spacecraft, category and tag conditions.
    pub fn matches(&self, filter: &DocumentFilter) -> bool {
        filter
            .spacecraft_id
            .as_ref()
            .is_none_or(|id| self.spacecraft_id.as_ref() == Some(id))
            && filter.category.as_ref().is_none_or(|c| &self.category == c)
            && filter
                .tag
                .as_ref()
                .is_none_or(|t| self.tags.contains(t.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_over_the_limit_are_rejected() {
        assert!(DocumentBody::parse("x".repeat(DocumentBody::MAX_LEN + 1)).is_err());
        assert!(DocumentBody::parse("# Heading\n\ntext").is_ok());
    }

    #[test]
    fn too_many_tags_are_rejected_and_repeats_dropped() {
        let tag = |s: &str| Tag::parse(s).unwrap();
        let tags = Tags::new(vec![tag("a"), tag("b"), tag("a")]).unwrap();
        assert_eq!(tags.as_slice().len(), 2);
        let many = (0..=MAX_TAGS).map(|i| tag(&format!("t{i}"))).collect();
        assert!(Tags::new(many).is_err());
    }

    #[test]
    fn blank_queries_are_rejected() {
        assert_eq!(
            SearchQuery::parse("  ").unwrap_err().to_string(),
            "q: must not be empty"
        );
        assert_eq!(SearchQuery::parse(" battery ").unwrap().as_str(), "battery");
    }
}
