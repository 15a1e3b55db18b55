//! The tables SCIM resources live in (one per resource type), with every statement written once
//! for all of them: the columns they share have the same names and types in each table.

use diesel::prelude::*;

use crate::db::filter_sql::SqlFragment;
use crate::db::rows::{GroupWrite, UserWrite};
use crate::db::{DbConnection, in_page_order, native};

/// A resource type's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceTable {
    Users,
    Groups,
}

/// A resource table as one tenant sees it: every read and delete here is scoped by both.
#[derive(Debug, Clone, Copy)]
pub struct TenantTable<'a> {
    pub table: ResourceTable,
    pub tenant_id: &'a str,
}

/// A stored resource as every type reads it: what rendering needs. Type-specific columns exist
/// for filters, sorting and uniqueness; the stored JSON holds the same values.
#[derive(Debug, Clone, Queryable)]
pub struct ResourceRow {
    pub id: String,
    pub tenant_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
    pub data: String,
}

/// The columns a create or update writes, which differ per table.
#[derive(Debug, Clone)]
pub enum ColumnValues {
    User(UserWrite),
    Group(GroupWrite),
}

impl ColumnValues {
    /// The lower-cased value that must be unique per tenant (userName, group displayName).
    pub fn unique_key(&self) -> &str {
        match self {
            ColumnValues::User(fields) => &fields.user_name_ci,
            ColumnValues::Group(fields) => &fields.display_name_ci,
        }
    }

    /// The unique value as the client wrote it, for messages.
    pub fn unique_value(&self) -> &str {
        match self {
            ColumnValues::User(fields) => &fields.user_name,
            ColumnValues::Group(fields) => &fields.display_name,
        }
    }

    /// The stored JSON (canonical, so equal text means an equal resource).
    pub fn data(&self) -> &str {
        match self {
            ColumnValues::User(fields) => &fields.data,
            ColumnValues::Group(fields) => &fields.data,
        }
    }
}

/// Runs `$body` with `$t` naming the table module of `$table`, and `$unique` its uniqueness column.
macro_rules! on_table {
    ($table:expr, |$t:ident, $unique:ident| $body:expr) => {
        match $table {
            ResourceTable::Users => {
                #[allow(unused_imports)]
                use crate::db::schema::scim_users as $t;
                #[allow(unused_imports)]
                use crate::db::schema::scim_users::user_name_ci as $unique;
                $body
            }
            ResourceTable::Groups => {
                #[allow(unused_imports)]
                use crate::db::schema::scim_groups as $t;
                #[allow(unused_imports)]
                use crate::db::schema::scim_groups::display_name_ci as $unique;
                $body
            }
        }
    };
}

/// Runs `$body` with `$t` naming the table the column values belong to and `$fields` bound to them.
macro_rules! on_columns {
    ($values:expr, |$t:ident, $fields:ident| $body:expr) => {
        match $values {
            ColumnValues::User($fields) => {
                use crate::db::schema::scim_users as $t;
                $body
            }
            ColumnValues::Group($fields) => {
                use crate::db::schema::scim_groups as $t;
                $body
            }
        }
    };
}

/// The rows of table module `$t` that belong to one tenant.
macro_rules! of_tenant {
    ($t:ident, $tenant_id:expr) => {
        $t::table.filter($t::tenant_id.eq($tenant_id))
    };
}

/// The rows of table module `$t` in one tenant that satisfy a filter predicate, as a boxed query.
macro_rules! filtered {
    ($t:ident, $tenant_id:expr, $predicate:expr) => {{
        let query = of_tenant!($t, $tenant_id.to_owned()).into_boxed();
        match $predicate {
            Some(predicate) => query.filter(predicate),
            None => query,
        }
    }};
}

/// The `ResourceRow` columns of table module `$t`.
macro_rules! row_columns {
    ($t:ident) => {
        ($t::id, $t::tenant_id, $t::created_at, $t::updated_at, $t::version, $t::data)
    };
}

pub fn insert(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    created_at: i64,
    values: &ColumnValues,
) -> QueryResult<()> {
    on_columns!(values, |t, fields| {
        native!(&mut *conn, |c| diesel::insert_into(t::table)
            .values((
                t::id.eq(id),
                t::tenant_id.eq(tenant_id),
                t::created_at.eq(created_at),
                fields,
            ))
            .execute(c))
    })?;
    Ok(())
}

/// At most one row (or value) found.
pub type Found<T> = QueryResult<Option<T>>;

pub fn find(conn: &mut DbConnection, at: TenantTable<'_>, id: &str) -> Found<ResourceRow> {
    on_table!(at.table, |t, _unique| {
        native!(conn, |c| of_tenant!(t, at.tenant_id)
            .filter(t::id.eq(id))
            .select(row_columns!(t))
            .get_result(c)
            .optional())
    })
}

/// Reads a resource for a read-modify-write. A no-op UPDATE first takes the row lock (on
/// PostgreSQL, held until commit), so concurrent writers on other nodes queue instead of losing
/// each other's changes; SQLite writers are already serialised.
pub fn find_for_update(
    conn: &mut DbConnection,
    at: TenantTable<'_>,
    id: &str,
) -> Found<ResourceRow> {
    let claimed = on_table!(at.table, |t, _unique| {
        native!(&mut *conn, |c| diesel::update(of_tenant!(t, at.tenant_id).filter(t::id.eq(id)))
            .set(t::version.eq(t::version))
            .execute(c))
    })?;
    if claimed == 0 {
        return Ok(None);
    }
    find(conn, at, id)
}

/// The id of the resource holding this (lower-cased) unique value `key`, if any.
pub fn id_by_unique_key(conn: &mut DbConnection, at: TenantTable<'_>, key: &str) -> Found<String> {
    on_table!(at.table, |t, unique| {
        native!(conn, |c| of_tenant!(t, at.tenant_id)
            .filter(unique.eq(key))
            .select(t::id)
            .get_result(c)
            .optional())
    })
}

