-- Event delivery (issue 7): workers claim outbox rows under a lease.
--
-- A claim sets `claimed_until` and `claim_id` on the rows it takes; marking a row delivered,
-- failed or released clears them. A worker that dies leaves its rows claimed until the lease
-- runs out, and then they are claimed again (delivery is at least once).

ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
ALTER TABLE outbox ADD COLUMN claim_id TEXT;

-- Pending rows in sequence order: what a claim walks.
CREATE INDEX outbox_pending ON outbox (sequence) WHERE status = 'pending';

-- Pending rows that may hold back their spacecraft's later events: those that failed before
-- (they may be backing off) and those claimed (they may be in flight). Few at any time.
CREATE INDEX outbox_held ON outbox (sequence)
    WHERE status = 'pending' AND (attempts > 0 OR claimed_until IS NOT NULL);

-- Dead letters, for listing and retrying them.
CREATE INDEX outbox_dead ON outbox (sequence) WHERE status = 'dead';
