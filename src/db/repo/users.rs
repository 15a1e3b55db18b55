//! SCIM users of one tenant.

use diesel::prelude::*;

use crate::db::filter_sql::SqlFragment;
use crate::db::rows::{NewUserRow, UserRow, UserWrite};
use crate::db::schema::scim_users;
use crate::db::{DbConnection, MultiBackend, in_page_order};

pub fn insert(conn: &mut DbConnection, row: &NewUserRow) -> QueryResult<()> {
    diesel::insert_into(scim_users::table).values(row).execute(conn)?;
    Ok(())
}

/// Reads a resource for a read-modify-write. A no-op UPDATE first takes the row lock (on
/// PostgreSQL, held until commit), so concurrent writers on other nodes queue instead of losing
/// each other's changes; SQLite writers are already serialised.
pub fn find_for_update(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
) -> QueryResult<Option<UserRow>> {
    let claimed = diesel::update(
        scim_users::table.filter(scim_users::tenant_id.eq(tenant_id)).filter(scim_users::id.eq(id)),
    )
    .set(scim_users::version.eq(scim_users::version))
    .execute(conn)?;
    if claimed == 0 {
        return Ok(None);
    }
    find(conn, tenant_id, id)
}

pub fn find(conn: &mut DbConnection, tenant_id: &str, id: &str) -> QueryResult<Option<UserRow>> {
    scim_users::table
        .filter(scim_users::tenant_id.eq(tenant_id))
        .filter(scim_users::id.eq(id))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// The id of the user holding this (lower-cased) userName, if any.
pub fn id_by_user_name(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_name_ci: &str,
) -> QueryResult<Option<String>> {
    scim_users::table
        .filter(scim_users::tenant_id.eq(tenant_id))
        .filter(scim_users::user_name_ci.eq(user_name_ci))
        .select(scim_users::id)
        .first(conn)
        .optional()
}

/// Which of `ids` are users of this tenant (for validating group members).
pub fn existing_ids(
    conn: &mut DbConnection,
    tenant_id: &str,
    ids: &[String],
) -> QueryResult<Vec<String>> {
    scim_users::table
        .filter(scim_users::tenant_id.eq(tenant_id))
        .filter(scim_users::id.eq_any(ids))
        .select(scim_users::id)
        .load(conn)
}

pub fn update(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    fields: &UserWrite,
) -> QueryResult<usize> {
    diesel::update(
        scim_users::table.filter(scim_users::tenant_id.eq(tenant_id)).filter(scim_users::id.eq(id)),
    )
    .set(fields)
    .execute(conn)
}

pub fn delete(conn: &mut DbConnection, tenant_id: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(
        scim_users::table.filter(scim_users::tenant_id.eq(tenant_id)).filter(scim_users::id.eq(id)),
    )
    .execute(conn)
}

fn filtered(
    tenant_id: &str,
    predicate: Option<SqlFragment>,
) -> scim_users::BoxedQuery<'static, MultiBackend> {
    let query =
        scim_users::table.filter(scim_users::tenant_id.eq(tenant_id.to_owned())).into_boxed();
    match predicate {
        Some(p) => query.filter(p),
        None => query,
    }
}

/// One page in creation order (`seq`), which is stable while other rows are added.
pub fn list(
    conn: &mut DbConnection,
    tenant_id: &str,
    predicate: Option<SqlFragment>,
    order: Option<SqlFragment>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<UserRow>> {
    let query = filtered(tenant_id, predicate);
    // `seq` last: ties (and unsorted lists) keep creation order, stable while rows are added.
    let query = match order {
        Some(order) => query.order(order).then_order_by(scim_users::seq),
        None => query.order(scim_users::seq),
    };
    // The page's keys first, then its rows: skipping `offset` entries then walks the
    // (tenant_id, seq) index only, instead of reading every skipped row with its JSON.
    let page: Vec<i64> = query.offset(offset).limit(limit).select(scim_users::seq).load(conn)?;
    let rows: Vec<(i64, UserRow)> = scim_users::table
        .filter(scim_users::seq.eq_any(&page))
        .select((scim_users::seq, UserRow::as_select()))
        .load(conn)?;
    Ok(in_page_order(&page, rows))
}

pub fn count(
    conn: &mut DbConnection,
    tenant_id: &str,
    predicate: Option<SqlFragment>,
) -> QueryResult<i64> {
    filtered(tenant_id, predicate).count().get_result(conn)
}
