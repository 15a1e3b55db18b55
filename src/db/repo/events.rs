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

use crate::db::schema::{event_log_state, events};
use crate::db::{DbConnection, native};

/// A key no other advisory lock in scimd uses: the one sequencer at a time on PostgreSQL.
const SEQUENCER_LOCK: i64 = 0x5C1_D0E7;

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = events)]
// NULL, not DEFAULT, for `None`: one SQL text, so PostgreSQL keeps the insert prepared.
#[diesel(treat_none_as_default_value = false)]
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

/// A sequenced event as read back: its position in the feed and what was recorded.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub position: Option<i64>,
    #[diesel(embed)]
    pub event: NewEventRow,
}

thread_local! {
    /// Set by `insert`, taken by `Database::write` after its commit to ring the sequencer.
    static INSERTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread inserted events since the last call (and forgets it).
pub fn take_inserted() -> bool {
    INSERTED.with(|flag| flag.replace(false))
}

/// Marks this thread as having inserted events: what `insert` does, for a write whose closure
/// ran on another thread (group commit's leader).
pub fn mark_inserted() {
    INSERTED.with(|flag| flag.set(true));
}

pub fn insert(conn: &mut DbConnection, rows: &[NewEventRow]) -> QueryResult<()> {
    mark_inserted();
    // One statement per row (no multi-row INSERT on MultiConnection); the statement is cached.
    for row in rows {
        native!(&mut *conn, |c| diesel::insert_into(events::table).values(row).execute(c))?;
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
    let first: Option<i64> = events::table
        .filter(events::position.is_null())
        .select(min(events::seq))
        .get_result(conn)?;
    let Some(first) = first else { return Ok(0) };
    let head = head(conn)?;
    // Usually 0 (positions equal seqs); positive once a late commit has to go above the head.
    let shift = (head + 1 - first).max(0);
    // From `first` on only: on PostgreSQL the UPDATE sees commits its earlier statements did
    // not, and an event with a lower seq committed meanwhile would get a position at or below
    // the head (a duplicate key). It is sequenced by the next run, above the head.
    diesel::update(
        events::table
            .filter(events::position.is_null())
            .filter(events::seq.ge(first))
            .filter(events::seq.lt(first + batch)),
    )
    .set(events::position.eq((events::seq + shift).nullable()))
    .execute(conn)
}

/// The highest position given so far (0 before the first event).
pub fn head(conn: &mut DbConnection) -> QueryResult<i64> {
    let head: Option<i64> = events::table.select(max(events::position)).get_result(conn)?;
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

/// The events one write of `resource_id` recorded: those carrying `version` when it is known,
/// else every event about the resource between `from` and `to` (the request's time).
pub fn of_resource(
    conn: &mut DbConnection,
    tenant_id: &str,
    resource_id: &str,
    version: Option<i64>,
    from: i64,
    to: i64,
) -> QueryResult<Vec<EventRow>> {
    let mut select = events::table
        .filter(events::occurred_at.between(from, to))
        .filter(events::tenant_id.eq(tenant_id.to_owned()))
        .filter(events::resource_id.eq(resource_id.to_owned()))
        .order(events::seq)
        .limit(500)
        .select(EventRow::as_select())
        .into_boxed();
    if let Some(version) = version {
        select = select.filter(events::resource_version.eq(version));
    }
    select.load(conn)
}

/// Positions up to this one were deleted by retention: a cursor below it has lost events.
pub fn pruned_through(conn: &mut DbConnection) -> QueryResult<i64> {
    event_log_state::table.find(1i64).select(event_log_state::pruned_through).get_result(conn)
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

#[cfg(test)]
mod tests {
    use diesel::Connection;

    use super::*;
    use crate::db::StoreError;
    use crate::db::scratch::ScratchDatabase;

    fn event(id: &str) -> NewEventRow {
        NewEventRow {
            id: id.into(),
            tenant_id: "t1".into(),
            tenant_slug: "acme".into(),
            event_type: "user.created".into(),
            resource_id: None,
            resource_version: None,
            occurred_at: 1_000,
            data: "{}".into(),
        }
    }

    fn feed(conn: &mut DbConnection, after: i64) -> Vec<String> {
        let query = FeedQuery { after, limit: 100, ..FeedQuery::default() };
        page(conn, &query).unwrap().into_iter().map(|e| e.event.id).collect()
    }

    fn sequence_now(db: &crate::db::Database) -> usize {
        db.write(|conn| Ok::<_, StoreError>(sequence(conn, 1_000)?)).unwrap()
    }

    #[test]
    fn events_reach_the_feed_only_once_sequenced_in_insertion_order() {
        let scratch = ScratchDatabase::new("events", 2);
        let db = &scratch.db;
        db.write(|conn| Ok::<_, StoreError>(insert(conn, &[event("a"), event("b")])?)).unwrap();
        assert!(feed(&mut db.conn().unwrap(), 0).is_empty(), "unsequenced events are not read");
        assert_eq!(sequence_now(db), 2);
        assert_eq!(sequence_now(db), 0, "each event is sequenced once");
        db.write(|conn| Ok::<_, StoreError>(insert(conn, &[event("c")])?)).unwrap();
        sequence_now(db);
        let mut conn = db.conn().unwrap();
        assert_eq!(feed(&mut conn, 0), ["a", "b", "c"]);
        let head = head(&mut conn).unwrap();
        assert_eq!(feed(&mut conn, head), Vec::<String>::new());
    }

    #[test]
    fn retention_deletes_a_prefix_and_remembers_how_far() {
        let scratch = ScratchDatabase::new("events", 2);
        let db = &scratch.db;
        let mut old = event("old");
        old.occurred_at = 10;
        db.write(|conn| Ok::<_, StoreError>(insert(conn, &[old, event("new")])?)).unwrap();
        sequence_now(db);
        let mut conn = db.conn().unwrap();
        assert_eq!(prune(&mut conn, 100).unwrap(), 1);
        assert_eq!(feed(&mut conn, 0), ["new"]);
        let through = pruned_through(&mut conn).unwrap();
        assert!(through > 0);
        assert_eq!(prune(&mut conn, 100).unwrap(), 0);
        assert_eq!(pruned_through(&mut conn).unwrap(), through);
    }

    /// The outbox bug this design exists to prevent: transaction A inserts first (lower seq) but
    /// commits after B, and after a reader has moved past B. A must still reach that reader.
    #[test]
    fn an_event_committed_late_is_not_skipped_by_a_reader_that_moved_on() {
        let scratch = ScratchDatabase::new("events", 3);
        if scratch.db.target().is_sqlite() {
            // One writer at a time: SQLite cannot have A open while B commits.
            return;
        }
        let db = &scratch.db;
        let mut slow_tx =
            DbConnection::Postgres(diesel::PgConnection::establish(&scratch.url).unwrap());
        diesel::sql_query("BEGIN").execute(&mut slow_tx).unwrap();
        insert(&mut slow_tx, &[event("a")]).unwrap();
        db.write(|conn| Ok::<_, StoreError>(insert(conn, &[event("b")])?)).unwrap();
        sequence_now(db);
        let mut reader = db.conn().unwrap();
        assert_eq!(feed(&mut reader, 0), ["b"]);
        let cursor = head(&mut reader).unwrap();
        diesel::sql_query("COMMIT").execute(&mut slow_tx).unwrap();
        sequence_now(db);
        assert_eq!(feed(&mut reader, cursor), ["a"], "the late event comes after the cursor");
        assert_eq!(feed(&mut reader, 0), ["b", "a"], "in the order readers met them");
    }
}
