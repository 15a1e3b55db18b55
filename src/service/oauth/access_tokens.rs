//! JWT access tokens at the resource server (SCIM) and at /oauth/introspect and /oauth/revoke.
//! A token's signature is verified once per node and remembered by hash; expiry, issuer and
//! audience are re-checked on every request, and so is its grant, with one primary-key read, so
//! a revocation on any node takes effect on every node at once.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::audit::{self, Actor, Event, Kind};
use crate::clock::Clock;
use crate::db::repo::oauth;
use crate::db::rows::ClientRow;
use crate::db::{Database, StoreError};
use crate::oauth::jwt::{self, AccessClaims, JwtFailure};
use crate::oauth::refresh::{self as rules, Decision};
use crate::oauth::scope::Access;
use crate::oauth::secret;
use crate::service::oauth::grants;
use crate::service::oauth::keys::TokenRuntime;
use crate::service::oauth::{OAuthEnv, token_state};
use crate::service::tenancy::credentials::{AuthFailure, Principal};
use crate::service::verdict::{Decided, Verdict};

/// A JWT's claims after its signature checked out (from the cache or freshly).
pub fn verified_claims(
    db: &Database,
    runtime: &TokenRuntime,
    now: i64,
    token: &str,
) -> Decided<Arc<AccessClaims>, JwtFailure> {
    let hash = secret::sha256(token);
    if let Some(claims) = runtime.verified(db, now, &hash)? {
        return Ok(Verdict::Granted(claims));
    }
    let kid = match jwt::key_id(token) {
        Ok(kid) => kid,
        Err(failure) => return Ok(Verdict::Refused(failure)),
    };
    let Some(key) = runtime.decoding_key(db, now, &kid)? else {
        return Ok(Verdict::Refused(JwtFailure::UnknownKey));
    };
    match jwt::verify_signature(token, &key) {
        Ok(claims) => {
            let claims = Arc::new(claims);
            runtime.remember(hash, claims.clone(), kid, now.div_euclid(1000));
            Ok(Verdict::Granted(claims))
        }
        Err(failure) => Ok(Verdict::Refused(failure)),
    }
}

/// Authenticates a SCIM request carrying a JWT access token.
pub fn authenticate(
    db: &Database,
    clock: &dyn Clock,
    runtime: &TokenRuntime,
    token: &str,
    issuer: &str,
) -> Decided<Principal, AuthFailure> {
    // Every bearer that is not a static token comes here: name a vendor API key for what it is.
    if token.starts_with(crate::service::tenancy::api_keys::KEY_PREFIX) {
        return Ok(Verdict::Refused(AuthFailure::ApiKey));
    }
    let now = clock.now();
    let claims = match verified_claims(db, runtime, now, token)? {
        Verdict::Granted(claims) => claims,
        Verdict::Refused(failure) => return Ok(Verdict::Refused(AuthFailure::Token(failure))),
    };
    let audience = crate::service::oauth::audience_for(issuer);
    if let Err(failure) = jwt::check_claims(&claims, issuer, &audience, now.div_euclid(1000)) {
        return Ok(Verdict::Refused(AuthFailure::Token(failure)));
    }
    let mut conn = db.conn()?;
    let Some((grant, tenant)) = oauth::find_grant(&mut conn, &claims.grant)? else {
        return Ok(Verdict::Refused(AuthFailure::GrantRevoked));
    };
    if grant.revoked_at.is_some() {
        return Ok(Verdict::Refused(AuthFailure::GrantRevoked));
    }
    // Retired with a refresh token its pair never continued (a retry after the grace window).
    if oauth::access_token_revoked(&mut conn, &claims.jti)? {
        return Ok(Verdict::Refused(AuthFailure::Revoked));
    }
    drop(conn);
    if tenant.disabled {
        return Ok(Verdict::Refused(AuthFailure::TenantDisabled));
    }
    if grant.tenant_id != claims.tenant {
        return Ok(Verdict::Refused(AuthFailure::Token(JwtFailure::Malformed)));
    }
    Ok(Verdict::Granted(Principal {
        tenant_id: tenant.id,
        tenant_slug: tenant.slug,
        credential_id: format!("grant:{}", grant.id),
        access: Access::from_scope(&claims.scope),
        valid_until_ms: Some(claims.exp.saturating_mul(1000)),
    }))
}

/// Records a failed SCIM authentication (its own small transaction: nothing else changed) and
/// returns the tenant the credential belongs to when it is authentically that tenant's (a revoked
/// static token, an expired JWT with a good signature), so the tenant's status line and audit log
/// show why its requests fail. Forged or unknown tokens are attributed to no tenant.
pub fn record_failure(
    db: &Database,
    clock: &dyn Clock,
    runtime: &TokenRuntime,
    failure: AuthFailure,
    token: Option<&str>,
    ip: Option<String>,
    path: &str,
) -> Result<Option<String>, StoreError> {
    let now = clock.now();
    let tenant_id = match token {
        Some(token) => tenant_of(db, runtime, now, token)?,
        None => None,
    };
    let mut event = Event::new(Kind::ScimAuthFailed, &Actor::Anonymous)
        .ip(ip)
        .detail("reason", failure.description())
        .detail("path", path);
    if let Some(tenant_id) = &tenant_id {
        event = event.tenant(tenant_id.clone());
    }
    db.write(|conn| audit::record(conn, db.audit_counts(), now, event).map_err(StoreError::from))?;
    Ok(tenant_id)
}

