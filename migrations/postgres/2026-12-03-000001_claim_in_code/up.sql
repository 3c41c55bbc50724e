-- The claim is written in the code now (`CLAIM_SQL` in src/store/inbox.rs), beside SQLite's,
-- and planned on a connection of its own (`Planning::Claim` in src/store/conn.rs): changing
-- how events are claimed no longer needs a migration.
--
-- An instance of the previous release still running during a rolling deploy fails its claims
-- from here on ("cannot claim events", logged and retried): it keeps acknowledging and storing
-- webhooks, finishes the events it holds, and leaves the rest to the new instances.
DROP FUNCTION IF EXISTS pagebot_claim(BIGINT, BIGINT, BIGINT);
