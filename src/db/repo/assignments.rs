//! The roles and entitlements users hold (`user_assignments`): one row per user and catalog item,
//! so a grant or a revocation touches one row, however many the user holds.

use std::collections::HashSet;

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::repo::memberships::ID_CHUNK;
use crate::db::schema::user_assignments;

/// A catalog item a user holds, by type id and item id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Held {
    pub type_id: String,
    pub item_id: String,
}

impl Held {
    pub fn new(type_id: impl Into<String>, item_id: impl Into<String>) -> Held {
        Held { type_id: type_id.into(), item_id: item_id.into() }
    }
}

/// What each of `user_ids` holds, as (user id, item), by user then type then item id.
pub fn of_users(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_ids: &[String],
) -> QueryResult<Vec<(String, Held)>> {
    let mut out = Vec::new();
    for chunk in user_ids.chunks(ID_CHUNK) {
        let rows: Vec<(String, String, String)> = user_assignments::table
            .filter(user_assignments::tenant_id.eq(tenant_id))
            .filter(user_assignments::user_id.eq_any(chunk))
            .order((
                user_assignments::user_id,
                user_assignments::type_id,
                user_assignments::item_id,
            ))
            .select((
                user_assignments::user_id,
                user_assignments::type_id,
                user_assignments::item_id,
            ))
            .load(conn)?;
        out.extend(
            rows.into_iter().map(|(user, type_id, item_id)| (user, Held { type_id, item_id })),
        );
    }
    Ok(out)
}

/// What one user holds.
pub fn of_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<Held>> {
    let rows: Vec<(String, String)> = user_assignments::table
        .filter(user_assignments::user_id.eq(user_id))
        .order((user_assignments::type_id, user_assignments::item_id))
        .select((user_assignments::type_id, user_assignments::item_id))
        .load(conn)?;
    Ok(rows.into_iter().map(|(type_id, item_id)| Held { type_id, item_id }).collect())
}

/// Grants the items the user does not hold yet; answers those granted, in the order given.
pub fn grant(
    conn: &mut DbConnection,
    tenant_id: &str,
    user_id: &str,
    items: &[Held],
    now: i64,
) -> QueryResult<Vec<Held>> {
    let held: HashSet<Held> = of_user(conn, user_id)?.into_iter().collect();
    let mut seen = HashSet::new();
    let mut granted = Vec::new();
    for item in items {
        if held.contains(item) || !seen.insert(item.clone()) {
            continue;
        }
        diesel::insert_into(user_assignments::table)
            .values((
                user_assignments::tenant_id.eq(tenant_id),
                user_assignments::user_id.eq(user_id),
                user_assignments::type_id.eq(&item.type_id),
                user_assignments::item_id.eq(&item.item_id),
                user_assignments::created_at.eq(now),
            ))
            .execute(conn)?;
        granted.push(item.clone());
    }
    Ok(granted)
}

/// Revokes the named items the user holds; answers those revoked.
pub fn revoke(conn: &mut DbConnection, user_id: &str, items: &[Held]) -> QueryResult<Vec<Held>> {
    let mut revoked = Vec::new();
    for item in items {
        let n = diesel::delete(
            user_assignments::table
                .filter(user_assignments::user_id.eq(user_id))
                .filter(user_assignments::type_id.eq(&item.type_id))
                .filter(user_assignments::item_id.eq(&item.item_id)),
        )
        .execute(conn)?;
        if n > 0 {
            revoked.push(item.clone());
        }
    }
    Ok(revoked)
}

/// The users of a tenant holding one item.
pub fn holders(conn: &mut DbConnection, tenant_id: &str, item: &Held) -> QueryResult<Vec<String>> {
    user_assignments::table
        .filter(user_assignments::tenant_id.eq(tenant_id))
        .filter(user_assignments::type_id.eq(&item.type_id))
        .filter(user_assignments::item_id.eq(&item.item_id))
        .order(user_assignments::user_id)
        .select(user_assignments::user_id)
        .load(conn)
}

/// The tenants where someone holds the item (a vendor-wide item's deletion visits each).
pub fn tenants_holding(conn: &mut DbConnection, item: &Held) -> QueryResult<Vec<String>> {
    user_assignments::table
        .filter(user_assignments::type_id.eq(&item.type_id))
        .filter(user_assignments::item_id.eq(&item.item_id))
        .select(user_assignments::tenant_id)
        .distinct()
        .order(user_assignments::tenant_id)
        .load(conn)
}

/// How many users of a tenant hold each item they hold, by (type id, item id).
pub fn holder_counts(
    conn: &mut DbConnection,
    tenant_id: &str,
) -> QueryResult<std::collections::HashMap<Held, i64>> {
    let rows: Vec<(String, String, i64)> = user_assignments::table
        .filter(user_assignments::tenant_id.eq(tenant_id))
        .group_by((user_assignments::type_id, user_assignments::item_id))
        .select((user_assignments::type_id, user_assignments::item_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().map(|(type_id, item_id, n)| (Held { type_id, item_id }, n)).collect())
}
