//! Row types exactly as stored; domain and wire types live elsewhere.

use diesel::prelude::*;

use super::schema::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenants)]
pub struct TenantRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub disabled: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = static_tokens)]
pub struct StaticTokenRow {
    pub id: String,
    pub tenant_id: String,
    pub label: String,
    pub token_hash: String,
    pub hint: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = scim_users)]
pub struct UserRow {
    pub id: String,
    pub tenant_id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
    pub data: String,
}

/// The user columns written on create and replace (`seq` is assigned by the database).
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = scim_users, treat_none_as_null = true)]
pub struct UserWrite {
    pub user_name: String,
    pub user_name_ci: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub display_name_ci: Option<String>,
    pub active: bool,
    pub updated_at: i64,
    pub version: i64,
    pub data: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = scim_users)]
pub struct NewUserRow {
    pub id: String,
    pub tenant_id: String,
    pub created_at: i64,
    #[diesel(embed)]
    pub fields: UserWrite,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = scim_groups)]
pub struct GroupRow {
    pub id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
    pub data: String,
}

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = scim_groups, treat_none_as_null = true)]
pub struct GroupWrite {
    pub display_name: String,
    pub display_name_ci: String,
    pub external_id: Option<String>,
    pub updated_at: i64,
    pub version: i64,
    pub data: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = scim_groups)]
pub struct NewGroupRow {
    pub id: String,
    pub tenant_id: String,
    pub created_at: i64,
    #[diesel(embed)]
    pub fields: GroupWrite,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = group_members)]
pub struct MemberRow {
    pub group_id: String,
    pub member_id: String,
    pub tenant_id: String,
    pub member_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = resource_values)]
pub struct ValueRow {
    pub resource_id: String,
    pub tenant_id: String,
    pub attr: String,
    pub element: String,
    pub value: String,
    pub value_ci: String,
}
