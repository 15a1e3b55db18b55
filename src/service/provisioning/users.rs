//! Users: the `scim_users` columns, userName unique per tenant (case-insensitive), and `groups`
//! computed from memberships.

use serde_json::{Value, json};

use super::resource_type::{
    Activation, Computed, Loading, ResourceEvents, ResourceType, grouped, required_text, text,
};
use crate::db::DbConnection;
use crate::db::filter_sql::{self, FilterTarget};
use crate::db::repo::memberships;
use crate::db::repo::resources::{ColumnValues, ResourceTable};
use crate::db::rows::UserWrite;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::{Registry, ResourceKind};
use crate::service::delivery::outbox::EventType;
use crate::service::directory::view;

pub(super) const USERS: ResourceType = ResourceType {
    kind: ResourceKind::User,
    table: ResourceTable::Users,
    filter_target,
    column_attributes: &["userName", "externalId", "displayName", "active"],
    computed_attribute: "groups",
    columns,
    taken,
    holds_catalog_items: true,
    load_computed: groups_of_users,
    events: ResourceEvents {
        created: EventType::UserCreated,
        updated: EventType::UserUpdated,
        deleted: EventType::UserDeleted,
        activation: Some(Activation {
            deactivated: EventType::UserDeactivated,
            reactivated: EventType::UserReactivated,
        }),
    },
    view: view::user,
    view_lists_groups: true,
};

/// Users' filters reach `roles` and `entitlements` rows where the catalog backs them.
fn filter_target(registry: &Registry) -> &'static FilterTarget {
    filter_sql::users(registry.catalog_backs("roles"), registry.catalog_backs("entitlements"))
}

fn columns(data: &Value, now: i64, version: i64) -> ScimResult<ColumnValues> {
    let user_name = required_text(data, "userName")?;
    let display_name = text(data, "displayName");
    Ok(ColumnValues::User(UserWrite {
        user_name_ci: user_name.to_lowercase(),
        user_name,
        external_id: text(data, "externalId"),
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
fn groups_of_users(conn: &mut DbConnection, page: &Loading<'_>) -> ScimResult<Computed> {
    let rows = memberships::groups_of_member(conn, page.tenant_id, &page.ids)?;
    Ok(grouped(rows.into_iter().map(|(user, group, display)| {
        let reference = format!("{}/Groups/{group}", page.base);
        (user, json!({"value": group, "$ref": reference, "display": display, "type": "direct"}))
    })))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::error::ScimType;

    fn user_columns(data: Value) -> ScimResult<UserWrite> {
        match columns(&data, 7, 3)? {
            ColumnValues::User(fields) => Ok(fields),
            ColumnValues::Group(_) => panic!("a user's columns are a user's"),
        }
    }

    #[test]
    fn columns_fold_case_default_active_and_keep_the_canonical_json() {
        let data =
            json!({"userName": "Jane@Acme.com", "displayName": "Jane DOE", "externalId": "00u1"});
        let fields = user_columns(data.clone()).unwrap();
        assert_eq!(fields.user_name, "Jane@Acme.com");
        assert_eq!(fields.user_name_ci, "jane@acme.com");
        assert_eq!(fields.display_name_ci.as_deref(), Some("jane doe"));
        assert_eq!(fields.external_id.as_deref(), Some("00u1"));
        // IdPs assume a user without `active` is active.
        assert!(fields.active);
        assert_eq!((fields.updated_at, fields.version), (7, 3));
        assert_eq!(fields.data, data.to_string());
        let inactive = user_columns(json!({"userName": "a", "active": false})).unwrap();
        assert!(!inactive.active);
        assert_eq!(inactive.display_name, None);
    }

    #[test]
    fn a_user_needs_a_non_blank_user_name() {
        for data in [json!({}), json!({"userName": "  "}), json!({"userName": 7})] {
            let err = user_columns(data.clone()).unwrap_err();
            assert_eq!(err.scim_type, Some(ScimType::InvalidValue), "{data}");
        }
        assert_eq!(taken("Jane").scim_type, Some(ScimType::Uniqueness));
        assert!(taken("Jane").detail.contains("'Jane'"));
    }
}
