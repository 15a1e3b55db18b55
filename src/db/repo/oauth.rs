//! OAuth clients, grants (one per consent), authorization codes and refresh-token families.

use diesel::prelude::*;

use crate::db::rows::{ClientRow, CodeRow, GrantRow, RefreshTokenRow, TenantRow};
use crate::db::schema::{
    oauth_clients, oauth_codes, oauth_grants, refresh_tokens, revoked_access_tokens, tenants,
};
use crate::db::{DbConnection, native};

pub fn insert_client(conn: &mut DbConnection, row: &ClientRow) -> QueryResult<()> {
    diesel::insert_into(oauth_clients::table).values(row).execute(conn).map(drop)
}

pub fn find_client(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ClientRow>> {
    native!(conn, |c| oauth_clients::table
        .find(id)
        .select(ClientRow::as_select())
        .get_result(c)
        .optional())
}

pub fn list_clients(conn: &mut DbConnection) -> QueryResult<Vec<ClientRow>> {
    oauth_clients::table
        .order((oauth_clients::created_at, oauth_clients::id))
        .select(ClientRow::as_select())
        .load(conn)
}

pub fn set_client_secret(
    conn: &mut DbConnection,
    id: &str,
    secret_hash: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(oauth_clients::table.find(id))
        .set((oauth_clients::secret_hash.eq(secret_hash), oauth_clients::secret_rotated_at.eq(now)))
        .execute(conn)
}

pub fn set_client_require_pkce(
    conn: &mut DbConnection,
    id: &str,
    require_pkce: bool,
) -> QueryResult<usize> {
    diesel::update(oauth_clients::table.find(id))
        .set(oauth_clients::require_pkce.eq(require_pkce))
        .execute(conn)
}

/// `secret` or `private_key_jwt`.
pub fn set_client_auth_method(
    conn: &mut DbConnection,
    id: &str,
    method: &str,
) -> QueryResult<usize> {
    diesel::update(oauth_clients::table.find(id))
        .set(oauth_clients::auth_method.eq(method))
        .execute(conn)
}

/// Replaces a legacy secret hash by another hash of the same secret, unless it changed meanwhile.
pub fn upgrade_client_secret(
    conn: &mut DbConnection,
    id: &str,
    old_hash: &str,
    new_hash: &str,
) -> QueryResult<usize> {
    diesel::update(oauth_clients::table.find(id).filter(oauth_clients::secret_hash.eq(old_hash)))
        .set(oauth_clients::secret_hash.eq(new_hash))
        .execute(conn)
}

pub fn delete_client(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    // Its grants go with it (foreign keys), and the access tokens they carried.
    crate::db::credential_epoch::mark_revoking();
    diesel::delete(oauth_clients::table.find(id)).execute(conn)
}

pub fn insert_grant(conn: &mut DbConnection, row: &GrantRow) -> QueryResult<()> {
    diesel::insert_into(oauth_grants::table).values(row).execute(conn).map(drop)
}

/// A grant and its tenant.
pub fn find_grant(conn: &mut DbConnection, id: &str) -> QueryResult<Option<(GrantRow, TenantRow)>> {
    native!(conn, |c| oauth_grants::table
        .inner_join(tenants::table)
        .filter(oauth_grants::id.eq(id))
        .select((GrantRow::as_select(), TenantRow::as_select()))
        .get_result(c)
        .optional())
}

/// A tenant client's standing grant (its newest, revoked or not): what its client-credentials
/// tokens are issued under, so revoking it revokes them like any grant.
pub fn standing_grant(
    conn: &mut DbConnection,
    client_id: &str,
) -> QueryResult<Option<(GrantRow, TenantRow)>> {
    oauth_grants::table
        .inner_join(tenants::table)
        .filter(oauth_grants::client_id.eq(client_id))
        .order((oauth_grants::created_at.desc(), oauth_grants::id.desc()))
        .select((GrantRow::as_select(), TenantRow::as_select()))
        .first(conn)
        .optional()
}

/// Takes the grant's row lock (a no-op UPDATE) so refreshes of one family run one at a time on
/// every node of PostgreSQL. SQLite serialises writers already: a write transaction holds the
/// database's one write lock from its start (group commit opens it `IMMEDIATE`), so nothing is
/// written there (the UPDATE would only dirty a page of every commit).
pub fn lock_grant(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    if let DbConnection::Sqlite(_) = conn {
        return Ok(0);
    }
    diesel::update(oauth_grants::table.find(id))
        .set(oauth_grants::created_at.eq(oauth_grants::created_at))
        .execute(conn)
}

/// Marks a grant revoked; returns 0 when it already was.
pub fn revoke_grant(
    conn: &mut DbConnection,
    id: &str,
    now: i64,
    reason: &str,
) -> QueryResult<usize> {
    crate::db::credential_epoch::mark_revoking();
    diesel::update(oauth_grants::table.find(id))
        .filter(oauth_grants::revoked_at.is_null())
        .set((oauth_grants::revoked_at.eq(now), oauth_grants::revoked_reason.eq(reason)))
        .execute(conn)
}

pub fn list_grants(conn: &mut DbConnection, tenant_id: Option<&str>) -> QueryResult<Vec<GrantRow>> {
    let mut query = oauth_grants::table.select(GrantRow::as_select()).into_boxed();
    if let Some(tenant_id) = tenant_id {
        query = query.filter(oauth_grants::tenant_id.eq(tenant_id.to_owned()));
    }
    query.order((oauth_grants::created_at, oauth_grants::id)).load(conn)
}

pub fn insert_code(conn: &mut DbConnection, row: &CodeRow) -> QueryResult<()> {
    diesel::insert_into(oauth_codes::table).values(row).execute(conn).map(drop)
}

pub fn find_code(conn: &mut DbConnection, code_hash: &str) -> QueryResult<Option<CodeRow>> {
    oauth_codes::table.find(code_hash).select(CodeRow::as_select()).get_result(conn).optional()
}

/// Marks a code used; returns 0 when another request used it first.
pub fn use_code(conn: &mut DbConnection, code_hash: &str, now: i64) -> QueryResult<usize> {
    diesel::update(oauth_codes::table.find(code_hash))
        .filter(oauth_codes::used_at.is_null())
        .set(oauth_codes::used_at.eq(now))
        .execute(conn)
}

pub fn insert_refresh(conn: &mut DbConnection, row: &RefreshTokenRow) -> QueryResult<()> {
    native!(conn, |c| diesel::insert_into(refresh_tokens::table).values(row).execute(c).map(drop))
}

pub fn find_refresh(
    conn: &mut DbConnection,
    token_hash: &str,
) -> QueryResult<Option<RefreshTokenRow>> {
    native!(conn, |c| refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshTokenRow::as_select())
        .get_result(c)
        .optional())
}

