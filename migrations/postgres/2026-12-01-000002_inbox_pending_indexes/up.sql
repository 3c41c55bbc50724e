-- Only pending events are ever looked up in claim order or by sender. Indexes over pending rows
-- alone stay small (a done event leaves them), and an event finishing adds no entry to them.
DROP INDEX inbox_events_due;
DROP INDEX inbox_events_psid;
-- Served by inbox_events_due now: what is due is among the pending rows it holds.
DROP INDEX inbox_events_claim;
CREATE INDEX inbox_events_due ON inbox_events (event_time, id) WHERE status = 'pending';
CREATE INDEX inbox_events_psid ON inbox_events (psid, event_time, id) WHERE status = 'pending';
-- Room on each page for the claim's new row version (lease and attempts, no indexed column):
-- a heap-only update, without a new entry in any index.
ALTER TABLE inbox_events SET (fillfactor = 70);
