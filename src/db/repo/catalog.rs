//! The catalog of roles and entitlements (`catalog_items`): vendor-wide items (`scope` '') and
//! one tenant's own (`scope` = its id). A tenant sees its own items and the vendor-wide ones it
//! has no item of the same type and id for: its own item takes the vendor-wide one's place.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::filter_sql::SqlFragment;
use crate::db::repo::memberships::ID_CHUNK;
use crate::db::schema::catalog_items;
use crate::db::{DbConnection, MultiBackend};

/// The scope of a vendor-wide item.
pub const VENDOR_WIDE: &str = "";

/// A stored catalog item.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct CatalogRow {
    pub seq: i64,
    pub scope: String,
    pub type_id: String,
    pub item_id: String,
    pub display_name: String,
    pub description: Option<String>,
    /// The item's canonical SCIM attributes (extensions included), without `id` and `meta`.
    pub data: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl CatalogRow {
    pub fn is_vendor_wide(&self) -> bool {
        self.scope == VENDOR_WIDE
    }
}

/// What a write stores of an item.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogWrite<'a> {
    pub display_name: &'a str,
    pub description: Option<&'a str>,
    pub data: &'a str,
}

/// What a `put` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Created,
    Updated,
    Unchanged,
}

macro_rules! row_columns {
    () => {
        (
            catalog_items::seq,
            catalog_items::scope,
            catalog_items::type_id,
            catalog_items::item_id,
            catalog_items::display_name,
            catalog_items::description,
            catalog_items::data,
            catalog_items::created_at,
            catalog_items::updated_at,
            catalog_items::version,
        )
    };
}

/// Items of one type visible to a tenant: its own, and vendor-wide ones it does not shadow.
fn visible(tenant_id: &str, type_id: &str) -> SqlFragment {
    let mut out = SqlFragment::default();
    out.sql("catalog_items.type_id = ")
        .text(type_id)
        .sql(" AND (catalog_items.scope = ")
        .text(tenant_id)
        .sql(" OR (catalog_items.scope = '' AND NOT EXISTS (SELECT 1 FROM catalog_items own ")
        .sql("WHERE own.scope = ")
        .text(tenant_id)
        .sql(" AND own.type_id = catalog_items.type_id AND own.item_id = catalog_items.item_id)))");
    out
}

/// One item of one scope.
pub fn find(
    conn: &mut DbConnection,
    scope: &str,
    type_id: &str,
    item_id: &str,
) -> QueryResult<Option<CatalogRow>> {
    catalog_items::table
        .filter(catalog_items::scope.eq(scope))
        .filter(catalog_items::type_id.eq(type_id))
        .filter(catalog_items::item_id.eq(item_id))
        .select(row_columns!())
        .first(conn)
        .optional()
}

/// Creates or rewrites an item; an identical rewrite changes nothing (not even its version).
pub fn put(
    conn: &mut DbConnection,
    scope: &str,
    type_id: &str,
    item_id: &str,
    item: &CatalogWrite<'_>,
    now: i64,
) -> QueryResult<(Put, CatalogRow)> {
    let existing = find(conn, scope, type_id, item_id)?;
    let put = match &existing {
        None => {
            diesel::insert_into(catalog_items::table)
                .values((
                    catalog_items::scope.eq(scope),
                    catalog_items::type_id.eq(type_id),
                    catalog_items::item_id.eq(item_id),
                    catalog_items::display_name.eq(item.display_name),
                    catalog_items::display_name_ci.eq(item.display_name.to_lowercase()),
                    catalog_items::description.eq(item.description),
                    catalog_items::data.eq(item.data),
                    catalog_items::created_at.eq(now),
                    catalog_items::updated_at.eq(now),
                    catalog_items::version.eq(1_i64),
                ))
                .execute(conn)?;
            Put::Created
        }
        Some(row)
            if row.display_name == item.display_name
                && row.description.as_deref() == item.description
                && row.data == item.data =>
        {
            Put::Unchanged
        }
        Some(row) => {
            diesel::update(catalog_items::table.filter(catalog_items::seq.eq(row.seq)))
                .set((
                    catalog_items::display_name.eq(item.display_name),
                    catalog_items::display_name_ci.eq(item.display_name.to_lowercase()),
                    catalog_items::description.eq(item.description),
                    catalog_items::data.eq(item.data),
                    catalog_items::updated_at.eq(now.max(row.updated_at)),
                    catalog_items::version.eq(row.version + 1),
                ))
                .execute(conn)?;
            Put::Updated
        }
    };
    let row = find(conn, scope, type_id, item_id)?.ok_or(diesel::result::Error::NotFound)?;
    Ok((put, row))
}

/// Deletes an item; answers it as it was.
pub fn delete(
    conn: &mut DbConnection,
    scope: &str,
    type_id: &str,
    item_id: &str,
) -> QueryResult<Option<CatalogRow>> {
    let Some(row) = find(conn, scope, type_id, item_id)? else {
        return Ok(None);
    };
    diesel::delete(catalog_items::table.filter(catalog_items::seq.eq(row.seq))).execute(conn)?;
    Ok(Some(row))
}