pub fn find_refresh_by_id(
    conn: &mut DbConnection,
    id: &str,
) -> QueryResult<Option<RefreshTokenRow>> {
    native!(conn, |c| refresh_tokens::table
        .find(id)
        .select(RefreshTokenRow::as_select())
        .get_result(c)
        .optional())
}

/// Records the first use of a refresh token (later uses keep the first time).
pub fn mark_refresh_used(conn: &mut DbConnection, id: &str, now: i64) -> QueryResult<usize> {
    native!(conn, |c| diesel::update(refresh_tokens::table.find(id))
        .filter(refresh_tokens::used_at.is_null())
        .set(refresh_tokens::used_at.eq(now))
        .execute(c))
}

/// The family's tokens not retired yet.
pub fn live_family(conn: &mut DbConnection, grant_id: &str) -> QueryResult<Vec<RefreshTokenRow>> {
    native!(conn, |c| refresh_tokens::table
        .filter(refresh_tokens::grant_id.eq(grant_id))
        .filter(refresh_tokens::retired_at.is_null())
        .select(RefreshTokenRow::as_select())
        .load(c))
}

/// Retires these tokens (those still live).
pub fn retire_refresh(conn: &mut DbConnection, ids: &[String], now: i64) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    native!(conn, |c| diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::id.eq_any(ids))
            .filter(refresh_tokens::retired_at.is_null()),
    )
    .set(refresh_tokens::retired_at.eq(now))
    .execute(c))
}

/// Revokes one access token until it would have expired; expired revocations are dropped on the
/// way, so the table holds at most an access-token lifetime of them.
pub fn revoke_access_token(
    conn: &mut DbConnection,
    jti: &str,
    grant_id: &str,
    expires_at: i64,
    now: i64,
) -> QueryResult<()> {
    crate::db::credential_epoch::mark_revoking();
    native!(conn, |c| diesel::delete(
        revoked_access_tokens::table.filter(revoked_access_tokens::expires_at.lt(now))
    )
    .execute(c))?;
    if expires_at <= now {
        return Ok(());
    }
    diesel::insert_into(revoked_access_tokens::table)
        .values((
            revoked_access_tokens::jti.eq(jti),
            revoked_access_tokens::grant_id.eq(grant_id),
            revoked_access_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
}

/// Whether the access token `jti` has been revoked on its own.
pub fn access_token_revoked(conn: &mut DbConnection, jti: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(revoked_access_tokens::table.find(jti))).get_result(conn)
}

/// A grant's refresh-token family in issue order.
pub fn family(conn: &mut DbConnection, grant_id: &str) -> QueryResult<Vec<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::grant_id.eq(grant_id))
        .order((refresh_tokens::created_at, refresh_tokens::id))
        .select(RefreshTokenRow::as_select())
        .load(conn)
}

/// When a grant's refresh tokens were last exchanged.
pub fn last_refresh(conn: &mut DbConnection, grant_id: &str) -> QueryResult<Option<i64>> {
    refresh_tokens::table
        .filter(refresh_tokens::grant_id.eq(grant_id))
        .select(diesel::dsl::max(refresh_tokens::used_at))
        .get_result(conn)
}
