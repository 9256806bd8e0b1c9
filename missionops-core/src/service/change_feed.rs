//! Which spacecraft's rules changed, learnt from the event stream instead of asked of the store
//! one spacecraft at a time.
//!
//! A monitor whose configuration and packet definition versions were compared with the store
//! more than [`RECHECK_MS`] ago compares them again before a live write: two reads for every
//! spacecraft every two seconds, ten thousand reads a second for a fleet of ten thousand,
//! each a round trip on PostgreSQL. But every change of a configuration or a packet definition,
//! by this process or any other sharing the database, records a `CONFIG_CHANGED` event naming
//! its spacecraft in the transaction that makes it, and events are numbered in commit order
//! without gaps. So one read of the events after the last one seen, per tenant and at most every
//! [`RECHECK_MS`], tells which spacecraft changed: a monitor checked after the feed began, with
//! no change of its spacecraft seen since it was checked, is still current, and only the
//! others read their versions.
//!
//! The times are the application clock's: a poll counts as fresh from the moment before it
//! asked (whatever committed before then is in its answer), the changes it finds are dated
//! the moment after it answered (after they committed), and a feed begins the moment after
//! its first read answered. A monitor checked at `t` is trusted only when `t` is after the
//! feed began and after the last change of its spacecraft was seen; equal times are not
//! trusted, so a clock that does not move only costs reads.
//!
//! A poll asks the store for the tenant's `CONFIG_CHANGED` events since the last (pages of
//! [`PAGE`] changes, [`EventRepository::config_changes_after`](crate::EventRepository::config_changes_after)),
//! and the store passes over the other events itself: a tenant recording thousands of events
//! a second (a fleet in anomaly) costs the poll a scan of its sequence index, not the transfer
//! of those events, and never sends the feed back to its start.
//! A tenant's feed begins when its first monitor loads (one read of the newest event), so
//! that the monitors of a fleet coming up, loaded after it began, are covered by it from
//! their first recheck on instead of each reading its versions once more; after that, polls
//! happen only when a monitor is due a recheck. A feed that fell far behind (more than
//! [`MAX_PAGES`] pages of changes, or [`BEHIND_MS`] since its last poll) is not read through:
//! it starts again at the newest event, and the monitors it covered read their versions once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::lock::Mutex as AsyncMutex;

use crate::domain::{Limit, SpacecraftId, TenantId, Timestamp};
use crate::error::Result;

use super::MissionOps;
use super::app::{RECHECK_MS, Scoped};

/// Configuration changes read per page of a poll.
const PAGE: u32 = 1_000;

/// The most pages one poll reads. A feed further behind than that (or not polled for
/// [`BEHIND_MS`]) starts again from the newest event instead: the monitors it covered read
/// their versions once, as after a restart, and no request waits for a backlog to be read.
const MAX_PAGES: usize = 20;

/// How long a feed may go unpolled before it starts again (see [`MAX_PAGES`]).
const BEHIND_MS: i64 = 30_000;

/// The feed of one tenant.
#[derive(Debug)]
struct Feed {
    /// The sequence of the last event read.
    after: u64,
    /// When the feed began: monitors checked before then are not covered by it.
    since: Timestamp,
    /// When the last poll asked.
    polled_at: Timestamp,
    /// When a change of each spacecraft's rules was last seen.
    changed: HashMap<SpacecraftId, Timestamp>,
}

/// The change feed of every tenant, and one poll at a time per tenant. Clones share them.
#[derive(Debug, Clone, Default)]
pub(super) struct ChangeFeeds {
    /// A std mutex: held to read or update, never across an await.
    feeds: Arc<Mutex<HashMap<TenantId, Feed>>>,
    polls: Arc<Mutex<HashMap<TenantId, Arc<AsyncMutex<()>>>>>,
}

