//! Static bearer tokens (Okta's "HTTP Header" mode), stored only as SHA-256 hashes.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::rows::{StaticTokenRow, TenantRow};
use crate::db::schema::{static_tokens, tenants};

pub fn insert(conn: &mut DbConnection, row: &StaticTokenRow) -> QueryResult<()> {
    diesel::insert_into(static_tokens::table).values(row).execute(conn)?;
    Ok(())
}

/// The token with this hash and its tenant, revoked or not (the caller says which it was).
pub fn find_by_hash(
    conn: &mut DbConnection,
    token_hash: &str,
) -> QueryResult<Option<(StaticTokenRow, TenantRow)>> {
    static_tokens::table
        .inner_join(tenants::table)
        .filter(static_tokens::token_hash.eq(token_hash))
        .select((StaticTokenRow::as_select(), TenantRow::as_select()))
        .get_result(conn)
        .optional()
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<StaticTokenRow>> {
    static_tokens::table.find(id).select(StaticTokenRow::as_select()).get_result(conn).optional()
}

pub fn list_for_tenant(
    conn: &mut DbConnection,
    tenant_id: &str,
) -> QueryResult<Vec<StaticTokenRow>> {
    static_tokens::table
        .filter(static_tokens::tenant_id.eq(tenant_id))
        .order((static_tokens::created_at, static_tokens::id))
        .select(StaticTokenRow::as_select())
        .load(conn)
}

pub fn revoke(conn: &mut DbConnection, id: &str, now: i64) -> QueryResult<usize> {
    crate::db::credential_epoch::mark_revoking();
    diesel::update(static_tokens::table.find(id))
        .filter(static_tokens::revoked_at.is_null())
        .set(static_tokens::revoked_at.eq(now))
        .execute(conn)
}

pub fn touch(conn: &mut DbConnection, id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(static_tokens::table.find(id))
        .set(static_tokens::last_used_at.eq(now))
        .execute(conn)
}
