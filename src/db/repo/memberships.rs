//! Group memberships (rows of `group_members`): who belongs to which group, in both directions.
//! Changes touch only the named rows, so one member costs the same in a group of ten or fifty
//! thousand.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use crate::db::rows::MemberRow;
use crate::db::schema::{group_members, scim_groups, scim_users};
use crate::db::{DbConnection, native};

/// Ids per `IN (…)` list; keeps every backend under its bind-parameter limit.
pub const ID_CHUNK: usize = 500;

/// Membership rows per INSERT: Okta adds members a few at a time, and by the thousand on import.
const ROWS_PER_INSERT: usize = 64;

/// A member as SCIM shows it: id, type and the member's current display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub group_id: String,
    pub member_id: String,
    pub member_type: String,
    pub display: Option<String>,
}

/// The members of `$group_ids` that are rows of table `$t`, in the table's creation order, with
/// the name they are shown by: `$display`, else `$name`.
macro_rules! members_in {
    ($conn:expr, $group_ids:expr, $t:ident, $display:expr, $name:expr) => {{
        macro_rules! members_where {
            ($groups:expr) => {
                group_members::table
                    .inner_join($t::table.on($t::id.eq(group_members::member_id)))
                    .filter($groups)
                    .order((group_members::group_id, $t::seq))
                    .select((
                        group_members::group_id,
                        group_members::member_id,
                        group_members::member_type,
                        $display,
                        $name,
                    ))
                    .load($conn)?
            };
        }
        // One group (every GET by id) is `=`, which stays prepared; an `IN (…)` list does not.
        let rows: Vec<(String, String, String, Option<String>, String)> = match $group_ids {
            [one] => members_where!(group_members::group_id.eq(one)),
            many => members_where!(group_members::group_id.eq_any(many)),
        };
        rows.into_iter().map(|(group_id, member_id, member_type, display, name)| Member {
            group_id,
            member_id,
            member_type,
            display: Some(display.unwrap_or(name)),
        })
    }};
}

/// Members of the given groups with display names, user members then group members, each in a
/// deterministic order.
pub fn members_of(conn: &mut DbConnection, group_ids: &[String]) -> QueryResult<Vec<Member>> {
    // A user is shown by displayName, else userName; a group by its displayName.
    let users =
        members_in!(conn, group_ids, scim_users, scim_users::display_name, scim_users::user_name);
    let mut members: Vec<Member> = users.collect();
    let groups = members_in!(
        conn,
        group_ids,
        scim_groups,
        scim_groups::display_name.nullable(),
        scim_groups::display_name
    );
    members.extend(groups);
    Ok(members)
}

/// Groups a user (or group) directly belongs to: (group id, display name).
pub fn groups_of_member(
    conn: &mut DbConnection,
    tenant_id: &str,
    member_ids: &[String],
) -> QueryResult<Vec<(String, String, String)>> {
    macro_rules! groups_of {
        ($members:expr) => {
            group_members::table
                .inner_join(scim_groups::table.on(scim_groups::id.eq(group_members::group_id)))
                .filter(group_members::tenant_id.eq(tenant_id))
                .filter($members)
                .order(scim_groups::seq)
                .select((group_members::member_id, scim_groups::id, scim_groups::display_name))
        };
    }
    // One member (every GET by id) is `=`: diesel prepares an `IN (…)` list anew on each run.
    match member_ids {
        [one] => native!(conn, |c| groups_of!(group_members::member_id.eq(one)).load(c)),
        many => native!(conn, |c| groups_of!(group_members::member_id.eq_any(many)).load(c)),
    }
}

/// Adds memberships that are not there yet; returns the (id, type) of those added.
pub fn add_members(
    conn: &mut DbConnection,
    tenant_id: &str,
    group_id: &str,
    members: &[(String, String)],
) -> QueryResult<Vec<(String, String)>> {
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
    let present: HashSet<String> = present.into_iter().collect();
    let mut seen = HashSet::new();
    let rows: Vec<MemberRow> = members
        .iter()
        .filter(|(id, _)| !present.contains(id) && seen.insert(id.clone()))
        .map(|(id, kind)| MemberRow {
            group_id: group_id.to_owned(),
            member_id: id.clone(),
            tenant_id: tenant_id.to_owned(),
            member_type: kind.clone(),
            member_user_id: (kind == "User").then(|| id.clone()),
            member_group_id: (kind == "Group").then(|| id.clone()),
        })
        .collect();
    super::insert_rows!(conn, group_members::table, &rows, ROWS_PER_INSERT);
    Ok(rows.into_iter().map(|row| (row.member_id, row.member_type)).collect())
}

