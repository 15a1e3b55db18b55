//! Users: the `scim_users` columns, userName unique per tenant (case-insensitive), and `groups`
//! computed from memberships.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::resource_type::{ResourceType, no_members};
use crate::db::DbConnection;
use crate::db::filter_sql::USERS as USERS_FILTER;
use crate::db::repo::memberships;
use crate::db::repo::resources::{ColumnValues, ResourceRow, ResourceTable};
use crate::db::rows::UserWrite;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::ResourceKind;

pub(super) const USERS: ResourceType = ResourceType {
    kind: ResourceKind::User,
    table: ResourceTable::Users,
    filter_target: &USERS_FILTER,
    column_attributes: &["userName", "externalId", "displayName", "active"],
    computed_attribute: "groups",
    columns,
    taken,
    take_members: no_members,
    load_computed: groups_of_users,
};

fn columns(data: &Value, now: i64, version: i64) -> ScimResult<ColumnValues> {
    let text = |name: &str| data.get(name).and_then(Value::as_str).map(str::to_owned);
    let user_name = text("userName")
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let display_name = text("displayName");
    Ok(ColumnValues::User(UserWrite {
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
    }))
}

fn taken(value: &str) -> ScimError {
    ScimError::uniqueness(format!("userName '{value}' is already taken in this tenant"))
}

/// The groups each user directly belongs to.
fn groups_of_users(
    conn: &mut DbConnection,
    tenant_id: &str,
    base: &str,
    rows: &[ResourceRow],
) -> ScimResult<HashMap<String, Value>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut by_user: HashMap<String, Vec<Value>> = HashMap::new();
    for (user, group, display) in memberships::groups_of_member(conn, tenant_id, &ids)? {
        by_user.entry(user).or_default().push(json!({
            "value": group,
            "$ref": format!("{base}/Groups/{group}"),
            "display": display,
            "type": "direct",
        }));
    }
    Ok(by_user.into_iter().map(|(id, groups)| (id, Value::Array(groups))).collect())
}
