-- Back to rows keyed by PSID alone. Fails (and changes nothing) if a PSID has rows on two
-- Pages in users or watermarks: which of them to keep is not for a migration to guess.
ALTER TABLE users DROP CONSTRAINT users_pkey, ADD PRIMARY KEY (psid);
ALTER TABLE users ALTER COLUMN page_id DROP NOT NULL, ALTER COLUMN page_id DROP DEFAULT;
UPDATE users SET page_id = NULL WHERE page_id = '';

ALTER TABLE watermarks DROP CONSTRAINT watermarks_pkey, ADD PRIMARY KEY (psid, kind);
ALTER TABLE watermarks DROP COLUMN page_id;

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
