//! Rate limits shared by every node through the database (fixed windows in `rate_limits`).
//!
//! Low-rate endpoints (sign-in, /oauth/token) count every request in the database: exact across
//! nodes. SCIM traffic is too hot for a write per request, so each node counts locally and adds
//! its count to the shared row every `SYNC_EVERY` hits or `SYNC_INTERVAL`, deciding on the last
//! shared total plus its own unsynced hits. Across N nodes a tenant may overshoot by at most
//! N × the sync batch before every node sees the total.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::db::repo::rate_limits;
use crate::db::{Database, StoreError};

/// At most `max` requests per `window_ms`; `max == 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u64,
    pub window_ms: i64,
}

impl Limit {
    pub fn per_minute(max: u64) -> Limit {
        Limit { max, window_ms: 60_000 }
    }

    fn window_start(self, now: i64) -> i64 {
        now - now.rem_euclid(self.window_ms.max(1))
    }

    fn retry_after(self, now: i64) -> i64 {
        self.window_start(now) + self.window_ms - now
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Over the limit: retry after this many milliseconds (when the window ends).
    Limited {
        retry_after_ms: i64,
    },
}

impl Decision {
    /// Whole seconds for `Retry-After`, at least 1.
    pub fn retry_after_secs(self) -> Option<u64> {
        match self {
            Decision::Allowed => None,
            Decision::Limited { retry_after_ms } => {
                Some(u64::try_from((retry_after_ms + 999) / 1000).unwrap_or(1).max(1))
            }
        }
    }
}

/// Counts one request against `bucket` in the database and decides. Exact across nodes.
pub fn hit(db: &Database, bucket: &str, limit: Limit, now: i64) -> Result<Decision, StoreError> {
    if limit.max == 0 {
        return Ok(Decision::Allowed);
    }
    let window = limit.window_start(now);
    let total =
        db.write(|conn| rate_limits::add(conn, bucket, window, 1).map_err(StoreError::from))?;
    Ok(decide(limit, total, now))
}

fn decide(limit: Limit, total: i64, now: i64) -> Decision {
    if u64::try_from(total).unwrap_or(0) > limit.max {
        Decision::Limited { retry_after_ms: limit.retry_after(now) }
    } else {
        Decision::Allowed
    }
}

/// Local hits are added to the shared row after a twentieth of the limit, at most this many…
const SYNC_EVERY: u64 = 50;
/// …or this many milliseconds, whichever comes first.
const SYNC_INTERVAL: i64 = 1_000;

#[derive(Debug, Default)]
struct Window {
    start: i64,
    /// The shared total as of the last sync (every node's hits).
    shared: u64,
    /// This node's hits not yet added to the shared row.
    pending: u64,
    last_sync: i64,
}

/// The per-node side of a shared limit for hot traffic (SCIM requests per tenant).
#[derive(Debug, Default)]
pub struct BatchedLimiter {
    windows: Mutex<HashMap<String, Window>>,
}

/// What `BatchedLimiter::check` decided on local knowledge, plus a batch of hits due for the
/// shared row; `settle` makes the final decision.
#[derive(Debug)]
pub struct Checked {
    pub decision: Decision,
    sync: Option<(String, i64, u64)>,
    limit: Limit,
    now: i64,
}

impl Checked {
    /// Whether this node's count is due to be added to the shared one (`BatchedLimiter::settle`,
    /// a database write); otherwise `decision` is final.
    pub fn needs_settling(&self) -> bool {
        self.sync.is_some()
    }
}

impl BatchedLimiter {
    pub fn new() -> BatchedLimiter {
        BatchedLimiter::default()
    }

    /// Counts one request for `key` locally and decides on what this node knows. When a batch is
    /// due, the returned `Checked` carries it: pass it to `sync` (off the async runtime).
    pub fn check(&self, key: &str, limit: Limit, now: i64) -> Checked {
        self.check_cost(key, 1, limit, now)
    }

