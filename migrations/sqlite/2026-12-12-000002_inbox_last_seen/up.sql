-- The 24-hour window (src/store/outbox.rs, last_interaction): the newest event a user sent a
-- Page, found by the PSID and the event time, whatever the event's status; the Page is a
-- filter on the user's few events. Not an index on COALESCE(page_id, ''): Postgres gathers
-- statistics for an index's expressions, and statistics of that expression turn the claim's
-- per-user check into a walk of the Page's events (src/store/inbox.rs, CLAIM_SQL; its plan test
-- fails on them). The same
-- index as on Postgres (built CONCURRENTLY there, in a migration of its own).
CREATE INDEX inbox_events_last_seen
    ON inbox_events (psid, event_time);
