//! Provisioning users: create, read, list, replace, patch, delete — each one transaction, always
//! within the caller's tenant.

use std::collections::HashMap;

use serde_json::Value;

use super::Scope;
use super::render;
use crate::db::filter_sql::{USERS, order_by, to_predicate};
use crate::db::repo::{groups, users, values};
use crate::db::rows::{NewUserRow, UserRow, UserWrite};
use crate::db::values::index_rows;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::patch::{apply_patch, parse_patch_request};
use crate::scim::query::ListQuery;
use crate::scim::resource::{Projection, normalize_resource};
use crate::scim::schema::ResourceKind;
use crate::scim::schema_hints::SchemaHints;
use crate::scim::version::{EntityTags, check_if_match};

/// Top-level attributes kept in their own columns rather than the value index.
const COLUMN_ATTRIBUTES: &[&str] = &["userName", "externalId", "displayName", "active"];

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("User '{id}' not found"))
}

/// The column values of a normalised user body.
fn columns(data: &Value, now: i64, version: i64) -> ScimResult<UserWrite> {
    let text = |name: &str| data.get(name).and_then(Value::as_str).map(str::to_owned);
    let user_name = text("userName")
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let display_name = text("displayName");
    Ok(UserWrite {
        user_name_ci: user_name.to_lowercase(),
        user_name,
        external_id: text("externalId"),
        display_name_ci: display_name.as_ref().map(|d| d.to_lowercase()),
        display_name,
        // A user without `active` is treated as active, as every IdP assumes.
        active: data.get("active").and_then(Value::as_bool).unwrap_or(true),
        updated_at: now,
        version,
        data: data.to_string(),
    })
}

fn ensure_unique_user_name(
    conn: &mut crate::db::DbConnection,
    tenant_id: &str,
    fields: &UserWrite,
    except: Option<&str>,
) -> ScimResult<()> {
    let holder = users::id_by_user_name(conn, tenant_id, &fields.user_name_ci)?;
    if holder.is_some_and(|holder| Some(holder.as_str()) != except) {
        return Err(ScimError::uniqueness(format!(
            "userName '{}' is already taken in this tenant",
            fields.user_name
        )));
    }
    Ok(())
}

fn write_index(
    conn: &mut crate::db::DbConnection,
    tenant_id: &str,
    id: &str,
    data: &Value,
) -> ScimResult<()> {
    values::replace(
        conn,
        id,
        &index_rows(ResourceKind::User, tenant_id, id, data, COLUMN_ATTRIBUTES),
    )?;
    Ok(())
}

/// Renders users with their groups, unless the projection leaves `groups` out.
fn render_all(
    conn: &mut crate::db::DbConnection,
    scope: &Scope<'_>,
    rows: &[UserRow],
    projection: &Projection,
) -> ScimResult<Vec<Value>> {
    let memberships = if projection.excludes("groups") || rows.is_empty() {
        None
    } else {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        Some(groups::groups_of_member(conn, scope.tenant_id, &ids)?)
    };
    // Grouped once, so a page costs one pass over its memberships.
    let by_member: Option<HashMap<&str, Vec<(String, String)>>> = memberships.as_ref().map(|all| {
        let mut map: HashMap<&str, Vec<(String, String)>> = HashMap::new();
        for (member, gid, display) in all {
            map.entry(member.as_str()).or_default().push((gid.clone(), display.clone()));
        }
        map
    });
    rows.iter()
        .map(|row| {
            let own: Option<Vec<(String, String)>> =
                by_member.as_ref().map(|map| map.get(row.id.as_str()).cloned().unwrap_or_default());
            render::user(scope.base, row, own.as_deref()).map(|v| projection.apply(&v))
        })
        .collect()
}

pub fn create(scope: &Scope<'_>, body: &Value) -> ScimResult<(Value, i64)> {
    let data = normalize_resource(ResourceKind::User, body)?;
    let now = scope.clock.now();
    let fields = columns(&data, now, 1)?;
    let row = NewUserRow {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: scope.tenant_id.to_owned(),
        created_at: now,
        fields,
    };
    scope.db.write(|conn| {
        ensure_unique_user_name(conn, scope.tenant_id, &row.fields, None)?;
        users::insert(conn, &row)?;
        write_index(conn, scope.tenant_id, &row.id, &data)?;
        Ok::<_, ScimError>(())
    })?;
    let stored = UserRow {
        id: row.id,
        tenant_id: row.tenant_id,
        user_name: row.fields.user_name,
        external_id: row.fields.external_id,
        display_name: row.fields.display_name,
        active: row.fields.active,
        created_at: now,
        updated_at: now,
        version: 1,
        data: row.fields.data,
    };
    Ok((render::user(scope.base, &stored, Some(&[]))?, stored.version))
}

