-- Back to rows keyed by PSID alone (tables rebuilt, as up.sql did). Fails (and changes
-- nothing) if a PSID has rows on two Pages in users or watermarks: which of them to keep is
-- not for a migration to guess.
CREATE TABLE users_by_psid (
    psid TEXT PRIMARY KEY NOT NULL,
    page_id TEXT,
    first_name TEXT,
    last_name TEXT,
    profile_pic TEXT,
    locale TEXT,
    timezone DOUBLE,
    gender TEXT,
    profile_fetched_at BIGINT,
    thumbups BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    chosen_locale TEXT
);
INSERT INTO users_by_psid (psid, page_id, first_name, last_name, profile_pic, locale, timezone,
    gender, profile_fetched_at, thumbups, created_at, updated_at, chosen_locale)
SELECT psid, NULLIF(page_id, ''), first_name, last_name, profile_pic, locale, timezone, gender,
       profile_fetched_at, thumbups, created_at, updated_at, chosen_locale
  FROM users;
DROP TABLE users;
ALTER TABLE users_by_psid RENAME TO users;

CREATE TABLE watermarks_by_psid (
    psid TEXT NOT NULL,
    kind TEXT NOT NULL,
    watermark BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (psid, kind)
);
INSERT INTO watermarks_by_psid (psid, kind, watermark, updated_at)
SELECT psid, kind, watermark, updated_at FROM watermarks;
DROP TABLE watermarks;
ALTER TABLE watermarks_by_psid RENAME TO watermarks;

ALTER TABLE deliveries DROP COLUMN page_id;

DROP INDEX handovers_page_psid;
ALTER TABLE handovers DROP COLUMN page_id;
CREATE INDEX handovers_psid ON handovers (psid, event_time);

DROP INDEX referrals_page_psid;
ALTER TABLE referrals DROP COLUMN page_id;
CREATE INDEX referrals_psid ON referrals (psid, event_time);

DROP INDEX reactions_page_psid;
ALTER TABLE reactions DROP COLUMN page_id;
CREATE INDEX reactions_psid ON reactions (psid, event_time);

DROP INDEX echoes_page_psid;
ALTER TABLE echoes DROP COLUMN page_id;
CREATE INDEX echoes_psid ON echoes (psid, event_time);

DROP INDEX account_links_page_psid;
ALTER TABLE account_links DROP COLUMN page_id;
CREATE INDEX account_links_psid ON account_links (psid, event_time);

DROP INDEX optins_page_psid;
DROP INDEX optins_page_user_ref;
ALTER TABLE optins DROP COLUMN page_id;
CREATE INDEX optins_psid ON optins (psid, event_time);
CREATE INDEX optins_user_ref ON optins (user_ref, event_time);

DROP INDEX media_page_psid;
ALTER TABLE media DROP COLUMN page_id;
CREATE INDEX media_psid ON media (psid, event_time);

DROP INDEX locations_page_psid;
ALTER TABLE locations DROP COLUMN page_id;
CREATE INDEX locations_psid ON locations (psid, event_time);

DROP INDEX thumbs_up_page_psid;
ALTER TABLE thumbs_up DROP COLUMN page_id;
CREATE INDEX thumbs_up_psid ON thumbs_up (psid);
