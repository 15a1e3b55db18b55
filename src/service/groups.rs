//! Provisioning groups. Memberships live as rows: PATCH operations on `members` become row inserts
//! and deletes, so one member costs the same in a group of ten or of fifty thousand.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::Scope;
use super::render;
use crate::db::DbConnection;
use crate::db::filter_sql::{GROUPS, order_by, to_predicate};
use crate::db::repo::groups::{self, Member};
use crate::db::repo::{users, values};
use crate::db::rows::{GroupRow, GroupWrite, NewGroupRow};
use crate::db::values::index_rows;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::{CompValue, CompareOp, Filter, matches};
use crate::scim::patch::{PatchOpKind, PatchOperation, apply_patch, parse_patch_request};
use crate::scim::query::ListQuery;
use crate::scim::resource::{Projection, normalize_resource};
use crate::scim::schema::{GROUP_SCHEMA, ResourceKind};
use crate::scim::schema_hints::SchemaHints;
use crate::scim::version::{EntityTags, check_if_match};

const COLUMN_ATTRIBUTES: &[&str] = &["displayName", "externalId", "members"];

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("Group '{id}' not found"))
}

/// Splits a normalised group body into its columns, its member ids and the stored JSON (without
/// members), which the filter index is built from.
fn columns(
    mut data: Value,
    now: i64,
    version: i64,
) -> ScimResult<(GroupWrite, Option<Vec<String>>, Value)> {
    let members = match data.as_object_mut().and_then(|o| o.remove("members")) {
        None | Some(Value::Null) => None,
        Some(list) => Some(member_ids(&list)?),
    };
    let text = |name: &str| data.get(name).and_then(Value::as_str).map(str::to_owned);
    let display_name = text("displayName")
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("displayName is required"))?;
    Ok((
        GroupWrite {
            display_name_ci: display_name.to_lowercase(),
            display_name,
            external_id: text("externalId"),
            updated_at: now,
            version,
            data: data.to_string(),
        },
        members,
        data,
    ))
}

/// The `value` of each member object (Okta and Entra send `[{"value": id, "display": …}]`).
fn member_ids(list: &Value) -> ScimResult<Vec<String>> {
    let items: Vec<&Value> = match list {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        single => vec![single],
    };
    items
        .into_iter()
        .map(|item| {
            item.get("value")
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ScimError::invalid_value("each member needs a string 'value' (the member's id)")
                })
        })
        .collect()
}

/// Pairs each id with its type; refuses ids that are not users or groups of this tenant.
fn resolve_members(
    conn: &mut DbConnection,
    tenant_id: &str,
    group_id: &str,
    ids: &[String],
) -> ScimResult<Vec<(String, String)>> {
    if ids.iter().any(|id| id == group_id) {
        return Err(ScimError::invalid_value("a group cannot be a member of itself"));
    }
    let mut resolved = Vec::with_capacity(ids.len());
    let mut missing: Vec<String> = Vec::new();
    for chunk in ids.chunks(500) {
        let found_users: HashSet<String> =
            users::existing_ids(conn, tenant_id, chunk)?.into_iter().collect();
        let rest: Vec<String> =
            chunk.iter().filter(|id| !found_users.contains(*id)).cloned().collect();
        let found_groups: HashSet<String> = if rest.is_empty() {
            HashSet::new()
        } else {
            groups::existing_ids(conn, tenant_id, &rest)?.into_iter().collect()
        };
        for id in chunk {
            if found_users.contains(id) {
                resolved.push((id.clone(), "User".to_owned()));
            } else if found_groups.contains(id) {
                resolved.push((id.clone(), "Group".to_owned()));
            } else {
                missing.push(id.clone());
            }
        }
    }
    if let Some(first) = missing.first() {
        return Err(ScimError::invalid_value(format!(
            "member '{first}' is not a User or Group of this tenant{}",
            if missing.len() > 1 {
                format!(" (and {} more)", missing.len() - 1)
            } else {
                String::new()
            }
        )));
    }
    Ok(resolved)
}

fn write_index(conn: &mut DbConnection, tenant_id: &str, id: &str, data: &Value) -> ScimResult<()> {
    values::replace(
        conn,
        id,
        &index_rows(ResourceKind::Group, tenant_id, id, data, COLUMN_ATTRIBUTES),
    )?;
    Ok(())
}

