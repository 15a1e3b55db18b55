//! Tenant admin accounts (the people who consent), their browser sessions and login throttling.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::rows::{AdminAccountRow, ThrottleRow, WebSessionRow};
use crate::db::schema::{admin_accounts, login_throttle, web_sessions};

pub fn insert(conn: &mut DbConnection, row: &AdminAccountRow) -> QueryResult<()> {
    diesel::insert_into(admin_accounts::table).values(row).execute(conn).map(drop)
}

pub fn find_by_email(
    conn: &mut DbConnection,
    email_ci: &str,
) -> QueryResult<Option<AdminAccountRow>> {
    admin_accounts::table
        .filter(admin_accounts::email_ci.eq(email_ci))
        .select(AdminAccountRow::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<AdminAccountRow>> {
    admin_accounts::table.find(id).select(AdminAccountRow::as_select()).first(conn).optional()
}

pub fn list_for_tenant(
    conn: &mut DbConnection,
    tenant_id: &str,
) -> QueryResult<Vec<AdminAccountRow>> {
    admin_accounts::table
        .filter(admin_accounts::tenant_id.eq(tenant_id))
        .order((admin_accounts::created_at, admin_accounts::id))
        .select(AdminAccountRow::as_select())
        .load(conn)
}

pub fn insert_session(conn: &mut DbConnection, row: &WebSessionRow) -> QueryResult<()> {
    diesel::insert_into(web_sessions::table).values(row).execute(conn).map(drop)
}

/// A live session and its admin account.
pub fn find_session(
    conn: &mut DbConnection,
    id_hash: &str,
    now: i64,
) -> QueryResult<Option<(WebSessionRow, AdminAccountRow)>> {
    web_sessions::table
        .inner_join(admin_accounts::table)
        .filter(web_sessions::id_hash.eq(id_hash))
        .filter(web_sessions::expires_at.gt(now))
        .select((WebSessionRow::as_select(), AdminAccountRow::as_select()))
        .first(conn)
        .optional()
}

pub fn delete_session(conn: &mut DbConnection, id_hash: &str) -> QueryResult<usize> {
    diesel::delete(web_sessions::table.find(id_hash)).execute(conn)
}

pub fn delete_expired_sessions(conn: &mut DbConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(web_sessions::table.filter(web_sessions::expires_at.le(now))).execute(conn)
}

pub fn find_throttle(conn: &mut DbConnection, key: &str) -> QueryResult<Option<ThrottleRow>> {
    login_throttle::table.find(key).select(ThrottleRow::as_select()).first(conn).optional()
}

/// Insert or replace the counter for a key (no portable upsert across both backends in diesel's
/// MultiConnection, so: delete then insert, inside the caller's transaction).
pub fn put_throttle(conn: &mut DbConnection, row: &ThrottleRow) -> QueryResult<()> {
    diesel::delete(login_throttle::table.find(&row.throttle_key)).execute(conn)?;
    diesel::insert_into(login_throttle::table).values(row).execute(conn).map(drop)
}

pub fn clear_throttle(conn: &mut DbConnection, key: &str) -> QueryResult<usize> {
    diesel::delete(login_throttle::table.find(key)).execute(conn)
}

pub fn set_password(conn: &mut DbConnection, id: &str, hash: &str) -> QueryResult<usize> {
    diesel::update(admin_accounts::table.find(id))
        .set(admin_accounts::password_hash.eq(hash))
        .execute(conn)
}

pub fn set_disabled(conn: &mut DbConnection, id: &str, disabled: bool) -> QueryResult<usize> {
    diesel::update(admin_accounts::table.find(id))
        .set(admin_accounts::disabled.eq(disabled))
        .execute(conn)
}

/// Signs an admin out everywhere (password reset, disabling).
pub fn delete_sessions_of(conn: &mut DbConnection, admin_id: &str) -> QueryResult<usize> {
    diesel::delete(web_sessions::table.filter(web_sessions::admin_id.eq(admin_id))).execute(conn)
}
