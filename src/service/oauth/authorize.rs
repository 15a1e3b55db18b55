//! GET/POST /oauth/authorize: validates an authorization request, and on the admin's decision
//! records the consent (grant and code) or the denial, answering with the client's redirect.

use std::borrow::Cow;

use oxide_auth::code_grant::authorization::{self, ErrorUrl, Pending};
use oxide_auth::code_grant::error::AuthorizationErrorType;
use oxide_auth::primitives::grant::Grant;
use oxide_auth::primitives::registrar::PreGrant;

use super::OAuthEnv;
use super::adapters::PkceChallenge;
use super::adapters::{AuthorizeEndpoint, AuthorizeRequest, ConsentRecorder, KnownClient};
use super::request::Params;
use crate::audit::{self, Event, Kind};
use crate::db::StoreError;
use crate::db::repo::oauth as repo;
use crate::db::rows::{ClientRow, CodeRow, GrantRow};
use crate::oauth::{scope, secret};
use crate::service::accounts::tenant_admins::TenantAdminSession;
use crate::service::delivery::outbox::{self, Connection};
use crate::service::oauth::clients;

/// What the consent page shows.
#[derive(Debug, Clone)]
pub struct ConsentRequest {
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub redirect_uri: String,
}

#[derive(Debug)]
pub enum AuthorizeOutcome {
    /// A valid request awaiting the admin: show the login or consent page.
    Pending(ConsentRequest),
    /// Send the browser back to the client (with a code, or with `error` and `state`).
    Redirect(String),
    /// The client or redirect URI cannot be trusted: show this error, never redirect.
    ErrorPage(String),
}

/// The admin's answer on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentDecision {
    Allow,
    Deny,
}

/// Validates an authorization request and, when `decision` is given, completes it.
pub fn authorize(
    env: &OAuthEnv<'_>,
    params: &Params,
    session: Option<&TenantAdminSession>,
    decision: Option<ConsentDecision>,
) -> Result<AuthorizeOutcome, StoreError> {
    let row = match params.get("client_id") {
        Some(id) => repo::find_client(&mut *env.db.conn()?, id)?,
        None => None,
    };
    let mut endpoint = AuthorizeEndpoint {
        pkce: PkceChallenge { require: row.as_ref().is_some_and(|r| r.require_pkce), error: None },
        registrar: KnownClient { row: row.clone(), authenticated: None },
        authorizer: ConsentRecorder { env, session, failure: None },
    };
    let pending = match authorization::authorization_code(&mut endpoint, &AuthorizeRequest(params))
    {
        Ok(pending) => pending,
        Err(authorization::Error::Ignore) => {
            return Ok(AuthorizeOutcome::ErrorPage(explain_untrusted(params, row.as_ref())));
        }
        Err(authorization::Error::Redirect(mut url)) => {
            if let Some(refusal) = endpoint.pkce.error {
                url.description().set_type(AuthorizationErrorType::InvalidRequest);
                url.description().explain(refusal.to_string());
            } else if url.description().kind() == AuthorizationErrorType::InvalidScope {
                url.description().explain(scope::UnknownScopes.to_string());
            }
            return Ok(AuthorizeOutcome::Redirect(error_redirect(url)));
        }
        Err(authorization::Error::PrimitiveError) => {
            return Err(StoreError::Invariant("authorization failed".into()));
        }
    };
    let pre_grant = pending.pre_grant().clone();
    let Some(decision) = decision else {
        return Ok(AuthorizeOutcome::Pending(ConsentRequest {
            client_id: pre_grant.client_id,
            client_name: row.map(|r| r.name).unwrap_or_default(),
            scope: scope::canonical(&pre_grant.scope.to_string()),
            redirect_uri: pre_grant.redirect_uri.as_str().to_owned(),
        }));
    };
    let session =
        session.ok_or_else(|| StoreError::Invariant("decision without a session".into()))?;
    match decision {
        ConsentDecision::Deny => deny(env, session, &pre_grant, pending),
        ConsentDecision::Allow => {
            match pending.authorize(&mut endpoint, Cow::Borrowed(session.admin_id.as_str())) {
                Ok(url) => Ok(AuthorizeOutcome::Redirect(url.to_string())),
                Err(_) => Err(endpoint.authorizer.failure.take().unwrap_or_else(|| {
                    StoreError::Invariant("could not issue an authorization code".into())
                })),
            }
        }
    }
}

