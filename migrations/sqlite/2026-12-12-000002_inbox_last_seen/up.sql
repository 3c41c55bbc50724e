-- The 24-hour window (src/store/outbox.rs, last_interaction): the newest event a user sent a
-- Page, found by the Page, the PSID and the event time, whatever the event's status. The same
-- index as on Postgres (built CONCURRENTLY there, in a migration of its own).
CREATE INDEX inbox_events_last_seen
    ON inbox_events (COALESCE(page_id, ''), psid, event_time);
