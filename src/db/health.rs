//! Whether the database is known to be out of reach, so requests fail fast (503) instead of each
//! waiting the pool's checkout timeout, or hanging on a database that stopped answering.
//!
//! The database is marked down when a connection cannot be opened (every reconnect of the pool
//! goes through `Manager::connect`; a server out of connection slots is up, though) or a
//! readiness check does not finish in time; up again when a connection opens. While down, one background probe at a time (at most one per
//! `PROBE_INTERVAL`) opens a fresh connection, never a pooled one that may hang, and requests
//! are refused at once rather than queueing behind it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Least time between two background probes while the database is down.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);

pub struct Health {
    down: AtomicBool,
    probing: AtomicBool,
    /// Milliseconds after `epoch` when the last probe started.
    last_probe_ms: AtomicU64,
    epoch: Instant,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            down: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            last_probe_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

impl Health {
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    pub fn mark_down(&self) {
        if !self.down.swap(true, Ordering::AcqRel) {
            tracing::warn!("the database is out of reach; requests get 503 until it answers");
        }
    }

    pub fn mark_up(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            tracing::info!("the database answers again");
        }
    }

    /// Claims the right to probe: true for one caller at a time, at most once per interval.
    pub fn begin_probe(&self) -> bool {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_probe_ms.load(Ordering::Acquire);
        let interval = u64::try_from(PROBE_INTERVAL.as_millis()).unwrap_or(500);
        if last != 0 && now.saturating_sub(last) < interval {
            return false;
        }
        if self.probing.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_err()
        {
            return false;
        }
        self.last_probe_ms.store(now.max(1), Ordering::Release);
        true
    }

    pub fn end_probe(&self) {
        self.probing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_probe_at_a_time_and_not_again_at_once() {
        let health = Health::default();
        assert!(!health.is_down());
        health.mark_down();
        assert!(health.is_down());
        assert!(health.begin_probe());
        assert!(!health.begin_probe(), "a probe is in flight");
        health.end_probe();
        assert!(!health.begin_probe(), "the interval has not passed");
        health.mark_up();
        assert!(!health.is_down());
    }
}
