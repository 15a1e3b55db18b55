//! The client-credentials grant (RFC 6749 §4.4) for a tenant's own client: Microsoft Entra's
//! gallery rule. The client was bound to its tenant when it was created, under a standing grant
//! that its tokens carry, so SCIM checks them like any other (revoking that grant revokes them).
//! RFC 9068 JWTs with `sub` = the client id, the client's own lifetime, no refresh token.

use super::OAuthEnv;
use super::client_auth::ClientCredentials;
use super::token::{AccessToken, Issued, TokenResponse, access_token};
use crate::audit::{self, Actor, Event, Kind};
use crate::db::StoreError;
use crate::db::repo::oauth;
use crate::db::rows::ClientRow;
use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::oauth::scope;
use crate::service::verdict::{Decided, Verdict};

pub const GRANT_TYPE: &str = "client_credentials";

/// Issues a token to an authenticated client-credentials client.
pub fn issue(
    env: &OAuthEnv<'_>,
    client: &ClientRow,
    creds: &ClientCredentials,
    requested_scope: Option<&str>,
) -> Decided<TokenResponse, OAuthError> {
    if client.grant_type != GRANT_TYPE {
        return Ok(Verdict::Refused(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "this client uses the authorization_code grant, not client_credentials",
        )));
    }
    let all = scope::ALL.join(" ");
    let registered = client.scope.as_deref().unwrap_or(&all);
    let granted = match scope::for_client(requested_scope, registered) {
        Ok(granted) => granted,
        Err(reason) => {
            return Ok(Verdict::Refused(OAuthError::new(OAuthErrorCode::InvalidScope, reason)));
        }
    };
    let now = env.clock.now();
    let issued = env.db.write(|conn| {
        let Some((grant, tenant)) = oauth::standing_grant(conn, &client.id)? else {
            return Err(StoreError::Invariant(format!("client {} has no grant", client.id)));
        };
        if grant.revoked_at.is_some() {
            return Ok(Verdict::Refused(OAuthError::invalid_client(
                "this client's access to its tenant was revoked; create a new client",
            )));
        }
        if tenant.disabled {
            return Ok(Verdict::Refused(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "the client's tenant is disabled",
            )));
        }
        let ttl_secs =
            client.access_ttl_secs.unwrap_or_else(|| env.settings.access_token_ttl_ms() / 1000);
        // RFC 9068 §2.2: without a resource owner, the subject is the client.
        let token = AccessToken {
            sub: client.id.clone(),
            scope: &granted,
            jti: uuid::Uuid::new_v4().to_string(),
            ttl_secs,
        };
        let access = access_token(conn, env, &grant, token, now)?;
        let claims = &access.claims;
        let event = Event::new(Kind::ClientCredentialsIssued, &Actor::Client(client.id.clone()))
            .tenant(tenant.id.clone())
            .client(client.id.clone())
            .ip(env.ip.clone())
            .detail("grant_id", grant.id.clone())
            .detail("method", creds.method.as_str())
            .detail("scope", granted.clone())
            .detail("jti", claims.jti.clone())
            .detail("access_expires_at", claims.exp * 1000);
        audit::record(conn, env.db.audit_counts(), now, event)?;
        Ok(Verdict::Granted(Issued::new(access, ttl_secs, None)))
    })?;
    // Signed after the commit, as every token is (`token::Issued`).
    issued.and_then(Issued::sign)
}
