-- Room for HOT updates in `latest_values` (issue 13): a server writing the latest values behind
-- (0014) updates every live parameter's row once a second, 10,000 rows a second for a fleet of
-- 1,000 spacecraft of ten parameters. None of the columns it changes is indexed, so each update
-- could stay on its page as a heap-only tuple, but pages filled to the brim by the rows' first
-- inserts left no room: 2 % of the updates were HOT, the rest wrote a new tuple elsewhere and a
-- new entry in the primary key's index, and left both for vacuum. With half of each page kept
-- free, 99 % are HOT. Pages written before this migration keep their fill until rewritten
-- (`VACUUM FULL latest_values`, or as rows move).
ALTER TABLE latest_values SET (fillfactor = 50);
