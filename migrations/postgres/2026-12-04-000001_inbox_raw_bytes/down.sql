ALTER TABLE inbox_events DROP COLUMN raw_bytes;
