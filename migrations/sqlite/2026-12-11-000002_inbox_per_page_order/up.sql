-- A PSID is page-scoped: two Pages can see the same PSID for two different people. The claim's
-- "no earlier pending event of the same user" check (src/store/inbox.rs) now means the same
-- (Page, PSID), a missing Page id counting as '' (as conversations store it), and this index
-- serves it by both keys and the (event_time, id) bound. The same index as on Postgres: the
-- claim writes its status out, so SQLite can use an index of pending events alone.
-- (Postgres builds it CONCURRENTLY; SQLite's single instance is stopped while it migrates.)
CREATE INDEX inbox_events_user
    ON inbox_events (COALESCE(page_id, ''), psid, event_time, id)
    WHERE status = 'pending';
