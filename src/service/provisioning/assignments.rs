//! A user's `roles` and `entitlements` when the catalog backs them: each value is checked
//! against what the tenant's catalog holds, changes touch only the rows that change, and users
//! are rendered with the items' current display names.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::TenantContext;
use super::members::ListDelta;
use crate::db::DbConnection;
use crate::db::repo::assignments::{self, Held};
use crate::db::repo::catalog;
use crate::db::repo::resources::{self, ResourceRow, ResourceTable, TenantTable};
use crate::scim::catalog::CatalogType;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::matches;
use crate::scim::hints::SchemaHints;
use crate::scim::list_patch::{ENTITLEMENTS, Element, ListChange, ROLES, RowList};
use crate::scim::schema::{Registry, ResourceKind};
use crate::service::delivery::outbox::{self, EventTenant, EventType, NewEvent};
use crate::service::directory::view;

/// The user lists the catalog backs on this server.
pub(super) fn lists(registry: &Registry) -> Vec<RowList> {
    [ROLES, ENTITLEMENTS].into_iter().filter(|l| registry.catalog_backs(l.name)).collect()
}

/// The catalog types whose items `list` holds.
fn types_of(registry: &Registry, list: RowList) -> impl Iterator<Item = &CatalogType> {
    registry.catalog().iter().filter(move |t| t.user_attribute() == list.name)
}

/// Applies one change to the items of `list` that `user_id` holds.
pub(super) fn apply(
    conn: &mut DbConnection,
    ctx: &TenantContext<'_>,
    user_id: &str,
    list: RowList,
    change: ListChange,
) -> ScimResult<ListDelta> {
    let tenant_id = ctx.tenant.as_str();
    let now = ctx.clock.now();
    let (granted, revoked) = match change {
        ListChange::Add(elements) => {
            let wanted = resolve(conn, ctx, list, &elements)?;
            (assignments::grant(conn, tenant_id, user_id, &wanted, now)?, Vec::new())
        }
        ListChange::ReplaceAll(elements) => {
            let wanted = resolve(conn, ctx, list, &elements)?;
            let doomed: Vec<Held> = held_in(conn, ctx, user_id, list)?
                .into_iter()
                .filter(|h| !wanted.contains(h))
                .collect();
            let revoked = assignments::revoke(conn, user_id, &doomed)?;
            (assignments::grant(conn, tenant_id, user_id, &wanted, now)?, revoked)
        }
        ListChange::Remove(elements) => {
            // Lenient, as removals are: values the user does not hold are no change.
            // A `type` no type of the list has matches nothing.
            let named: Vec<(String, Option<String>)> = elements
                .iter()
                .map(|e| {
                    let kind = e.kind.as_deref().filter(|_| list != ROLES);
                    (e.value.clone(), kind.map(|k| type_id_of(ctx, list, k).unwrap_or_default()))
                })
                .collect();
            let doomed: Vec<Held> = held_in(conn, ctx, user_id, list)?
                .into_iter()
                .filter(|h| {
                    named.iter().any(|(value, kind)| {
                        *value == h.item_id && kind.as_ref().is_none_or(|k| *k == h.type_id)
                    })
                })
                .collect();
            (Vec::new(), assignments::revoke(conn, user_id, &doomed)?)
        }
        ListChange::RemoveAll => {
            let doomed = held_in(conn, ctx, user_id, list)?;
            (Vec::new(), assignments::revoke(conn, user_id, &doomed)?)
        }
        ListChange::RemoveMatching(filter) => {
            // Evaluated over the entries as the user shows them: value, display and type.
            let hints = SchemaHints::new(ctx.schemas_of(ResourceKind::User));
            let filter = filter.into_filter();
            let current = held_in(conn, ctx, user_id, list)?;
            let shown = render(conn, ctx.schemas, tenant_id, &current)?;
            let doomed: Vec<Held> = current
                .into_iter()
                .zip(shown)
                .filter(|(_, entry)| matches(&filter, entry, &hints))
                .map(|(held, _)| held)
                .collect();
            (Vec::new(), assignments::revoke(conn, user_id, &doomed)?)
        }
    };
    let pairs = |items: Vec<Held>| -> Vec<(String, String)> {
        items.into_iter().map(|h| (h.item_id, h.type_id)).collect()
    };
    Ok(ListDelta { added: pairs(granted), removed: pairs(revoked) })
}