fn ensure_unique_display_name(
    conn: &mut DbConnection,
    tenant_id: &str,
    fields: &GroupWrite,
    except: Option<&str>,
) -> ScimResult<()> {
    let holder = groups::id_by_display_name(conn, tenant_id, &fields.display_name_ci)?;
    if holder.is_some_and(|holder| Some(holder.as_str()) != except) {
        return Err(ScimError::uniqueness(format!(
            "a group named '{}' already exists in this tenant",
            fields.display_name
        )));
    }
    Ok(())
}

/// Renders groups with members, unless the projection leaves `members` out (then no member row is read).
fn render_all(
    conn: &mut DbConnection,
    scope: &Scope<'_>,
    rows: &[GroupRow],
    projection: &Projection,
) -> ScimResult<Vec<Value>> {
    let members: Option<Vec<Member>> = if projection.excludes("members") || rows.is_empty() {
        None
    } else {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        Some(groups::members_of(conn, &ids)?)
    };
    // Grouped once, so a page of large groups costs one pass over its members.
    let by_group: Option<HashMap<&str, Vec<&Member>>> = members.as_ref().map(|all| {
        let mut map: HashMap<&str, Vec<&Member>> = HashMap::new();
        for member in all {
            map.entry(member.group_id.as_str()).or_default().push(member);
        }
        map
    });
    rows.iter()
        .map(|row| {
            let own: Option<&[&Member]> = by_group
                .as_ref()
                .map(|map| map.get(row.id.as_str()).map(Vec::as_slice).unwrap_or_default());
            render::group(scope.base, row, own).map(|v| projection.apply(&v))
        })
        .collect()
}

pub fn create(scope: &Scope<'_>, body: &Value) -> ScimResult<(Value, i64)> {
    let data = normalize_resource(ResourceKind::Group, body)?;
    let now = scope.clock.now();
    let (fields, members, stored) = columns(data, now, 1)?;
    let id = uuid::Uuid::now_v7().to_string();
    scope.db.write(|conn| {
        ensure_unique_display_name(conn, scope.tenant_id, &fields, None)?;
        groups::insert(
            conn,
            &NewGroupRow {
                id: id.clone(),
                tenant_id: scope.tenant_id.to_owned(),
                created_at: now,
                fields,
            },
        )?;
        write_index(conn, scope.tenant_id, &id, &stored)?;
        if let Some(ids) = members {
            let resolved = resolve_members(conn, scope.tenant_id, &id, &ids)?;
            groups::add_members(conn, scope.tenant_id, &id, &resolved)?;
        }
        Ok::<_, ScimError>(())
    })?;
    get(scope, &id, &Projection::default_for(ResourceKind::Group))
}

pub fn get(scope: &Scope<'_>, id: &str, projection: &Projection) -> ScimResult<(Value, i64)> {
    scope.db.read(|conn| {
        let row = groups::find(conn, scope.tenant_id, id)?.ok_or_else(|| not_found(id))?;
        let mut rendered = render_all(conn, scope, std::slice::from_ref(&row), projection)?;
        Ok((rendered.pop().unwrap_or(Value::Null), row.version))
    })
}

pub fn list(scope: &Scope<'_>, query: &ListQuery) -> ScimResult<(u64, Vec<Value>)> {
    let predicate =
        || query.filter.as_ref().map(|f| to_predicate(&GROUPS, scope.tenant_id, f)).transpose();
    let order = query.sort.as_ref().map(|sort| order_by(&GROUPS, sort)).transpose()?;
    scope.db.read(|conn| {
        let total = groups::count(conn, scope.tenant_id, predicate()?)?;
        let offset = query.start_index.saturating_sub(1);
        if query.count == 0 || offset >= total as u64 {
            return Ok((total as u64, Vec::new()));
        }
        let rows = groups::list(
            conn,
            scope.tenant_id,
            predicate()?,
            order,
            offset as i64,
            query.count as i64,
        )?;
        Ok((total as u64, render_all(conn, scope, &rows, &query.projection)?))
    })
}

