//! The table and column names hand-written SQL uses, taken from the `table!` definitions in
//! `schema.rs` so that renaming a column there breaks the build instead of the SQL.

use std::fmt;

use diesel::Column;
use diesel::sql_types::SqlType;
use diesel::sql_types::is_nullable::{IsNullable, NotNull};

use super::schema::{
    catalog_items, group_members, resource_values, scim_groups, scim_users, user_assignments,
};

/// A table's SQL name. diesel keeps it out of its public API, so it is written here once per
/// table, on the table's type, and a test checks it against the SQL diesel generates.
pub trait TableName {
    const NAME: &'static str;
}

impl TableName for scim_users::table {
    const NAME: &'static str = "scim_users";
}

impl TableName for scim_groups::table {
    const NAME: &'static str = "scim_groups";
}

impl TableName for group_members::table {
    const NAME: &'static str = "group_members";
}

impl TableName for resource_values::table {
    const NAME: &'static str = "resource_values";
}

impl TableName for catalog_items::table {
    const NAME: &'static str = "catalog_items";
}

impl TableName for user_assignments::table {
    const NAME: &'static str = "user_assignments";
}

/// Whether a diesel SQL type admits NULL, as a constant.
pub trait Nullability {
    const NULLABLE: bool;
}

impl Nullability for NotNull {
    const NULLABLE: bool = false;
}

impl Nullability for IsNullable {
    const NULLABLE: bool = true;
}

/// A column of a `table!`: its table's name, its own name and whether it may hold NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnName {
    pub table: &'static str,
    pub name: &'static str,
    pub nullable: bool,
}

impl ColumnName {
    /// The names of diesel column `C`, e.g. `ColumnName::of::<scim_users::user_name_ci>()`.
    pub const fn of<C>() -> ColumnName
    where
        C: Column,
        C::Table: TableName,
        C::SqlType: SqlType,
        <C::SqlType as SqlType>::IsNull: Nullability,
    {
        ColumnName {
            table: <C::Table as TableName>::NAME,
            name: C::NAME,
            nullable: <<C::SqlType as SqlType>::IsNull as Nullability>::NULLABLE,
        }
    }
}

/// `table.column`, as the filter SQL qualifies the outer row's columns.
impl fmt::Display for ColumnName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.name)
    }
}

/// The value index (`resource_values`), which filters read under short aliases.
pub mod values {
    use super::*;

    pub const TABLE: &str = <resource_values::table as TableName>::NAME;
    pub const RESOURCE_ID: &str = resource_values::resource_id::NAME;
    pub const TENANT_ID: &str = resource_values::tenant_id::NAME;
    pub const ATTR: &str = resource_values::attr::NAME;
    pub const ELEMENT: &str = resource_values::element::NAME;
    pub const VALUE: &str = resource_values::value::NAME;
    pub const VALUE_CI: &str = resource_values::value_ci::NAME;
    pub const VALUE_NUM: &str = resource_values::value_num::NAME;
    pub const VALUE_KEY: &str = resource_values::value_key::NAME;
}

/// Group memberships (`group_members`).
pub mod members {
    use super::*;

    pub const TABLE: &str = <group_members::table as TableName>::NAME;
    pub const TENANT_ID: &str = group_members::tenant_id::NAME;
    pub const GROUP_ID: &str = group_members::group_id::NAME;
    pub const MEMBER_ID: &str = group_members::member_id::NAME;
}

/// The roles and entitlements users hold (`user_assignments`).
pub mod assignments {
    use super::*;

    pub const TABLE: &str = <user_assignments::table as TableName>::NAME;
    pub const TENANT_ID: &str = user_assignments::tenant_id::NAME;
    pub const USER_ID: &str = user_assignments::user_id::NAME;
    pub const TYPE_ID: &str = user_assignments::type_id::NAME;
    pub const ITEM_ID: &str = user_assignments::item_id::NAME;
}

/// The columns of `catalog_items` that filters and sorting use.
pub mod catalog {
    use super::*;

    pub const TABLE: &str = <catalog_items::table as TableName>::NAME;
    pub const ITEM_ID: ColumnName = ColumnName::of::<catalog_items::item_id>();
    pub const DISPLAY_NAME_CI: ColumnName = ColumnName::of::<catalog_items::display_name_ci>();
    pub const CREATED_AT: ColumnName = ColumnName::of::<catalog_items::created_at>();
    pub const UPDATED_AT: ColumnName = ColumnName::of::<catalog_items::updated_at>();
}

/// The columns of `scim_users` that filters and sorting use.
pub mod users {
    use super::*;

    pub const TABLE: &str = <scim_users::table as TableName>::NAME;
    pub const ID: ColumnName = ColumnName::of::<scim_users::id>();
    pub const USER_NAME_CI: ColumnName = ColumnName::of::<scim_users::user_name_ci>();
    pub const EXTERNAL_ID: ColumnName = ColumnName::of::<scim_users::external_id>();
    pub const DISPLAY_NAME_CI: ColumnName = ColumnName::of::<scim_users::display_name_ci>();
    pub const ACTIVE: ColumnName = ColumnName::of::<scim_users::active>();
    pub const CREATED_AT: ColumnName = ColumnName::of::<scim_users::created_at>();
    pub const UPDATED_AT: ColumnName = ColumnName::of::<scim_users::updated_at>();
}

/// The columns of `scim_groups` that filters and sorting use.
pub mod groups {
    use super::*;

    pub const TABLE: &str = <scim_groups::table as TableName>::NAME;
    pub const ID: ColumnName = ColumnName::of::<scim_groups::id>();
    pub const DISPLAY_NAME_CI: ColumnName = ColumnName::of::<scim_groups::display_name_ci>();
    pub const EXTERNAL_ID: ColumnName = ColumnName::of::<scim_groups::external_id>();
    pub const CREATED_AT: ColumnName = ColumnName::of::<scim_groups::created_at>();
    pub const UPDATED_AT: ColumnName = ColumnName::of::<scim_groups::updated_at>();
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sqlite::Sqlite;

    use super::*;

    /// diesel quotes identifiers in its own SQL; the written table names must be the ones it uses.
    #[test]
    fn table_names_match_the_schema() {
        fn from_clause<T: diesel::query_builder::QueryFragment<Sqlite>>(query: T) -> String {
            diesel::debug_query::<Sqlite, _>(&query).to_string()
        }
        let cases = [
            (from_clause(scim_users::table.select(scim_users::id)), users::TABLE),
            (from_clause(scim_groups::table.select(scim_groups::id)), groups::TABLE),
            (from_clause(group_members::table.select(group_members::group_id)), members::TABLE),
            (from_clause(resource_values::table.select(resource_values::attr)), values::TABLE),
            (from_clause(catalog_items::table.select(catalog_items::seq)), catalog::TABLE),
            (
                from_clause(user_assignments::table.select(user_assignments::user_id)),
                assignments::TABLE,
            ),
        ];
        for (sql, name) in cases {
            assert!(sql.contains(&format!("FROM `{name}`")), "{sql} does not read {name}");
        }
    }

    #[test]
    fn nullability_follows_the_schema() {
        const {
            assert!(!users::USER_NAME_CI.nullable);
            assert!(users::DISPLAY_NAME_CI.nullable);
            assert!(!groups::DISPLAY_NAME_CI.nullable);
            assert!(groups::EXTERNAL_ID.nullable);
        }
        assert_eq!(users::USER_NAME_CI.to_string(), "scim_users.user_name_ci");
    }
}
