//! POST /oauth/token for an authenticated client (`client_auth`): the authorization_code and
//! refresh_token grants run through oxide-auth in one transaction; the client_credentials grant
//! (a tenant's own client, Entra's gallery rule) is ours, and issues no refresh token.

use std::sync::Arc;

use oxide_auth::code_grant::error::AccessTokenErrorType;
use oxide_auth::code_grant::{accesstoken, refresh};
use serde::Serialize;

use super::OAuthEnv;
use super::adapters::{Failure, KnownClient, TokenEndpoint, TokenRequest, TokenStore};
use super::request::{GrantRequest, generic};
use super::{client_grant, lineage};
use crate::audit::Event;
use crate::db::rows::{ClientRow, GrantRow};
use crate::db::{DbConnection, StoreError};
use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::oauth::jwt::{AccessClaims, Signer};
use crate::service::oauth::client_auth::ClientCredentials;
use crate::service::oauth::keys::signing_key;
use crate::service::verdict::{Decided, Verdict};

/// What a token request's transaction produced: everything of the answer but the access token's
/// signature, which is made after the commit, off SQLite's single writer (an Ed25519 signature
/// was a tenth of a refresh exchange's work). A `TokenResponse` exists only once signed.
#[derive(Debug)]
pub struct Issued {
    access: UnsignedAccess,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub minted: Minted,
}

impl Issued {
    /// An access token valid for `expires_in` seconds, with the refresh token minted beside it
    /// (none for the client-credentials grant).
    pub(super) fn new(
        access: UnsignedAccess,
        expires_in: i64,
        refresh: Option<lineage::IssuedRefresh>,
    ) -> Self {
        let (refresh_token, refresh_token_id) = match refresh {
            Some(refresh) => (Some(refresh.secret), refresh.id),
            None => (None, String::new()),
        };
        let minted = Minted {
            jti: access.claims.jti.clone(),
            expires_at: access.claims.exp * 1000,
            refresh_token_id,
        };
        Issued { access, expires_in, refresh_token, minted }
    }

    /// The scope the access token carries.
    pub fn scope(&self) -> &str {
        &self.access.claims.scope
    }

    pub fn sign(self) -> Result<TokenResponse, StoreError> {
        let (access_token, claims) = self.access.sign()?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.expires_in,
            refresh_token: self.refresh_token,
            scope: claims.scope,
            minted: self.minted,
        })
    }
}

/// An access token's claims and the signer of the key that signs at its issue.
#[derive(Debug)]
pub(super) struct UnsignedAccess {
    signer: Arc<Signer>,
    pub claims: AccessClaims,
}

impl UnsignedAccess {
    pub fn sign(self) -> Result<(String, AccessClaims), StoreError> {
        let token =
            self.signer.sign(&self.claims).map_err(|e| StoreError::Invariant(e.to_string()))?;
        Ok((token, self.claims))
    }
}

/// RFC 6749 §5.1.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
    /// For the audit trail (token lineage), never sent: the access token's `jti` and expiry, and
    /// the new refresh token's id.
    #[serde(skip)]
    pub minted: Minted,
}

#[derive(Debug, Clone, Default)]
pub struct Minted {
    pub jti: String,
    pub expires_at: i64,
    pub refresh_token_id: String,
}

impl Minted {
    /// Adds the lineage facts to a token event.
    pub(super) fn describe(&self, event: Event) -> Event {
        event
            .detail("jti", self.jti.clone())
            .detail("access_expires_at", self.expires_at)
            .detail("new_refresh_token_id", self.refresh_token_id.clone())
    }
}

/// A new refresh token (child of `parent`) and an access token for `scope_text`, to be signed.
pub(super) fn mint(
    conn: &mut DbConnection,
    env: &OAuthEnv<'_>,
    grant: &GrantRow,
    scope_text: &str,
    parent: Option<&str>,
    now: i64,
) -> Result<Issued, StoreError> {
    let jti = uuid::Uuid::new_v4().to_string();
    let refresh = lineage::issue_refresh(conn, &grant.id, parent, Some(&jti), now)?;
    // JWT times are in seconds.
    let ttl_secs = env.settings.access_token_ttl_ms() / 1000;
    let sub = grant.admin_id.clone().unwrap_or_else(|| format!("grant:{}", grant.id));
    let token = AccessToken { sub, scope: scope_text, jti, ttl_secs };
    let access = access_token(conn, env, grant, token, now)?;
    Ok(Issued::new(access, ttl_secs, Some(refresh)))
}

/// What one access token says beyond its grant.
pub(super) struct AccessToken<'a> {
    pub sub: String,
    pub scope: &'a str,
    pub jti: String,
    pub ttl_secs: i64,
}