/// PUT: attributes and the member list are replaced by the body's.
pub fn replace(
    scope: &Scope<'_>,
    id: &str,
    body: &Value,
    if_match: Option<&EntityTags>,
) -> ScimResult<(Value, i64)> {
    let data = normalize_resource(ResourceKind::Group, body)?;
    scope.db.write(|conn| {
        let current =
            groups::find_for_update(conn, scope.tenant_id, id)?.ok_or_else(|| not_found(id))?;
        check_if_match(if_match, current.version)?;
        let (fields, members, stored) =
            columns(data, scope.clock.now().max(current.updated_at), current.version + 1)?;
        ensure_unique_display_name(conn, scope.tenant_id, &fields, Some(id))?;
        groups::update(conn, scope.tenant_id, id, &fields)?;
        write_index(conn, scope.tenant_id, id, &stored)?;
        let resolved = resolve_members(conn, scope.tenant_id, id, &members.unwrap_or_default())?;
        groups::remove_all_members(conn, id)?;
        groups::add_members(conn, scope.tenant_id, id, &resolved)?;
        Ok::<_, ScimError>(())
    })?;
    get(scope, id, &Projection::default_for(ResourceKind::Group))
}

/// A PATCH operation on the membership rows.
#[derive(Debug)]
enum MemberChange {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveMatching(Filter),
    RemoveAll,
    ReplaceAll(Vec<String>),
}

fn is_members(name: &str, urn: Option<&str>) -> bool {
    name.eq_ignore_ascii_case("members") && urn.is_none_or(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA))
}

/// Ids named by `value eq "id"` comparisons joined with `or`, if that is all the filter is.
fn ids_in_filter(filter: &Filter, out: &mut Vec<String>) -> bool {
    match filter {
        Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Str(id) }
            if path.urn.is_none()
                && path.sub.is_none()
                && path.name.eq_ignore_ascii_case("value") =>
        {
            out.push(id.clone());
            true
        }
        Filter::Or(a, b) => ids_in_filter(a, out) && ids_in_filter(b, out),
        _ => false,
    }
}

/// Separates operations on `members` (applied to rows) from the rest (applied to the JSON).
fn split_operations(
    ops: Vec<PatchOperation>,
) -> ScimResult<(Vec<MemberChange>, Vec<PatchOperation>)> {
    let mut changes = Vec::new();
    let mut others = Vec::new();
    for op in ops {
        match &op.path {
            Some(path) if is_members(&path.attr.name, path.attr.urn.as_deref()) => {
                if path.attr.sub.is_some() || path.sub_attr.is_some() {
                    return Err(ScimError::invalid_path(
                        "member sub-attributes cannot be patched; add or remove whole members",
                    ));
                }
                let change = match (op.op, &path.filter) {
                    (PatchOpKind::Add, None) => {
                        MemberChange::Add(member_ids(op.value.as_ref().unwrap_or(&Value::Null))?)
                    }
                    (PatchOpKind::Replace, None) => MemberChange::ReplaceAll(member_ids(
                        op.value.as_ref().unwrap_or(&Value::Null),
                    )?),
                    // Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]} removes only those.
                    (PatchOpKind::Remove, None) => match &op.value {
                        Some(v) if !v.is_null() => MemberChange::Remove(member_ids(v)?),
                        _ => MemberChange::RemoveAll,
                    },
                    (PatchOpKind::Remove, Some(filter)) => {
                        let mut ids = Vec::new();
                        if ids_in_filter(filter, &mut ids) {
                            MemberChange::Remove(ids)
                        } else {
                            MemberChange::RemoveMatching(filter.clone())
                        }
                    }
                    (_, Some(_)) => {
                        return Err(ScimError::invalid_path(
                            "members[…] selects members to remove; use add or replace on 'members' to set them",
                        ));
                    }
                };
                changes.push(change);
            }
            None if matches!(op.op, PatchOpKind::Add | PatchOpKind::Replace) => {
                // A no-path value may carry `members` next to other attributes.
                let mut rest = Map::new();
                let mut members = None;
                if let Some(Value::Object(map)) = &op.value {
                    for (key, value) in map {
                        if is_members(key, None) {
                            members = Some(value.clone());
                        } else {
                            rest.insert(key.clone(), value.clone());
                        }
                    }
                }
                if let Some(list) = members {
                    let ids = member_ids(&list)?;
                    changes.push(if op.op == PatchOpKind::Add {
                        MemberChange::Add(ids)
                    } else {
                        MemberChange::ReplaceAll(ids)
                    });
                    if !rest.is_empty() {
                        others.push(PatchOperation {
                            op: op.op,
                            path: None,
                            value: Some(Value::Object(rest)),
                        });
                    }
                } else {
                    others.push(op);
                }
            }
            _ => others.push(op),
        }
    }
    Ok((changes, others))
}

