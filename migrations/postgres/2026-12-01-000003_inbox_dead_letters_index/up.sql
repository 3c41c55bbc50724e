-- Failed and dead events are few and, once there, stay: an index of them alone costs the
-- events that finish well nothing, and lets /metrics and `pagebot inbox dead` count and list
-- them without reading the whole inbox.
CREATE INDEX inbox_events_dead_letters ON inbox_events (id) WHERE status IN ('failed', 'dead');
