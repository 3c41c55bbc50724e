-- Messages the bot starts (README "Sending first"): queued by POST /api/messages, by a
-- handler (cx.outbox()) or by the app's own code, and delivered by the pipeline's outbox loop,
-- which checks the 24-hour window when it delivers. Keyed by the Page ('' is the catch-all
-- Page) and the PSID, like every row of a user.
--
-- message is the Send API `message` to send (a Fluent message already localized for the
-- user when it was queued). intent is response | update | tag | notification (tag: its tag;
-- topic: the opt-in payload a notification's token must be about); state is queued | sent |
-- refused | failed. due_at is when a queued row may be claimed; a claim moves it a lease
-- ahead, so a row whose worker died is claimed again once that passes (no lease column).
-- one_time_token_event is the opt-in (optins.event_id) whose one-time token the message used:
-- unique, so a one-time token is used by one message at most, whatever runs at once.
-- Expand only: new tables, nothing the previous release reads.
CREATE TABLE outbox_messages (
    id BIGSERIAL PRIMARY KEY,
    page_id TEXT NOT NULL,
    psid TEXT NOT NULL,
    intent TEXT NOT NULL,
    tag TEXT,
    topic TEXT,
    message TEXT NOT NULL,
    state TEXT NOT NULL,
    message_id TEXT,
    error TEXT,
    error_code BIGINT,
    idempotency_key TEXT,
    one_time_token_event BIGINT UNIQUE,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (page_id, idempotency_key)
);
-- The delivery loop's claim: the queued messages that are due. (16 columns: diesel's limit
-- without its 32-column feature.)
CREATE INDEX outbox_messages_due ON outbox_messages (state, due_at, id);
