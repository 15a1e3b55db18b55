//! The audit trail: insert and read; the only update is an aggregated refusal's repeat count.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use diesel::prelude::*;

use crate::db::rows::AuditEventRow;
use crate::db::schema::audit_events;
use crate::db::{DbConnection, native};

pub fn insert(conn: &mut DbConnection, row: &AuditEventRow) -> QueryResult<()> {
    native!(conn, |c| diesel::insert_into(audit_events::table).values(row).execute(c).map(drop))
}

/// The newest row with `fingerprint` recorded at or after `since` (by the fingerprint index).
pub fn find_repeat(
    conn: &mut DbConnection,
    fingerprint: &str,
    since: i64,
) -> QueryResult<Option<AuditEventRow>> {
    use audit_events::dsl as a;
    audit_events::table
        .filter(a::fingerprint.eq(fingerprint))
        .filter(a::at.ge(since))
        .order(a::at.desc())
        .select(AuditEventRow::as_select())
        .first(conn)
        .optional()
}

pub fn set_detail(conn: &mut DbConnection, id: &str, detail: &str) -> QueryResult<()> {
    use audit_events::dsl as a;
    diesel::update(audit_events::table.find(id)).set(a::detail.eq(detail)).execute(conn).map(drop)
}

/// How many audit rows one server has written, by event name, since it started: the source of
/// `scimd_token_events_total`. It travels with the [`Database`](crate::db::Database) handle
/// because every writer of the trail holds one.
#[derive(Debug, Default)]
pub struct AuditCounts {
    by_event: Mutex<BTreeMap<&'static str, u64>>,
}

impl AuditCounts {
    pub fn add(&self, event: &'static str) {
        *self.lock().entry(event).or_default() += 1;
    }

    /// Every event counted so far, in name order.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, u64>> {
        // A poisoned lock only means a panic elsewhere while counting; the counts stand.
        self.by_event.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the audit pages and exports filter on; every field is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub tenant_id: Option<String>,
    pub event: Option<String>,
    pub actor: Option<String>,
    pub grant_id: Option<String>,
    pub from: Option<i64>,
    pub until: Option<i64>,
}

/// Where a page starts: keyset cursors on `(at, id)`, so every page is an index range scan
/// however deep it is (no OFFSET).
#[derive(Debug, Clone)]
pub enum Cursor {
    /// Newest first, strictly older than the key (from the newest when `None`).
    Before(Option<(i64, String)>),
    /// Oldest first, strictly newer than the key (from the oldest when `None`).
    After(Option<(i64, String)>),
}

pub fn page(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    cursor: &Cursor,
    limit: i64,
) -> QueryResult<Vec<AuditEventRow>> {
    use audit_events::dsl as a;
    let mut query = audit_events::table.select(AuditEventRow::as_select()).into_boxed();
    if let Some(v) = &filter.tenant_id {
        query = query.filter(a::tenant_id.eq(v.clone()));
    }
    if let Some(v) = &filter.event {
        query = query.filter(a::event.eq(v.clone()));
    }
    if let Some(v) = &filter.actor {
        query = query.filter(a::actor.eq(v.clone()));
    }
    if let Some(v) = &filter.grant_id {
        query = query.filter(a::grant_id.eq(v.clone()));
    }
    if let Some(v) = filter.from {
        query = query.filter(a::at.ge(v));
    }
    if let Some(v) = filter.until {
        query = query.filter(a::at.lt(v));
    }
    // "Strictly before (at, id)" is written `at <= key.at AND (at < key.at OR id < key.id)`: the
    // first half bounds the range the (…, at, id) indexes scan, the second breaks ties within a
    // millisecond. The equivalent `at < key.at OR (at = key.at AND id < key.id)` is no range to
    // SQLite or PostgreSQL: they walked the index from the newest (or oldest) event and dropped
    // every row up to the cursor, so page n cost n pages (at a million events: 66 ms for a page
    // near the end on SQLite, 13.7 s instead of 1.4 s to export 200 000 events on PostgreSQL;
    // see BENCHMARKS.md).
    query = match cursor {
        Cursor::Before(key) => {
            if let Some((at, id)) = key {
                query = query.filter(a::at.le(*at).and(a::at.lt(*at).or(a::id.lt(id.clone()))));
            }
            query.order((a::at.desc(), a::id.desc()))
        }
        Cursor::After(key) => {
            if let Some((at, id)) = key {
                query = query.filter(a::at.ge(*at).and(a::at.gt(*at).or(a::id.gt(id.clone()))));
            }
            query.order((a::at.asc(), a::id.asc()))
        }
    };
    query.limit(limit).load(conn)
}
