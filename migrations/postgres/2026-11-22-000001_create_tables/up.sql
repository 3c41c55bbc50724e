-- Users the bot has met: one row per PSID (page-scoped user id).
CREATE TABLE users (
    psid TEXT PRIMARY KEY NOT NULL,
    page_id TEXT,
    first_name TEXT,
    last_name TEXT,
    profile_pic TEXT,
    locale TEXT,
    timezone DOUBLE PRECISION,
    gender TEXT,
    profile_fetched_at BIGINT,
    thumbups BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The durable inbox: every acknowledged webhook item, and every signed body we could not parse.
CREATE TABLE inbox_events (
    id BIGSERIAL PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    page_id TEXT,
    psid TEXT,
    event_time BIGINT NOT NULL,
    standby INTEGER NOT NULL DEFAULT 0,
    kind TEXT,
    raw TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    available_at BIGINT NOT NULL,
    locked_until BIGINT,
    received_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX inbox_events_claim ON inbox_events (status, available_at);
CREATE INDEX inbox_events_psid ON inbox_events (psid, status, event_time, id);

-- Every message the pipeline tried to deliver for an event, with Facebook's answer.
CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    event_id BIGINT NOT NULL REFERENCES inbox_events (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    psid TEXT,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    message_id TEXT,
    error_code BIGINT,
    error_subcode BIGINT,
    error_message TEXT,
    fbtrace_id TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (event_id, seq)
);
