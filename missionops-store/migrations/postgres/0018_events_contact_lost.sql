-- Each spacecraft's newest contact loss, for the fleet's status (the console marks a tile
-- CONTACT LOST from it). Partial: only `CONTACT_LOST` events enter it, so the writes that
-- record every other event (a new spacecraft's registration, anomalies, alarms) touch no page
-- of it. Read with `type = 'CONTACT_LOST'` spelled out in the query, so the planner can prove
-- the index applies.
CREATE INDEX events_contact_lost_idx ON events (tenant, spacecraft_id, ts)
    WHERE type = 'CONTACT_LOST';
