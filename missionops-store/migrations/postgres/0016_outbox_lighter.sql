-- A lighter outbox row for every recorded event (issue 13). A write that registers a spacecraft
-- records its event and the event's outbox row in one statement, and measured on a run of new
-- spacecraft (BENCHMARKS.md "Session 23"), two things the outbox carried cost PostgreSQL a tenth
-- of its CPU without serving anything:
--
-- * The foreign key from `outbox.sequence` to `events`: for every outbox row a trigger looked
--   the event up again and locked it (`FOR KEY SHARE`, a WAL record each), an event the same
--   statement had just inserted. The store writes an outbox row only in the statement or
--   transaction that records its event, and never deletes events, so the key could not fail.
--   Were an outbox row ever to lose its event, claims join the two and would skip it; it would
--   stay pending and be counted by `missionops outbox stats`.
-- * `outbox_pending_idx` (next_attempt_at, sequence): no query has read it since 0007, whose
--   claims walk pending rows in sequence order (`outbox_pending_sequence_idx`) and find the
--   rows backing off through `outbox_held_idx`.
ALTER TABLE outbox DROP CONSTRAINT outbox_sequence_fkey;
DROP INDEX outbox_pending_idx;
