//! Vendor API keys (`/api/v1`), stored only as SHA-256 hashes.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::rows::{ApiKeyRow, TenantRow};
use crate::db::schema::{api_keys, tenants};

pub fn insert(conn: &mut DbConnection, row: &ApiKeyRow) -> QueryResult<()> {
    diesel::insert_into(api_keys::table).values(row).execute(conn)?;
    Ok(())
}

/// The key with this hash and its tenant (`None` for an all-tenant key), revoked or not.
pub fn find_by_hash(
    conn: &mut DbConnection,
    key_hash: &str,
) -> QueryResult<Option<(ApiKeyRow, Option<TenantRow>)>> {
    api_keys::table
        .left_join(tenants::table)
        .filter(api_keys::key_hash.eq(key_hash))
        .select((ApiKeyRow::as_select(), Option::<TenantRow>::as_select()))
        .get_result(conn)
        .optional()
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table.find(id).select(ApiKeyRow::as_select()).get_result(conn).optional()
}

/// Keys, oldest first; with `tenant_id`, only that tenant's (all-tenant keys are not listed then).
pub fn list(conn: &mut DbConnection, tenant_id: Option<&str>) -> QueryResult<Vec<ApiKeyRow>> {
    let mut query = api_keys::table.into_boxed();
    if let Some(tenant_id) = tenant_id {
        query = query.filter(api_keys::tenant_id.eq(tenant_id.to_owned()));
    }
    query.order((api_keys::created_at, api_keys::id)).select(ApiKeyRow::as_select()).load(conn)
}

pub fn revoke(conn: &mut DbConnection, id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(api_keys::table.find(id))
        .filter(api_keys::revoked_at.is_null())
        .set(api_keys::revoked_at.eq(now))
        .execute(conn)
}

pub fn touch(conn: &mut DbConnection, id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(api_keys::table.find(id)).set(api_keys::last_used_at.eq(now)).execute(conn)
}
