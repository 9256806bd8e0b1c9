//! Reads of persisted anomalies: the newest, a time line, one by id.

use std::sync::Arc;

use crate::domain::{Anomaly, AnomalyId, Limit, SpacecraftId, TenantId, Timestamp};
use crate::error::{Error, Result};
use crate::ports::{AnomalyPage, RangeCursor, Store};

use super::{AnalysisWindow, MissionOps};

/// A time line of persisted anomalies being read page by page (see
/// [`MissionOps::anomaly_timeline_pages`]): each call to [`next`](Self::next) reads one page.
pub struct TimelinePages {
    store: Arc<dyn Store>,
    tenant: TenantId,
    spacecraft: SpacecraftId,
    from: Timestamp,
    to: Timestamp,
    page_size: usize,
    after: Option<RangeCursor>,
    done: bool,
}

impl std::fmt::Debug for TimelinePages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimelinePages")
            .field("spacecraft", &self.spacecraft)
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}

impl TimelinePages {
    /// The next page of anomalies (possibly empty), or `None` when the time line is done.
    pub async fn next(&mut self) -> Result<Option<Vec<Anomaly>>> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .store
            .anomaly_timeline_page(
                &self.tenant,
                &self.spacecraft,
                self.from,
                self.to,
                self.after,
                self.page_size,
            )
            .await?;
        match page.next {
            Some(next) => self.after = Some(next),
            None => self.done = true,
        }
        Ok(Some(page.anomalies))
    }
}

impl MissionOps {
    /// Persisted anomalies of `id`, newest first.
    pub async fn list_anomalies(&self, id: &SpacecraftId, limit: Limit) -> Result<Vec<Anomaly>> {
        self.shared
            .store
            .recent_anomalies(&self.tenant, id, limit)
            .await
    }

    /// Persisted anomalies of `id` in `from..=to`, oldest first.
    pub async fn anomaly_timeline(
        &self,
        id: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Anomaly>> {
        AnalysisWindow::range(from, to)?;
        self.shared
            .store
            .anomaly_timeline(&self.tenant, id, from, to)
            .await
    }

    /// [`Self::anomaly_timeline`] read page by page (pages of the analysis page size), for
    /// frontends that stream it: memory bounded by a page, however long the window.
    pub fn anomaly_timeline_pages(
        &self,
        id: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<TimelinePages> {
        AnalysisWindow::range(from, to)?;
        Ok(TimelinePages {
            store: Arc::clone(&self.shared.store),
            tenant: self.tenant.clone(),
            spacecraft: id.clone(),
            from,
            to,
            page_size: self.shared.analysis_page,
            after: None,
            done: false,
        })
    }

    /// One page of [`Self::anomaly_timeline`]: at most `limit` anomalies after `after` (from
    /// the window's start when `None`), and where the next page starts when there may be more.
    pub async fn anomaly_timeline_page(
        &self,
        id: &SpacecraftId,
        from: Timestamp,
        to: Timestamp,
        after: Option<RangeCursor>,
        limit: Limit,
    ) -> Result<AnomalyPage> {
        AnalysisWindow::range(from, to)?;
        self.shared
            .store
            .anomaly_timeline_page(&self.tenant, id, from, to, after, limit.get())
            .await
    }

    /// The persisted anomaly with `id`; [`Error::NotFound`] when unknown.
    pub async fn get_anomaly(&self, id: &AnomalyId) -> Result<Anomaly> {
        self.shared
            .store
            .get_anomaly(&self.tenant, id)
            .await?
            .ok_or_else(|| Error::not_found("anomaly", id))
    }
}
