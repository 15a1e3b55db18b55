//! Groups: the `scim_groups` columns, displayName unique per tenant (case-insensitive), and
//! `members` kept as membership rows rather than in the stored JSON.

use serde_json::{Value, json};

use super::resource_type::{
    Computed, Loading, ResourceEvents, ResourceType, grouped, required_text, text,
};
use crate::db::DbConnection;
use crate::db::filter_sql::{FilterTarget, GROUPS as GROUPS_FILTER};
use crate::db::repo::memberships::{self, Member};
use crate::db::repo::resources::{ColumnValues, ResourceRow, ResourceTable};
use crate::db::rows::GroupWrite;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::{Registry, ResourceKind};
use crate::service::delivery::outbox::EventType;
use crate::service::directory::view::{self, GroupRef};

pub(super) const GROUPS: ResourceType = ResourceType {
    kind: ResourceKind::Group,
    table: ResourceTable::Groups,
    filter_target: |_: &Registry| -> &'static FilterTarget { &GROUPS_FILTER },
    column_attributes: &["displayName", "externalId", "members"],
    computed_attribute: "members",
    columns,
    taken,
    holds_catalog_items: false,
    load_computed: members_of_groups,
    events: ResourceEvents {
        created: EventType::GroupCreated,
        updated: EventType::GroupUpdated,
        deleted: EventType::GroupDeleted,
        activation: None,
    },
    view: group_view,
    view_lists_groups: false,
};

/// A group's view; its members are paged on their own, not listed in it.
fn group_view(row: &ResourceRow, _: &[GroupRef], raw: Value) -> Value {
    view::group(row, raw)
}

fn columns(data: &Value, now: i64, version: i64) -> ScimResult<ColumnValues> {
    let display_name = required_text(data, "displayName")?;
    Ok(ColumnValues::Group(GroupWrite {
        display_name_ci: display_name.to_lowercase(),
        display_name,
        external_id: text(data, "externalId"),
        updated_at: now,
        version,
        data: data.to_string(),
    }))
}

fn taken(value: &str) -> ScimError {
    ScimError::uniqueness(format!("a group named '{value}' already exists in this tenant"))
}

/// The members of each group with their current display names.
fn members_of_groups(conn: &mut DbConnection, page: &Loading<'_>) -> ScimResult<Computed> {
    let members = memberships::members_of(conn, &page.ids)?;
    Ok(grouped(members.into_iter().map(|m| {
        let entry = member_entry(page.base, &m);
        (m.group_id, entry)
    })))
}

fn member_entry(base: &str, member: &Member) -> Value {
    let endpoint = if member.member_type == "Group" { "Groups" } else { "Users" };
    let mut entry = json!({
        "value": member.member_id,
        "$ref": format!("{base}/{endpoint}/{}", member.member_id),
        "type": member.member_type,
    });
    if let (Some(display), Some(obj)) = (&member.display, entry.as_object_mut()) {
        obj.insert("display".into(), Value::String(display.clone()));
    }
    entry
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::list_patch::{MEMBERS, take_lists};

    #[test]
    fn members_leave_the_stored_body_and_become_ids() {
        let take = |data: &mut Value| take_lists(data, &[MEMBERS]);
        let mut data = json!({"displayName": "Eng", "members": [{"value": "u1"}, {"value": "g2", "type": "Group"}]});
        let taken = take(&mut data).unwrap();
        let ids: Vec<&str> = taken[0].1.iter().map(|e| e.value.as_str()).collect();
        assert_eq!((taken.len(), ids), (1, vec!["u1", "g2"]));
        assert_eq!(data, json!({"displayName": "Eng"}));
        // No member list, or null: nothing to change.
        let mut data = json!({"displayName": "Eng"});
        assert!(take(&mut data).unwrap().is_empty());
        let mut data = json!({"displayName": "Eng", "members": null});
        assert!(take(&mut data).unwrap().is_empty());
        assert_eq!(data, json!({"displayName": "Eng"}));
        let mut data = json!({"members": [{"display": "no id"}]});
        assert_eq!(take(&mut data).unwrap_err().scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn columns_need_a_display_name_and_fold_it() {
        let Ok(ColumnValues::Group(fields)) = columns(&json!({"displayName": "Eng Team"}), 5, 2)
        else {
            panic!("a group's columns");
        };
        assert_eq!(
            (fields.display_name.as_str(), fields.display_name_ci.as_str()),
            ("Eng Team", "eng team")
        );
        assert_eq!((fields.updated_at, fields.version), (5, 2));
        for data in [json!({}), json!({"displayName": ""}), json!({"displayName": " "})] {
            assert_eq!(columns(&data, 1, 1).unwrap_err().scim_type, Some(ScimType::InvalidValue));
        }
    }

    #[test]
    fn member_entries_point_at_their_endpoint_and_carry_the_display() {
        let member = |kind: &str, display: Option<&str>| Member {
            group_id: "g".into(),
            member_id: "m".into(),
            member_type: kind.into(),
            display: display.map(str::to_owned),
        };
        assert_eq!(
            member_entry("https://h/scim/v2", &member("User", Some("Jane"))),
            json!({"value": "m", "$ref": "https://h/scim/v2/Users/m", "type": "User", "display": "Jane"})
        );
        assert_eq!(
            member_entry("https://h/scim/v2", &member("Group", None)),
            json!({"value": "m", "$ref": "https://h/scim/v2/Groups/m", "type": "Group"})
        );
    }
}