/// Which of `ids` are resources of this table and tenant.
pub fn existing_ids(
    conn: &mut DbConnection,
    at: TenantTable<'_>,
    ids: &[String],
) -> QueryResult<Vec<String>> {
    on_table!(at.table, |t, _unique| {
        of_tenant!(t, at.tenant_id).filter(t::id.eq_any(ids)).select(t::id).load(conn)
    })
}

/// `existing_ids` for members about to be added to a group. On PostgreSQL the rows are locked
/// `FOR SHARE` until commit, which a deletion's row lock (taken first, `find_for_update`)
/// excludes: the deletion waits for the add and then removes the new membership, or the add waits
/// for the deletion and then finds no such member. SQLite writers are one at a time.
pub fn existing_ids_for_share(
    conn: &mut DbConnection,
    at: TenantTable<'_>,
    ids: &[String],
) -> QueryResult<Vec<String>> {
    let DbConnection::Postgres(pg) = conn else {
        return existing_ids(conn, at, ids);
    };
    on_table!(at.table, |t, _unique| {
        of_tenant!(t, at.tenant_id).filter(t::id.eq_any(ids)).select(t::id).for_share().load(pg)
    })
}

pub fn update(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    values: &ColumnValues,
) -> QueryResult<usize> {
    on_columns!(values, |t, fields| {
        diesel::update(of_tenant!(t, tenant_id).filter(t::id.eq(id))).set(fields).execute(conn)
    })
}

/// Bumps version and lastModified after a change stored outside the row (memberships).
pub fn touch(
    conn: &mut DbConnection,
    at: TenantTable<'_>,
    id: &str,
    now: i64,
) -> QueryResult<usize> {
    on_table!(at.table, |t, _unique| {
        diesel::update(of_tenant!(t, at.tenant_id).filter(t::id.eq(id)))
            .set((t::updated_at.eq(now), t::version.eq(t::version + 1)))
            .execute(conn)
    })
}

pub fn delete(conn: &mut DbConnection, at: TenantTable<'_>, id: &str) -> QueryResult<usize> {
    on_table!(at.table, |t, _unique| {
        diesel::delete(of_tenant!(t, at.tenant_id).filter(t::id.eq(id))).execute(conn)
    })
}

/// One page, sorted by `order` if given, then in creation order (`seq`), which keeps ties and
/// unsorted lists stable while other rows are added; with the `seq` of its last row.
pub fn list(
    conn: &mut DbConnection,
    at: TenantTable<'_>,
    predicate: Option<SqlFragment>,
    order: Option<SqlFragment>,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<ResourceRow>, Option<i64>)> {
    on_table!(at.table, |t, _unique| {
        let query = filtered!(t, at.tenant_id, predicate);
        let query = match order {
            Some(order) => query.order(order).then_order_by(t::seq),
            None => query.order(t::seq),
        };
        // A first page (every IdP lookup) skips nothing, so it reads its rows at once. SQLite
        // reads them without LIMIT and stops stepping after `limit`: it re-prepares a statement
        // with a bound LIMIT on each run.
        if offset == 0 {
            let query = query.select((t::seq, row_columns!(t)));
            let rows: Vec<(i64, ResourceRow)> = match conn {
                DbConnection::Sqlite(_) => query
                    .load_iter::<(i64, ResourceRow), diesel::connection::DefaultLoadingMode>(conn)?
                    .take(usize::try_from(limit).unwrap_or(0))
                    .collect::<QueryResult<_>>()?,
                _ => query.limit(limit).load(conn)?,
            };
            let last = rows.last().map(|(seq, _)| *seq);
            return Ok((rows.into_iter().map(|(_, row)| row).collect(), last));
        }
        // A deeper page's keys first, then its rows: skipping `offset` entries then walks the
        // (tenant_id, seq) index only, instead of reading every skipped row with its JSON.
        let page: Vec<i64> = query.offset(offset).limit(limit).select(t::seq).load(conn)?;
        // A page of one (a lookup by filter) is `=`: an `IN (…)` list is prepared anew each run.
        let rows: Vec<(i64, ResourceRow)> = match page.as_slice() {
            [one] => {
                t::table.filter(t::seq.eq(one)).select((t::seq, row_columns!(t))).load(conn)?
            }
            many => {
                t::table.filter(t::seq.eq_any(many)).select((t::seq, row_columns!(t))).load(conn)?
            }
        };
        Ok((in_page_order(&page, rows), page.last().copied()))
    })
}

/// The unsorted, unfiltered page that follows the resource `after` (a `seq`): one index seek,
/// whatever the page's depth; with the `seq` of its last row.
pub fn list_after(
    conn: &mut DbConnection,
    at: TenantTable<'_>,
    after: i64,
    limit: i64,
) -> QueryResult<(Vec<ResourceRow>, Option<i64>)> {
    on_table!(at.table, |t, _unique| {
        let rows: Vec<(i64, ResourceRow)> = of_tenant!(t, at.tenant_id)
            .filter(t::seq.gt(after))
            .order(t::seq)
            .limit(limit)
            .select((t::seq, row_columns!(t)))
            .load(conn)?;
        let last = rows.last().map(|(seq, _)| *seq);
        Ok((rows.into_iter().map(|(_, row)| row).collect(), last))
    })
}

pub fn count(
    conn: &mut DbConnection,
    at: TenantTable<'_>,
    predicate: Option<SqlFragment>,
) -> QueryResult<i64> {
    on_table!(at.table, |t, _unique| filtered!(t, at.tenant_id, predicate).count().get_result(conn))
}
