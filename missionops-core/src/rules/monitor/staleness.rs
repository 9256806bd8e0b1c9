//! The clock tick's decisions for one spacecraft: which parameters went stale (no sample for
//! longer than their `staleAfterSec`, by the application's clock), when contact counts as lost
//! (every such parameter stale) and when it is regained (a fresh sample).

use crate::domain::{NewEvent, Timestamp};

use super::super::checks;
use super::super::extensions::Extensions;
use super::alarm_changes::Emitter;
use super::{Mode, MonitorContext, MonitorOutput, SpacecraftMonitor};

impl SpacecraftMonitor {
    /// The clock tick: parameters with `staleAfterSec` whose newest sample arrived longer ago
    /// than that go stale (a `STALE` anomaly against that sample and an alarm); when every
    /// such parameter is stale, one `CONTACT_LOST` event.
    pub fn tick(&mut self, context: MonitorContext<'_>, out: &mut MonitorOutput) {
        let defaults = Extensions::default();
        let emit = Emitter {
            spacecraft: &self.spacecraft,
            context,
        };
        for (rule, state) in self.rules.rules().iter().zip(self.parameters.iter_mut()) {
            let ext = rule.extensions.as_deref().unwrap_or(&defaults);
            let Some(stale_ms) = ext.stale_after_ms.filter(|_| rule.enabled()) else {
                continue;
            };
            let overdue = state
                .arrived
                .is_some_and(|t| context.now.as_millis() - t.as_millis() > stale_ms);
            if overdue
                && state.stale_alarm.is_none()
                && let Some(last) = &state.last
                && let Some(value) = &last.value
            {
                let anomaly = emit.anomaly(
                    rule,
                    ext,
                    checks::stale(&rule.parameter, stale_ms),
                    (&last.snapshot, last.timestamp),
                    value.clone(),
                );
                emit.raise_alarm(state, &anomaly, context.now, out);
                out.anomalies.push(anomaly);
            }
        }
        let stale_open = self.stale_alarm_count();
        if !self.contact_lost && self.all_stale(stale_open) {
            self.contact_lost = true;
            out.events.push(NewEvent::contact_lost(
                context.stamp(),
                &self.spacecraft,
                stale_open,
            ));
        }
    }

    /// The first time (milliseconds since the epoch, by the application's clock) at which
    /// [`tick`](Self::tick) would change something: `i64::MIN` when a `CONTACT_LOST` is owed
    /// already, else the first moment a parameter without a stale alarm is overdue; `None`
    /// when no tick can change anything before the next sample or change of rules.
    ///
    /// Exactly the conditions `tick` checks, so that a tick skipping this monitor before then
    /// decides what a tick visiting it would have.
    pub fn next_tick_due(&self) -> Option<i64> {
        if !self.contact_lost && self.all_stale(self.stale_alarm_count()) {
            return Some(i64::MIN);
        }
        let defaults = Extensions::default();
        self.rules
            .rules()
            .iter()
            .zip(self.parameters.iter())
            .filter_map(|(rule, state)| {
                let ext = rule.extensions.as_deref().unwrap_or(&defaults);
                let stale_ms = ext.stale_after_ms.filter(|_| rule.enabled())?;
                if state.stale_alarm.is_some() || state.last.as_ref()?.value.is_none() {
                    return None;
                }
                // `tick` finds it overdue once `now - arrived > stale_ms`.
                Some(
                    state
                        .arrived?
                        .as_millis()
                        .saturating_add(stale_ms)
                        .saturating_add(1),
                )
            })
            .min()
    }

    /// After a restart: contact is lost when every stale-checked parameter has its stale alarm
    /// open again.
    pub(super) fn recount_contact(&mut self) {
        self.contact_lost = self.all_stale(self.stale_alarm_count());
    }

    /// A fresh in-order sample at `sample` arrived: contact, if lost, is regained (an `INFO`
    /// event when live).
    pub(super) fn sample_arrived(
        &mut self,
        sample: Timestamp,
        context: MonitorContext<'_>,
        out: &mut MonitorOutput,
        mode: Mode,
    ) {
        if !self.contact_lost {
            return;
        }
        self.contact_lost = false;
        if mode == Mode::Live {
            out.events.push(NewEvent::contact_regained(
                context.stamp(),
                &self.spacecraft,
                sample,
            ));
        }
    }

    /// Whether `stale_open` stale alarms mean every stale-checked parameter is stale.
    fn all_stale(&self, stale_open: usize) -> bool {
        let stale_rules = self.stale_rule_count();
        stale_rules > 0 && stale_open == stale_rules
    }

    fn stale_alarm_count(&self) -> usize {
        self.parameters
            .iter()
            .filter(|p| p.stale_alarm.is_some())
            .count()
    }

    /// How many enabled rules have `staleAfterSec`.
    fn stale_rule_count(&self) -> usize {
        self.rules
            .rules()
            .iter()
            .filter(|r| {
                r.enabled()
                    && r.extensions
                        .as_ref()
                        .is_some_and(|e| e.stale_after_ms.is_some())
            })
            .count()
    }
}
