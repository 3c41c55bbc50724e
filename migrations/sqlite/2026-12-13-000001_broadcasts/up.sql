-- Broadcasts (README "Sending first"): one message to a list of users or to every user of a
-- Page matching a filter, queued by POST /api/broadcasts or `pagebot broadcast create`.
--
-- The broadcast loop (src/pipeline/broadcasts.rs) expands the recipients into outbox rows in
-- batches, each batch one transaction that also moves expand_cursor (the last PSID taken for a
-- filter, the next index of recipients for a list): a crash resumes after the last batch
-- committed, and UNIQUE (broadcast_id, page_id, psid) keeps a batch expanded twice from
-- queuing anyone twice. Its outbox rows wait held (due_at the largest BIGINT) until the loop
-- releases them at rate_per_sec, from released_at (a token bucket kept in the database, so
-- that several instances share one rate), in the order of their ids: released_through is
-- the last one released. The outbox then sends each at most once.
--
-- message is the API's message as given (a Fluent one is localized per user as it is
-- expanded); recipients a JSON array of PSIDs or NULL; filter a JSON object or NULL. state is
-- queued | running | paused | cancelled | done; expanded is 1 once every recipient has its
-- outbox row; total counts them. The counts per state come from the outbox rows.
-- Expand only: new tables, nothing the previous release reads.
CREATE TABLE broadcasts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    page_id TEXT NOT NULL,
    intent TEXT NOT NULL,
    tag TEXT,
    topic TEXT,
    message TEXT NOT NULL,
    recipients TEXT,
    filter TEXT,
    state TEXT NOT NULL,
    rate_per_sec INTEGER NOT NULL,
    expand_cursor TEXT NOT NULL DEFAULT '',
    expanded INTEGER NOT NULL DEFAULT 0,
    total BIGINT NOT NULL DEFAULT 0,
    released_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    released_through BIGINT NOT NULL DEFAULT 0
);
-- Each recipient of a broadcast and its outbox row (outbox_messages has no room left for a
-- broadcast_id column: 16 columns, diesel's limit).
CREATE TABLE broadcast_recipients (
    broadcast_id BIGINT NOT NULL REFERENCES broadcasts (id),
    page_id TEXT NOT NULL,
    psid TEXT NOT NULL,
    outbox_id BIGINT NOT NULL,
    PRIMARY KEY (broadcast_id, page_id, psid)
);
-- The release walks a broadcast's rows in the order of their outbox ids.
CREATE INDEX broadcast_recipients_outbox ON broadcast_recipients (broadcast_id, outbox_id);
