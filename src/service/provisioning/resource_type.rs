//! What differs between resource types, and nothing else: their table and columns, their
//! uniqueness rule, the attribute computed from memberships, and how members are taken out of a
//! body for the types that hold them (`ResourceKind::has_members`).
//! The pipeline in `resources` does the rest the same way for all of them.

use std::collections::HashMap;

use serde_json::Value;

use super::{groups::Groups, users::Users};
use crate::db::DbConnection;
use crate::db::filter_sql::FilterTarget;
use crate::db::repo::resources::{ColumnValues, ResourceRow, ResourceTable};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::ResourceKind;

/// One resource type's description for the pipeline.
pub(super) trait ResourceType: Sync {
    fn kind(&self) -> ResourceKind;

    fn table(&self) -> ResourceTable;

    /// How filters and `sortBy` reach this type's columns and value index.
    fn filter_target(&self) -> &'static FilterTarget;

    /// Top-level attributes kept in their own columns rather than the value index.
    fn column_attributes(&self) -> &'static [&'static str];

    /// The column values of a normalised body (its members already taken out).
    fn columns(&self, data: &Value, now: i64, version: i64) -> ScimResult<ColumnValues>;

    /// The refusal when another resource of the tenant holds `value`, the unique attribute.
    fn taken(&self, value: &str) -> ScimError;

    /// Takes the member list out of a normalised body, for types whose members are rows.
    /// `None` when the body names no members.
    fn take_members(&self, data: &mut Value) -> ScimResult<Option<Vec<String>>> {
        let _ = data;
        Ok(None)
    }

    /// The read-only attribute rendered from memberships (`groups` of a user, `members` of a group).
    fn computed_attribute(&self) -> &'static str;

    /// That attribute's value for each of `rows` that has one, by resource id.
    fn load_computed(
        &self,
        conn: &mut DbConnection,
        tenant_id: &str,
        base: &str,
        rows: &[ResourceRow],
    ) -> ScimResult<HashMap<String, Value>>;
}

/// The description of a resource kind.
pub(super) fn resource_type(kind: ResourceKind) -> &'static dyn ResourceType {
    match kind {
        ResourceKind::User => &Users,
        ResourceKind::Group => &Groups,
    }
}