/// The redirect carrying an authorization error, with RFC 6749 §4.1.2.1's parameter names:
/// oxide-auth appends `error`, then `description` and `uri`; those after the last `error` are
/// renamed `error_description` and `error_uri` (the client's own query is left as it is).
fn error_redirect(error: ErrorUrl) -> String {
    let mut url: url::Url = error.into();
    let pairs: Vec<(String, String)> =
        url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let Some(start) = pairs.iter().rposition(|(k, _)| k == "error") else {
        return url.to_string();
    };
    let renamed = pairs.into_iter().enumerate().map(|(i, (k, v))| {
        let k = match k.as_str() {
            "description" if i > start => "error_description".to_owned(),
            "uri" if i > start => "error_uri".to_owned(),
            _ => k,
        };
        (k, v)
    });
    url.query_pairs_mut().clear().extend_pairs(renamed);
    url.to_string()
}

/// Why a request whose client or redirect URI cannot be trusted is answered with a page.
fn explain_untrusted(params: &Params, row: Option<&ClientRow>) -> String {
    if let Some(key) = params.repeated() {
        return format!("The parameter '{key}' appears more than once.");
    }
    match (row, params.get("client_id")) {
        (_, None) => "The request has no client_id.".into(),
        (None, Some(_)) => "The client_id is not registered with this server.".into(),
        (Some(r), Some(_)) => match params.get("redirect_uri") {
            Some(_) => "The redirect_uri is not registered for this client.".into(),
            None if clients::redirect_uris(r).len() > 1 => {
                "The request has no redirect_uri, and the client has several registered.".into()
            }
            None => "The redirect_uri is invalid.".into(),
        },
    }
}

/// Audits the denial and sends the browser back with `access_denied`.
fn deny(
    env: &OAuthEnv<'_>,
    session: &TenantAdminSession,
    pre_grant: &PreGrant,
    pending: Pending,
) -> Result<AuthorizeOutcome, StoreError> {
    let now = env.clock.now();
    env.db.write(|conn| {
        let event = Event::new(Kind::ConsentDenied, &session.actor())
            .tenant(session.tenant_id.clone())
            .client(pre_grant.client_id.clone())
            .ip(env.ip.clone())
            .detail("scope", pre_grant.scope.to_string());
        audit::record(conn, env.db.audit_counts(), now, event).map_err(StoreError::from)
    })?;
    match pending.deny() {
        Err(authorization::Error::Redirect(mut url)) => {
            url.description().explain("the administrator denied access");
            Ok(AuthorizeOutcome::Redirect(error_redirect(url)))
        }
        _ => Err(StoreError::Invariant("denial without a redirect".into())),
    }
}

/// Records the admin's consent as a grant with its authorization code, and audits both; returns
/// the code for the redirect.
pub(super) fn record_consent(
    env: &OAuthEnv<'_>,
    session: &TenantAdminSession,
    grant: &Grant,
) -> Result<String, StoreError> {
    let code = secret::generate(secret::CODE_PREFIX);
    let pkce = grant
        .extensions
        .private()
        .find(|(key, _)| *key == "pkce")
        .and_then(|(_, v)| v.map(str::to_owned));
    let now = env.clock.now();
    let ttl = env.settings.auth_code_ttl_ms();
    let grant_row = GrantRow {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: session.tenant_id.clone(),
        admin_id: Some(session.admin_id.clone()),
        client_id: grant.client_id.clone(),
        scope: scope::canonical(&grant.scope.to_string()),
        created_at: now,
        revoked_at: None,
        revoked_reason: None,
    };
    let code_row = CodeRow {
        code_hash: secret::sha256_hex(&code),
        grant_id: grant_row.id.clone(),
        redirect_uri: grant.redirect_uri.to_string(),
        pkce,
        created_at: now,
        expires_at: now + ttl,
        used_at: None,
    };
    env.db.write(|conn| {
        repo::insert_grant(conn, &grant_row)?;
        repo::insert_code(conn, &code_row)?;
        let connection = Connection::Grant {
            id: &grant_row.id,
            client_id: &grant_row.client_id,
            scope: &grant_row.scope,
        };
        outbox::connection_changed(conn, &grant_row.tenant_id, now, connection, None)?;
        let event = |kind| {
            Event::new(kind, &session.actor())
                .tenant(grant_row.tenant_id.clone())
                .client(grant_row.client_id.clone())
                .grant(grant_row.id.clone())
                .ip(env.ip.clone())
        };
        let consent = event(Kind::ConsentGranted).detail("scope", grant_row.scope.clone());
        audit::record(conn, env.db.audit_counts(), now, consent)?;
        let issued = event(Kind::CodeIssued)
            .detail("pkce", code_row.pkce.is_some())
            .detail("redirect_uri", code_row.redirect_uri.clone());
        audit::record(conn, env.db.audit_counts(), now, issued)?;
        Ok::<_, StoreError>(())
    })?;
    Ok(code)
}
