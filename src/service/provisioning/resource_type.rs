//! What differs between resource types, and nothing else: their table and columns, their
//! uniqueness rule, the attribute computed from memberships, and how members are taken out of a
//! body for the types that hold them (`ResourceKind::has_members`). A new type is one more
//! description; the pipeline in `resources` does the rest the same way for all of them.

use std::collections::HashMap;

use serde_json::Value;

use super::{assignments, groups, users};
use crate::db::DbConnection;
use crate::db::filter_sql::FilterTarget;
use crate::db::repo::resources::{ColumnValues, ResourceRow, ResourceTable};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::list_patch::{MEMBERS, RowList};
use crate::scim::schema::{Registry, ResourceKind};
use crate::service::delivery::outbox::EventType;
use crate::service::directory::view::GroupRef;

/// One resource type's description for the pipeline.
pub(super) struct ResourceType {
    pub kind: ResourceKind,
    pub table: ResourceTable,
    /// How filters and `sortBy` reach this type's columns, row-held lists and value index,
    /// given which lists the catalog backs.
    pub filter_target: fn(&Registry) -> &'static FilterTarget,
    /// Top-level attributes kept in their own columns rather than the value index.
    pub column_attributes: &'static [&'static str],
    /// The read-only attribute rendered from memberships (`groups` of a user, `members` of a group).
    pub computed_attribute: &'static str,
    /// The column values of a normalised body (its members already taken out), given the
    /// time of the write and the new version.
    pub columns: fn(data: &Value, now: i64, version: i64) -> ScimResult<ColumnValues>,
    /// The refusal when another resource of the tenant holds the unique attribute's value.
    pub taken: fn(value: &str) -> ScimError,
    /// Whether its resources hold catalog items (`roles`, `entitlements`) when the catalog backs
    /// them: users do.
    pub holds_catalog_items: bool,
    /// The computed attribute of each of `rows` that has one, by resource id, read for the
    /// whole page at once.
    pub load_computed: ComputedLoader,
    /// The events a write of this type records.
    pub events: ResourceEvents,
    /// The resource as the vendor's app reads it (`service::directory::view`), given the groups
    /// it belongs to and its SCIM form.
    pub view: fn(&ResourceRow, &[GroupRef], Value) -> Value,
    /// Whether `view` shows the groups a resource belongs to (then the events read them).
    pub view_lists_groups: bool,
}

/// The event types of one resource type.
pub(super) struct ResourceEvents {
    pub created: EventType,
    pub updated: EventType,
    pub deleted: EventType,
    /// For types with `active`: a change of it is a (de)activation rather than an update.
    pub activation: Option<Activation>,
}

pub(super) struct Activation {
    pub deactivated: EventType,
    pub reactivated: EventType,
}

/// Reads the computed attribute of a page of resources.
pub(super) type ComputedLoader = fn(&mut DbConnection, &Loading<'_>) -> ScimResult<Computed>;

/// The computed attribute's value of each resource that has one, by resource id.
pub(super) type Computed = HashMap<String, Value>;

/// The resources a computed attribute is read for: one page, of one tenant.
pub(super) struct Loading<'a> {
    pub tenant_id: &'a str,
    /// The SCIM base URL that `$ref` values are built from.
    pub base: &'a str,
    pub ids: Vec<String>,
}

/// Collects `(resource id, entry)` pairs into each resource's array of entries.
pub(super) fn grouped(entries: impl IntoIterator<Item = (String, Value)>) -> Computed {
    let mut by_id: HashMap<String, Vec<Value>> = HashMap::new();
    for (id, entry) in entries {
        by_id.entry(id).or_default().push(entry);
    }
    by_id.into_iter().map(|(id, entries)| (id, Value::Array(entries))).collect()
}

/// The description of a resource kind.
pub(super) fn resource_type(kind: ResourceKind) -> &'static ResourceType {
    match kind {
        ResourceKind::User => &users::USERS,
        ResourceKind::Group => &groups::GROUPS,
    }
}

/// A top-level string attribute of a normalised body, for its column.
pub(super) fn text(data: &Value, name: &str) -> Option<String> {
    data.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// The attribute a resource cannot be stored without (it names the resource): present and not
/// blank, else `invalidValue`.
pub(super) fn required_text(data: &Value, name: &str) -> ScimResult<String> {
    text(data, name)
        .filter(|value| !value.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value(format!("{name} is required")))
}

impl ResourceType {
    /// The multi-valued attributes this type holds as rows on this server.
    pub fn row_lists(&self, registry: &Registry) -> Vec<RowList> {
        let mut lists = Vec::new();
        if self.kind.has_members() {
            lists.push(MEMBERS);
        }
        if self.holds_catalog_items {
            lists.extend(assignments::lists(registry));
        }
        lists
    }
}
