//! One metric's series, keyed by their label values. Recording an existing series takes a shared
//! read lock and touches atomics only: no allocation, no contended lock. The write lock is taken
//! once per new label set.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{PoisonError, RwLock};

/// Series with `N` label values each, holding a `V` of atomics.
#[derive(Debug)]
pub struct Family<const N: usize, V> {
    /// Keyed by the hash of the label values, so a lookup needs only borrowed `&str`s; the rare
    /// collision shares a bucket.
    series: RwLock<HashMap<u64, Vec<Series<N, V>>>>,
}

#[derive(Debug)]
struct Series<const N: usize, V> {
    labels: [Box<str>; N],
    value: V,
}

impl<const N: usize, V> Series<N, V> {
    fn is(&self, labels: &[&str; N]) -> bool {
        self.labels.iter().zip(labels).all(|(have, want)| **have == **want)
    }
}

impl<const N: usize, V> Default for Family<N, V> {
    fn default() -> Self {
        Family { series: RwLock::new(HashMap::new()) }
    }
}

impl<const N: usize, V: Default> Family<N, V> {
    /// Runs `f` on the series with these label values, creating it (zeroed) on first use.
    pub fn with(&self, labels: [&str; N], f: impl FnOnce(&V)) {
        let hash = hash_of(&labels);
        {
            // A poisoned lock only means a panic elsewhere; the atomics inside are still sound.
            let map = self.series.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(series) = map.get(&hash).and_then(|b| b.iter().find(|s| s.is(&labels))) {
                f(&series.value);
                return;
            }
        }
        let mut map = self.series.write().unwrap_or_else(PoisonError::into_inner);
        let bucket = map.entry(hash).or_default();
        if let Some(series) = bucket.iter().find(|s| s.is(&labels)) {
            f(&series.value);
            return;
        }
        let series = Series { labels: labels.map(Box::from), value: V::default() };
        f(&series.value);
        bucket.push(series);
    }

    /// Visits every series in label order, so the exposition is stable from scrape to scrape.
    pub fn each(&self, mut f: impl FnMut(&[&str; N], &V)) {
        let map = self.series.read().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<([&str; N], &V)> =
            map.values().flatten().map(|s| (s.labels.each_ref().map(|l| &**l), &s.value)).collect();
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (labels, value) in all {
            f(&labels, value);
        }
    }
}

fn hash_of<const N: usize>(labels: &[&str; N]) -> u64 {
    let mut hasher = DefaultHasher::new();
    labels.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn series_are_created_once_and_listed_in_label_order() {
        let family: Family<2, AtomicU64> = Family::default();
        for labels in [["b", "x"], ["a", "y"], ["b", "x"], ["a", ""]] {
            family.with(labels, |c| {
                c.fetch_add(1, Ordering::Relaxed);
            });
        }
        let mut seen = Vec::new();
        family.each(|labels, c| seen.push((labels.join("/"), c.load(Ordering::Relaxed))));
        assert_eq!(seen, [("a/".into(), 1), ("a/y".into(), 1), ("b/x".into(), 2)]);
    }
}
