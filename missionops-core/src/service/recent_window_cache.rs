//! The cache of what dashboards poll most: the newest snapshots of each spacecraft
//! (`GET /telemetry`, the analysis of the newest N), invalidated by every write naming the
//! spacecraft and trusted for at most [`RECHECK_MS`] otherwise.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::{Limit, SpacecraftId, TelemetrySnapshot, Timestamp};
use crate::error::Result;

use super::MissionOps;
use super::app::{RECHECK_MS, Scoped};

/// The most snapshots a cached window holds: the largest `limit` of the windowed reads.
const WINDOW: u32 = 100;

/// The newest snapshots of one spacecraft as last read, and what invalidates them.
#[derive(Debug, Default)]
struct Window {
    /// Bumped by every write naming the spacecraft; a read that started under an older
    /// generation does not fill the cache.
    generation: u64,
    cached: Option<CachedWindow>,
}

#[derive(Debug)]
struct CachedWindow {
    generation: u64,
    read_at: Timestamp,
    /// Newest first, at most [`WINDOW`].
    snapshots: Arc<Vec<TelemetrySnapshot>>,
}

/// The windows of every spacecraft read since start.
#[derive(Debug, Default)]
pub(super) struct Windows(Mutex<HashMap<Scoped, Window>>);

impl Windows {
    fn generation(&self, id: &Scoped) -> u64 {
        self.0
            .lock()
            .map(|w| w.get(id).map_or(0, |w| w.generation))
            .unwrap_or(u64::MAX)
    }

    fn hit(&self, id: &Scoped, now: Timestamp) -> Option<Arc<Vec<TelemetrySnapshot>>> {
        let windows = self.0.lock().ok()?;
        let window = windows.get(id)?;
        let cached = window.cached.as_ref()?;
        let fresh = cached.generation == window.generation
            && now.as_millis() - cached.read_at.as_millis() < RECHECK_MS;
        fresh.then(|| Arc::clone(&cached.snapshots))
    }

    fn fill(
        &self,
        id: &Scoped,
        generation: u64,
        now: Timestamp,
        snapshots: Arc<Vec<TelemetrySnapshot>>,
    ) {
        if let Ok(mut windows) = self.0.lock() {
            let window = windows.entry(id.clone()).or_default();
            if window.generation == generation {
                window.cached = Some(CachedWindow {
                    generation,
                    read_at: now,
                    snapshots,
                });
            }
        }
    }

    /// Forgets the windows of `spacecraft` (they were just written to).
    pub(super) fn invalidate<'a>(&self, spacecraft: impl IntoIterator<Item = &'a Scoped>) {
        if let Ok(mut windows) = self.0.lock() {
            for id in spacecraft {
                let window = windows.entry(id.clone()).or_default();
                window.generation = window.generation.wrapping_add(1);
                window.cached = None;
            }
        }
    }
}

/// Snapshots of a window, shared with the cache when they came from it (analysing the newest
/// 100 copied them on every request otherwise).
pub(super) struct WindowSnapshots {
    shared: Arc<Vec<TelemetrySnapshot>>,
    len: usize,
}

impl WindowSnapshots {
    /// Snapshots read for this call alone.
    pub(super) fn owned(snapshots: Vec<TelemetrySnapshot>) -> Self {
        let len = snapshots.len();
        WindowSnapshots {
            shared: Arc::new(snapshots),
            len,
        }
    }
}

impl std::ops::Deref for WindowSnapshots {
    type Target = [TelemetrySnapshot];

    fn deref(&self) -> &[TelemetrySnapshot] {
        self.shared.get(..self.len).unwrap_or(&self.shared)
    }
}

impl MissionOps {
    /// The newest `limit` snapshots of `id`, newest first, without copying what the cache
    /// holds (see [`MissionOps::recent_telemetry`]).
    pub(super) async fn recent_window(
        &self,
        id: &SpacecraftId,
        limit: Limit,
    ) -> Result<WindowSnapshots> {
        if limit.get() > WINDOW as usize {
            return Ok(WindowSnapshots::owned(
                self.shared
                    .store
                    .recent_telemetry(&self.tenant, id, limit)
                    .await?,
            ));
        }
        let now = self.shared.clock.now();
        let key = self.scoped(id);
        let window = match self.shared.windows.hit(&key, now) {
            Some(window) => window,
            None => {
                let generation = self.shared.windows.generation(&key);
                let read = self
                    .shared
                    .store
                    .recent_telemetry(&self.tenant, id, Limit::clamped(WINDOW.into(), WINDOW))
                    .await?;
                let read = Arc::new(read);
                self.shared
                    .windows
                    .fill(&key, generation, now, Arc::clone(&read));
                read
            }
        };
        let len = window.len().min(limit.get());
        Ok(WindowSnapshots {
            shared: window,
            len,
        })
    }
}
