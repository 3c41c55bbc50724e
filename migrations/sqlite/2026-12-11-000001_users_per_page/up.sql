-- Users per Page. A PSID is page-scoped: the same person has a different PSID on each Page,
-- and two Pages may see equal PSIDs. So every row that belongs to a user is keyed by the Page
-- and the PSID, as conversations already are: users (page_id, psid), watermarks (page_id,
-- psid, kind), and a page_id on every handler fact table and on deliveries. page_id is the
-- webhook entry's id, '' for an event that named none.
--
-- Not expand-then-contract: a primary key cannot change under a release whose upserts say
-- ON CONFLICT (psid). Every instance of the old release stops before the new one migrates
-- (migrations/README.md, "Documented exceptions"). SQLite cannot change a primary key in
-- place: users and watermarks are rebuilt the documented way (a new table, the rows copied,
-- the old one dropped, the new one renamed; neither has other indexes or any reference).
--
-- Existing rows get the Page of their own inbox event (via event_id) where it names one, else
-- the Page stored on their user (users.page_id), else the one Page the database knows when it
-- knows exactly one (among users and inbox_events), else ''.

-- The rebuild drops users and watermarks, which with foreign keys on (pagebot's connections
-- turn them on) deletes their rows first, and would cascade to a bot's table that references
-- them (Postgres refuses to drop their primary keys then). Refuse instead, before anything
-- changes: such a key must be dropped first.
CREATE TEMPORARY TABLE pagebot_users_per_page_check (
    foreign_keys_to_users_or_watermarks INTEGER
        CHECK (foreign_keys_to_users_or_watermarks = 0)
);
INSERT INTO pagebot_users_per_page_check
SELECT count(*) FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f
 WHERE m.type = 'table' AND lower(f."table") IN ('users', 'watermarks');
DROP TABLE pagebot_users_per_page_check;

CREATE TEMPORARY TABLE pagebot_only_page AS
SELECT page_id FROM (
    SELECT min(known.page_id) AS page_id, count(DISTINCT known.page_id) AS pages
      FROM (SELECT page_id FROM users UNION SELECT page_id FROM inbox_events) AS known
     WHERE known.page_id <> '') AS counted
 WHERE pages = 1;

-- The handler facts and deliveries, while users.page_id is still what was stored.
ALTER TABLE thumbs_up ADD COLUMN page_id TEXT NOT NULL DEFAULT '';
UPDATE thumbs_up AS f SET page_id = COALESCE(
    (SELECT NULLIF(e.page_id, '') FROM inbox_events AS e WHERE e.id = f.event_id),
    (SELECT NULLIF(u.page_id, '') FROM users AS u WHERE u.psid = f.psid),
    (SELECT page_id FROM pagebot_only_page), '');
DROP INDEX thumbs_up_psid;
CREATE INDEX thumbs_up_page_psid ON thumbs_up (page_id, psid);

ALTER TABLE locations ADD COLUMN page_id TEXT NOT NULL DEFAULT '';
UPDATE locations AS f SET page_id = COALESCE(
    (SELECT NULLIF(e.page_id, '') FROM inbox_events AS e WHERE e.id = f.event_id),
    (SELECT NULLIF(u.page_id, '') FROM users AS u WHERE u.psid = f.psid),
    (SELECT page_id FROM pagebot_only_page), '');
DROP INDEX locations_psid;
CREATE INDEX locations_page_psid ON locations (page_id, psid, event_time);

ALTER TABLE media ADD COLUMN page_id TEXT NOT NULL DEFAULT '';
UPDATE media AS f SET page_id = COALESCE(
    (SELECT NULLIF(e.page_id, '') FROM inbox_events AS e WHERE e.id = f.event_id),
    (SELECT NULLIF(u.page_id, '') FROM users AS u WHERE u.psid = f.psid),
    (SELECT page_id FROM pagebot_only_page), '');
DROP INDEX media_psid;
CREATE INDEX media_page_psid ON media (page_id, psid, event_time);

ALTER TABLE optins ADD COLUMN page_id TEXT NOT NULL DEFAULT '';
UPDATE optins AS f SET page_id = COALESCE(
    (SELECT NULLIF(e.page_id, '') FROM inbox_events AS e WHERE e.id = f.event_id),
    (SELECT NULLIF(u.page_id, '') FROM users AS u WHERE u.psid = f.psid),
    (SELECT page_id FROM pagebot_only_page), '');
DROP INDEX optins_psid;
DROP INDEX optins_user_ref;
CREATE INDEX optins_page_psid ON optins (page_id, psid, event_time);
-- A checkbox plugin's user_ref is the Page's too.
CREATE INDEX optins_page_user_ref ON optins (page_id, user_ref, event_time);