impl ChangeFeeds {
    /// When `key`'s rules were last known unchanged since `checked_at`, without reading the
    /// store: the time the tenant's feed was last polled, if that was less than [`RECHECK_MS`]
    /// before `now`, the feed began before `checked_at`, and it has seen no change of the
    /// spacecraft since. A monitor takes that time as its new check time, so that it is
    /// trusted no longer than the feed's answer.
    pub(super) fn unchanged_as_of(
        &self,
        key: &Scoped,
        checked_at: Timestamp,
        now: Timestamp,
    ) -> Option<Timestamp> {
        let feeds = self.feeds.lock().ok()?;
        let feed = feeds.get(&key.0)?;
        let unchanged = now.as_millis() - feed.polled_at.as_millis() < RECHECK_MS
            && checked_at > feed.since
            && feed
                .changed
                .get(&key.1)
                .is_none_or(|seen| checked_at > *seen);
        unchanged.then_some(feed.polled_at)
    }

    fn is_fresh(&self, tenant: &TenantId, now: Timestamp) -> bool {
        self.feeds.lock().is_ok_and(|feeds| {
            feeds
                .get(tenant)
                .is_some_and(|feed| now.as_millis() - feed.polled_at.as_millis() < RECHECK_MS)
        })
    }

    fn has_begun(&self, tenant: &TenantId) -> bool {
        self.feeds
            .lock()
            .is_ok_and(|feeds| feeds.contains_key(tenant))
    }

    fn poll_lock(&self, tenant: &TenantId) -> Arc<AsyncMutex<()>> {
        match self.polls.lock() {
            Ok(mut polls) => Arc::clone(polls.entry(tenant.clone()).or_default()),
            Err(_) => Arc::default(),
        }
    }
}

impl MissionOps {
    /// [`ChangeFeeds::unchanged_as_of`] for `key`, after polling its tenant's feed when the
    /// last poll is [`RECHECK_MS`] old (one poll at a time per tenant: the others wait for it
    /// and use its answer). `None` when the poll fails: the caller reads the versions instead.
    pub(super) async fn rules_unchanged_as_of(
        &self,
        key: &Scoped,
        checked_at: Timestamp,
    ) -> Option<Timestamp> {
        let feeds = &self.shared.change_feeds;
        if !feeds.is_fresh(&key.0, self.shared.clock.now()) {
            let lock = feeds.poll_lock(&key.0);
            let _polling = lock.lock().await;
            if !feeds.is_fresh(&key.0, self.shared.clock.now()) {
                self.poll_changes(&key.0).await.ok()?;
            }
        }
        feeds.unchanged_as_of(key, checked_at, self.shared.clock.now())
    }

    /// Begins the tenant's feed if it has none (one poll at a time per tenant): called before
    /// a monitor loads. A failed read leaves the feed to begin at the first recheck.
    pub(super) async fn begin_change_feed(&self, tenant: &TenantId) {
        let feeds = &self.shared.change_feeds;
        if feeds.has_begun(tenant) {
            return;
        }
        let lock = feeds.poll_lock(tenant);
        let _polling = lock.lock().await;
        if !feeds.has_begun(tenant) {
            let _ = self.start_feed(tenant, self.shared.clock.now()).await;
        }
    }

