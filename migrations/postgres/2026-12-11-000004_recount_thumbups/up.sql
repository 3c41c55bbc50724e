-- users.thumbups counts the user's thumbs-up rows on their Page. Before users were keyed by
-- (page_id, psid) it counted them on every Page; 2026-12-11-000001_users_per_page moved the
-- rows to their own event's Page, so a user whose thumbs-up came from several Pages kept a
-- count that was too high. Recount every user from the rows, as thumbs_up::record keeps it.
UPDATE users SET thumbups = (
    SELECT count(*) FROM thumbs_up AS t
     WHERE t.page_id = users.page_id AND t.psid = users.psid)
 WHERE thumbups <> (
    SELECT count(*) FROM thumbs_up AS t
     WHERE t.page_id = users.page_id AND t.psid = users.psid);
