DROP INDEX login_throttle_window_start;
DROP INDEX audit_events_fingerprint_at;
ALTER TABLE audit_events DROP COLUMN fingerprint;