fn tenant_of(
    db: &Database,
    runtime: &TokenRuntime,
    now: i64,
    token: &str,
) -> Result<Option<String>, StoreError> {
    if token.starts_with(crate::service::tenancy::credentials::TOKEN_PREFIX) {
        let found = crate::db::repo::tokens::find_by_hash(
            &mut *db.conn()?,
            &crate::service::tenancy::credentials::hash_token(token),
        )?;
        return Ok(found.map(|(row, _)| row.tenant_id));
    }
    Ok(verified_claims(db, runtime, now, token)?
        .into_result()
        .ok()
        .map(|claims| claims.tenant.clone()))
}

/// What a presented token turned out to be, for introspection and revocation.
enum Found {
    Access(Arc<AccessClaims>),
    Refresh(crate::db::rows::RefreshTokenRow),
    Nothing,
}

fn find(env: &OAuthEnv<'_>, runtime: &TokenRuntime, token: &str) -> Result<Found, StoreError> {
    if token.starts_with(secret::REFRESH_PREFIX) {
        return Ok(oauth::find_refresh(&mut *env.db.conn()?, &secret::sha256_hex(token))?
            .map_or(Found::Nothing, Found::Refresh));
    }
    match verified_claims(env.db, runtime, env.clock.now(), token)? {
        Verdict::Granted(claims) if claims.iss == env.issuer => Ok(Found::Access(claims)),
        _ => Ok(Found::Nothing),
    }
}

/// RFC 7662. Only the client a token was issued to learns anything about it.
pub fn introspect(
    env: &OAuthEnv<'_>,
    runtime: &TokenRuntime,
    client: &ClientRow,
    token: &str,
) -> Result<Value, StoreError> {
    let inactive = json!({ "active": false });
    let now = env.clock.now();
    match find(env, runtime, token)? {
        Found::Access(claims) => {
            if claims.client_id != client.id
                || jwt::check_claims(&claims, env.issuer, &env.audience(), now.div_euclid(1000))
                    .is_err()
            {
                return Ok(inactive);
            }
            let mut conn = env.db.conn()?;
            let Some((grant, tenant)) = oauth::find_grant(&mut conn, &claims.grant)? else {
                return Ok(inactive);
            };
            if grant.revoked_at.is_some()
                || tenant.disabled
                || oauth::access_token_revoked(&mut conn, &claims.jti)?
            {
                return Ok(inactive);
            }
            Ok(json!({
                "active": true,
                "token_type": "Bearer",
                "scope": claims.scope,
                "client_id": claims.client_id,
                "sub": claims.sub,
                "aud": claims.aud,
                "iss": claims.iss,
                "exp": claims.exp,
                "iat": claims.iat,
                "jti": claims.jti,
                "tenant": tenant.slug,
            }))
        }
        Found::Refresh(row) => {
            let Some((grant, tenant)) = oauth::find_grant(&mut *env.db.conn()?, &row.grant_id)?
            else {
                return Ok(inactive);
            };
            if grant.client_id != client.id {
                return Ok(inactive);
            }
            let policy = env.refresh_policy();
            if !matches!(
                rules::decide(policy, token_state(&row, &grant, &tenant), now),
                Decision::Rotate { .. }
            ) {
                return Ok(inactive);
            }
            Ok(json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": grant.scope,
                "client_id": grant.client_id,
                "sub": grant.admin_id,
                "iat": row.created_at.div_euclid(1000),
                "exp": rules::expires_at(policy, row.created_at, grant.created_at).div_euclid(1000),
                "tenant": tenant.slug,
            }))
        }
        Found::Nothing => Ok(inactive),
    }
}

/// RFC 7009. Revoking either kind of token revokes its grant: every refresh and access token
/// issued under the same consent stops working at once (§2.1 allows this for access tokens).
/// Unknown tokens, and tokens of other clients, are answered like success and left alone.
pub fn revoke(
    env: &OAuthEnv<'_>,
    runtime: &TokenRuntime,
    client: &ClientRow,
    token: &str,
) -> Result<(), StoreError> {
    let grant_id = match find(env, runtime, token)? {
        Found::Access(claims) => claims.grant.clone(),
        Found::Refresh(row) => row.grant_id,
        Found::Nothing => return Ok(()),
    };
    let now = env.clock.now();
    env.db.write(|conn| {
        let Some((grant, _)) = oauth::find_grant(conn, &grant_id)? else { return Ok(()) };
        if grant.client_id != client.id {
            return Ok(());
        }
        if grants::revoke_row(conn, &grant, now, "revoked by the client")? {
            let event = Event::new(Kind::GrantRevoked, &Actor::Client(client.id.clone()))
                .tenant(grant.tenant_id.clone())
                .client(grant.client_id.clone())
                .grant(grant.id.clone())
                .ip(env.ip.clone())
                .detail("reason", "revoked by the client (RFC 7009)");
            audit::record(conn, env.db.audit_counts(), now, event)?;
        }
        Ok(())
    })
}
