-- The exact bytes of a signed body that a text column cannot hold: one that is not UTF-8, or
-- that holds a NUL byte (Postgres text has no U+0000 at all). Such a body is still stored, as a
-- malformed event, instead of failing the insert on every redelivery; its `raw` then holds a
-- readable copy (each invalid sequence and each NUL as U+FFFD). NULL for every other event,
-- whose `raw` is exact. Expand only: nullable, so a release that does not know it still inserts.
ALTER TABLE inbox_events ADD COLUMN raw_bytes BYTEA;
