DROP INDEX CONCURRENTLY IF EXISTS inbox_events_last_seen;
