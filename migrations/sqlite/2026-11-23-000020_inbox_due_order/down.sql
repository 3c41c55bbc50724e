DROP INDEX inbox_events_due;
