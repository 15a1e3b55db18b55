//! The event log (a transactional outbox): events are inserted by the write they describe, in
//! its transaction, without a feed position; the sequencer gives committed events their
//! positions afterwards, one sequencer at a time across all nodes. Readers page by position.
//!
//! Why positions are not simply the insertion `seq`: a `seq` is taken at insert time, and a
//! transaction that took seq 7 may commit after one that took seq 8. A reader that already
//! moved past 8 would never see 7. Positions are handed out only to committed rows, each batch
//! above every position handed out before, so a reader can never meet a position below its
//! cursor later.

use diesel::dsl::{max, min};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{event_log_state, events};

/// A key no other advisory lock in scimd uses: the one sequencer at a time on PostgreSQL.
const SEQUENCER_LOCK: i64 = 0x5C1_D0E7;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = events)]
pub struct NewEventRow {
    pub id: String,
    pub tenant_id: String,
    pub tenant_slug: String,
    pub event_type: String,
    pub resource_id: Option<String>,
    pub resource_version: Option<i64>,
    pub occurred_at: i64,
    pub data: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub position: Option<i64>,
    pub id: String,
    pub tenant_id: String,
    pub tenant_slug: String,
    pub event_type: String,
    pub resource_id: Option<String>,
    pub resource_version: Option<i64>,
    pub occurred_at: i64,
    pub data: String,
}

thread_local! {
    /// Set by `insert`, taken by `Database::write` after its commit to ring the sequencer.
    static INSERTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread inserted events since the last call (and forgets it).
pub fn take_inserted() -> bool {
    INSERTED.with(|flag| flag.replace(false))
}

pub fn insert(conn: &mut DbConnection, rows: &[NewEventRow]) -> QueryResult<()> {
    INSERTED.with(|flag| flag.set(true));
    // One statement per row (no multi-row INSERT on MultiConnection); the statement is cached.
    for row in rows {
        diesel::insert_into(events::table).values(row).execute(conn)?;
    }
    Ok(())
}

/// Gives up to `batch` committed, unsequenced events their feed positions, in insertion order,
/// above every position given before; returns how many. Must run inside a write transaction:
/// on PostgreSQL it takes the sequencer's advisory lock until commit (SQLite writers are one at
/// a time already).
pub fn sequence(conn: &mut DbConnection, batch: i64) -> QueryResult<usize> {
    if matches!(conn, DbConnection::Postgres(_)) {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({SEQUENCER_LOCK})"))
            .execute(conn)?;
    }
    let first: Option<i64> =
        events::table.filter(events::position.is_null()).select(min(events::seq)).first(conn)?;
    let Some(first) = first else { return Ok(0) };
    let head = head(conn)?;
    // Usually 0 (positions equal seqs); positive once a late commit has to go above the head.
    let shift = (head + 1 - first).max(0);
    diesel::update(
        events::table.filter(events::position.is_null()).filter(events::seq.lt(first + batch)),
    )
    .set(events::position.eq((events::seq + shift).nullable()))
    .execute(conn)
}

/// The highest position given so far (0 before the first event).
pub fn head(conn: &mut DbConnection) -> QueryResult<i64> {
    let head: Option<i64> = events::table.select(max(events::position)).first(conn)?;
    Ok(head.unwrap_or(0))
}

/// Which events a page of the feed holds.
#[derive(Debug, Clone, Default)]
pub struct FeedQuery<'a> {
    pub after: i64,
    pub tenant_id: Option<&'a str>,
    /// Exact type names; `None`: every type.
    pub types: Option<&'a [String]>,
    pub limit: i64,
}

/// Sequenced events after `query.after`, oldest first.
pub fn page(conn: &mut DbConnection, query: &FeedQuery<'_>) -> QueryResult<Vec<EventRow>> {
    let mut select = events::table
        .filter(events::position.gt(query.after))
        .order(events::position)
        .limit(query.limit)
        .select(EventRow::as_select())
        .into_boxed();
    if let Some(tenant) = query.tenant_id {
        select = select.filter(events::tenant_id.eq(tenant.to_owned()));
    }
    if let Some(types) = query.types {
        select = select.filter(events::event_type.eq_any(types.to_vec()));
    }
    select.load(conn)
}

/// Positions up to this one were deleted by retention: a cursor below it has lost events.
pub fn pruned_through(conn: &mut DbConnection) -> QueryResult<i64> {
    event_log_state::table.find(1i64).select(event_log_state::pruned_through).first(conn)
}

/// Deletes sequenced events that occurred before `cutoff`, a prefix of the feed, and records
/// how far; returns how many were deleted.
pub fn prune(conn: &mut DbConnection, cutoff: i64) -> QueryResult<usize> {
    let through: Option<i64> = events::table
        .filter(events::occurred_at.lt(cutoff))
        .filter(events::position.is_not_null())
        .select(max(events::position))
        .first(conn)?;
    let Some(through) = through else { return Ok(0) };
    let deleted =
        diesel::delete(events::table.filter(events::position.le(through))).execute(conn)?;
    diesel::update(event_log_state::table.find(1i64))
        .filter(event_log_state::pruned_through.lt(through))
        .set(event_log_state::pruned_through.eq(through))
        .execute(conn)?;
    Ok(deleted)
}
