//! SCIM groups of one tenant and their memberships (rows in `group_members`).

use diesel::prelude::*;

use crate::db::filter_sql::SqlFragment;
use crate::db::rows::{GroupRow, GroupWrite, MemberRow, NewGroupRow};
use crate::db::schema::{group_members, scim_groups, scim_users};
use crate::db::{DbConnection, MultiBackend, in_page_order};

/// Ids per `IN (…)` list; keeps every backend under its bind-parameter limit.
const ID_CHUNK: usize = 500;

pub fn insert(conn: &mut DbConnection, row: &NewGroupRow) -> QueryResult<()> {
    diesel::insert_into(scim_groups::table).values(row).execute(conn)?;
    Ok(())
}

/// Reads a resource for a read-modify-write. A no-op UPDATE first takes the row lock (on
/// PostgreSQL, held until commit), so concurrent writers on other nodes queue instead of losing
/// each other's changes; SQLite writers are already serialised.
pub fn find_for_update(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
) -> QueryResult<Option<GroupRow>> {
    let claimed = diesel::update(
        scim_groups::table
            .filter(scim_groups::tenant_id.eq(tenant_id))
            .filter(scim_groups::id.eq(id)),
    )
    .set(scim_groups::version.eq(scim_groups::version))
    .execute(conn)?;
    if claimed == 0 {
        return Ok(None);
    }
    find(conn, tenant_id, id)
}

pub fn find(conn: &mut DbConnection, tenant_id: &str, id: &str) -> QueryResult<Option<GroupRow>> {
    scim_groups::table
        .filter(scim_groups::tenant_id.eq(tenant_id))
        .filter(scim_groups::id.eq(id))
        .select(GroupRow::as_select())
        .first(conn)
        .optional()
}

/// The id of the group holding this (lower-cased) displayName, if any.
pub fn id_by_display_name(
    conn: &mut DbConnection,
    tenant_id: &str,
    display_name_ci: &str,
) -> QueryResult<Option<String>> {
    scim_groups::table
        .filter(scim_groups::tenant_id.eq(tenant_id))
        .filter(scim_groups::display_name_ci.eq(display_name_ci))
        .select(scim_groups::id)
        .first(conn)
        .optional()
}

pub fn existing_ids(
    conn: &mut DbConnection,
    tenant_id: &str,
    ids: &[String],
) -> QueryResult<Vec<String>> {
    scim_groups::table
        .filter(scim_groups::tenant_id.eq(tenant_id))
        .filter(scim_groups::id.eq_any(ids))
        .select(scim_groups::id)
        .load(conn)
}

pub fn update(
    conn: &mut DbConnection,
    tenant_id: &str,
    id: &str,
    fields: &GroupWrite,
) -> QueryResult<usize> {
    diesel::update(
        scim_groups::table
            .filter(scim_groups::tenant_id.eq(tenant_id))
            .filter(scim_groups::id.eq(id)),
    )
    .set(fields)
    .execute(conn)
}

/// Bumps version and lastModified after a membership-only change.
pub fn touch(conn: &mut DbConnection, tenant_id: &str, id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(
        scim_groups::table
            .filter(scim_groups::tenant_id.eq(tenant_id))
            .filter(scim_groups::id.eq(id)),
    )
    .set((scim_groups::updated_at.eq(now), scim_groups::version.eq(scim_groups::version + 1)))
    .execute(conn)
}

pub fn delete(conn: &mut DbConnection, tenant_id: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(group_members::table.filter(group_members::group_id.eq(id))).execute(conn)?;
    diesel::delete(
        scim_groups::table
            .filter(scim_groups::tenant_id.eq(tenant_id))
            .filter(scim_groups::id.eq(id)),
    )
    .execute(conn)
}

fn filtered(
    tenant_id: &str,
    predicate: Option<SqlFragment>,
) -> scim_groups::BoxedQuery<'static, MultiBackend> {
    let query =
        scim_groups::table.filter(scim_groups::tenant_id.eq(tenant_id.to_owned())).into_boxed();
    match predicate {
        Some(p) => query.filter(p),
        None => query,
    }
}

