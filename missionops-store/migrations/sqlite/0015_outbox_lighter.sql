-- One index fewer for every recorded event (issue 13). `outbox_due` (next_attempt_at, pending
-- rows) has not been read since 0007: claims walk pending rows in sequence order
-- (`outbox_pending`) and find the rows backing off through `outbox_held`, and counting pending
-- rows reads `outbox_pending` as well. Yet each event's outbox row entered it, one more page
-- written to the log by every commit that records events (a write registering a new spacecraft
-- writes fourteen). PostgreSQL dropped its counterpart in its 0016.
DROP INDEX outbox_due;
