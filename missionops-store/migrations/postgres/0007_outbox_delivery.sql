-- Event delivery (issue 7): workers claim outbox rows under a lease.
--
-- A claim sets `claimed_until` and `claim_id` on the rows it takes; marking a row delivered,
-- failed or released clears them. A worker that dies leaves its rows claimed until the lease
-- runs out, and then they are claimed again (delivery is at least once). Claims from several
-- processes take a transaction-scoped advisory lock, so that two claims never split one
-- spacecraft's events between them; `FOR UPDATE SKIP LOCKED` keeps a claim from waiting on
-- rows another transaction is settling.

ALTER TABLE outbox ADD COLUMN claimed_until timestamptz;
ALTER TABLE outbox ADD COLUMN claim_id text;

-- Pending rows in sequence order: what a claim walks.
CREATE INDEX outbox_pending_sequence_idx ON outbox (sequence) WHERE status = 'pending';

-- Pending rows that may hold back their spacecraft's later events: those that failed before
-- (they may be backing off) and those claimed (they may be in flight). Few at any time.
CREATE INDEX outbox_held_idx ON outbox (sequence)
    WHERE status = 'pending' AND (attempts > 0 OR claimed_until IS NOT NULL);

-- Dead letters, for listing and retrying them.
CREATE INDEX outbox_dead_idx ON outbox (sequence) WHERE status = 'dead';
