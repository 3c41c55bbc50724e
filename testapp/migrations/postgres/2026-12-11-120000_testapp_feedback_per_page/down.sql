DROP INDEX testapp_feedback_page_psid;
CREATE INDEX testapp_feedback_psid ON testapp_feedback (psid);
ALTER TABLE testapp_feedback DROP COLUMN page_id;
