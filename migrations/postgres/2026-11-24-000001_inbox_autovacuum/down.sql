ALTER TABLE inbox_events RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor);
