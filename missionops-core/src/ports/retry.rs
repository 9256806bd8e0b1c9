//! How often a failed delivery is tried again: exponential backoff with jitter, then `dead`.
//!
//! The policy only computes: the random part of the jitter comes from the caller (a backend's
//! `mark_failed` draws it from its own source), so the core reads no clock and no entropy.

use std::time::Duration;

use crate::error::{Error, Result};

/// When to try a failed delivery again, and when to give up.
///
/// After failed attempt `n` (1-based) the row waits `min(max_backoff, initial_backoff × 2ⁿ⁻¹)`,
/// less a random part of up to half of it ("equal jitter": waits grow, and workers that failed
/// together do not come back together). The random part is chosen by a number the caller
/// draws (see [`backoff`](Self::backoff)). Attempt [`max_attempts`](Self::max_attempts) that
/// fails makes the row `dead`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Failed attempts before a row is dead; at least 1. Default 10.
    pub max_attempts: u32,
    /// The wait after the first failure. Default 1 s.
    pub initial_backoff: Duration,
    /// The longest wait. Default 5 min.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// Checks the settings: [`Error::Invalid`] naming the flag (`outbox-max-attempts`,
    /// `outbox-backoff`) when one cannot work.
    pub fn validate(&self) -> Result<()> {
        if self.max_attempts == 0 {
            return Err(Error::invalid("outbox-max-attempts", "must be at least 1"));
        }
        if self.initial_backoff.is_zero() {
            return Err(Error::invalid("outbox-backoff", "must be more than 0"));
        }
        if self.max_backoff < self.initial_backoff {
            return Err(Error::invalid(
                "outbox-max-backoff",
                "must not be below the initial backoff",
            ));
        }
        Ok(())
    }

    /// The backoff without jitter after failed attempt `attempt` (1-based).
    pub fn base_backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1);
        if doublings >= 32 {
            return self.max_backoff;
        }
        self.initial_backoff
            .checked_mul(1u32 << doublings)
            .map_or(self.max_backoff, |d| d.min(self.max_backoff))
    }

    /// The wait after failed attempt `attempt` (1-based): between half of
    /// [`base_backoff`](Self::base_backoff) and all of it, placed in that range by `random`.
    ///
    /// `random` is any `u64`; for jitter to spread workers apart it must be drawn uniformly at
    /// random for every call (the same number gives the same wait).
    pub fn backoff(&self, attempt: u32, random: u64) -> Duration {
        let base = self.base_backoff(attempt);
        let half = base / 2;
        let spread = u64::try_from((base - half).as_micros()).unwrap_or(u64::MAX);
        if spread == 0 {
            return base;
        }
        half + Duration::from_micros(random % (spread + 1))
    }

    /// Whether failed attempt `attempt` is the last one allowed.
    pub fn is_exhausted(&self, attempt: u32) -> bool {
        attempt >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_base_backoff_doubles_up_to_the_maximum() {
        let p = policy();
        assert_eq!(p.base_backoff(1), Duration::from_millis(100));
        assert_eq!(p.base_backoff(2), Duration::from_millis(200));
        assert_eq!(p.base_backoff(3), Duration::from_millis(400));
        assert_eq!(p.base_backoff(4), Duration::from_millis(800));
        assert_eq!(p.base_backoff(5), Duration::from_secs(1));
        assert_eq!(p.base_backoff(u32::MAX), Duration::from_secs(1));
    }

    /// Numbers spread over all of `u64`, as a random source would give, plus both ends.
    fn randoms(count: u64) -> impl Iterator<Item = u64> {
        [0, u64::MAX]
            .into_iter()
            .chain((0..count).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    }

    #[test]
    fn jitter_stays_between_half_and_all_of_the_base() {
        let p = policy();
        for attempt in 1..8 {
            let base = p.base_backoff(attempt);
            for random in randoms(200) {
                let wait = p.backoff(attempt, random);
                assert!(wait >= base / 2 && wait <= base, "{wait:?} for {base:?}");
            }
        }
        let waits: std::collections::HashSet<Duration> =
            randoms(50).map(|random| p.backoff(3, random)).collect();
        assert!(waits.len() > 1, "jitter varies");
    }

    #[test]
    fn the_random_number_alone_places_the_wait() {
        let p = policy();
        let base = p.base_backoff(3);
        assert_eq!(p.backoff(3, 0), base / 2, "0 gives the shortest wait");
        let spread = u64::try_from((base - base / 2).as_micros()).expect("micros");
        assert_eq!(
            p.backoff(3, spread),
            base,
            "the top of the range gives all of it"
        );
        assert_eq!(
            p.backoff(3, 12_345),
            p.backoff(3, 12_345),
            "same number, same wait"
        );
    }

    #[test]
    fn the_last_attempt_is_max_attempts() {
        let p = policy();
        assert!(!p.is_exhausted(4));
        assert!(p.is_exhausted(5));
    }

    #[test]
    fn bad_settings_name_their_flag() {
        let err = RetryPolicy {
            max_attempts: 0,
            ..policy()
        }
        .validate()
        .expect_err("zero attempts");
        assert!(err.to_string().starts_with("outbox-max-attempts:"), "{err}");
        assert!(policy().validate().is_ok());
        let err = RetryPolicy {
            max_backoff: Duration::from_millis(1),
            ..policy()
        }
        .validate()
        .expect_err("max below initial");
        assert!(err.to_string().starts_with("outbox-max-backoff:"), "{err}");
    }
}
