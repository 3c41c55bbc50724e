-- A PSID is page-scoped: a deployment serving several Pages keys what it stores about a user
-- by the Page and the PSID, as pagebot's own tables are (2026-12-11-000001_users_per_page).
-- Existing notes get the Page of the event that carried them, where that event is still in
-- the inbox; else no Page ('').
ALTER TABLE testapp_feedback ADD COLUMN page_id TEXT NOT NULL DEFAULT '';
UPDATE testapp_feedback SET page_id = COALESCE(
    (SELECT e.page_id FROM inbox_events AS e WHERE e.id = testapp_feedback.event_id), '');
DROP INDEX testapp_feedback_psid;
CREATE INDEX testapp_feedback_page_psid ON testapp_feedback (page_id, psid);
