//! How often a failed delivery is tried again: exponential backoff with jitter, then `dead`.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use missionops_core::{Error, Result};

/// When to try a failed delivery again, and when to give up.
///
/// After failed attempt `n` (1-based) the row waits `min(max_backoff, initial_backoff × 2ⁿ⁻¹)`,
/// less a random part of up to half of it ("equal jitter": waits grow, and workers that failed
/// together do not come back together). Attempt [`max_attempts`](Self::max_attempts) that
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
    /// [`base_backoff`](Self::base_backoff) and all of it.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let base = self.base_backoff(attempt);
        let half = base / 2;
        let spread = u64::try_from((base - half).as_micros()).unwrap_or(u64::MAX);
        if spread == 0 {
            return base;
        }
        half + Duration::from_micros(random_u64(attempt) % (spread + 1))
    }

    /// Whether failed attempt `attempt` is the last one allowed.
    pub fn is_exhausted(&self, attempt: u32) -> bool {
        attempt >= self.max_attempts
    }
}

/// A random number for jitter. `RandomState` is seeded randomly per process and per instance,
/// which is all jitter needs (no cryptographic quality, no extra dependency).
fn random_u64(salt: u32) -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(salt);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    hasher.write_u32(nanos);
    hasher.finish()
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

    #[test]
    fn jitter_stays_between_half_and_all_of_the_base() {
        let p = policy();
        for attempt in 1..8 {
            let base = p.base_backoff(attempt);
            for _ in 0..200 {
                let wait = p.backoff(attempt);
                assert!(wait >= base / 2 && wait <= base, "{wait:?} for {base:?}");
            }
        }
        let waits: std::collections::HashSet<Duration> = (0..50).map(|_| p.backoff(3)).collect();
        assert!(waits.len() > 1, "jitter varies");
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
