//! Tenants: one customer organisation each.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::rows::TenantRow;
use crate::db::schema::tenants;

pub fn insert(conn: &mut DbConnection, row: &TenantRow) -> QueryResult<()> {
    diesel::insert_into(tenants::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find_by_slug(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<TenantRow>> {
    tenants::table
        .filter(tenants::slug.eq(slug))
        .select(TenantRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<TenantRow>> {
    tenants::table.find(id).select(TenantRow::as_select()).get_result(conn).optional()
}

pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<TenantRow>> {
    tenants::table
        .order((tenants::created_at, tenants::slug))
        .select(TenantRow::as_select())
        .load(conn)
}

pub fn rename(conn: &mut DbConnection, id: &str, name: &str) -> QueryResult<usize> {
    diesel::update(tenants::table.find(id)).set(tenants::name.eq(name)).execute(conn)
}

pub fn set_disabled(conn: &mut DbConnection, id: &str, disabled: bool) -> QueryResult<usize> {
    crate::db::credential_epoch::mark_revoking();
    diesel::update(tenants::table.find(id)).set(tenants::disabled.eq(disabled)).execute(conn)
}
