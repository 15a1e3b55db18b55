//! The events a provisioning write records, built inside its transaction from the rows as they
//! now are: `<type>.created|updated|deleted`, a user's (de)activation, and one event per member
//! added to or removed from a group. Recorded by `record`, in the same transaction.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::TenantContext;
use super::members::ListDelta;
use super::resource_type::ResourceType;
use super::{assignments, render};
use crate::db::DbConnection;
use crate::db::repo::resources::ResourceRow;
use crate::db::repo::{catalog, memberships};
use crate::scim::diff::changed_attributes;
use crate::scim::error::ScimResult;
use crate::scim::list_patch::{MEMBERS, ROLES, RowList};
use crate::service::delivery::outbox::{self, EventTenant, EventType, NewEvent};
use crate::service::directory::view::{self, GroupRef};

/// Builds the events of one write to resources of one type.
pub(super) struct Events<'a> {
    pub ctx: &'a TenantContext<'a>,
    pub rt: &'static ResourceType,
}

impl Events<'_> {
    /// The resource's view for an event's `data`. `groups` when the caller knows them (a new
    /// resource belongs to none and holds nothing), else they are read when the view lists them.
    pub fn view(
        &self,
        conn: &mut DbConnection,
        row: &ResourceRow,
        groups: Option<Vec<GroupRef>>,
    ) -> ScimResult<Value> {
        // A new resource (its groups known: none) holds nothing yet either: no query for it.
        let new = groups.is_some();
        let groups = match groups {
            Some(groups) => groups,
            None if self.rt.view_lists_groups => {
                let ids = [row.id.clone()];
                memberships::groups_of_member(conn, self.ctx.tenant.as_str(), &ids)?
                    .into_iter()
                    .map(|(_, id, name)| GroupRef { id, name })
                    .collect()
            }
            None => Vec::new(),
        };
        let held = if !self.rt.holds_catalog_items {
            Vec::new()
        } else if new {
            let lists = assignments::lists(self.ctx.schemas);
            lists.into_iter().map(|l| (l.name, Value::Array(Vec::new()))).collect()
        } else {
            let ids = [row.id.clone()];
            let tenant = self.ctx.tenant.as_str();
            let mut lists = assignments::lists_of_users(conn, self.ctx.schemas, tenant, &ids)?;
            lists.remove(&row.id).unwrap_or_default()
        };
        let raw = render::raw_resource(self.ctx.base, self.rt.kind, row, &groups, held)?;
        Ok((self.rt.view)(row, &groups, raw))
    }

    pub fn created(&self, conn: &mut DbConnection, row: &ResourceRow) -> ScimResult<NewEvent> {
        let data = self.view(conn, row, Some(Vec::new()))?;
        Ok(NewEvent::about(self.rt.events.created, &row.id, row.version, data))
    }

    /// The event of an attribute change from `before` to `after`: a flip of `active` is a
    /// (de)activation, anything else an update. `data.changed_attributes` names what changed.
    pub fn updated(
        &self,
        conn: &mut DbConnection,
        before: &ResourceRow,
        after: &ResourceRow,
    ) -> ScimResult<NewEvent> {
        let (old, new) = (view::stored(before), view::stored(after));
        let changed = changed_attributes(&Value::Object(old.clone()), &Value::Object(new.clone()));
        let active = |data: &serde_json::Map<String, Value>| {
            data.get("active").and_then(Value::as_bool).unwrap_or(true)
        };
        let event_type = match &self.rt.events.activation {
            Some(a) if active(&old) != active(&new) => {
                if active(&new) {
                    a.reactivated
                } else {
                    a.deactivated
                }
            }
            _ => self.rt.events.updated,
        };
        let mut data = self.view(conn, after, None)?;
        data["changed_attributes"] = json!(changed);
        Ok(NewEvent::about(event_type, &after.id, after.version, data))
    }

    /// `current` is the row about to be deleted, its view read before it goes.
    pub fn deleted(&self, conn: &mut DbConnection, current: &ResourceRow) -> ScimResult<NewEvent> {
        let data = self.view(conn, current, None)?;
        Ok(NewEvent::about(self.rt.events.deleted, &current.id, current.version, data))
    }

    /// The events of a change to a row-held list of `row` (its row after the change, whose
    /// version the events carry): members added or removed, roles or entitlements granted or
    /// revoked.
    pub fn list_changed(
        &self,
        conn: &mut DbConnection,
        row: &ResourceRow,
        list: RowList,
        delta: ListDelta,
    ) -> ScimResult<Vec<NewEvent>> {
        if list == MEMBERS {
            self.members_changed(conn, row, delta)
        } else {
            self.holdings_changed(conn, row, list, delta)
        }
    }

    /// One `user.role_granted|revoked` or `user.entitlement_granted|revoked` per item.
    fn holdings_changed(
        &self,
        conn: &mut DbConnection,
        user: &ResourceRow,
        list: RowList,
        delta: ListDelta,
    ) -> ScimResult<Vec<NewEvent>> {
        if delta.is_empty() {
            return Ok(Vec::new());
        }
        let (granted, revoked) = if list == ROLES {
            (EventType::UserRoleGranted, EventType::UserRoleRevoked)
        } else {
            (EventType::UserEntitlementGranted, EventType::UserEntitlementRevoked)
        };
        let user_ref = json!({"id": user.id, "name": member_name(user)});
        let names = item_names(conn, self.ctx, delta.added.iter().chain(&delta.removed))?;
        let event = |event_type, (item, type_id): &(String, String)| {
            let name = names.get(&(type_id.clone(), item.clone()));
            let what = view::catalog_ref(self.ctx.schemas, type_id, item, name.map(String::as_str));
            let mut data = serde_json::Map::new();
            data.insert("user".into(), user_ref.clone());
            data.insert(list.noun.into(), what);
            let data = Value::Object(data);
            NewEvent::about(event_type, &user.id, user.version, data)
        };
        let added = delta.added.iter().map(|h| event(granted, h));
        let removed = delta.removed.iter().map(|h| event(revoked, h));
        Ok(added.chain(removed).collect())
    }

    /// One event per member added to or removed from `group` (the group's row after the
    /// change, whose version the events carry).
    fn members_changed(
        &self,
        conn: &mut DbConnection,
        group: &ResourceRow,
        delta: ListDelta,
    ) -> ScimResult<Vec<NewEvent>> {
        if delta.is_empty() {
            return Ok(Vec::new());
        }
        let group_ref = GroupRef { id: group.id.clone(), name: display_name(group) };
        let ids: Vec<String> =
            delta.added.iter().chain(&delta.removed).map(|(id, _)| id.clone()).collect();
        let names = memberships::member_names(conn, self.ctx.tenant.as_str(), &ids)?;
        let event = |event_type, (id, kind): &(String, String)| {
            let member = view::member(id, kind, names.get(id).map(String::as_str));
            let data = json!({"group": view::group_ref(&group_ref), "member": member});
            NewEvent::about(event_type, &group.id, group.version, data)
        };
        let added = delta.added.iter().map(|m| event(EventType::GroupMemberAdded, m));
        let removed = delta.removed.iter().map(|m| event(EventType::GroupMemberRemoved, m));
        Ok(added.chain(removed).collect())
    }

    /// A deleted resource left the groups `group_ids`: one `group.member_removed` each.
    pub fn left_groups(
        &self,
        conn: &mut DbConnection,
        member: &ResourceRow,
        group_ids: &[String],
    ) -> ScimResult<Vec<NewEvent>> {
        if group_ids.is_empty() {
            return Ok(Vec::new());
        }
        let name = member_name(member);
        let groups = memberships::groups_by_id(conn, self.ctx.tenant.as_str(), group_ids)?;
        let member = view::member(&member.id, self.rt.kind.name(), Some(&name));
        Ok(groups
            .into_iter()
            .map(|(id, name, version)| {
                let group = view::group_ref(&GroupRef { id: id.clone(), name });
                let data = json!({"group": group, "member": member});
                NewEvent::about(EventType::GroupMemberRemoved, &id, version, data)
            })
            .collect())
    }

    /// Writes the events in the caller's transaction.
    pub fn record(&self, conn: &mut DbConnection, events: Vec<NewEvent>) -> ScimResult<()> {
        let tenant = EventTenant { id: self.ctx.tenant.as_str(), slug: self.ctx.tenant_slug };
        outbox::record(conn, tenant, self.ctx.clock.now(), events)?;
        Ok(())
    }
}

/// The current names of catalog items by (type id, item id); an item deleted in this very
/// transaction has none.
pub(super) fn item_names<'a>(
    conn: &mut DbConnection,
    ctx: &TenantContext<'_>,
    items: impl Iterator<Item = &'a (String, String)>,
) -> ScimResult<HashMap<(String, String), String>> {
    let mut by_type: HashMap<&str, Vec<String>> = HashMap::new();
    for (item, type_id) in items {
        by_type.entry(type_id.as_str()).or_default().push(item.clone());
    }
    let mut names = HashMap::new();
    for (type_id, ids) in by_type {
        for (id, name) in catalog::visible_names(conn, ctx.tenant.as_str(), type_id, &ids)? {
            names.insert((type_id.to_owned(), id), name);
        }
    }
    Ok(names)
}

fn display_name(row: &ResourceRow) -> String {
    let data = view::stored(row);
    data.get("displayName").and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// How a member is named: displayName, else userName.
fn member_name(row: &ResourceRow) -> String {
    let data = view::stored(row);
    let name = data.get("displayName").or_else(|| data.get("userName"));
    name.and_then(Value::as_str).unwrap_or_default().to_owned()
}
