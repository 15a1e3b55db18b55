-- Refusals anyone can provoke (client.auth_failed, login.failed, scim.auth_failed,
-- csrf.rejected) aggregate: identical ones within a minute are one row found by its fingerprint.
ALTER TABLE audit_events ADD COLUMN fingerprint TEXT;
CREATE INDEX audit_events_fingerprint_at ON audit_events (fingerprint, at);
-- Sign-in counters past their window and lockout are deleted by window_start.
CREATE INDEX login_throttle_window_start ON login_throttle (window_start);
