//! What every backend's implementation of the core's
//! [`OutboxStore`](missionops_core::OutboxStore) port shares: claim ids, the jitter of the
//! retry backoff, and the cut of a stored error. Delivering the rows is `missionops-delivery`'s
//! job, not the store's.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use missionops_core::{ClaimId, IdGenerator};

use crate::UuidV7Ids;

/// The longest `last_error` kept for a row; longer messages are cut.
pub(crate) const MAX_ERROR_LEN: usize = 1_000;

/// A new, unique claim id (UUIDv7, like every id this store makes).
pub(crate) fn new_claim_id() -> ClaimId {
    ClaimId::new(UuidV7Ids.new_id())
}

/// The random number [`RetryPolicy::backoff`](missionops_core::RetryPolicy::backoff) places a
/// retry's wait with. `RandomState` is seeded randomly per process and per instance, which is
/// all jitter needs (no cryptographic quality, no extra dependency); the time's nanoseconds
/// and the attempt make calls within one instant differ too.
pub(crate) fn jitter(attempt: u32) -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    hasher.write_u32(nanos);
    hasher.finish()
}

/// `error` cut to at most [`MAX_ERROR_LEN`] bytes at a character boundary.
pub(crate) fn truncate_error(error: &str) -> &str {
    if error.len() <= MAX_ERROR_LEN {
        return error;
    }
    let mut end = MAX_ERROR_LEN;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

/// The milliseconds in `duration`, saturating.
pub(crate) fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use missionops_core::RetryPolicy;

    use super::*;

    #[test]
    fn long_errors_are_cut_at_a_character_boundary() {
        let long = "é".repeat(600);
        let cut = truncate_error(&long);
        assert!(cut.len() <= MAX_ERROR_LEN);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(truncate_error("short"), "short");
    }

    #[test]
    fn claim_ids_are_unique() {
        assert_ne!(new_claim_id(), new_claim_id());
    }

    #[test]
    fn jitter_spreads_the_waits_of_one_attempt() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        let waits: HashSet<Duration> = (0..50).map(|_| policy.backoff(3, jitter(3))).collect();
        assert!(waits.len() > 1, "jitter varies");
    }
}