/// A page of one scope's items (of one type, or all), in creation order after `after_seq`.
pub fn page_of_scope(
    conn: &mut DbConnection,
    scope: &str,
    type_id: Option<&str>,
    after_seq: i64,
    limit: i64,
) -> QueryResult<Vec<CatalogRow>> {
    let mut query = catalog_items::table
        .filter(catalog_items::scope.eq(scope.to_owned()))
        .filter(catalog_items::seq.gt(after_seq))
        .into_boxed::<MultiBackend>();
    if let Some(type_id) = type_id {
        query = query.filter(catalog_items::type_id.eq(type_id.to_owned()));
    }
    query.order(catalog_items::seq).limit(limit).select(row_columns!()).load(conn)
}

/// Every item of one scope and type (a bulk replace compares against them).
pub fn all_of_scope(
    conn: &mut DbConnection,
    scope: &str,
    type_id: &str,
) -> QueryResult<Vec<CatalogRow>> {
    catalog_items::table
        .filter(catalog_items::scope.eq(scope))
        .filter(catalog_items::type_id.eq(type_id))
        .order(catalog_items::seq)
        .select(row_columns!())
        .load(conn)
}

/// How many items of one type a tenant sees that pass `predicate`.
pub fn count_visible(
    conn: &mut DbConnection,
    tenant_id: &str,
    type_id: &str,
    predicate: Option<SqlFragment>,
) -> QueryResult<i64> {
    let mut query = catalog_items::table.filter(visible(tenant_id, type_id)).into_boxed();
    if let Some(predicate) = predicate {
        query = query.filter(predicate);
    }
    query.count().get_result(conn)
}

/// A page of the items of one type a tenant sees, by `order` (then creation order).
pub fn page_visible(
    conn: &mut DbConnection,
    tenant_id: &str,
    type_id: &str,
    predicate: Option<SqlFragment>,
    order: Option<SqlFragment>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<CatalogRow>> {
    let mut query = catalog_items::table.filter(visible(tenant_id, type_id)).into_boxed();
    if let Some(predicate) = predicate {
        query = query.filter(predicate);
    }
    let query = match order {
        Some(order) => query.order((order, catalog_items::seq)),
        None => query.order(catalog_items::seq),
    };
    query.offset(offset).limit(limit).select(row_columns!()).load(conn)
}

/// One item as a tenant sees it.
pub fn find_visible(
    conn: &mut DbConnection,
    tenant_id: &str,
    type_id: &str,
    item_id: &str,
) -> QueryResult<Option<CatalogRow>> {
    catalog_items::table
        .filter(visible(tenant_id, type_id))
        .filter(catalog_items::item_id.eq(item_id))
        .select(row_columns!())
        .first(conn)
        .optional()
}

/// The display names of the items among `item_ids` of one type that a tenant sees.
pub fn visible_names(
    conn: &mut DbConnection,
    tenant_id: &str,
    type_id: &str,
    item_ids: &[String],
) -> QueryResult<HashMap<String, String>> {
    let mut names = HashMap::with_capacity(item_ids.len());
    for chunk in item_ids.chunks(ID_CHUNK) {
        let rows: Vec<(String, String)> = catalog_items::table
            .filter(visible(tenant_id, type_id))
            .filter(catalog_items::item_id.eq_any(chunk))
            .select((catalog_items::item_id, catalog_items::display_name))
            .load(conn)?;
        names.extend(rows);
    }
    Ok(names)
}

/// The tenants that have an item of their own with this type and id (they do not see the
/// vendor-wide one of the same id).
pub fn shadowing_tenants(
    conn: &mut DbConnection,
    type_id: &str,
    item_id: &str,
) -> QueryResult<Vec<String>> {
    catalog_items::table
        .filter(catalog_items::type_id.eq(type_id))
        .filter(catalog_items::item_id.eq(item_id))
        .filter(catalog_items::scope.ne(VENDOR_WIDE))
        .select(catalog_items::scope)
        .load(conn)
}

/// `visible_names` for an item about to be granted: on PostgreSQL the rows are locked `FOR SHARE`
/// until commit, so a concurrent deletion of one waits for the grant (and then revokes it) or
/// the grant waits for the deletion (and then finds nothing). SQLite writers are one at a time.
pub fn visible_names_for_grant(
    conn: &mut DbConnection,
    tenant_id: &str,
    type_id: &str,
    item_ids: &[String],
) -> QueryResult<HashMap<String, String>> {
    let DbConnection::Postgres(pg) = conn else {
        return visible_names(conn, tenant_id, type_id, item_ids);
    };
    #[derive(QueryableByName)]
    struct Named {
        #[diesel(sql_type = diesel::sql_types::Text)]
        item_id: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        display_name: String,
    }
    let mut names = HashMap::with_capacity(item_ids.len());
    for chunk in item_ids.chunks(ID_CHUNK) {
        let rows: Vec<Named> = diesel::sql_query(
            "SELECT item_id, display_name FROM catalog_items WHERE type_id = $1 \
             AND item_id = ANY($2) AND (scope = $3 OR (scope = '' AND NOT EXISTS \
             (SELECT 1 FROM catalog_items own WHERE own.scope = $3 \
             AND own.type_id = catalog_items.type_id AND own.item_id = catalog_items.item_id))) \
             FOR SHARE",
        )
        .bind::<diesel::sql_types::Text, _>(type_id)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(chunk)
        .bind::<diesel::sql_types::Text, _>(tenant_id)
        .load(pg)?;
        names.extend(rows.into_iter().map(|r| (r.item_id, r.display_name)));
    }
    Ok(names)
}