/// What the user holds of `list`'s types.
fn held_in(
    conn: &mut DbConnection,
    ctx: &TenantContext<'_>,
    user_id: &str,
    list: RowList,
) -> ScimResult<Vec<Held>> {
    let ids: BTreeSet<&str> = types_of(ctx.schemas, list).map(|t| t.id).collect();
    Ok(assignments::of_user(conn, user_id)?
        .into_iter()
        .filter(|h| ids.contains(h.type_id.as_str()))
        .collect())
}

/// The type id a client's `type` names (by the type's name or id, in any case); `None` when no
/// type of `list` has it.
fn type_id_of(ctx: &TenantContext<'_>, list: RowList, kind: &str) -> Option<String> {
    types_of(ctx.schemas, list)
        .find(|t| t.name.eq_ignore_ascii_case(kind) || t.id.eq_ignore_ascii_case(kind))
        .map(|t| t.id.to_owned())
}

/// Checks each element against the tenant's catalog: an item of `list`'s types (of the one its
/// `type` names, when given) with that id. An entitlement without a type must be unambiguous.
fn resolve(
    conn: &mut DbConnection,
    ctx: &TenantContext<'_>,
    list: RowList,
    elements: &[Element],
) -> ScimResult<Vec<Held>> {
    let tenant_id = ctx.tenant.as_str();
    let values: Vec<String> = elements.iter().map(|e| e.value.clone()).collect();
    // Which types hold each value, read once per type for the whole list.
    let mut holders: HashMap<&str, Vec<&'static str>> = HashMap::new();
    for t in types_of(ctx.schemas, list) {
        for id in catalog::visible_names_for_grant(conn, tenant_id, t.id, &values)?.into_keys() {
            let value = values.iter().find(|v| **v == id).map(String::as_str).unwrap_or_default();
            holders.entry(value).or_default().push(t.id);
        }
    }
    let mut resolved = Vec::with_capacity(elements.len());
    for element in elements {
        let found = holders.get(element.value.as_str()).map(Vec::as_slice).unwrap_or_default();
        let type_id = match element.kind.as_deref().filter(|_| list != ROLES) {
            Some(kind) => {
                let Some(type_id) = type_id_of(ctx, list, kind) else {
                    return Err(ScimError::invalid_value(format!(
                        "{} type '{}' is not one this server serves",
                        list.noun,
                        shown(kind)
                    )));
                };
                found.iter().find(|t| **t == type_id).copied()
            }
            None => match found {
                [one] => Some(*one),
                [] => None,
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "{} '{}' exists in several types ({}); give its 'type'",
                        list.noun,
                        shown(&element.value),
                        found.join(", ")
                    )));
                }
            },
        };
        match type_id {
            Some(type_id) => resolved.push(Held::new(type_id, element.value.clone())),
            None => {
                return Err(ScimError::invalid_value(format!(
                    "{} '{}' is not in this tenant's catalog",
                    list.noun,
                    shown(&element.value)
                )));
            }
        }
    }
    Ok(resolved)
}

/// A client's value as an error message quotes it: at most 64 characters.
fn shown(value: &str) -> String {
    let mut out: String = value.chars().take(64).collect();
    if out.len() < value.len() {
        out.push('…');
    }
    out
}

