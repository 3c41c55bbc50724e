-- Each Page's pending events in claim order: the claim (src/store/inbox.rs) finds the Pages
-- that have pending events by walking this index from one Page to the next, then takes each
-- Page's oldest due events from it, so that one Page's burst does not starve another Page.
--
-- A migration of its own because CREATE INDEX CONCURRENTLY must run alone (see
-- 2026-12-11-000002_inbox_per_page_order). Expand only: inbox_events_due, which the previous
-- release's claim walks, stays until a later release.
CREATE INDEX CONCURRENTLY inbox_events_page_due
    ON inbox_events ((COALESCE(page_id, '')), event_time, id)
    WHERE status = 'pending';
