//! A latency histogram of atomics. Buckets are counted individually and made cumulative when
//! rendered, so `+Inf` and `_count` are the same sum and always agree.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds in seconds: 1 ms (a cached read) to 10 s (a large bulk request or a stuck pool).
pub const BOUNDS: [f64; 13] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug)]
pub struct Histogram {
    /// One counter per bound, plus one for slower observations.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

/// A consistent-enough reading: cumulative bucket counts (the last is `+Inf`) and the sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub cumulative: [u64; BOUNDS.len() + 1],
    pub sum_seconds: f64,
}

impl Snapshot {
    pub fn count(&self) -> u64 {
        self.cumulative[BOUNDS.len()]
    }
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let index = BOUNDS.iter().position(|bound| seconds <= *bound).unwrap_or(BOUNDS.len());
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut running = 0u64;
        let cumulative = std::array::from_fn(|i| {
            running += self.buckets[i].load(Ordering::Relaxed);
            running
        });
        let sum_seconds = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        Snapshot { cumulative, sum_seconds }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_cumulative_buckets() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(500)); // ≤ 0.001
        h.observe(Duration::from_millis(1)); // ≤ 0.001 (bounds are inclusive)
        h.observe(Duration::from_millis(30)); // ≤ 0.05
        h.observe(Duration::from_secs(60)); // +Inf only
        let s = h.snapshot();
        assert_eq!(s.cumulative[0], 2);
        assert_eq!(s.cumulative[4], 2); // ≤ 0.025
        assert_eq!(s.cumulative[5], 3); // ≤ 0.05
        assert_eq!(s.cumulative[BOUNDS.len() - 1], 3); // ≤ 10
        assert_eq!(s.count(), 4);
        assert!((s.sum_seconds - 60.0315).abs() < 1e-9);
        assert!(BOUNDS.windows(2).all(|w| w[0] < w[1]));
    }
}