pub fn get(scope: &Scope<'_>, id: &str, projection: &Projection) -> ScimResult<(Value, i64)> {
    scope.db.read(|conn| {
        let row = users::find(conn, scope.tenant_id, id)?.ok_or_else(|| not_found(id))?;
        let mut rendered = render_all(conn, scope, std::slice::from_ref(&row), projection)?;
        Ok((rendered.pop().unwrap_or(Value::Null), row.version))
    })
}

/// One page of users and the total number matching, read from one snapshot.
pub fn list(scope: &Scope<'_>, query: &ListQuery) -> ScimResult<(u64, Vec<Value>)> {
    let predicate =
        || query.filter.as_ref().map(|f| to_predicate(&USERS, scope.tenant_id, f)).transpose();
    let order = query.sort.as_ref().map(|sort| order_by(&USERS, sort)).transpose()?;
    scope.db.read(|conn| {
        let total = users::count(conn, scope.tenant_id, predicate()?)?;
        let offset = query.start_index.saturating_sub(1);
        if query.count == 0 || offset >= total as u64 {
            return Ok((total as u64, Vec::new()));
        }
        let rows = users::list(
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

/// PUT: the body replaces every writable attribute.
pub fn replace(
    scope: &Scope<'_>,
    id: &str,
    body: &Value,
    if_match: Option<&EntityTags>,
) -> ScimResult<(Value, i64)> {
    let data = normalize_resource(ResourceKind::User, body)?;
    scope.db.write(|conn| {
        let current =
            users::find_for_update(conn, scope.tenant_id, id)?.ok_or_else(|| not_found(id))?;
        check_if_match(if_match, current.version)?;
        store_update(conn, scope, current, &data)
    })?;
    get(scope, id, &Projection::default_for(ResourceKind::User))
}

/// PATCH: all operations apply, or none.
pub fn patch(
    scope: &Scope<'_>,
    id: &str,
    body: &Value,
    if_match: Option<&EntityTags>,
) -> ScimResult<(Value, i64)> {
    let ops = parse_patch_request(body)?;
    let hints = SchemaHints::new(ResourceKind::User);
    scope.db.write(|conn| {
        let current =
            users::find_for_update(conn, scope.tenant_id, id)?.ok_or_else(|| not_found(id))?;
        check_if_match(if_match, current.version)?;
        let mut resource: Value = serde_json::from_str(&current.data)
            .map_err(|_| ScimError::internal("stored resource is corrupt"))?;
        apply_patch(&mut resource, &ops, &hints)?;
        let data = normalize_resource(ResourceKind::User, &resource)?;
        store_update(conn, scope, current, &data)
    })?;
    get(scope, id, &Projection::default_for(ResourceKind::User))
}

/// Writes a new version of a user, unless nothing changed (Okta repeats identical updates).
fn store_update(
    conn: &mut crate::db::DbConnection,
    scope: &Scope<'_>,
    current: UserRow,
    data: &Value,
) -> ScimResult<()> {
    let fields = columns(data, scope.clock.now().max(current.updated_at), current.version + 1)?;
    // Stored JSON is canonical (normalised, schema order), so equal text means nothing changed.
    if fields.data == current.data {
        return Ok(());
    }
    ensure_unique_user_name(conn, scope.tenant_id, &fields, Some(&current.id))?;
    users::update(conn, scope.tenant_id, &current.id, &fields)?;
    write_index(conn, scope.tenant_id, &current.id, data)
}

pub fn delete(scope: &Scope<'_>, id: &str, if_match: Option<&EntityTags>) -> ScimResult<()> {
    scope.db.write(|conn| {
        if if_match.is_some() {
            let current =
                users::find_for_update(conn, scope.tenant_id, id)?.ok_or_else(|| not_found(id))?;
            check_if_match(if_match, current.version)?;
        }
        if users::delete(conn, scope.tenant_id, id)? == 0 {
            return Err(not_found(id));
        }
        values::delete(conn, id)?;
        groups::remove_member_everywhere(conn, scope.tenant_id, id, scope.clock.now())?;
        Ok(())
    })
}
