//! Fixed-window request counters shared by every node through the database.

use diesel::prelude::*;

use crate::db::rows::RateLimitRow;
use crate::db::schema::rate_limits;
use crate::db::{DbConnection, is_unique_violation};

/// Adds `hits` to `bucket` in the window starting at `window_start` and returns the window's
/// total. A row left from an earlier window starts over. Concurrent first hits from two nodes
/// race on the insert; the loser retries as an update inside a savepoint, so the caller's
/// transaction survives on PostgreSQL.
pub fn add(
    conn: &mut DbConnection,
    bucket: &str,
    window_start: i64,
    hits: i64,
) -> QueryResult<i64> {
    for _ in 0..2 {
        let updated = diesel::update(
            rate_limits::table
                .filter(rate_limits::bucket.eq(bucket))
                .filter(rate_limits::window_start.eq(window_start)),
        )
        .set(rate_limits::hits.eq(rate_limits::hits + hits))
        .execute(conn)?;
        if updated == 0 {
            let inserted = conn.transaction(|conn| {
                // Only an older window is cleared: a row another node just started stays.
                diesel::delete(
                    rate_limits::table
                        .filter(rate_limits::bucket.eq(bucket))
                        .filter(rate_limits::window_start.lt(window_start)),
                )
                .execute(conn)?;
                diesel::insert_into(rate_limits::table)
                    .values(&RateLimitRow { bucket: bucket.to_owned(), window_start, hits })
                    .execute(conn)
            });
            match inserted {
                Ok(_) => return Ok(hits),
                Err(err) if is_unique_violation(&err) => continue,
                Err(err) => return Err(err),
            }
        }
        return rate_limits::table.find(bucket).select(rate_limits::hits).get_result(conn);
    }
    rate_limits::table.find(bucket).select(rate_limits::hits).get_result(conn)
}

/// Forgets windows that ended before `before` (housekeeping).
pub fn delete_older_than(conn: &mut DbConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(rate_limits::table.filter(rate_limits::window_start.lt(before))).execute(conn)
}
