//! What OAuth clients authenticate with: their secrets (several live at once, each with its own
//! expiry) and the assertions already used (RFC 7523 replay protection, shared by every node).

use diesel::prelude::*;

use crate::db::rows::{AssertionTrustRow, ClientRow, ClientSecretRow};
use crate::db::schema::{
    client_assertion_trust, oauth_client_secrets, oauth_clients, tenants, used_assertions,
};
use crate::db::{DbConnection, native};

pub fn insert_secret(conn: &mut DbConnection, row: &ClientSecretRow) -> QueryResult<()> {
    diesel::insert_into(oauth_client_secrets::table).values(row).execute(conn).map(drop)
}

/// Every secret of a client, newest first (revoked and expired ones too: lists show them).
pub fn secrets_of(conn: &mut DbConnection, client_id: &str) -> QueryResult<Vec<ClientSecretRow>> {
    native!(conn, |c| oauth_client_secrets::table
        .filter(oauth_client_secrets::client_id.eq(client_id))
        .order((oauth_client_secrets::created_at.desc(), oauth_client_secrets::id.desc()))
        .select(ClientSecretRow::as_select())
        .load(c))
}

pub fn find_secret(
    conn: &mut DbConnection,
    client_id: &str,
    secret_id: &str,
) -> QueryResult<Option<ClientSecretRow>> {
    oauth_client_secrets::table
        .filter(oauth_client_secrets::client_id.eq(client_id))
        .filter(oauth_client_secrets::id.eq(secret_id))
        .select(ClientSecretRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn revoke_secret(conn: &mut DbConnection, secret_id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(
        oauth_client_secrets::table
            .find(secret_id)
            .filter(oauth_client_secrets::revoked_at.is_null()),
    )
    .set(oauth_client_secrets::revoked_at.eq(now))
    .execute(conn)
}

/// Revokes every live secret of a client (a vendor-wide client's rotation replaces its secret).
pub fn revoke_all_secrets(
    conn: &mut DbConnection,
    client_id: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(
        oauth_client_secrets::table
            .filter(oauth_client_secrets::client_id.eq(client_id))
            .filter(oauth_client_secrets::revoked_at.is_null()),
    )
    .set(oauth_client_secrets::revoked_at.eq(now))
    .execute(conn)
}

/// How often a secret's use is written at most (ms): the token endpoint is hot, and the list
/// shows minutes.
const TOUCH_EVERY: i64 = 60_000;

/// Whether a secret last recorded as used at `last_used_at` is due to be recorded again.
pub fn touch_due(last_used_at: Option<i64>, now: i64) -> bool {
    last_used_at.is_none_or(|at| at < now - TOUCH_EVERY)
}

/// Notes a secret's use, at most once every `TOUCH_EVERY` (another node may have just done it).
pub fn touch_secret(conn: &mut DbConnection, secret_id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(
        oauth_client_secrets::table.find(secret_id).filter(
            oauth_client_secrets::last_used_at
                .is_null()
                .or(oauth_client_secrets::last_used_at.lt(now - TOUCH_EVERY)),
        ),
    )
    .set(oauth_client_secrets::last_used_at.eq(now))
    .execute(conn)
}

/// Replaces a legacy hash by the SHA-256 of the same secret, unless it changed meanwhile.
pub fn upgrade_secret_hash(
    conn: &mut DbConnection,
    secret_id: &str,
    old_hash: &str,
    new_hash: &str,
) -> QueryResult<usize> {
    diesel::update(
        oauth_client_secrets::table
            .find(secret_id)
            .filter(oauth_client_secrets::secret_hash.eq(old_hash)),
    )
    .set(oauth_client_secrets::secret_hash.eq(new_hash))
    .execute(conn)
}

/// A live secret that expires before `before`, with its client and the client's tenant slug.
#[derive(Debug, Clone)]
pub struct ExpiringSecret {
    pub secret: ClientSecretRow,
    pub client_id: String,
    pub client_name: String,
    pub tenant_slug: Option<String>,
}

/// Live (unrevoked) secrets expiring before `before`, soonest first, optionally of one tenant's
/// clients; already expired ones are included (they need attention too).
pub fn expiring_secrets(
    conn: &mut DbConnection,
    before: i64,
    tenant_id: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<ExpiringSecret>> {
    let mut query = oauth_client_secrets::table
        .inner_join(oauth_clients::table)
        .left_join(tenants::table.on(oauth_clients::tenant_id.eq(tenants::id.nullable())))
        .filter(oauth_client_secrets::revoked_at.is_null())
        .filter(oauth_client_secrets::expires_at.lt(before))
        .into_boxed();
    if let Some(tenant_id) = tenant_id {
        query = query.filter(oauth_clients::tenant_id.eq(tenant_id));
    }
    let rows: Vec<(ClientSecretRow, (String, String), Option<String>)> = query
        .order((oauth_client_secrets::expires_at, oauth_client_secrets::id))
        .limit(limit)
        .select((
            ClientSecretRow::as_select(),
            (oauth_clients::id, oauth_clients::name),
            tenants::slug.nullable(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(secret, (client_id, client_name), tenant_slug)| ExpiringSecret {
            secret,
            client_id,
            client_name,
            tenant_slug,
        })
        .collect())
}

/// Expired secrets whose expiry is not yet in the audit trail, with their client's tenant.
pub fn unrecorded_expiries(
    conn: &mut DbConnection,
    now: i64,
    limit: i64,
) -> QueryResult<Vec<(ClientSecretRow, Option<String>)>> {
    oauth_client_secrets::table
        .inner_join(oauth_clients::table)
        .filter(oauth_client_secrets::revoked_at.is_null())
        .filter(oauth_client_secrets::expires_at.le(now))
        .filter(oauth_client_secrets::expiry_recorded_at.is_null())
        .order(oauth_client_secrets::expires_at)
        .limit(limit)
        .select((ClientSecretRow::as_select(), oauth_clients::tenant_id))
        .load(conn)
}

pub fn mark_expiry_recorded(
    conn: &mut DbConnection,
    secret_id: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(oauth_client_secrets::table.find(secret_id))
        .set(oauth_client_secrets::expiry_recorded_at.eq(now))
        .execute(conn)
}

/// The clients of one tenant (client credentials and federation), oldest first.
pub fn clients_of_tenant(conn: &mut DbConnection, tenant_id: &str) -> QueryResult<Vec<ClientRow>> {
    oauth_clients::table
        .filter(oauth_clients::tenant_id.eq(tenant_id))
        .order((oauth_clients::created_at, oauth_clients::id))
        .select(ClientRow::as_select())
        .load(conn)
}

/// Sets what a client's assertions must say (replacing what it said before).
pub fn set_trust(conn: &mut DbConnection, row: &AssertionTrustRow) -> QueryResult<()> {
    diesel::delete(client_assertion_trust::table.find(&row.client_id)).execute(conn)?;
    diesel::insert_into(client_assertion_trust::table).values(row).execute(conn).map(drop)
}

pub fn trust_of(
    conn: &mut DbConnection,
    client_id: &str,
) -> QueryResult<Option<AssertionTrustRow>> {
    client_assertion_trust::table
        .find(client_id)
        .select(AssertionTrustRow::as_select())
        .get_result(conn)
        .optional()
}

/// Records an assertion as used; `false` when it was already (a replay, on any node). `ON
/// CONFLICT DO NOTHING` (both backends) leaves the caller's transaction usable on PostgreSQL.
pub fn use_assertion(
    conn: &mut DbConnection,
    key_hash: &str,
    expires_at: i64,
) -> QueryResult<bool> {
    let inserted = diesel::sql_query(
        "INSERT INTO used_assertions (key_hash, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind::<diesel::sql_types::Text, _>(key_hash)
    .bind::<diesel::sql_types::BigInt, _>(expires_at)
    .execute(conn)?;
    Ok(inserted == 1)
}

/// Forgets assertions that can no longer be presented (they expired before `cutoff`).
pub fn prune_used_assertions(conn: &mut DbConnection, cutoff: i64) -> QueryResult<usize> {
    diesel::delete(used_assertions::table.filter(used_assertions::expires_at.lt(cutoff)))
        .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_is_written_once_a_minute_at_most() {
        let now = 10_000_000;
        assert!(touch_due(None, now), "never recorded");
        assert!(!touch_due(Some(now), now));
        assert!(!touch_due(Some(now - TOUCH_EVERY), now), "exactly a minute ago");
        assert!(touch_due(Some(now - TOUCH_EVERY - 1), now));
    }
}