/// An RFC 9068 access token of `grant` for the key that signs now, read in the caller's
/// transaction: the one place that builds the claims every token carries.
pub(super) fn access_token(
    conn: &mut DbConnection,
    env: &OAuthEnv<'_>,
    grant: &GrantRow,
    token: AccessToken<'_>,
    now: i64,
) -> Result<UnsignedAccess, StoreError> {
    let AccessToken { sub, scope: scope_text, jti, ttl_secs } = token;
    let signer = signing_key(conn, env.sealer, env.signers, now)?;
    let iat = now.div_euclid(1000);
    let claims = AccessClaims {
        iss: env.issuer.to_owned(),
        sub,
        aud: env.audience(),
        exp: iat + ttl_secs,
        iat,
        jti,
        client_id: grant.client_id.clone(),
        scope: scope_text.to_owned(),
        tenant: grant.tenant_id.clone(),
        grant: grant.id.clone(),
    };
    Ok(UnsignedAccess { signer, claims })
}

fn map_kind(kind: AccessTokenErrorType) -> OAuthErrorCode {
    match kind {
        AccessTokenErrorType::InvalidRequest => OAuthErrorCode::InvalidRequest,
        AccessTokenErrorType::InvalidClient => OAuthErrorCode::InvalidClient,
        AccessTokenErrorType::InvalidGrant => OAuthErrorCode::InvalidGrant,
        AccessTokenErrorType::UnauthorizedClient => OAuthErrorCode::UnauthorizedClient,
        AccessTokenErrorType::UnsupportedGrantType => OAuthErrorCode::UnsupportedGrantType,
        AccessTokenErrorType::InvalidScope => OAuthErrorCode::InvalidScope,
    }
}

/// The token endpoint for an authenticated client. Protocol failures commit what they wrote
/// (a revoked grant, the audit event); storage failures roll everything back.
pub fn token(
    env: &OAuthEnv<'_>,
    grant: &GrantRequest,
    creds: &ClientCredentials,
    client: &ClientRow,
) -> Decided<TokenResponse, OAuthError> {
    if let GrantRequest::ClientCredentials { scope } = grant {
        return client_grant::issue(env, client, creds, scope.as_deref());
    }
    if client.grant_type == client_grant::GRANT_TYPE {
        return Ok(Verdict::Refused(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "this client may only use the client_credentials grant",
        )));
    }
    let now = env.clock.now();
    let issued = env.db.write(|conn| {
        let mut endpoint = TokenEndpoint {
            registrar: KnownClient {
                row: Some(client.clone()),
                authenticated: Some((creds.client_id.clone(), creds.proof.clone())),
            },
            store: TokenStore::new(conn, env, client, grant, now),
        };
        let request = TokenRequest { grant, creds };
        // `None`: oxide-auth failed without naming an OAuth error (our callbacks aborted it).
        let outcome: Result<(), Option<OAuthErrorCode>> = match grant {
            GrantRequest::AuthorizationCode { .. } => {
                accesstoken::access_token(&mut endpoint, &request).map(drop).map_err(|e| match e {
                    accesstoken::Error::Invalid(mut d) => Some(map_kind(d.description().kind())),
                    accesstoken::Error::Unauthorized(..) => Some(OAuthErrorCode::InvalidClient),
                    accesstoken::Error::Primitive(_) => None,
                })
            }
            GrantRequest::RefreshToken { .. } => {
                refresh::refresh(&mut endpoint, &request).map(drop).map_err(|mut e| match &mut e {
                    refresh::Error::Invalid(_) | refresh::Error::Unauthorized(..) => {
                        e.description().map(|d| map_kind(d.kind()))
                    }
                    refresh::Error::Primitive => None,
                })
            }
            // Answered above, before the transaction.
            GrantRequest::ClientCredentials { .. } => Err(None),
        };
        finish(&mut endpoint.store, outcome)
    })?;
    issued.and_then(Issued::sign)
}

/// Our callbacks' own failure, when there is one, explains oxide-auth's error better than its
/// code alone.
fn finish(
    store: &mut TokenStore<'_, '_>,
    outcome: Result<(), Option<OAuthErrorCode>>,
) -> Decided<Issued, OAuthError> {
    match (outcome, store.take_failure()) {
        (Ok(()), _) => store
            .response
            .take()
            .map(Verdict::Granted)
            .ok_or_else(|| StoreError::Invariant("token flow finished without a token".into())),
        (Err(_), Some(Failure::Store(e))) => Err(e),
        (Err(_), Some(Failure::Protocol(e))) => Ok(Verdict::Refused(e)),
        (Err(Some(code)), None) => Ok(Verdict::Refused(generic(code))),
        (Err(None), None) => {
            Err(StoreError::Invariant("token flow failed without a reason".into()))
        }
    }
}
