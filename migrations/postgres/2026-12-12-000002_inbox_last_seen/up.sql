-- The 24-hour window (src/store/outbox.rs, last_interaction): the newest event a user sent a
-- Page, found by the PSID and the event time, whatever the event's status; the Page is a
-- filter on the user's few events. Not an index on COALESCE(page_id, ''): Postgres gathers
-- statistics for an index's expressions, and statistics of that expression turn the claim's
-- per-user check into a walk of the Page's events (src/store/inbox.rs, CLAIM_SQL; its plan test
-- fails on them).
--
-- CONCURRENTLY (metadata.toml: not in a transaction), so that building it over a large inbox
-- does not hold back the webhook's inserts. If a build is interrupted it leaves an INVALID
-- index of this name and the next start fails on it: DROP INDEX CONCURRENTLY
-- inbox_events_last_seen, then start again. Expand only.
CREATE INDEX CONCURRENTLY inbox_events_last_seen
    ON inbox_events (psid, event_time);