fn apply_member_change(
    conn: &mut DbConnection,
    scope: &Scope<'_>,
    id: &str,
    change: MemberChange,
) -> ScimResult<()> {
    match change {
        MemberChange::Add(ids) => {
            let resolved = resolve_members(conn, scope.tenant_id, id, &ids)?;
            groups::add_members(conn, scope.tenant_id, id, &resolved)?;
        }
        MemberChange::ReplaceAll(ids) => {
            let resolved = resolve_members(conn, scope.tenant_id, id, &ids)?;
            groups::remove_all_members(conn, id)?;
            groups::add_members(conn, scope.tenant_id, id, &resolved)?;
        }
        MemberChange::Remove(ids) => {
            groups::remove_members(conn, id, &ids)?;
        }
        MemberChange::RemoveAll => {
            groups::remove_all_members(conn, id)?;
        }
        MemberChange::RemoveMatching(filter) => {
            // Rare general filters (e.g. on `type`) are evaluated over the members themselves.
            let hints = SchemaHints::new(ResourceKind::Group);
            let doomed: Vec<String> = groups::members_of(conn, &[id.to_owned()])?
                .into_iter()
                .filter(|m| {
                    let entry = serde_json::json!({"value": m.member_id, "type": m.member_type, "display": m.display});
                    matches(&filter, &entry, &hints)
                })
                .map(|m| m.member_id)
                .collect();
            groups::remove_members(conn, id, &doomed)?;
        }
    }
    Ok(())
}

/// PATCH: member operations touch only the named rows; all operations apply, or none.
pub fn patch(
    scope: &Scope<'_>,
    id: &str,
    body: &Value,
    projection: &Projection,
    if_match: Option<&EntityTags>,
) -> ScimResult<(Value, i64)> {
    let (changes, others) = split_operations(parse_patch_request(body)?)?;
    scope.db.write(|conn| {
        let current =
            groups::find_for_update(conn, scope.tenant_id, id)?.ok_or_else(|| not_found(id))?;
        check_if_match(if_match, current.version)?;
        let now = scope.clock.now().max(current.updated_at);
        let mut modified = !changes.is_empty();
        for change in changes {
            apply_member_change(conn, scope, id, change)?;
        }
        if !others.is_empty() {
            let mut resource: Value = serde_json::from_str(&current.data)
                .map_err(|_| ScimError::internal("stored resource is corrupt"))?;
            apply_patch(&mut resource, &others, &SchemaHints::new(ResourceKind::Group))?;
            let data = normalize_resource(ResourceKind::Group, &resource)?;
            let (fields, _, stored) = columns(data, now, current.version + 1)?;
            // Stored JSON is canonical (schema order), so equal text means nothing changed.
            if fields.data != current.data {
                ensure_unique_display_name(conn, scope.tenant_id, &fields, Some(id))?;
                groups::update(conn, scope.tenant_id, id, &fields)?;
                write_index(conn, scope.tenant_id, id, &stored)?;
                modified = false;
            }
        }
        if modified {
            groups::touch(conn, scope.tenant_id, id, now)?;
        }
        Ok::<_, ScimError>(())
    })?;
    get(scope, id, projection)
}

pub fn delete(scope: &Scope<'_>, id: &str, if_match: Option<&EntityTags>) -> ScimResult<()> {
    scope.db.write(|conn| {
        if if_match.is_some() {
            let current =
                groups::find_for_update(conn, scope.tenant_id, id)?.ok_or_else(|| not_found(id))?;
            check_if_match(if_match, current.version)?;
        }
        if groups::delete(conn, scope.tenant_id, id)? == 0 {
            return Err(not_found(id));
        }
        values::delete(conn, id)?;
        groups::remove_member_everywhere(conn, scope.tenant_id, id, scope.clock.now())?;
        Ok(())
    })
}
