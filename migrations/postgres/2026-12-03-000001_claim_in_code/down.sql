-- The claim as 2026-12-02-000001 made it.
CREATE OR REPLACE FUNCTION pagebot_claim(p_now BIGINT, p_lease_ms BIGINT, p_limit BIGINT)
RETURNS SETOF inbox_events
LANGUAGE plpgsql
SET enable_sort = off
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
  RETURN QUERY
  UPDATE inbox_events AS e
     SET locked_until = p_now + p_lease_ms, attempts = e.attempts + 1
    FROM (
      SELECT c.id FROM inbox_events AS c
       WHERE c.status = 'pending'
         AND c.available_at + 0 <= p_now
         AND (c.locked_until IS NULL OR c.locked_until < p_now)
         AND NOT EXISTS (
           SELECT 1 FROM inbox_events AS earlier
            WHERE earlier.psid = c.psid
              AND earlier.status = 'pending'
              AND (earlier.event_time, earlier.id) < (c.event_time, c.id)
           OFFSET 0)
       ORDER BY c.event_time, c.id
       LIMIT p_limit
       FOR UPDATE SKIP LOCKED
    ) AS due
   WHERE e.id = due.id
  RETURNING e.*;
END;
$$;
