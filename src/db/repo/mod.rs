//! Repositories: one module per aggregate, plain functions over a `DbConnection`, always scoped by
//! tenant. They return diesel errors; services decide what those mean.
//!
//! A lookup by a unique key reads its row with `get_result`, not `first`: `first` binds its
//! `LIMIT 1`, and SQLite re-prepares a statement whose LIMIT is a bound parameter every time that
//! parameter is bound again, so a cached statement would be parsed anew on every run. `first`
//! stays where an `ORDER BY` picks one of several rows.

/// Inserts the slice `$rows` into `$table` as multi-row INSERTs of exactly `$per_statement` rows
/// (a `const`), what is left in INSERTs of each `$smaller` size in turn, the rest one row at a
/// time. Fixed sizes keep each statement's text the same, so it is prepared once per connection
/// and cached, as the one-row INSERT is; on PostgreSQL a batch is
/// also one round trip. diesel's MultiConnection has no batch insert, so each backend's connection
/// is used as itself (`db::native!`). The row type must insert `None` as NULL (`treat_none_as_default_value =
/// false`), or SQLite, which has no DEFAULT in a VALUES list, would get one statement per row.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let conn: &mut $crate::db::DbConnection = $conn;
        for row in $rows {
            $crate::db::native!(&mut *conn, |c| diesel::insert_into($table).values(row).execute(c))?;
        }
    }};
    ($conn:expr, $table:expr, $rows:expr, $per_statement:expr $(, $smaller:expr)*) => {{
        let conn: &mut $crate::db::DbConnection = $conn;
        let mut batches = $rows.chunks_exact($per_statement);
        for batch in &mut batches {
            match <&[_; $per_statement]>::try_from(batch) {
                Ok(batch) => {
                    $crate::db::native!(&mut *conn, |c| diesel::insert_into($table)
                        .values(batch)
                        .execute(c))?;
                }
                // `chunks_exact` yields only full batches; kept total rather than a panic.
                Err(_) => $crate::db::repo::insert_rows!(&mut *conn, $table, batch),
            }
        }
        $crate::db::repo::insert_rows!(&mut *conn, $table, batches.remainder() $(, $smaller)*);
    }};
}
pub(crate) use insert_rows;

pub mod accounts;
pub mod activity;
pub mod api_keys;
pub mod assignments;
pub mod audit;
pub mod catalog;
pub mod client_credentials;
pub mod directory;
pub mod events;
pub mod keys;
pub mod memberships;
pub mod oauth;
pub mod rate_limits;
pub mod request_log;
pub mod resources;
pub mod retention;
pub mod secrets;
pub mod sessions;
pub mod tenants;
pub mod throttle;
pub mod tokens;
pub mod values;
pub mod webhooks;
