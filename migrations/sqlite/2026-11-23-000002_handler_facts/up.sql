-- What the built-in handlers store. Every row is keyed by the inbox event that caused it
-- (`event_id`, plus `seq` for the attachments of one message), so a retried or replayed event
-- writes nothing twice. No foreign key to inbox_events: these facts outlive the inbox.

-- One row per message carrying a thumbs-up "Like" sticker, whatever its form or size.
CREATE TABLE thumbs_up (
    event_id BIGINT PRIMARY KEY NOT NULL,
    psid TEXT NOT NULL,
    mid TEXT,
    sticker_id TEXT NOT NULL,
    event_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX thumbs_up_psid ON thumbs_up (psid);

-- Every location attachment (lat, long in degrees).
CREATE TABLE locations (
    event_id BIGINT NOT NULL,
    seq INTEGER NOT NULL,
    psid TEXT NOT NULL,
    lat DOUBLE NOT NULL,
    long DOUBLE NOT NULL,
    title TEXT,
    url TEXT,
    mid TEXT,
    event_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (event_id, seq)
);
CREATE INDEX locations_psid ON locations (psid, event_time);

-- Image, audio, video and file attachments, when the multimedia handler is asked to store them.
CREATE TABLE media (
    event_id BIGINT NOT NULL,
    seq INTEGER NOT NULL,
    psid TEXT NOT NULL,
    kind TEXT NOT NULL,
    url TEXT,
    mid TEXT,
    event_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (event_id, seq)
);
CREATE INDEX media_psid ON media (psid, event_time);

-- Opt-ins: plugins, checkbox (user_ref, no sender), one-time and recurring notifications
-- (tokens with their expiry).
CREATE TABLE optins (
    event_id BIGINT PRIMARY KEY NOT NULL,
    psid TEXT,
    user_ref TEXT,
    ref TEXT,
    kind TEXT,
    payload TEXT,
    one_time_notif_token TEXT,
    notification_messages_token TEXT,
    notification_messages_status TEXT,
    token_expiry_timestamp BIGINT,
    user_token_status TEXT,
    event_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX optins_psid ON optins (psid, event_time);
CREATE INDEX optins_user_ref ON optins (user_ref, event_time);

-- Account linking and unlinking, with the authorization code of a link.
CREATE TABLE account_links (
    event_id BIGINT PRIMARY KEY NOT NULL,
    psid TEXT NOT NULL,
    status TEXT NOT NULL,
    authorization_code TEXT,
    event_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX account_links_psid ON account_links (psid, event_time);

-- The highest delivery and read watermark seen per user (kind: delivery or read).
CREATE TABLE watermarks (
    psid TEXT NOT NULL,
    kind TEXT NOT NULL,
    watermark BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (psid, kind)
);

-- The Page's own messages echoed back (psid: the user they were sent to).
CREATE TABLE echoes (
    event_id BIGINT PRIMARY KEY NOT NULL,
    psid TEXT,
    mid TEXT,
    app_id TEXT,
    metadata TEXT,
    event_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX echoes_psid ON echoes (psid, event_time);

-- Reactions to messages and their removal.
CREATE TABLE reactions (
    event_id BIGINT PRIMARY KEY NOT NULL,
    psid TEXT NOT NULL,
    mid TEXT,
    reaction TEXT,
    emoji TEXT,
    action TEXT,
    event_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX reactions_psid ON reactions (psid, event_time);

-- How users came in: m.me links, ads, chat plugin (also from Get Started postbacks).
CREATE TABLE referrals (
    event_id BIGINT PRIMARY KEY NOT NULL,
    psid TEXT NOT NULL,
    ref TEXT,
    source TEXT,
    kind TEXT,
    ad_id TEXT,
    referer_uri TEXT,
    ads_context_data TEXT,
    event_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX referrals_psid ON referrals (psid, event_time);

-- Handover protocol events (action: pass_thread_control, take_thread_control,
-- request_thread_control or app_roles), with the raw JSON of the event.
CREATE TABLE handovers (
    event_id BIGINT PRIMARY KEY NOT NULL,
    psid TEXT,
    action TEXT NOT NULL,
    previous_owner_app_id TEXT,
    new_owner_app_id TEXT,
    requested_owner_app_id TEXT,
    metadata TEXT,
    raw TEXT NOT NULL,
    event_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX handovers_psid ON handovers (psid, event_time);
