//! Hints that make an IdP's full import cheap on a large tenant. Okta imports by paging through
//! `GET /Users?startIndex=…&count=100` from the first user to the last; done literally, each page
//! counts every user for `totalResults` and skips `startIndex` index entries, so the import's cost
//! grows with the square of the tenant. This node remembers, per tenant and resource type, the
//! unfiltered count and where its last unfiltered, unsorted page ended, so that the next page
//! reads from there (a keyset step) and reuses the count.
//!
//! A hint is only a shortcut, never the record: it holds while this node has written nothing to
//! the tenant since (a generation per tenant, bumped after each of its writes commits, before the
//! writer is answered) and for at most [`HINT_TTL`], which bounds how long another node's writes
//! can go unseen in `totalResults`. A page that continues from a hint starts after the previous
//! page's last resource: if resources before it were deleted meanwhile by another node, it skips
//! nobody (an offset would skip as many).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::scim::schema::ResourceKind;

/// How long a hint is trusted, whatever this node writes.
pub const HINT_TTL: Duration = Duration::from_secs(1);
/// Hints kept at most (of each kind); beyond it they are all forgotten, which costs only speed.
const MAX_HINTS: usize = 10_000;

/// This node's hints, shared by its workers.
#[derive(Default)]
pub struct ListHints {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Writes to each tenant committed through this node.
    generations: HashMap<String, u64>,
    counts: HashMap<(String, ResourceKind), Hint<u64>>,
    /// Keyed by the `startIndex` of the page that would follow.
    cursors: HashMap<(String, ResourceKind, u64), Hint<i64>>,
}

impl Inner {
    /// A hint's value while its tenant has seen no write through this node and it is young.
    fn valid<T: Copy>(&self, tenant: &str, hint: Option<&Hint<T>>) -> Option<T> {
        let hint = hint?;
        let current = self.generations.get(tenant).copied().unwrap_or(0);
        (hint.generation == current && hint.at.elapsed() < HINT_TTL).then_some(hint.value)
    }
}

#[derive(Clone, Copy)]
struct Hint<T> {
    generation: u64,
    at: Instant,
    value: T,
}

/// What a listing learned, valid for the generation read before it started.
pub struct Snapshot {
    generation: u64,
    at: Instant,
}

impl ListHints {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called after a write to `tenant` commits: every hint about it stops holding.
    pub fn wrote(&self, tenant: &str) {
        let mut inner = self.lock();
        if inner.generations.len() >= MAX_HINTS && !inner.generations.contains_key(tenant) {
            // Forgetting generations could revive old hints: forget those too.
            *inner = Inner::default();
        }
        *inner.generations.entry(tenant.to_owned()).or_default() += 1;
    }

    /// Taken before a listing reads, so what it learns is stored for the state it read.
    pub fn snapshot(&self, tenant: &str) -> Snapshot {
        let generation = self.lock().generations.get(tenant).copied().unwrap_or(0);
        Snapshot { generation, at: Instant::now() }
    }

    /// The unfiltered count of `tenant`'s resources of `kind`, if a valid hint has it.
    pub fn count(&self, tenant: &str, kind: ResourceKind) -> Option<u64> {
        let inner = self.lock();
        inner.valid(tenant, inner.counts.get(&(tenant.to_owned(), kind)))
    }

    pub fn remember_count(&self, tenant: &str, kind: ResourceKind, read: &Snapshot, total: u64) {
        let mut inner = self.lock();
        if inner.counts.len() >= MAX_HINTS {
            inner.counts.clear();
        }
        let hint = Hint { generation: read.generation, at: read.at, value: total };
        inner.counts.insert((tenant.to_owned(), kind), hint);
    }

    /// The `seq` after which the unsorted, unfiltered page at `start_index` begins, if this
    /// node's previous page ended just before it and nothing was written since.
    pub fn cursor(&self, tenant: &str, kind: ResourceKind, start_index: u64) -> Option<i64> {
        let inner = self.lock();
        inner.valid(tenant, inner.cursors.get(&(tenant.to_owned(), kind, start_index)))
    }

    /// Remembers that the page before `next_start_index` ended at `last_seq`.
    pub fn remember_cursor(
        &self,
        tenant: &str,
        kind: ResourceKind,
        read: &Snapshot,
        next_start_index: u64,
        last_seq: i64,
    ) {
        let mut inner = self.lock();
        if inner.cursors.len() >= MAX_HINTS {
            inner.cursors.clear();
        }
        let hint = Hint { generation: read.generation, at: read.at, value: last_seq };
        inner.cursors.insert((tenant.to_owned(), kind, next_start_index), hint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERS: ResourceKind = ResourceKind::User;

    #[test]
    fn a_hint_holds_until_this_node_writes_to_its_tenant() {
        let hints = ListHints::default();
        let read = hints.snapshot("t");
        hints.remember_count("t", USERS, &read, 10);
        hints.remember_cursor("t", USERS, &read, 101, 4242);
        assert_eq!(hints.count("t", USERS), Some(10));
        assert_eq!(hints.cursor("t", USERS, 101), Some(4242));
        assert_eq!(hints.cursor("t", USERS, 201), None, "only the page that follows");
        assert_eq!(hints.count("t", ResourceKind::Group), None, "per resource type");
        hints.wrote("other");
        assert_eq!(hints.count("t", USERS), Some(10), "another tenant's write");
        hints.wrote("t");
        assert_eq!(hints.count("t", USERS), None);
        assert_eq!(hints.cursor("t", USERS, 101), None);
    }

    #[test]
    fn what_a_listing_read_before_a_write_is_never_trusted_after_it() {
        let hints = ListHints::default();
        let read = hints.snapshot("t");
        // The write commits while the listing reads; the listing stores what it read, too late.
        hints.wrote("t");
        hints.remember_count("t", USERS, &read, 10);
        assert_eq!(hints.count("t", USERS), None);
    }

    #[test]
    fn a_hint_expires_whatever_this_node_writes() {
        let hints = ListHints::default();
        let old = Snapshot { generation: 0, at: Instant::now() - HINT_TTL };
        hints.remember_count("t", USERS, &old, 10);
        assert_eq!(hints.count("t", USERS), None);
    }

    #[test]
    fn full_maps_are_forgotten_not_grown() {
        let hints = ListHints::default();
        for n in 0..(MAX_HINTS + 5) {
            let tenant = format!("t{n}");
            hints.wrote(&tenant);
            let read = hints.snapshot(&tenant);
            hints.remember_count(&tenant, USERS, &read, 1);
        }
        let inner = hints.lock();
        assert!(inner.generations.len() <= MAX_HINTS && inner.counts.len() <= MAX_HINTS);
    }
}
