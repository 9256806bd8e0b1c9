//! The operator's alarm actions: list, read, acknowledge, shelve and unshelve. Each change is
//! made under the spacecraft's monitor lock, so that the monitor never overwrites it with an
//! older copy.

use std::collections::HashMap;

use futures_util::future::try_join;

use crate::domain::{
    Alarm, AlarmCursor, AlarmFilter, AlarmId, AlarmStates, EventStamp, Limit, NewEvent, Operator,
    SpacecraftId, TenantId, Timestamp,
};
use crate::error::{Error, Result};
use crate::ports::OpenAlarmSummary;

use super::MissionOps;

/// The longest operator comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 2_000;

/// A page of alarms ([`MissionOps::alarm_page`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmListing {
    /// The alarms, most recently opened first.
    pub alarms: Vec<Alarm>,
    /// Where the next page starts, when more alarms pass the filter.
    pub next: Option<AlarmCursor>,
    /// How many alarms pass the filter in all.
    pub total: u64,
}

impl MissionOps {
    /// Alarms passing `filter`, most recently opened first.
    pub async fn list_alarms(&self, filter: &AlarmFilter) -> Result<Vec<Alarm>> {
        self.shared.store.list_alarms(&self.tenant, filter).await
    }

    /// A page of at most `limit` alarms passing `filter`, after `after` (from the first when
    /// `None`), most recently opened first, with where the next page starts and how many
    /// alarms pass the filter in all (the two reads go out together).
    pub async fn alarm_page(
        &self,
        filter: &AlarmFilter,
        after: Option<&AlarmCursor>,
        limit: Limit,
    ) -> Result<AlarmListing> {
        let store = &self.shared.store;
        let (page, total) = try_join(
            store.list_alarms_page(&self.tenant, filter, after, limit),
            store.count_alarms(&self.tenant, filter),
        )
        .await?;
        Ok(AlarmListing {
            alarms: page.alarms,
            next: page.next,
            total,
        })
    }

    /// The alarm with `id`; [`Error::NotFound`] when unknown.
    pub async fn get_alarm(&self, id: &AlarmId) -> Result<Alarm> {
        self.shared
            .store
            .get_alarm(&self.tenant, id)
            .await?
            .ok_or_else(|| Error::not_found("alarm", id))
    }

    /// An operator acknowledges an alarm (`ALARM_ACKNOWLEDGED` event): `ACTIVE` becomes
    /// `ACKNOWLEDGED`, or `CLEARED` when the value has already returned.
    /// [`Error::Conflict`] when it is already acknowledged.
    pub async fn acknowledge_alarm(
        &self,
        id: &AlarmId,
        by: Operator,
        comment: Option<String>,
    ) -> Result<Alarm> {
        let comment = checked_comment(comment)?;
        let now = self.shared.clock.now();
        self.change_alarm(
            id,
            |alarm| alarm.acknowledge(by.clone(), comment.clone(), now),
            |stamp, alarm| NewEvent::alarm_acknowledged(stamp, alarm, &by),
        )
        .await
    }

    /// An operator shelves an alarm until `until`: it raises no event meanwhile (an `INFO`
    /// event records the shelving).
    pub async fn shelve_alarm(
        &self,
        id: &AlarmId,
        until: Timestamp,
        by: Operator,
        comment: Option<String>,
    ) -> Result<Alarm> {
        let comment = checked_comment(comment)?;
        let now = self.shared.clock.now();
        self.change_alarm(
            id,
            |alarm| alarm.shelve(until, comment.clone(), now),
            |stamp, alarm| NewEvent::alarm_shelved(stamp, alarm, &by, until),
        )
        .await
    }

    /// Ends a shelving (an `INFO` event records it). [`Error::Conflict`] when the alarm is
    /// not shelved.
    pub async fn unshelve_alarm(&self, id: &AlarmId, by: Operator) -> Result<Alarm> {
        self.change_alarm(id, Alarm::unshelve, |stamp, alarm| {
            NewEvent::alarm_unshelved(stamp, alarm, &by)
        })
        .await
    }

    /// Applies an operator's change to an alarm under its spacecraft's monitor lock, stores
    /// it with its event, and hands the new version to the monitor.
    /// Who acknowledges, shelves or unshelves (SPEC §9): the key's name when the caller is a
    /// key (whatever `by` says, so the audit trail cannot be forged), else `by`, which is then
    /// required ([`Error::Invalid`] naming `by` without it).
    pub fn operator(&self, by: Option<Operator>) -> Result<Operator> {
        match (self.actor.key_name(), by) {
            (Some(name), _) => Operator::parse(name.as_str()),
            (None, Some(by)) => Ok(by),
            (None, None) => Err(Error::invalid(
                "by",
                "is required: say who acts (a request with an API key is named by its key)",
            )),
        }
    }

    async fn change_alarm(
        &self,
        id: &AlarmId,
        change: impl FnOnce(&mut Alarm) -> Result<()>,
        event: impl FnOnce(EventStamp, &Alarm) -> NewEvent,
    ) -> Result<Alarm> {
        let spacecraft = self.get_alarm(id).await?.spacecraft_id;
        let handle = self.slot_handle(&self.scoped(&spacecraft));
        let mut slot = handle.slot.lock().await;
        // Read again under the lock: the monitor may have changed it meanwhile.
        let mut alarm = self.get_alarm(id).await?;
        change(&mut alarm)?;
        let event = event(self.event_stamp(), &alarm);
        self.shared
            .store
            .save_alarm(&self.tenant, alarm.clone(), vec![self.audited(event)])
            .await?;
        if let Some(monitor) = slot.monitor.as_mut() {
            monitor.replace_alarm(&alarm);
        }
        // What the clock tick read ahead for a monitor not loaded yet predates this change.
        slot.forgotten += 1;
        self.shared
            .deadlines
            .reschedule(&self.scoped(&spacecraft), &slot);
        Ok(alarm)
    }

    /// The stored alarms of `id` that are not `CLEARED`.
    pub(super) async fn open_alarms_of(
        &self,
        tenant: &TenantId,
        id: &SpacecraftId,
    ) -> Result<Vec<Alarm>> {
        self.shared
            .store
            .list_alarms(
                tenant,
                &AlarmFilter {
                    spacecraft_id: Some(id.clone()),
                    states: AlarmStates::Open,
                },
            )
            .await
    }

    /// How many alarms of `id` need attention: `ACTIVE` or `ACKNOWLEDGED`.
    pub(super) async fn active_alarm_count(&self, id: &SpacecraftId) -> Result<usize> {
        let open = self.open_alarms_of(&self.tenant, id).await?;
        Ok(open.iter().filter(|a| a.state.needs_attention()).count())
    }

    /// What each spacecraft's open alarms say (how many need attention, whether one is
    /// `STALE`), summed up by the store for the whole tenant at once; a spacecraft with none
    /// is absent.
    pub(super) async fn open_alarm_summaries(
        &self,
    ) -> Result<HashMap<SpacecraftId, OpenAlarmSummary>> {
        let summaries = self.shared.store.open_alarm_summaries(&self.tenant).await?;
        Ok(summaries.into_iter().collect())
    }
}

fn checked_comment(comment: Option<String>) -> Result<Option<String>> {
    match comment {
        Some(text) if text.chars().count() > MAX_COMMENT_CHARS => Err(Error::invalid(
            "comment",
            format!("must be at most {MAX_COMMENT_CHARS} characters long"),
        )),
        Some(text) if text.contains('\0') => {
            Err(Error::invalid("comment", "must not contain NUL characters"))
        }
        other => Ok(other),
    }
}
