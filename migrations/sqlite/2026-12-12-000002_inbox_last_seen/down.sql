DROP INDEX inbox_events_last_seen;
