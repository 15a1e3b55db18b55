//! Each tenant's last SCIM activity, for the "Connect Okta" status line: when scimd last saw a
//! request, its last success, and its last failure with the reason. Recording is throttled per
//! node so busy tenants do not turn every read into a write.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::clock::to_rfc3339;
use crate::db::repo::activity;
use crate::db::{Database, StoreError};

/// Successes are written at most this often per tenant and node…
const SUCCESS_EVERY: i64 = 5_000;
/// …failures at most this often, unless the reason changed.
const FAILURE_EVERY: i64 = 1_000;

#[derive(Debug, Default)]
struct Written {
    success_at: i64,
    failure_at: i64,
    failure_reason: String,
}

#[derive(Debug, Default)]
pub struct ActivityTracker {
    written: Mutex<HashMap<String, Written>>,
}

impl ActivityTracker {
    pub fn new() -> ActivityTracker {
        ActivityTracker::default()
    }

    /// Whether this outcome is worth a write now; remembers it if so.
    pub fn due(&self, tenant_id: &str, now: i64, failure: Option<&str>) -> bool {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if written.len() > 100_000 {
            written.clear();
        }
        let entry = written.entry(tenant_id.to_owned()).or_default();
        match failure {
            None if now - entry.success_at >= SUCCESS_EVERY => {
                entry.success_at = now;
                true
            }
            Some(reason)
                if now - entry.failure_at >= FAILURE_EVERY || entry.failure_reason != reason =>
            {
                entry.failure_at = now;
                entry.failure_reason = reason.to_owned();
                true
            }
            _ => false,
        }
    }
}

/// Writes one outcome: `failure` is `(HTTP status, reason)`.
pub fn record(
    db: &Database,
    tenant_id: &str,
    now: i64,
    failure: Option<(u16, &str)>,
) -> Result<(), StoreError> {
    db.write(|conn| {
        activity::record(conn, tenant_id, now, failure.map(|(s, r)| (i64::from(s), r)))
            .map_err(StoreError::from)
    })
}

/// The status line as pages show it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActivityView {
    pub last_request: Option<String>,
    pub last_success: Option<String>,
    pub last_failure: Option<String>,
    pub last_failure_status: Option<i64>,
    pub last_failure_reason: Option<String>,
}

impl ActivityView {
    /// Healthy when something arrived and the last outcome was a success.
    pub fn healthy(&self) -> bool {
        self.last_success.is_some() && self.last_success >= self.last_failure
    }
}

pub fn view(db: &Database, tenant_id: &str) -> Result<ActivityView, StoreError> {
    let row = activity::find(&mut *db.conn()?, tenant_id)?;
    Ok(row.map_or_else(ActivityView::default, |r| ActivityView {
        last_request: r.last_request_at.map(to_rfc3339),
        last_success: r.last_success_at.map(to_rfc3339),
        last_failure: r.last_failure_at.map(to_rfc3339),
        last_failure_status: r.last_failure_status,
        last_failure_reason: r.last_failure_reason,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_throttled_but_new_failure_reasons_always_land() {
        let t = ActivityTracker::new();
        assert!(t.due("a", 10_000, None));
        assert!(!t.due("a", 11_000, None));
        assert!(t.due("a", 15_000, None));
        assert!(t.due("a", 15_000, Some("expired")));
        assert!(!t.due("a", 15_500, Some("expired")));
        assert!(t.due("a", 15_600, Some("revoked")));
        assert!(t.due("a", 16_600, Some("revoked")));
        assert!(t.due("b", 15_000, None));
    }
}
