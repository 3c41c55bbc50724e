-- Each Page's pending events in claim order: the claim (src/store/inbox.rs) finds the Pages
-- that have pending events by walking this index from one Page to the next, then takes each
-- Page's oldest due events from it, so that one Page's burst does not starve another Page.
-- The same index as on Postgres (a migration of its own there, as it must be built alone).
CREATE INDEX inbox_events_page_due
    ON inbox_events (COALESCE(page_id, ''), event_time, id)
    WHERE status = 'pending';