    /// Reads the tenant's configuration changes after the last event seen (the newest one's
    /// number, the first time) and notes the spacecraft whose rules changed.
    async fn poll_changes(&self, tenant: &TenantId) -> Result<()> {
        let store = &self.shared.store;
        let asked = self.shared.clock.now();
        let after = self
            .shared
            .change_feeds
            .feeds
            .lock()
            .ok()
            .and_then(|feeds| {
                feeds
                    .get(tenant)
                    .filter(|feed| asked.as_millis() - feed.polled_at.as_millis() < BEHIND_MS)
                    .map(|feed| feed.after)
            });
        let Some(mut after) = after else {
            return self.start_feed(tenant, asked).await;
        };
        let mut changed = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = store
                .config_changes_after(tenant, after, Limit::clamped(PAGE.into(), PAGE))
                .await?;
            after = after.max(page.covered);
            changed.extend(page.changed);
            if !page.more {
                let seen = self.shared.clock.now();
                if let Ok(mut feeds) = self.shared.change_feeds.feeds.lock() {
                    if let Some(feed) = feeds.get_mut(tenant) {
                        feed.after = feed.after.max(after);
                        feed.polled_at = asked;
                        for id in changed {
                            feed.changed.insert(id, seen);
                        }
                    }
                }
                return Ok(());
            }
        }
        self.start_feed(tenant, asked).await
    }

    /// Starts the tenant's feed (again) at its newest event (`asked` being when the poll
    /// began): monitors checked before the newest event was read read their versions once.
    /// The feed begins when that read answered, not when it was asked: a monitor checked
    /// meanwhile may have read its versions just before a change that the read then counted
    /// as seen.
    async fn start_feed(&self, tenant: &TenantId, asked: Timestamp) -> Result<()> {
        let newest = self
            .shared
            .store
            .recent_events(tenant, None, Limit::clamped(1, 1))
            .await?
            .first()
            .map_or(0, |event| event.sequence);
        let since = self.shared.clock.now();
        if let Ok(mut feeds) = self.shared.change_feeds.feeds.lock() {
            feeds.insert(
                tenant.clone(),
                Feed {
                    after: newest,
                    since,
                    polled_at: asked,
                    changed: HashMap::new(),
                },
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_millis(millis).expect("time")
    }

    fn key(id: &str) -> Scoped {
        (
            TenantId::default(),
            SpacecraftId::parse(id).expect("spacecraft"),
        )
    }

    /// A tenant's feed that began at 1,000 ms, last polled at 5,000 ms, having seen SC-2's
    /// rules change at 4,000 ms.
    fn feeds() -> ChangeFeeds {
        let feeds = ChangeFeeds::default();
        let feed = Feed {
            after: 7,
            since: at(1_000),
            polled_at: at(5_000),
            changed: HashMap::from([(key("SC-2").1, at(4_000))]),
        };
        feeds
            .feeds
            .lock()
            .expect("feeds")
            .insert(TenantId::default(), feed);
        feeds
    }

    /// A monitor is trusted only when it was checked strictly after the feed began: at the same
    /// moment, the read that began the feed may have counted as seen a change that the monitor's
    /// own read came just before.
    #[test]
    fn a_monitor_checked_before_or_as_the_feed_began_is_not_covered() {
        let feeds = feeds();
        let now = at(5_500);
        assert_eq!(feeds.unchanged_as_of(&key("SC-1"), at(999), now), None);
        assert_eq!(feeds.unchanged_as_of(&key("SC-1"), at(1_000), now), None);
        assert_eq!(
            feeds.unchanged_as_of(&key("SC-1"), at(1_001), now),
            Some(at(5_000)),
            "trusted as of the last poll"
        );
    }

    /// A change seen of a spacecraft's rules makes its monitor read its versions unless it was
    /// checked strictly after the change was seen; other spacecraft are not affected.
    #[test]
    fn a_change_seen_is_covered_only_by_a_later_check() {
        let feeds = feeds();
        let now = at(5_500);
        assert_eq!(feeds.unchanged_as_of(&key("SC-2"), at(3_000), now), None);
        assert_eq!(feeds.unchanged_as_of(&key("SC-2"), at(4_000), now), None);
        assert_eq!(
            feeds.unchanged_as_of(&key("SC-2"), at(4_001), now),
            Some(at(5_000))
        );
        assert_eq!(
            feeds.unchanged_as_of(&key("SC-1"), at(3_000), now),
            Some(at(5_000))
        );
    }

    /// A poll answers for [`RECHECK_MS`] after it asked; a feed of another tenant, or none,
    /// covers nothing.
    #[test]
    fn a_stale_poll_or_another_tenants_feed_covers_nothing() {
        let feeds = feeds();
        let checked = at(2_000);
        assert_eq!(
            feeds.unchanged_as_of(&key("SC-1"), checked, at(5_000 + RECHECK_MS - 1)),
            Some(at(5_000))
        );
        assert_eq!(
            feeds.unchanged_as_of(&key("SC-1"), checked, at(5_000 + RECHECK_MS)),
            None
        );
        let other = (
            TenantId::parse("other").expect("tenant"),
            SpacecraftId::parse("SC-1").expect("spacecraft"),
        );
        assert_eq!(feeds.unchanged_as_of(&other, checked, at(5_500)), None);
    }
}