ALTER TABLE account_links ADD COLUMN page_id TEXT NOT NULL DEFAULT '';
UPDATE account_links AS f SET page_id = COALESCE(
    (SELECT NULLIF(e.page_id, '') FROM inbox_events AS e WHERE e.id = f.event_id),
    (SELECT NULLIF(u.page_id, '') FROM users AS u WHERE u.psid = f.psid),
    (SELECT page_id FROM pagebot_only_page), '');
DROP INDEX account_links_psid;
CREATE INDEX account_links_page_psid ON account_links (page_id, psid, event_time);

ALTER TABLE echoes ADD COLUMN page_id TEXT NOT NULL DEFAULT '';
UPDATE echoes AS f SET page_id = COALESCE(
    (SELECT NULLIF(e.page_id, '') FROM inbox_events AS e WHERE e.id = f.event_id),
    (SELECT NULLIF(u.page_id, '') FROM users AS u WHERE u.psid = f.psid),
    (SELECT page_id FROM pagebot_only_page), '');
DROP INDEX echoes_psid;
CREATE INDEX echoes_page_psid ON echoes (page_id, psid, event_time);

ALTER TABLE reactions ADD COLUMN page_id TEXT NOT NULL DEFAULT '';
UPDATE reactions AS f SET page_id = COALESCE(
    (SELECT NULLIF(e.page_id, '') FROM inbox_events AS e WHERE e.id = f.event_id),
    (SELECT NULLIF(u.page_id, '') FROM users AS u WHERE u.psid = f.psid),
    (SELECT page_id FROM pagebot_only_page), '');
DROP INDEX reactions_psid;
CREATE INDEX reactions_page_psid ON reactions (page_id, psid, event_time);

ALTER TABLE referrals ADD COLUMN page_id TEXT NOT NULL DEFAULT '';
UPDATE referrals AS f SET page_id = COALESCE(
    (SELECT NULLIF(e.page_id, '') FROM inbox_events AS e WHERE e.id = f.event_id),
    (SELECT NULLIF(u.page_id, '') FROM users AS u WHERE u.psid = f.psid),
    (SELECT page_id FROM pagebot_only_page), '');
DROP INDEX referrals_psid;
CREATE INDEX referrals_page_psid ON referrals (page_id, psid, event_time);

ALTER TABLE handovers ADD COLUMN page_id TEXT NOT NULL DEFAULT '';
UPDATE handovers AS f SET page_id = COALESCE(
    (SELECT NULLIF(e.page_id, '') FROM inbox_events AS e WHERE e.id = f.event_id),
    (SELECT NULLIF(u.page_id, '') FROM users AS u WHERE u.psid = f.psid),
    (SELECT page_id FROM pagebot_only_page), '');
DROP INDEX handovers_psid;
CREATE INDEX handovers_page_psid ON handovers (page_id, psid, event_time);

-- Looked up by event only (deliveries cascade with their event): no index for the Page.
ALTER TABLE deliveries ADD COLUMN page_id TEXT NOT NULL DEFAULT '';
UPDATE deliveries AS f SET page_id = COALESCE(
    (SELECT NULLIF(e.page_id, '') FROM inbox_events AS e WHERE e.id = f.event_id),
    (SELECT NULLIF(u.page_id, '') FROM users AS u WHERE u.psid = f.psid),
    (SELECT page_id FROM pagebot_only_page), '');

-- Watermarks have no event: the user's Page, else the only one.
CREATE TABLE watermarks_per_page (
    psid TEXT NOT NULL,
    kind TEXT NOT NULL,
    watermark BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    page_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (page_id, psid, kind)
);
INSERT INTO watermarks_per_page (psid, kind, watermark, updated_at, page_id)
SELECT w.psid, w.kind, w.watermark, w.updated_at, COALESCE(
    (SELECT NULLIF(u.page_id, '') FROM users AS u WHERE u.psid = w.psid),
    (SELECT page_id FROM pagebot_only_page), '')
  FROM watermarks AS w;
DROP TABLE watermarks;
ALTER TABLE watermarks_per_page RENAME TO watermarks;

-- Users last: their stored Page, else the only one.
CREATE TABLE users_per_page (
    psid TEXT NOT NULL,
    page_id TEXT NOT NULL DEFAULT '',
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
    chosen_locale TEXT,
    PRIMARY KEY (page_id, psid)
);
INSERT INTO users_per_page (psid, page_id, first_name, last_name, profile_pic, locale, timezone,
    gender, profile_fetched_at, thumbups, created_at, updated_at, chosen_locale)
SELECT psid, COALESCE(NULLIF(page_id, ''), (SELECT page_id FROM pagebot_only_page), ''),
       first_name, last_name, profile_pic, locale, timezone, gender, profile_fetched_at,
       thumbups, created_at, updated_at, chosen_locale
  FROM users;
DROP TABLE users;
ALTER TABLE users_per_page RENAME TO users;

DROP TABLE pagebot_only_page;
