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

/// The user columns written on create and replace (`seq` is assigned by the database; `id`,
/// `tenant_id` and `created_at` are written once, on insert).
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = scim_users, treat_none_as_null = true)]
// NULL, not DEFAULT, for `None` on insert too: one SQL text, so PostgreSQL keeps it prepared.
#[diesel(treat_none_as_default_value = false)]
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

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = scim_groups, treat_none_as_null = true)]
// NULL, not DEFAULT, for `None` on insert too: one SQL text, so PostgreSQL keeps it prepared.
#[diesel(treat_none_as_default_value = false)]
pub struct GroupWrite {
    pub display_name: String,
    pub display_name_ci: String,
    pub external_id: Option<String>,
    pub updated_at: i64,
    pub version: i64,
    pub data: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = group_members)]
// NULL, not DEFAULT, for `None`: lets SQLite take several rows in one INSERT.
#[diesel(treat_none_as_default_value = false)]
pub struct MemberRow {
    pub group_id: String,
    pub member_id: String,
    pub tenant_id: String,
    pub member_type: String,
    /// `member_id` again when the member is a user, else NULL: the foreign key that cascades.
    pub member_user_id: Option<String>,
    /// `member_id` again when the member is a group, else NULL.
    pub member_group_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = resource_values)]
// NULL, not DEFAULT, for `None`: lets SQLite take several rows in one INSERT.
#[diesel(treat_none_as_default_value = false)]
pub struct ValueRow {
    pub resource_id: String,
    pub tenant_id: String,
    pub attr: String,
    pub element: String,
    pub value: String,
    pub value_ci: String,
    /// Numbers, and dateTimes as Unix milliseconds, for range comparisons and sorting.
    pub value_num: Option<f64>,
    /// What the index looks strings up by: `value_key::of(value_ci)`.
    pub value_key: String,
}

/// A tenant admin or an operator (see `repo::accounts`): the tables share these columns, and
/// only tenant admins have a tenant. Selected by an explicit tuple of columns, in field order.
#[derive(Debug, Clone, Queryable)]
pub struct AccountRow {
    pub id: String,
    pub tenant_id: Option<String>,
    pub email: String,
    pub email_ci: String,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
}

/// A signed-in browser of either kind of account; `account_id` is `admin_id` or `operator_id`.
#[derive(Debug, Clone, Queryable)]
pub struct SessionRow {
    pub id_hash: String,
    pub account_id: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_throttle)]
pub struct ThrottleRow {
    pub throttle_key: String,
    pub failures: i64,
    pub window_start: i64,
    pub locked_until: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_clients)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    /// JSON array of the exact redirect URIs.
    pub redirect_uris: String,
    pub require_pkce: bool,
    pub created_at: i64,
    pub secret_rotated_at: Option<i64>,
    /// `None`: vendor-wide (the tenant is chosen at consent).
    pub tenant_id: Option<String>,
    /// `authorization_code` or `client_credentials`.
    pub grant_type: String,
    /// The scopes of a client-credentials token.
    pub scope: Option<String>,
    pub access_ttl_secs: Option<i64>,
    /// `secret` or `private_key_jwt`.
    pub auth_method: String,
}

impl ClientRow {
    /// A vendor-wide authorization-code client with a secret: what every client was before
    /// per-tenant clients existed.
    pub fn authorization_code(id: String, name: String, redirect_uris: String, now: i64) -> Self {
        ClientRow {
            id,
            name,
            secret_hash: String::new(),
            redirect_uris,
            require_pkce: false,
            created_at: now,
            secret_rotated_at: None,
            tenant_id: None,
            grant_type: "authorization_code".into(),
            scope: None,
            access_ttl_secs: None,
            auth_method: "secret".into(),
        }
    }
}

/// What a `private_key_jwt` client's assertions must say and where its keys are.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = client_assertion_trust, treat_none_as_null = true)]
pub struct AssertionTrustRow {
    pub client_id: String,
    /// `None`: the client id (RFC 7523 §3 for `private_key_jwt`).
    pub issuer: Option<String>,
    pub subject: Option<String>,
    /// `None`: our token endpoint's URL or our issuer.
    pub audience: Option<String>,
    pub jwks_uri: Option<String>,
    pub jwks: Option<String>,
}

/// One of a client's secrets (SHA-256 of it; a legacy argon2id PHC string until first use).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_client_secrets)]
pub struct ClientSecretRow {
    pub id: String,
    pub client_id: String,
    pub secret_hash: String,
    pub hint: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub expiry_recorded_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_grants)]
pub struct GrantRow {
    pub id: String,
    pub tenant_id: String,
    pub admin_id: Option<String>,
    pub client_id: String,
    pub scope: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_codes)]
pub struct CodeRow {
    pub code_hash: String,
    pub grant_id: String,
    pub redirect_uri: String,
    pub pkce: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: String,
    pub token_hash: String,
    pub grant_id: String,
    pub parent_id: Option<String>,
    pub created_at: i64,
    pub used_at: Option<i64>,
    pub retired_at: Option<i64>,
    /// The `jti` of the access token minted with this refresh token.
    pub access_jti: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    /// PKCS#8 DER, base64.
    pub private_key: String,
    /// Raw public key, base64url (the JWK `x`).
    pub public_key: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditEventRow {
    pub id: String,
    pub at: i64,
    pub tenant_id: Option<String>,
    pub event: String,
    pub actor: String,
    pub client_id: Option<String>,
    pub grant_id: Option<String>,
    pub ip: Option<String>,
    /// JSON object with event-specific facts; never a secret.
    pub detail: String,
    /// Set on refusals that aggregate (`audit::record`): the SHA-256 of their facts, so an
    /// identical one finds this row by index.
    pub fingerprint: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = rate_limits)]
pub struct RateLimitRow {
    pub bucket: String,
    pub window_start: i64,
    pub hits: i64,
}

#[derive(Debug, Clone, Default, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = tenant_activity, treat_none_as_null = true)]
pub struct TenantActivityRow {
    pub tenant_id: String,
    pub last_request_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    pub last_failure_status: Option<i64>,
    pub last_failure_reason: Option<String>,
}

/// A vendor API key (`/api/v1`); `tenant_id` `None` sees every tenant, `scopes` space-separated.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub label: String,
    pub tenant_id: Option<String>,
    pub scopes: String,
    pub key_hash: String,
    pub hint: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}