pub fn list(
    conn: &mut DbConnection,
    tenant_id: &str,
    predicate: Option<SqlFragment>,
    order: Option<SqlFragment>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<GroupRow>> {
    let query = filtered(tenant_id, predicate);
    // `seq` last: ties (and unsorted lists) keep creation order, stable while rows are added.
    let query = match order {
        Some(order) => query.order(order).then_order_by(scim_groups::seq),
        None => query.order(scim_groups::seq),
    };
    // The page's keys first, then its rows: skipping `offset` entries then walks the
    // (tenant_id, seq) index only, instead of reading every skipped row with its JSON.
    let page: Vec<i64> = query.offset(offset).limit(limit).select(scim_groups::seq).load(conn)?;
    let rows: Vec<(i64, GroupRow)> = scim_groups::table
        .filter(scim_groups::seq.eq_any(&page))
        .select((scim_groups::seq, GroupRow::as_select()))
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

/// A member as SCIM shows it: id, type and the member's current display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub group_id: String,
    pub member_id: String,
    pub member_type: String,
    pub display: Option<String>,
}

/// Members of the given groups with display names, user members then group members, each in a
/// deterministic order.
pub fn members_of(conn: &mut DbConnection, group_ids: &[String]) -> QueryResult<Vec<Member>> {
    let users: Vec<(String, String, String, Option<String>, String)> = group_members::table
        .inner_join(scim_users::table.on(scim_users::id.eq(group_members::member_id)))
        .filter(group_members::group_id.eq_any(group_ids))
        .order((group_members::group_id, scim_users::seq))
        .select((
            group_members::group_id,
            group_members::member_id,
            group_members::member_type,
            scim_users::display_name,
            scim_users::user_name,
        ))
        .load(conn)?;
    let groups: Vec<(String, String, String, String)> = group_members::table
        .inner_join(scim_groups::table.on(scim_groups::id.eq(group_members::member_id)))
        .filter(group_members::group_id.eq_any(group_ids))
        .order((group_members::group_id, scim_groups::seq))
        .select((
            group_members::group_id,
            group_members::member_id,
            group_members::member_type,
            scim_groups::display_name,
        ))
        .load(conn)?;
    let mut members: Vec<Member> = users
        .into_iter()
        .map(|(group_id, member_id, member_type, display, user_name)| Member {
            group_id,
            member_id,
            member_type,
            display: Some(display.unwrap_or(user_name)),
        })
        .collect();
    members.extend(groups.into_iter().map(|(group_id, member_id, member_type, display)| Member {
        group_id,
        member_id,
        member_type,
        display: Some(display),
    }));
    Ok(members)
}

/// Groups a user (or group) directly belongs to: (group id, display name).
pub fn groups_of_member(
    conn: &mut DbConnection,
    tenant_id: &str,
    member_ids: &[String],
) -> QueryResult<Vec<(String, String, String)>> {
    group_members::table
        .inner_join(scim_groups::table.on(scim_groups::id.eq(group_members::group_id)))
        .filter(group_members::tenant_id.eq(tenant_id))
        .filter(group_members::member_id.eq_any(member_ids))
        .order(scim_groups::seq)
        .select((group_members::member_id, scim_groups::id, scim_groups::display_name))
        .load(conn)
}

/// Adds memberships that are not there yet; returns how many were added.
pub fn add_members(
    conn: &mut DbConnection,
    tenant_id: &str,
    group_id: &str,
    members: &[(String, String)],
) -> QueryResult<usize> {
    let ids: Vec<&str> = members.iter().map(|(id, _)| id.as_str()).collect();
    let mut present: Vec<String> = Vec::new();
    for chunk in ids.chunks(ID_CHUNK) {
        present.extend(
            group_members::table
                .filter(group_members::group_id.eq(group_id))
                .filter(group_members::member_id.eq_any(chunk))
                .select(group_members::member_id)
                .load::<String>(conn)?,
        );
    }
    let present: std::collections::HashSet<String> = present.into_iter().collect();
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<MemberRow> = members
        .iter()
        .filter(|(id, _)| !present.contains(id) && seen.insert(id.clone()))
        .map(|(id, kind)| MemberRow {
            group_id: group_id.to_owned(),
            member_id: id.clone(),
            tenant_id: tenant_id.to_owned(),
            member_type: kind.clone(),
        })
        .collect();
    // One statement per row (no multi-row INSERT on MultiConnection); the statement is cached.
    for row in &rows {
        diesel::insert_into(group_members::table).values(row).execute(conn)?;
    }
    Ok(rows.len())
}

pub fn remove_members(
    conn: &mut DbConnection,
    group_id: &str,
    member_ids: &[String],
) -> QueryResult<usize> {
    let mut removed = 0;
    for chunk in member_ids.chunks(ID_CHUNK) {
        removed += diesel::delete(
            group_members::table
                .filter(group_members::group_id.eq(group_id))
                .filter(group_members::member_id.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    Ok(removed)
}

pub fn remove_all_members(conn: &mut DbConnection, group_id: &str) -> QueryResult<usize> {
    diesel::delete(group_members::table.filter(group_members::group_id.eq(group_id))).execute(conn)
}

/// Drops a deleted user or group from every group it belonged to.
/// Takes a deleted user or group out of every group it belonged to. Those groups' member lists
/// changed, so they get a new version: ETags handed out before must stop matching.
pub fn remove_member_everywhere(
    conn: &mut DbConnection,
    tenant_id: &str,
    member_id: &str,
    now: i64,
) -> QueryResult<usize> {
    let affected: Vec<String> = group_members::table
        .filter(group_members::member_id.eq(member_id))
        .select(group_members::group_id)
        .load(conn)?;
    if affected.is_empty() {
        return Ok(0);
    }
    diesel::delete(group_members::table.filter(group_members::member_id.eq(member_id)))
        .execute(conn)?;
    diesel::update(
        scim_groups::table
            .filter(scim_groups::tenant_id.eq(tenant_id))
            .filter(scim_groups::id.eq_any(&affected)),
    )
    .set((scim_groups::updated_at.eq(now), scim_groups::version.eq(scim_groups::version + 1)))
    .execute(conn)
}
