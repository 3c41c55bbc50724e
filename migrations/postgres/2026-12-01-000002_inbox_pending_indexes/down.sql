ALTER TABLE inbox_events RESET (fillfactor);
DROP INDEX inbox_events_due;
DROP INDEX inbox_events_psid;
CREATE INDEX inbox_events_claim ON inbox_events (status, available_at);
CREATE INDEX inbox_events_psid ON inbox_events (psid, status, event_time, id);
CREATE INDEX inbox_events_due ON inbox_events (status, event_time, id);
