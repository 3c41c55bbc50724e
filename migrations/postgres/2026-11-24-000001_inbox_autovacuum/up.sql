-- The inbox is a queue: each event is inserted, updated two or three times and finished within
-- seconds. Vacuum and analyze it once 1% of its rows changed (instead of 20% and 10%), so that
-- dead row versions do not pile up in the claim's index walk and the planner's row counts stay
-- close to the truth.
ALTER TABLE inbox_events SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_analyze_scale_factor = 0.01
);
