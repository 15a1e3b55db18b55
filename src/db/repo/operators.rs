//! Operator accounts (who run the console at /admin) and their browser sessions.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::rows::{OperatorRow, OperatorSessionRow};
use crate::db::schema::{operator_accounts, operator_sessions};

pub fn insert(conn: &mut DbConnection, row: &OperatorRow) -> QueryResult<()> {
    diesel::insert_into(operator_accounts::table).values(row).execute(conn).map(drop)
}

pub fn find_by_email(conn: &mut DbConnection, email_ci: &str) -> QueryResult<Option<OperatorRow>> {
    operator_accounts::table
        .filter(operator_accounts::email_ci.eq(email_ci))
        .select(OperatorRow::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<OperatorRow>> {
    operator_accounts::table
        .order((operator_accounts::created_at, operator_accounts::id))
        .select(OperatorRow::as_select())
        .load(conn)
}

pub fn set_password(conn: &mut DbConnection, id: &str, hash: &str) -> QueryResult<usize> {
    diesel::update(operator_accounts::table.find(id))
        .set(operator_accounts::password_hash.eq(hash))
        .execute(conn)
}

pub fn set_disabled(conn: &mut DbConnection, id: &str, disabled: bool) -> QueryResult<usize> {
    diesel::update(operator_accounts::table.find(id))
        .set(operator_accounts::disabled.eq(disabled))
        .execute(conn)
}

pub fn insert_session(conn: &mut DbConnection, row: &OperatorSessionRow) -> QueryResult<()> {
    diesel::insert_into(operator_sessions::table).values(row).execute(conn).map(drop)
}

/// A live session and its operator.
pub fn find_session(
    conn: &mut DbConnection,
    id_hash: &str,
    now: i64,
) -> QueryResult<Option<(OperatorSessionRow, OperatorRow)>> {
    operator_sessions::table
        .inner_join(operator_accounts::table)
        .filter(operator_sessions::id_hash.eq(id_hash))
        .filter(operator_sessions::expires_at.gt(now))
        .select((OperatorSessionRow::as_select(), OperatorRow::as_select()))
        .first(conn)
        .optional()
}

pub fn delete_session(conn: &mut DbConnection, id_hash: &str) -> QueryResult<usize> {
    diesel::delete(operator_sessions::table.find(id_hash)).execute(conn)
}

pub fn delete_sessions_of(conn: &mut DbConnection, operator_id: &str) -> QueryResult<usize> {
    diesel::delete(operator_sessions::table.filter(operator_sessions::operator_id.eq(operator_id)))
        .execute(conn)
}

pub fn delete_expired_sessions(conn: &mut DbConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(operator_sessions::table.filter(operator_sessions::expires_at.le(now)))
        .execute(conn)
}
