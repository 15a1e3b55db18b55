//! Users: the `scim_users` columns, userName unique per tenant (case-insensitive), and `groups`
//! computed from memberships.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::resource_type::ResourceType;
use crate::db::DbConnection;
use crate::db::filter_sql::{FilterTarget, USERS};
use crate::db::repo::memberships;
use crate::db::repo::resources::{ColumnValues, ResourceRow, ResourceTable};
use crate::db::rows::UserWrite;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::ResourceKind;

pub(super) struct Users;

impl ResourceType for Users {
    fn kind(&self) -> ResourceKind {
        ResourceKind::User
    }

    fn table(&self) -> ResourceTable {
        ResourceTable::Users
    }

    fn filter_target(&self) -> &'static FilterTarget {
        &USERS
    }

    fn column_attributes(&self) -> &'static [&'static str] {
        &["userName", "externalId", "displayName", "active"]
    }

    fn columns(&self, data: &Value, now: i64, version: i64) -> ScimResult<ColumnValues> {
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

    fn taken(&self, value: &str) -> ScimError {
        ScimError::uniqueness(format!("userName '{value}' is already taken in this tenant"))
    }

    fn computed_attribute(&self) -> &'static str {
        "groups"
    }

    /// The groups each user directly belongs to, read for the whole page at once.
    fn load_computed(
        &self,
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
}
