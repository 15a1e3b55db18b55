//! Repositories: one module per aggregate, plain functions over a `DbConnection`, always scoped by
//! tenant. They return diesel errors; services decide what those mean.

/// Inserts the slice `$rows` into `$table` as multi-row INSERTs of at most `$per_statement` rows:
/// one round trip per batch on PostgreSQL. diesel's MultiConnection has no batch insert, so each
/// backend's connection is used as itself. On SQLite (no round trips) only when `$sqlite_batches`:
/// there a small batch is cheaper as cached one-row statements than as a statement prepared anew.
/// The row type must insert `None` as NULL (`treat_none_as_default_value = false`), or SQLite,
/// which has no DEFAULT in a VALUES list, would get one statement per row anyway.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr, $per_statement:expr, sqlite_batches: $sqlite_batches:expr) => {{
        let conn: &mut $crate::db::DbConnection = $conn;
        let rows = $rows;
        match conn {
            $crate::db::DbConnection::Postgres(c) => {
                for chunk in rows.chunks($per_statement) {
                    diesel::insert_into($table).values(chunk).execute(c)?;
                }
            }
            $crate::db::DbConnection::Sqlite(c) if $sqlite_batches => {
                for chunk in rows.chunks($per_statement) {
                    diesel::insert_into($table).values(chunk).execute(c)?;
                }
            }
            $crate::db::DbConnection::Sqlite(c) => {
                for row in rows {
                    diesel::insert_into($table).values(row).execute(c)?;
                }
            }
        }
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