/// The entries of `held` as a user shows them: `{value, display}` for roles, with `type` (the
/// type's name) for entitlements, with each item's current display name.
fn render(
    conn: &mut DbConnection,
    registry: &Registry,
    tenant_id: &str,
    held: &[Held],
) -> diesel::QueryResult<Vec<Value>> {
    let mut by_type: HashMap<&str, Vec<String>> = HashMap::new();
    for h in held {
        by_type.entry(h.type_id.as_str()).or_default().push(h.item_id.clone());
    }
    let mut names: HashMap<(&str, String), String> = HashMap::new();
    for (type_id, ids) in by_type {
        for (id, name) in catalog::visible_names(conn, tenant_id, type_id, &ids)? {
            names.insert((type_id, id), name);
        }
    }
    Ok(held
        .iter()
        .map(|h| {
            let display = names.get(&(h.type_id.as_str(), h.item_id.clone()));
            let mut entry = json!({"value": h.item_id, "display": display});
            if let Some(t) = registry.catalog_type(&h.type_id).filter(|t| !t.is_role()) {
                entry["type"] = json!(t.name);
            }
            entry
        })
        .collect())
}

/// The `roles` and `entitlements` of each of a tenant's `user_ids`, as SCIM shows them, by user
/// id: every list the catalog backs, empty when the user holds nothing of it (nothing at all
/// when the catalog backs none).
pub fn lists_of_users(
    conn: &mut DbConnection,
    registry: &Registry,
    tenant_id: &str,
    user_ids: &[String],
) -> diesel::QueryResult<HashMap<String, Vec<(&'static str, Value)>>> {
    let lists = lists(registry);
    let mut out: HashMap<String, Vec<(&'static str, Value)>> = HashMap::new();
    if lists.is_empty() {
        return Ok(out);
    }
    let rows = assignments::of_users(conn, tenant_id, user_ids)?;
    let held: Vec<Held> = rows.iter().map(|(_, h)| h.clone()).collect();
    let shown = render(conn, registry, tenant_id, &held)?;
    let mut by_user: HashMap<&str, HashMap<&'static str, Vec<Value>>> = HashMap::new();
    for ((user, h), entry) in rows.iter().zip(shown) {
        let attribute =
            registry.catalog_type(&h.type_id).map_or("entitlements", |t| t.user_attribute());
        by_user.entry(user.as_str()).or_default().entry(attribute).or_default().push(entry);
    }
    for id in user_ids {
        let mut held = by_user.remove(id.as_str()).unwrap_or_default();
        let lists =
            lists.iter().map(|l| (l.name, Value::Array(held.remove(l.name).unwrap_or_default())));
        out.insert(id.clone(), lists.collect());
    }
    Ok(out)
}

/// Revokes `item` from every user of `tenant` who holds it (its catalog entry is gone): each
/// user's version moves on and gets one revoked event, in the caller's transaction.
pub fn revoke_from_holders(
    conn: &mut DbConnection,
    registry: &Registry,
    tenant: EventTenant<'_>,
    now: i64,
    item: &Held,
    item_name: &str,
) -> diesel::QueryResult<usize> {
    let holders = assignments::holders(conn, tenant.id, item)?;
    let event_type = if item.type_id == crate::scim::catalog::ROLE_TYPE {
        EventType::UserRoleRevoked
    } else {
        EventType::UserEntitlementRevoked
    };
    let noun = if event_type == EventType::UserRoleRevoked { "role" } else { "entitlement" };
    let what = view::catalog_ref(registry, &item.type_id, &item.item_id, Some(item_name));
    let users = TenantTable { table: ResourceTable::Users, tenant_id: tenant.id };
    let mut events = Vec::with_capacity(holders.len());
    for user_id in &holders {
        assignments::revoke(conn, user_id, std::slice::from_ref(item))?;
        resources::touch(conn, users, user_id, now)?;
        let Some(row) = resources::find(conn, users, user_id)? else { continue };
        let mut data = serde_json::Map::new();
        data.insert("user".into(), json!({"id": row.id, "name": user_name(&row)}));
        data.insert(noun.into(), what.clone());
        events.push(NewEvent::about(event_type, &row.id, row.version, Value::Object(data)));
    }
    outbox::record(conn, tenant, now, events)?;
    Ok(holders.len())
}

/// How a user is named in events: displayName, else userName.
fn user_name(row: &ResourceRow) -> String {
    let data = view::stored(row);
    let name = data.get("displayName").or_else(|| data.get("userName"));
    name.and_then(Value::as_str).unwrap_or_default().to_owned()
}
