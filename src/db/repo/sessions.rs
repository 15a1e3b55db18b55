//! Browser sessions of tenant admins and operators: one row per signed-in browser, found by the
//! SHA-256 of its cookie, so every node behind the load balancer knows them.

use diesel::prelude::*;

use super::accounts::{AccountTable, account_columns, on_accounts};
use crate::db::DbConnection;
use crate::db::rows::{AccountRow, SessionRow};

pub fn insert(conn: &mut DbConnection, table: AccountTable, row: &SessionRow) -> QueryResult<()> {
    on_accounts!(table, |_t, s, owner, _tenant| {
        diesel::insert_into(s::table)
            .values((
                s::id_hash.eq(&row.id_hash),
                owner.eq(&row.account_id),
                s::csrf_token.eq(&row.csrf_token),
                s::created_at.eq(row.created_at),
                s::expires_at.eq(row.expires_at),
            ))
            .execute(conn)
            .map(drop)
    })
}

/// A live session and its account.
pub fn find(
    conn: &mut DbConnection,
    table: AccountTable,
    id_hash: &str,
    now: i64,
) -> QueryResult<Option<(SessionRow, AccountRow)>> {
    on_accounts!(table, |t, s, owner, tenant| {
        s::table
            .inner_join(t::table)
            .filter(s::id_hash.eq(id_hash))
            .filter(s::expires_at.gt(now))
            .select((
                (s::id_hash, owner, s::csrf_token, s::created_at, s::expires_at),
                account_columns!(t, tenant),
            ))
            .get_result(conn)
            .optional()
    })
}

pub fn delete(conn: &mut DbConnection, table: AccountTable, id_hash: &str) -> QueryResult<usize> {
    on_accounts!(table, |_t, s, _owner, _tenant| {
        diesel::delete(s::table.find(id_hash)).execute(conn)
    })
}

pub fn delete_expired(
    conn: &mut DbConnection,
    table: AccountTable,
    now: i64,
) -> QueryResult<usize> {
    on_accounts!(table, |_t, s, _owner, _tenant| {
        diesel::delete(s::table.filter(s::expires_at.le(now))).execute(conn)
    })
}

/// Signs an account out everywhere (password reset, disabling).
pub fn delete_of(
    conn: &mut DbConnection,
    table: AccountTable,
    account_id: &str,
) -> QueryResult<usize> {
    on_accounts!(table, |_t, s, owner, _tenant| {
        diesel::delete(s::table.filter(owner.eq(account_id))).execute(conn)
    })
}

/// Signs every admin of a tenant out (disabling the tenant), as disabling one admin does.
pub fn delete_of_tenant(conn: &mut DbConnection, tenant_id: &str) -> QueryResult<usize> {
    use crate::db::schema::{admin_accounts, web_sessions};
    let admins = admin_accounts::table
        .filter(admin_accounts::tenant_id.eq(tenant_id))
        .select(admin_accounts::id);
    diesel::delete(web_sessions::table.filter(web_sessions::admin_id.eq_any(admins))).execute(conn)
}

/// An account's live sessions, newest first.
pub fn list_of(
    conn: &mut DbConnection,
    table: AccountTable,
    account_id: &str,
    now: i64,
) -> QueryResult<Vec<SessionRow>> {
    on_accounts!(table, |_t, s, owner, _tenant| {
        s::table
            .filter(owner.eq(account_id))
            .filter(s::expires_at.gt(now))
            .order(s::created_at.desc())
            .select((s::id_hash, owner, s::csrf_token, s::created_at, s::expires_at))
            .load(conn)
    })
}

/// Ends every session of an account but the one `keep_hash` names (a password change).
pub fn delete_others(
    conn: &mut DbConnection,
    table: AccountTable,
    account_id: &str,
    keep_hash: &str,
) -> QueryResult<usize> {
    on_accounts!(table, |_t, s, owner, _tenant| {
        diesel::delete(s::table.filter(owner.eq(account_id)).filter(s::id_hash.ne(keep_hash)))
            .execute(conn)
    })
}
