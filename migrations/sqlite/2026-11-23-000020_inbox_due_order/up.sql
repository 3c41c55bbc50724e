-- The claim walks pending events in (event_time, id) order and stops after its LIMIT,
-- instead of sorting every pending event on each claim.
CREATE INDEX inbox_events_due ON inbox_events (status, event_time, id);
