-- A PSID is page-scoped: two Pages can see the same PSID for two different people. The claim's
-- "no earlier pending event of the same user" check (src/store/inbox.rs) now means the same
-- (Page, PSID), a missing Page id counting as '' (as conversations store it), and this index
-- makes both keys and the (event_time, id) bound index conditions.
--
-- CONCURRENTLY (metadata.toml: not in a transaction), so that building it over a large inbox
-- does not hold back the webhook's inserts; it cannot share its migration with another
-- statement. If a build is interrupted it leaves an INVALID index of this name and the next
-- start fails on it: DROP INDEX CONCURRENTLY inbox_events_user, then start again.
--
-- Expand only: inbox_events_psid, which the previous release's claim uses, stays until a later
-- release (migrations/README.md, "Waiting to be contracted").
CREATE INDEX CONCURRENTLY inbox_events_user
    ON inbox_events ((COALESCE(page_id, '')), psid, event_time, id)
    WHERE status = 'pending';
