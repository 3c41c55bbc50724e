-- The 24-hour window (src/store/outbox.rs, last_interaction): the newest event a user sent a
-- Page, found by the Page, the PSID and the event time, whatever the event's status.
--
-- CONCURRENTLY (metadata.toml: not in a transaction), so that building it over a large inbox
-- does not hold back the webhook's inserts. If a build is interrupted it leaves an INVALID
-- index of this name and the next start fails on it: DROP INDEX CONCURRENTLY
-- inbox_events_last_seen, then start again. Expand only.
CREATE INDEX CONCURRENTLY inbox_events_last_seen
    ON inbox_events ((COALESCE(page_id, '')), psid, event_time);