    /// As `check`, for a request that counts as `cost` requests (a `/Bulk` of `cost`
    /// operations): allowed only if all of it fits, and then all of it is counted.
    pub fn check_cost(&self, key: &str, cost: u64, limit: Limit, now: i64) -> Checked {
        if limit.max == 0 || cost == 0 {
            return Checked { decision: Decision::Allowed, sync: None, limit, now };
        }
        let start = limit.window_start(now);
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, w| w.start == start);
        }
        let window = windows.entry(key.to_owned()).or_default();
        if window.start != start {
            *window = Window { start, shared: 0, pending: 0, last_sync: now };
        }
        let seen = window.shared + window.pending;
        if seen.saturating_add(cost) > limit.max {
            return Checked {
                decision: Decision::Limited { retry_after_ms: limit.retry_after(now) },
                sync: None,
                limit,
                now,
            };
        }
        window.pending += cost;
        let due = window.pending >= (limit.max / 20).clamp(1, SYNC_EVERY)
            || now - window.last_sync >= SYNC_INTERVAL;
        let sync = due.then(|| {
            let batch = std::mem::take(&mut window.pending);
            window.shared += batch;
            window.last_sync = now;
            (key.to_owned(), start, batch)
        });
        Checked { decision: Decision::Allowed, sync, limit, now }
    }

    /// The final decision: when a batch is due it is added to the shared row first, and the
    /// total every node has counted decides (so small limits hold exactly across nodes).
    pub fn settle(&self, db: &Database, checked: &Checked) -> Result<Decision, StoreError> {
        let Some((key, start, batch)) = &checked.sync else { return Ok(checked.decision) };
        let bucket = format!("scim:{key}");
        let batch = i64::try_from(*batch).unwrap_or(i64::MAX);
        let total = db.write(|conn| {
            rate_limits::add(conn, &bucket, *start, batch).map_err(StoreError::from)
        })?;
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(window) = windows.get_mut(key).filter(|w| w.start == *start) {
            window.shared = window.shared.max(u64::try_from(total).unwrap_or(0));
        }
        Ok(decide(checked.limit, total, checked.now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_retry_after_points_at_the_next_one() {
        let limit = Limit::per_minute(10);
        assert_eq!(limit.window_start(125_000), 120_000);
        assert_eq!(decide(limit, 10, 125_000), Decision::Allowed);
        assert_eq!(decide(limit, 11, 125_000), Decision::Limited { retry_after_ms: 55_000 });
        assert_eq!(Decision::Limited { retry_after_ms: 1 }.retry_after_secs(), Some(1));
        assert_eq!(Decision::Limited { retry_after_ms: 55_000 }.retry_after_secs(), Some(55));
    }

    #[test]
    fn batched_limiter_refuses_past_the_limit_and_syncs_in_batches() {
        let limiter = BatchedLimiter::new();
        let limit = Limit::per_minute(120);
        let now = 60_000;
        let big = limiter.check("big", Limit::per_minute(100_000), now);
        assert!(big.sync.is_none(), "large limits sync in batches");
        let mut synced = 0;
        for _ in 0..120 {
            let checked = limiter.check("t", limit, now);
            assert_eq!(checked.decision, Decision::Allowed);
            synced += checked.sync.map_or(0, |(_, _, n)| n);
        }
        assert_eq!(synced, 120, "twenty batches of 6 were due");
        let refused = limiter.check("t", limit, now + 10);
        assert_eq!(refused.decision, Decision::Limited { retry_after_ms: 59_990 });
        // A new window starts over.
        assert_eq!(limiter.check("t", limit, 120_000).decision, Decision::Allowed);
        // Other keys are independent; a zero limit is off.
        assert_eq!(limiter.check("u", limit, now).decision, Decision::Allowed);
        assert_eq!(limiter.check("t", Limit::per_minute(0), now).decision, Decision::Allowed);
    }

    #[test]
    fn a_costly_request_counts_all_of_its_cost_or_nothing() {
        let limiter = BatchedLimiter::new();
        let limit = Limit::per_minute(10);
        assert_eq!(limiter.check_cost("t", 8, limit, 0).decision, Decision::Allowed);
        assert!(matches!(limiter.check_cost("t", 3, limit, 0).decision, Decision::Limited { .. }));
        // The refused one counted nothing: two more still fit, a third does not.
        assert_eq!(limiter.check_cost("t", 2, limit, 0).decision, Decision::Allowed);
        assert!(matches!(limiter.check("t", limit, 0).decision, Decision::Limited { .. }));
    }

    #[test]
    fn small_limits_sync_every_hit() {
        let limiter = BatchedLimiter::new();
        let checked = limiter.check("t", Limit::per_minute(3), 0);
        assert!(checked.sync.is_some());
    }
}