/// Removes the named members that are there; returns the (id, type) of those removed.
pub fn remove_members(
    conn: &mut DbConnection,
    group_id: &str,
    member_ids: &[String],
) -> QueryResult<Vec<(String, String)>> {
    let mut removed = Vec::new();
    for chunk in member_ids.chunks(ID_CHUNK) {
        let present = group_members::table
            .filter(group_members::group_id.eq(group_id))
            .filter(group_members::member_id.eq_any(chunk));
        let present: Vec<(String, String)> =
            present.select((group_members::member_id, group_members::member_type)).load(conn)?;
        if present.is_empty() {
            continue;
        }
        let ids: Vec<&str> = present.iter().map(|(id, _)| id.as_str()).collect();
        diesel::delete(
            group_members::table
                .filter(group_members::group_id.eq(group_id))
                .filter(group_members::member_id.eq_any(ids)),
        )
        .execute(conn)?;
        removed.extend(present);
    }
    Ok(removed)
}

/// Every member of a group: (id, type), in no particular order.
pub fn member_ids(conn: &mut DbConnection, group_id: &str) -> QueryResult<Vec<(String, String)>> {
    group_members::table
        .filter(group_members::group_id.eq(group_id))
        .select((group_members::member_id, group_members::member_type))
        .load(conn)
}

/// The names members are shown by (a user's displayName, else userName; a group's
/// displayName), by id.
pub fn member_names(
    conn: &mut DbConnection,
    tenant_id: &str,
    ids: &[String],
) -> QueryResult<HashMap<String, String>> {
    let mut names = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(ID_CHUNK) {
        let users: Vec<(String, Option<String>, String)> = scim_users::table
            .filter(scim_users::tenant_id.eq(tenant_id))
            .filter(scim_users::id.eq_any(chunk))
            .select((scim_users::id, scim_users::display_name, scim_users::user_name))
            .load(conn)?;
        names.extend(users.into_iter().map(|(id, display, name)| (id, display.unwrap_or(name))));
        let groups: Vec<(String, String)> = scim_groups::table
            .filter(scim_groups::tenant_id.eq(tenant_id))
            .filter(scim_groups::id.eq_any(chunk))
            .select((scim_groups::id, scim_groups::display_name))
            .load(conn)?;
        names.extend(groups);
    }
    Ok(names)
}

/// Groups by id: (id, display name, version).
pub fn groups_by_id(
    conn: &mut DbConnection,
    tenant_id: &str,
    ids: &[String],
) -> QueryResult<Vec<(String, String, i64)>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ID_CHUNK) {
        found.extend(
            scim_groups::table
                .filter(scim_groups::tenant_id.eq(tenant_id))
                .filter(scim_groups::id.eq_any(chunk))
                .order(scim_groups::seq)
                .select((scim_groups::id, scim_groups::display_name, scim_groups::version))
                .load::<(String, String, i64)>(conn)?,
        );
    }
    Ok(found)
}

pub fn remove_all_members(conn: &mut DbConnection, group_id: &str) -> QueryResult<usize> {
    diesel::delete(group_members::table.filter(group_members::group_id.eq(group_id))).execute(conn)
}

/// Takes a deleted user or group out of every group it belonged to; returns those groups' ids.
/// Their member lists changed, so they get a new version: ETags handed out before must stop
/// matching.
pub fn remove_member_everywhere(
    conn: &mut DbConnection,
    tenant_id: &str,
    member_id: &str,
    now: i64,
) -> QueryResult<Vec<String>> {
    let affected: Vec<String> = group_members::table
        .filter(group_members::member_id.eq(member_id))
        .select(group_members::group_id)
        .load(conn)?;
    if affected.is_empty() {
        return Ok(affected);
    }
    diesel::delete(group_members::table.filter(group_members::member_id.eq(member_id)))
        .execute(conn)?;
    diesel::update(
        scim_groups::table
            .filter(scim_groups::tenant_id.eq(tenant_id))
            .filter(scim_groups::id.eq_any(&affected)),
    )
    .set((scim_groups::updated_at.eq(now), scim_groups::version.eq(scim_groups::version + 1)))
    .execute(conn)?;
    Ok(affected)
}
