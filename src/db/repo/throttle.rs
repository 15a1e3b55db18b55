//! Sign-in failure counters per account and per address, shared by every node.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::rows::ThrottleRow;
use crate::db::schema::login_throttle;

pub fn find(conn: &mut DbConnection, key: &str) -> QueryResult<Option<ThrottleRow>> {
    login_throttle::table.find(key).select(ThrottleRow::as_select()).get_result(conn).optional()
}

/// Insert or replace the counter for a key (no portable upsert across both backends in diesel's
/// MultiConnection, so: delete then insert, inside the caller's transaction).
pub fn put(conn: &mut DbConnection, row: &ThrottleRow) -> QueryResult<()> {
    diesel::delete(login_throttle::table.find(&row.throttle_key)).execute(conn)?;
    diesel::insert_into(login_throttle::table).values(row).execute(conn).map(drop)
}

pub fn clear(conn: &mut DbConnection, key: &str) -> QueryResult<usize> {
    diesel::delete(login_throttle::table.find(key)).execute(conn)
}

/// Deletes the counters whose window started before `window_cutoff` and that lock nothing at
/// `now`: a failure counted later starts a new window anyway.
pub fn prune(conn: &mut DbConnection, window_cutoff: i64, now: i64) -> QueryResult<usize> {
    use login_throttle::dsl as t;
    diesel::delete(
        login_throttle::table
            .filter(t::window_start.lt(window_cutoff))
            .filter(t::locked_until.is_null().or(t::locked_until.le(now))),
    )
    .execute(conn)
}
