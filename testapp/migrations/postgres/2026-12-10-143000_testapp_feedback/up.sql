-- testapp's own table, migrated after pagebot's: one row per feedback message, keyed by the
-- inbox event that carried it, so an event processed twice (a retry, a replay) stores it once.
-- The event id is a plain column, not a foreign key: done inbox events are purged.
CREATE TABLE testapp_feedback (
    event_id BIGINT PRIMARY KEY NOT NULL,
    psid TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX testapp_feedback_psid ON testapp_feedback (psid);
