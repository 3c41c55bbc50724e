-- Conversations (routing.yaml `steps`, `when`, `then`, `remember`): each user's current step and
-- the values the bot remembered for them. Keyed by the Page and the PSID, since PSIDs are
-- page-scoped: one deployment may serve several Pages (page_id is the webhook entry's id, ''
-- for an event that names none). One row per user in a flow; a user with no step and nothing
-- remembered has none. Written only in the journal's transaction that finishes an event as
-- done, so a step moves once per event, never for an attempt that did not finish.
CREATE TABLE conversations (
    page_id TEXT NOT NULL,
    psid TEXT NOT NULL,
    -- The current step, or NULL for none.
    step TEXT,
    -- When the step was set (the event's time, epoch ms).
    step_set_at BIGINT,
    -- The remembered values, JSON: {"email": {"value": "a@example.com", "set_at": 1700000000000}}.
    memory TEXT NOT NULL,
    -- The time of the last event that moved the conversation, re-asked or remembered something
    -- (epoch ms): the idle expiry (PAGEBOT_CONVERSATION_IDLE_SECS) counts from it.
    active_at BIGINT NOT NULL,
    -- The inbox event whose outcome wrote the row.
    event_id BIGINT NOT NULL,
    -- When the row was written (epoch ms).
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (page_id, psid)
);
-- For purging conversations idle for long.
CREATE INDEX conversations_active_at ON conversations (active_at);
