DROP INDEX inbox_events_user;
