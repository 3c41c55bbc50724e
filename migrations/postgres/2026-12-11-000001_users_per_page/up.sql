-- Users per Page. A PSID is page-scoped: the same person has a different PSID on each Page,
-- and two Pages may see equal PSIDs. So every row that belongs to a user is keyed by the Page
-- and the PSID, as conversations already are: users (page_id, psid), watermarks (page_id,
-- psid, kind), and a page_id on every handler fact table and on deliveries. page_id is the
-- webhook entry's id, '' for an event that named none.
--
-- Not expand-then-contract: a primary key cannot change under a release whose upserts say
-- ON CONFLICT (psid). Every instance of the old release stops before the new one migrates
-- (migrations/README.md, "Documented exceptions").
--
-- Existing rows get the Page of their own inbox event (via event_id) where it names one, else
-- the Page stored on their user (users.page_id), else the one Page the database knows when it
-- knows exactly one (among users and inbox_events), else ''.

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
ALTER TABLE watermarks ADD COLUMN page_id TEXT NOT NULL DEFAULT '';
UPDATE watermarks AS w SET page_id = COALESCE(
    (SELECT NULLIF(u.page_id, '') FROM users AS u WHERE u.psid = w.psid),
    (SELECT page_id FROM pagebot_only_page), '');
ALTER TABLE watermarks DROP CONSTRAINT watermarks_pkey,
    ADD PRIMARY KEY (page_id, psid, kind);

-- Users last: their stored Page, else the only one.
UPDATE users SET page_id = COALESCE((SELECT page_id FROM pagebot_only_page), '')
 WHERE page_id IS NULL OR page_id = '';
ALTER TABLE users ALTER COLUMN page_id SET DEFAULT '',
    ALTER COLUMN page_id SET NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_pkey, ADD PRIMARY KEY (page_id, psid);

DROP TABLE pagebot_only_page;
