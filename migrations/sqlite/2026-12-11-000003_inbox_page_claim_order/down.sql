DROP INDEX inbox_events_page_due;
