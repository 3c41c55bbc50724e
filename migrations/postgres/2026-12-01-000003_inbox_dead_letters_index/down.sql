DROP INDEX inbox_events_dead_letters;
