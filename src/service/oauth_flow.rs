//! The OAuth2 endpoints' use cases. oxide-auth's code-grant state machines are the protocol engine
//! (parameter validation, redirect-URI binding, scope negotiation, code/client/redirect binding);
//! our Registrar, Authorizer and Issuer put it on the shared database. Its known gaps are closed
//! at its extension points rather than in a fork:
//! - refresh reads client credentials only from HTTP Basic → our refresh `Request` also offers the
//!   body's `client_id`/`client_secret` as the credentials;
//! - refresh-token expiry tied to the access token's → `recover_refresh` returns a grant that
//!   lives as long as the *refresh token* does (idle/absolute policy), checked on our clock;
//! - no reuse detection → refresh families with rotation rules (`oauth::refresh`);
//! - its actix actor serialises all OAuth work → no actor: each request runs the state machine
//!   on a blocking thread with its own connection, so requests proceed in parallel.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use chrono::Utc;
use oxide_auth::code_grant::accesstoken::{self, Authorization as ClientAuth};
use oxide_auth::code_grant::authorization;
use oxide_auth::code_grant::error::AccessTokenErrorType;
use oxide_auth::code_grant::refresh;
use oxide_auth::primitives::authorizer::Authorizer;
use oxide_auth::primitives::grant::{Extensions, Grant, Value};
use oxide_auth::primitives::issuer::{IssuedToken, Issuer, RefreshedToken, TokenType};
use oxide_auth::primitives::registrar::{
    BoundClient, ClientUrl, ExactUrl, PreGrant, RegisteredUrl, Registrar, RegistrarError,
};
use oxide_auth::primitives::scope::Scope;
use serde::Serialize;

use super::clients;
use super::keys::signing_key;
use super::login::Session;
use crate::audit::{self, Event, Kind};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::repo::oauth;
use crate::db::rows::{ClientRow, CodeRow, GrantRow, RefreshTokenRow, TenantRow};
use crate::db::{Database, DbConnection, StoreError};
use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::oauth::jwt::{self, AccessClaims};
use crate::oauth::refresh::{self as rules, Decision, RefreshPolicy, TokenState};
use crate::oauth::{keys as crypto, pkce, scope, secret};

/// What every OAuth use case runs against.
pub struct OAuthEnv<'a> {
    pub db: &'a Database,
    pub clock: &'a dyn Clock,
    pub settings: &'a Settings,
    /// Our issuer identifier: the public origin, e.g. `https://scim.example.com`.
    pub issuer: &'a str,
    pub ip: Option<String>,
}

impl OAuthEnv<'_> {
    /// The `aud` of every access token: the SCIM base URL.
    pub fn audience(&self) -> String {
        audience_for(self.issuer)
    }

    pub fn refresh_policy(&self) -> RefreshPolicy {
        policy(self.settings)
    }

    fn access_ttl_secs(&self) -> i64 {
        i64::try_from(self.settings.access_token_ttl_secs).unwrap_or(3600)
    }
}

pub fn audience_for(issuer: &str) -> String {
    format!("{issuer}/scim/v2")
}

pub fn policy(settings: &Settings) -> RefreshPolicy {
    let ms = |secs: u64| i64::try_from(secs).unwrap_or(i64::MAX / 1000).saturating_mul(1000);
    RefreshPolicy {
        idle_ttl: ms(settings.refresh_idle_ttl_secs),
        absolute_ttl: settings.refresh_absolute_ttl_secs.map(ms),
    }
}

/// Request parameters (query string or form body). RFC 6749 §3.1/§3.2: a parameter sent twice
/// makes the request invalid.
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: HashMap<String, String>,
    repeated: Option<String>,
}

impl Params {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        let mut params = Params::default();
        for (key, value) in pairs {
            match params.map.entry(key) {
                std::collections::hash_map::Entry::Occupied(seen) => {
                    params.repeated.get_or_insert_with(|| seen.key().clone());
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
            }
        }
        params
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn repeated(&self) -> Option<&str> {
        self.repeated.as_deref()
    }

    fn cow(&self, key: &str) -> Option<Cow<'_, str>> {
        self.get(key).map(Cow::Borrowed)
    }
}

/// What the refresh rules need to know about a stored token.
pub fn token_state(row: &RefreshTokenRow, grant: &GrantRow, tenant: &TenantRow) -> TokenState {
    TokenState {
        created_at: row.created_at,
        used_at: row.used_at,
        retired_at: row.retired_at,
        grant_created_at: grant.created_at,
        grant_revoked: grant.revoked_at.is_some(),
        tenant_disabled: tenant.disabled,
    }
}

/// A chrono instant `millis` from now, for the `until` fields oxide-auth checks against the
/// system clock. Our own checks use the injected clock; this keeps both views consistent.
fn until_in(millis: i64) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::milliseconds(millis.max(1))
}

// ---------------------------------------------------------------------------------------------
// Registrar: one client, loaded before the state machine runs (and, at the token endpoint,
// already authenticated with argon2 outside the transaction).

struct KnownClient {
    row: Option<ClientRow>,
    authenticated: Option<(String, String)>,
}

impl Registrar for KnownClient {
    fn bound_redirect<'a>(&self, bound: ClientUrl<'a>) -> Result<BoundClient<'a>, RegistrarError> {
        let row = self
            .row
            .as_ref()
            .filter(|r| r.id == bound.client_id)
            .ok_or(RegistrarError::Unspecified)?;
        let registered = clients::redirect_uris(row);
        let chosen = match &bound.redirect_uri {
            Some(uri) => registered.iter().find(|r| r.as_str() == uri.as_str()),
            None if registered.len() == 1 => registered.first(),
            None => None,
        }
        .ok_or(RegistrarError::Unspecified)?;
        let exact = ExactUrl::new(chosen.clone()).map_err(|_| RegistrarError::Unspecified)?;
        Ok(BoundClient {
            client_id: bound.client_id,
            redirect_uri: Cow::Owned(RegisteredUrl::Exact(exact)),
        })
    }

    fn negotiate(
        &self,
        bound: BoundClient,
        requested: Option<Scope>,
    ) -> Result<PreGrant, RegistrarError> {
        let requested = requested.map(|s| s.to_string());
        let granted = scope::negotiate(requested.as_deref());
        Ok(PreGrant {
            client_id: bound.client_id.into_owned(),
            redirect_uri: bound.redirect_uri.into_owned(),
            scope: granted.parse().map_err(|_| RegistrarError::PrimitiveError)?,
        })
    }

    fn check(&self, client_id: &str, passphrase: Option<&[u8]>) -> Result<(), RegistrarError> {
        match (&self.authenticated, passphrase) {
            (Some((id, secret_text)), Some(pass))
                if id == client_id
                    && secret::equal(secret_text, &String::from_utf8_lossy(pass)) =>
            {
                Ok(())
            }
            _ => Err(RegistrarError::Unspecified),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GET/POST /oauth/authorize

struct AuthorizeRequest<'p>(&'p Params);

impl authorization::Request for AuthorizeRequest<'_> {
    fn valid(&self) -> bool {
        self.0.repeated().is_none()
    }
    fn client_id(&self) -> Option<Cow<'_, str>> {
        self.0.cow("client_id")
    }
    fn scope(&self) -> Option<Cow<'_, str>> {
        self.0.cow("scope")
    }
    fn redirect_uri(&self) -> Option<Cow<'_, str>> {
        self.0.cow("redirect_uri")
    }
    fn state(&self) -> Option<Cow<'_, str>> {
        self.0.cow("state")
    }
    fn response_type(&self) -> Option<Cow<'_, str>> {
        self.0.cow("response_type")
    }
    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        self.0.cow(key)
    }
}

/// Records the consent as a grant and issues its code (oxide-auth's `Authorizer`).
struct ConsentRecorder<'e> {
    env: &'e OAuthEnv<'e>,
    session: Option<&'e Session>,
    failure: Option<StoreError>,
}

impl ConsentRecorder<'_> {
    fn record(&mut self, grant: &Grant) -> Result<String, StoreError> {
        let session =
            self.session.ok_or_else(|| StoreError::Corrupt("consent without a session".into()))?;
        let code = secret::generate(secret::CODE_PREFIX);
        let pkce = grant
            .extensions
            .private()
            .find(|(key, _)| *key == "pkce")
            .and_then(|(_, v)| v.map(str::to_owned));
        let now = self.env.clock.now();
        let ttl = i64::try_from(self.env.settings.auth_code_ttl_secs).unwrap_or(60) * 1000;
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
        let ip = self.env.ip.clone();
        self.env.db.write(|conn| {
            oauth::insert_grant(conn, &grant_row)?;
            oauth::insert_code(
                conn,
                &CodeRow {
                    code_hash: secret::sha256_hex(&code),
                    grant_id: grant_row.id.clone(),
                    redirect_uri: grant.redirect_uri.to_string(),
                    pkce: pkce.clone(),
                    created_at: now,
                    expires_at: now + ttl,
                    used_at: None,
                },
            )?;
            let actor = format!("admin:{}", session.admin_id);
            let consent = Event::new(Kind::ConsentGranted, actor.clone())
                .tenant(grant_row.tenant_id.clone())
                .client(grant_row.client_id.clone())
                .grant(grant_row.id.clone())
                .ip(ip.clone())
                .detail("scope", grant_row.scope.clone());
            audit::record(conn, now, consent)?;
            let issued = Event::new(Kind::CodeIssued, actor)
                .tenant(grant_row.tenant_id.clone())
                .client(grant_row.client_id.clone())
                .grant(grant_row.id.clone())
                .ip(ip)
                .detail("pkce", pkce.is_some())
                .detail("redirect_uri", grant.redirect_uri.to_string());
            audit::record(conn, now, issued)?;
            Ok::<_, StoreError>(())
        })?;
        Ok(code)
    }
}

impl Authorizer for ConsentRecorder<'_> {
    fn authorize(&mut self, grant: Grant) -> Result<String, ()> {
        self.record(&grant).map_err(|e| {
            self.failure = Some(e);
        })
    }
    fn extract(&mut self, _: &str) -> Result<Option<Grant>, ()> {
        Err(())
    }
}

/// PKCE at /authorize: S256 only, required when the client says so.
struct PkceChallenge {
    require: bool,
    error: Option<&'static str>,
}

impl authorization::Extension for PkceChallenge {
    fn extend(&mut self, request: &dyn authorization::Request) -> Result<Extensions, ()> {
        let method = request.extension("code_challenge_method");
        let challenge = request.extension("code_challenge");
        match pkce::challenge(self.require, method.as_deref(), challenge.as_deref()) {
            Ok(stored) => {
                let mut extensions = Extensions::new();
                if let Some(stored) = stored {
                    extensions.set_raw("pkce".into(), Value::private(Some(stored)));
                }
                Ok(extensions)
            }
            Err(message) => {
                self.error = Some(message);
                Err(())
            }
        }
    }
}

struct AuthorizeEndpoint<'e> {
    registrar: KnownClient,
    authorizer: ConsentRecorder<'e>,
    pkce: PkceChallenge,
}

impl authorization::Endpoint for AuthorizeEndpoint<'_> {
    fn registrar(&self) -> &dyn Registrar {
        &self.registrar
    }
    fn authorizer(&mut self) -> &mut dyn Authorizer {
        &mut self.authorizer
    }
    fn extension(&mut self) -> &mut dyn authorization::Extension {
        &mut self.pkce
    }
}

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
    session: Option<&Session>,
    decision: Option<ConsentDecision>,
) -> Result<AuthorizeOutcome, StoreError> {
    let row = match params.get("client_id") {
        Some(id) => oauth::find_client(&mut *env.db.conn()?, id)?,
        None => None,
    };
    let require_pkce = row.as_ref().is_some_and(|r| r.require_pkce);
    let explain_untrusted = || -> String {
        if let Some(key) = params.repeated() {
            return format!("The parameter '{key}' appears more than once.");
        }
        match (&row, params.get("client_id")) {
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
    };
    let mut endpoint = AuthorizeEndpoint {
        registrar: KnownClient { row: row.clone(), authenticated: None },
        authorizer: ConsentRecorder { env, session, failure: None },
        pkce: PkceChallenge { require: require_pkce, error: None },
    };
    let request = AuthorizeRequest(params);
    let pending = match authorization::authorization_code(&mut endpoint, &request) {
        Ok(pending) => pending,
        Err(authorization::Error::Ignore) => {
            return Ok(AuthorizeOutcome::ErrorPage(explain_untrusted()));
        }
        Err(authorization::Error::Redirect(mut url)) => {
            if let Some(message) = endpoint.pkce.error {
                url.description().set_type(
                    oxide_auth::code_grant::error::AuthorizationErrorType::InvalidRequest,
                );
                url.description().explain(message);
            }
            let url: url::Url = url.into();
            return Ok(AuthorizeOutcome::Redirect(url.to_string()));
        }
        Err(authorization::Error::PrimitiveError) => {
            return Err(StoreError::Corrupt("authorization failed".into()));
        }
    };
    let pre_grant = pending.pre_grant().clone();
    let client_name = row.as_ref().map(|r| r.name.clone()).unwrap_or_default();
    let Some(decision) = decision else {
        return Ok(AuthorizeOutcome::Pending(ConsentRequest {
            client_id: pre_grant.client_id,
            client_name,
            scope: scope::canonical(&pre_grant.scope.to_string()),
            redirect_uri: pre_grant.redirect_uri.as_str().to_owned(),
        }));
    };
    let session =
        session.ok_or_else(|| StoreError::Corrupt("decision without a session".into()))?;
    match decision {
        ConsentDecision::Deny => {
            let now = env.clock.now();
            env.db.write(|conn| {
                let event = Event::new(Kind::ConsentDenied, format!("admin:{}", session.admin_id))
                    .tenant(session.tenant_id.clone())
                    .client(pre_grant.client_id.clone())
                    .ip(env.ip.clone())
                    .detail("scope", pre_grant.scope.to_string());
                audit::record(conn, now, event).map_err(StoreError::from)
            })?;
            match pending.deny() {
                Err(authorization::Error::Redirect(mut url)) => {
                    url.description().explain("the administrator denied access");
                    let url: url::Url = url.into();
                    Ok(AuthorizeOutcome::Redirect(url.to_string()))
                }
                _ => Err(StoreError::Corrupt("denial without a redirect".into())),
            }
        }
        ConsentDecision::Allow => {
            match pending.authorize(&mut endpoint, Cow::Borrowed(session.admin_id.as_str())) {
                Ok(url) => Ok(AuthorizeOutcome::Redirect(url.to_string())),
                Err(_) => Err(endpoint.authorizer.failure.take().unwrap_or_else(|| {
                    StoreError::Corrupt("could not issue an authorization code".into())
                })),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// POST /oauth/token

/// How the client authenticated (RFC 6749 §2.3.1); exactly one method per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Basic,
    Post,
}

#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub method: AuthMethod,
}

/// Picks the client's credentials from the Basic header or the body, refusing both at once.
pub fn client_credentials(
    basic: Option<(String, String)>,
    params: &Params,
) -> Result<ClientCredentials, OAuthError> {
    let body = (params.get("client_id"), params.get("client_secret"));
    match (basic, body) {
        (Some(_), (_, Some(_))) => Err(OAuthError::invalid_request(
            "use one client authentication method: HTTP Basic or client_secret in the body, not both",
        )),
        (Some((client_id, client_secret)), (body_id, None)) => {
            if body_id.is_some_and(|id| id != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the Basic credentials",
                ));
            }
            Ok(ClientCredentials { client_id, client_secret, method: AuthMethod::Basic })
        }
        (None, (Some(id), Some(secret_text))) => Ok(ClientCredentials {
            client_id: id.to_owned(),
            client_secret: secret_text.to_owned(),
            method: AuthMethod::Post,
        }),
        (None, _) => Err(OAuthError::invalid_client(
            "client authentication required: HTTP Basic (client_secret_basic) or client_id and client_secret in the body (client_secret_post)",
        )),
    }
}

/// Authenticates the client (argon2id, slow on purpose, outside any transaction).
pub fn authenticate_client(
    env: &OAuthEnv<'_>,
    creds: &ClientCredentials,
) -> Result<Result<ClientRow, OAuthError>, StoreError> {
    if let Some(row) = clients::authenticate(env.db, &creds.client_id, &creds.client_secret)? {
        return Ok(Ok(row));
    }
    let now = env.clock.now();
    let event = Event::new(Kind::ClientAuthFailed, "anonymous")
        .client(creds.client_id.clone())
        .ip(env.ip.clone())
        .detail(
            "method",
            if creds.method == AuthMethod::Basic {
                "client_secret_basic"
            } else {
                "client_secret_post"
            },
        );
    env.db.write(|conn| audit::record(conn, now, event).map_err(StoreError::from))?;
    Ok(Err(OAuthError::invalid_client(
        "client authentication failed: unknown client or wrong secret",
    )))
}

/// RFC 6749 §5.1.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
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
    fn describe(&self, event: Event) -> Event {
        event
            .detail("jti", self.jti.clone())
            .detail("access_expires_at", self.expires_at)
            .detail("new_refresh_token_id", self.refresh_token_id.clone())
    }
}

enum Failure {
    Protocol(OAuthError),
    Store(StoreError),
}

impl From<diesel::result::Error> for Failure {
    fn from(e: diesel::result::Error) -> Self {
        Failure::Store(StoreError::Query(e))
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// Our storage behind oxide-auth's `Authorizer` (code redemption), `Issuer` (tokens) and the
/// token endpoint's PKCE `Extension`, all inside one transaction.
struct TokenStore<'c, 'e> {
    conn: RefCell<&'c mut DbConnection>,
    env: &'e OAuthEnv<'e>,
    client: &'e ClientRow,
    now: i64,
    failure: RefCell<Option<Failure>>,
    response: Option<TokenResponse>,
    pkce_stored: Option<String>,
    presented: RefCell<Option<(RefreshTokenRow, bool)>>,
}

impl TokenStore<'_, '_> {
    fn fail(&self, failure: Failure) {
        let mut slot = self.failure.borrow_mut();
        if slot.is_none() {
            *slot = Some(failure);
        }
    }

    fn record(&mut self, event: Event) -> Result<(), Failure> {
        audit::record(self.conn.get_mut(), self.now, event)?;
        Ok(())
    }

    fn protocol(&self, error: OAuthError) {
        self.fail(Failure::Protocol(error));
    }

    fn event(&self, kind: Kind, grant: &GrantRow) -> Event {
        Event::new(kind, format!("client:{}", self.client.id))
            .tenant(grant.tenant_id.clone())
            .client(grant.client_id.clone())
            .grant(grant.id.clone())
            .ip(self.env.ip.clone())
    }

    /// A new refresh token (child of `parent`) and a signed access token for `scope`.
    fn mint(
        &mut self,
        grant: &GrantRow,
        scope_text: &str,
        parent: Option<&str>,
    ) -> Result<TokenResponse, Failure> {
        let conn: &mut DbConnection = self.conn.get_mut();
        let refresh_token = secret::generate(secret::REFRESH_PREFIX);
        let refresh_token_id = uuid::Uuid::now_v7().to_string();
        oauth::insert_refresh(
            conn,
            &RefreshTokenRow {
                id: refresh_token_id.clone(),
                token_hash: secret::sha256_hex(&refresh_token),
                grant_id: grant.id.clone(),
                parent_id: parent.map(str::to_owned),
                created_at: self.now,
                used_at: None,
                retired_at: None,
            },
        )?;
        let key = signing_key(conn)?;
        let encoding = crypto::encoding_key(&key.private_key).map_err(StoreError::Corrupt)?;
        let ttl = self.env.access_ttl_secs();
        let iat = self.now.div_euclid(1000);
        let claims = AccessClaims {
            iss: self.env.issuer.to_owned(),
            sub: grant.admin_id.clone().unwrap_or_else(|| format!("grant:{}", grant.id)),
            aud: self.env.audience(),
            exp: iat + ttl,
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
            client_id: grant.client_id.clone(),
            scope: scope_text.to_owned(),
            tenant: grant.tenant_id.clone(),
            grant: grant.id.clone(),
        };
        let access_token = jwt::sign(&claims, &key.kid, &encoding).map_err(StoreError::Corrupt)?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            refresh_token,
            scope: scope_text.to_owned(),
            minted: Minted { jti: claims.jti, expires_at: claims.exp * 1000, refresh_token_id },
        })
    }

    fn find_grant(&mut self, id: &str) -> Result<GrantRow, Failure> {
        let conn: &mut DbConnection = self.conn.get_mut();
        Ok(oauth::find_grant(conn, id)?
            .ok_or_else(|| StoreError::Corrupt(format!("grant {id} vanished")))?
            .0)
    }

    fn redeem(&mut self, code: &str) -> Result<Option<Grant>, Failure> {
        let now = self.now;
        let conn: &mut DbConnection = self.conn.get_mut();
        let Some(row) = oauth::find_code(conn, &secret::sha256_hex(code))? else {
            return Err(Failure::Protocol(OAuthError::invalid_grant(
                "the authorization code is not recognised",
            )));
        };
        let Some((grant, tenant)) = oauth::find_grant(conn, &row.grant_id)? else {
            return Err(Failure::Protocol(OAuthError::invalid_grant(
                "the authorization code is not recognised",
            )));
        };
        if grant.client_id != self.client.id {
            return Err(Failure::Protocol(OAuthError::invalid_grant(
                "the authorization code was issued to another client",
            )));
        }
        if row.used_at.is_some()
            || (row.expires_at > now && oauth::use_code(conn, &row.code_hash, now)? == 0)
        {
            // RFC 6749 §4.1.2: a code used twice revokes every token issued from it.
            let newly =
                oauth::revoke_grant(conn, &grant.id, now, "authorization code reused")? == 1;
            self.record(self.event(Kind::CodeReused, &grant))?;
            if newly {
                self.record(
                    self.event(Kind::GrantRevoked, &grant)
                        .detail("reason", "authorization code reused"),
                )?;
            }
            return Err(Failure::Protocol(OAuthError::invalid_grant(
                "the authorization code has already been used; every token issued from it is revoked",
            )));
        }
        if row.expires_at <= now {
            self.record(self.event(Kind::CodeRejected, &grant).detail("reason", "expired"))?;
            return Err(Failure::Protocol(OAuthError::invalid_grant(
                "the authorization code has expired",
            )));
        }
        if grant.revoked_at.is_some() || tenant.disabled {
            return Err(Failure::Protocol(OAuthError::invalid_grant(
                "the grant has been revoked or its tenant disabled",
            )));
        }
        self.record(self.event(Kind::CodeRedeemed, &grant))?;
        self.pkce_stored = row.pkce.clone();
        let redirect_uri =
            url::Url::parse(&row.redirect_uri).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Some(Grant {
            owner_id: grant.id.clone(),
            client_id: grant.client_id.clone(),
            scope: grant.scope.parse().map_err(|_| StoreError::Corrupt("stored scope".into()))?,
            redirect_uri,
            until: until_in(row.expires_at - now),
            extensions: Extensions::new(),
        }))
    }

    fn recover(&self, token: &str) -> Result<Option<Grant>, Failure> {
        let now = self.now;
        let mut conn = self.conn.borrow_mut();
        let conn: &mut DbConnection = &mut conn;
        let Some(found) = oauth::find_refresh(conn, &secret::sha256_hex(token))? else {
            return Err(Failure::Protocol(OAuthError::invalid_grant(
                "the refresh token is not recognised",
            )));
        };
        // Serialise refreshes of this family across requests and nodes, then re-read its state.
        oauth::lock_grant(conn, &found.grant_id)?;
        let row = oauth::find_refresh_by_id(conn, &found.id)?
            .ok_or_else(|| StoreError::Corrupt("refresh token vanished".into()))?;
        let (grant, tenant) = oauth::find_grant(conn, &row.grant_id)?
            .ok_or_else(|| StoreError::Corrupt("grant vanished".into()))?;
        if grant.client_id != self.client.id {
            return Err(Failure::Protocol(OAuthError::invalid_grant(
                "the refresh token was issued to another client",
            )));
        }
        let policy = self.env.refresh_policy();
        let decision = rules::decide(policy, token_state(&row, &grant, &tenant), now);
        match decision {
            Decision::Rotate { retry } => {
                let expires = rules::expires_at(policy, row.created_at, grant.created_at);
                let scope_parsed =
                    grant.scope.parse().map_err(|_| StoreError::Corrupt("stored scope".into()))?;
                let redirect_uri = url::Url::parse(self.env.issuer)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                *self.presented.borrow_mut() = Some((row, retry));
                Ok(Some(Grant {
                    owner_id: grant.id,
                    client_id: grant.client_id,
                    scope: scope_parsed,
                    redirect_uri,
                    until: until_in(expires - now),
                    extensions: Extensions::new(),
                }))
            }
            Decision::Reuse => {
                let newly =
                    oauth::revoke_grant(conn, &grant.id, now, "refresh token reuse detected")? == 1;
                let event = self
                    .event(Kind::RefreshReuseDetected, &grant)
                    .detail("refresh_token_id", row.id.clone());
                audit::record(conn, now, event)?;
                if newly {
                    let event = self
                        .event(Kind::GrantRevoked, &grant)
                        .detail("reason", "refresh token reuse detected");
                    audit::record(conn, now, event)?;
                }
                Err(Failure::Protocol(OAuthError::invalid_grant(decision.description())))
            }
            other => {
                let event = self
                    .event(Kind::RefreshRejected, &grant)
                    .detail("refresh_token_id", row.id.clone())
                    .detail("reason", other.description());
                audit::record(conn, now, event)?;
                Err(Failure::Protocol(OAuthError::invalid_grant(other.description())))
            }
        }
    }

    fn rotate(&mut self, grant: &Grant) -> Result<TokenResponse, Failure> {
        let now = self.now;
        let (presented, retry) = self
            .presented
            .borrow_mut()
            .take()
            .ok_or_else(|| StoreError::Corrupt("refresh without a recovered token".into()))?;
        let grant_row = self.find_grant(&grant.owner_id)?;
        let conn: &mut DbConnection = self.conn.get_mut();
        oauth::mark_refresh_used(conn, &presented.id, now)?;
        let retired = oauth::retire_family_except(conn, &grant_row.id, &presented.id, now)?;
        let response = self.mint(
            &grant_row,
            &scope::canonical(&grant.scope.to_string()),
            Some(&presented.id),
        )?;
        let kind = if retry { Kind::RefreshRetried } else { Kind::TokenRefreshed };
        let event = response.minted.describe(
            self.event(kind, &grant_row)
                .detail("refresh_token_id", presented.id.clone())
                .detail("retired", retired),
        );
        self.record(event)?;
        Ok(response)
    }
}

impl Authorizer for TokenStore<'_, '_> {
    fn authorize(&mut self, _: Grant) -> Result<String, ()> {
        Err(())
    }
    fn extract(&mut self, code: &str) -> Result<Option<Grant>, ()> {
        match self.redeem(code) {
            Ok(grant) => Ok(grant),
            Err(failure) => {
                let store_failure = matches!(failure, Failure::Store(_));
                self.fail(failure);
                if store_failure { Err(()) } else { Ok(None) }
            }
        }
    }
}

impl Issuer for TokenStore<'_, '_> {
    fn issue(&mut self, grant: Grant) -> Result<IssuedToken, ()> {
        let result = self.find_grant(&grant.owner_id).and_then(|row| {
            let response = self.mint(&row, &scope::canonical(&grant.scope.to_string()), None)?;
            self.record(response.minted.describe(
                self.event(Kind::TokenIssued, &row).detail("scope", response.scope.clone()),
            ))?;
            Ok(response)
        });
        match result {
            Ok(response) => {
                let issued = IssuedToken {
                    token: response.access_token.clone(),
                    refresh: Some(response.refresh_token.clone()),
                    until: until_in(response.expires_in * 1000),
                    token_type: TokenType::Bearer,
                };
                self.response = Some(response);
                Ok(issued)
            }
            Err(failure) => {
                self.fail(failure);
                Err(())
            }
        }
    }

    fn refresh(&mut self, _token: &str, grant: Grant) -> Result<RefreshedToken, ()> {
        match self.rotate(&grant) {
            Ok(response) => {
                let refreshed = RefreshedToken {
                    token: response.access_token.clone(),
                    refresh: Some(response.refresh_token.clone()),
                    until: until_in(response.expires_in * 1000),
                    token_type: TokenType::Bearer,
                };
                self.response = Some(response);
                Ok(refreshed)
            }
            Err(failure) => {
                self.fail(failure);
                Err(())
            }
        }
    }

    fn recover_token(&self, _: &str) -> Result<Option<Grant>, ()> {
        // Access tokens are JWTs verified locally; oxide-auth's resource flow is not used.
        Ok(None)
    }

    fn recover_refresh(&self, token: &str) -> Result<Option<Grant>, ()> {
        match self.recover(token) {
            Ok(grant) => Ok(grant),
            Err(failure) => {
                let store_failure = matches!(failure, Failure::Store(_));
                self.fail(failure);
                if store_failure { Err(()) } else { Ok(None) }
            }
        }
    }
}

impl accesstoken::Extension for TokenStore<'_, '_> {
    fn extend(
        &mut self,
        request: &dyn accesstoken::Request,
        _: Extensions,
    ) -> Result<Extensions, ()> {
        let verifier = request.extension("code_verifier");
        match pkce::verify(self.pkce_stored.as_deref(), verifier.as_deref()) {
            Ok(()) => Ok(Extensions::new()),
            Err(message) => {
                self.protocol(OAuthError::invalid_grant(message));
                Err(())
            }
        }
    }
}

struct TokenEndpoint<'c, 'e> {
    registrar: KnownClient,
    store: TokenStore<'c, 'e>,
}

impl accesstoken::Endpoint for TokenEndpoint<'_, '_> {
    fn registrar(&self) -> &dyn Registrar {
        &self.registrar
    }
    fn authorizer(&mut self) -> &mut dyn Authorizer {
        &mut self.store
    }
    fn issuer(&mut self) -> &mut dyn Issuer {
        &mut self.store
    }
    fn extension(&mut self) -> &mut dyn accesstoken::Extension {
        &mut self.store
    }
}

impl refresh::Endpoint for TokenEndpoint<'_, '_> {
    fn registrar(&self) -> &dyn Registrar {
        &self.registrar
    }
    fn issuer(&mut self) -> &mut dyn Issuer {
        &mut self.store
    }
}

/// The token request as oxide-auth reads it. Credentials are always offered as a (client, secret)
/// pair whichever way they came, which is how body credentials reach the refresh flow.
struct TokenRequest<'p> {
    params: &'p Params,
    creds: &'p ClientCredentials,
}

impl accesstoken::Request for TokenRequest<'_> {
    fn valid(&self) -> bool {
        self.params.repeated().is_none()
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        self.params.cow("code")
    }
    fn authorization(&self) -> ClientAuth<'_> {
        ClientAuth::UsernamePassword(
            Cow::Borrowed(self.creds.client_id.as_str()),
            Cow::Borrowed(self.creds.client_secret.as_bytes()),
        )
    }
    fn client_id(&self) -> Option<Cow<'_, str>> {
        None
    }
    fn redirect_uri(&self) -> Option<Cow<'_, str>> {
        self.params.cow("redirect_uri")
    }
    fn grant_type(&self) -> Option<Cow<'_, str>> {
        self.params.cow("grant_type")
    }
    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        self.params.cow(key)
    }
}

impl refresh::Request for TokenRequest<'_> {
    fn valid(&self) -> bool {
        self.params.repeated().is_none()
    }
    fn refresh_token(&self) -> Option<Cow<'_, str>> {
        self.params.cow("refresh_token")
    }
    /// Only our scopes can narrow a refresh; others (Okta may repeat `offline_access`) are
    /// ignored rather than failing the refresh with `invalid_scope`.
    fn scope(&self) -> Option<Cow<'_, str>> {
        self.params.get("scope").map(scope::canonical).filter(|s| !s.is_empty()).map(Cow::Owned)
    }
    fn grant_type(&self) -> Option<Cow<'_, str>> {
        self.params.cow("grant_type")
    }
    fn authorization(&self) -> Option<(Cow<'_, str>, Cow<'_, [u8]>)> {
        Some((
            Cow::Borrowed(self.creds.client_id.as_str()),
            Cow::Borrowed(self.creds.client_secret.as_bytes()),
        ))
    }
    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        self.params.cow(key)
    }
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

fn generic_description(code: OAuthErrorCode) -> &'static str {
    match code {
        OAuthErrorCode::InvalidRequest => {
            "the request is missing a required parameter or repeats one"
        }
        OAuthErrorCode::InvalidGrant => {
            "the grant is invalid, or was issued for another client or redirect_uri"
        }
        OAuthErrorCode::InvalidScope => "the requested scope exceeds the scope originally granted",
        OAuthErrorCode::UnsupportedGrantType => {
            "grant_type must be authorization_code or refresh_token"
        }
        OAuthErrorCode::InvalidClient => "client authentication failed",
        _ => "the request was refused",
    }
}

/// The token endpoint for an authenticated client. Protocol failures commit what they wrote
/// (a revoked grant, the audit event); storage failures roll everything back.
pub fn token(
    env: &OAuthEnv<'_>,
    params: &Params,
    creds: &ClientCredentials,
    client: &ClientRow,
) -> Result<Result<TokenResponse, OAuthError>, StoreError> {
    if let Some(key) = params.repeated() {
        return Ok(Err(OAuthError::invalid_request(format!(
            "the parameter '{key}' appears more than once"
        ))));
    }
    let grant_type = params.get("grant_type");
    if !matches!(grant_type, Some("authorization_code" | "refresh_token")) {
        return Ok(Err(match grant_type {
            None => OAuthError::invalid_request("grant_type is required"),
            Some(_) => OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                generic_description(OAuthErrorCode::UnsupportedGrantType),
            ),
        }));
    }
    let now = env.clock.now();
    env.db.write(|conn| {
        let mut endpoint = TokenEndpoint {
            registrar: KnownClient {
                row: Some(client.clone()),
                authenticated: Some((creds.client_id.clone(), creds.client_secret.clone())),
            },
            store: TokenStore {
                conn: RefCell::new(conn),
                env,
                client,
                now,
                failure: RefCell::new(None),
                response: None,
                pkce_stored: None,
                presented: RefCell::new(None),
            },
        };
        let request = TokenRequest { params, creds };
        let outcome: Result<(), Option<OAuthErrorCode>> =
            if grant_type == Some("authorization_code") {
                accesstoken::access_token(&mut endpoint, &request).map(drop).map_err(|e| match e {
                    accesstoken::Error::Invalid(mut d) => Some(map_kind(d.description().kind())),
                    accesstoken::Error::Unauthorized(..) => Some(OAuthErrorCode::InvalidClient),
                    accesstoken::Error::Primitive(_) => None,
                })
            } else {
                refresh::refresh(&mut endpoint, &request).map(drop).map_err(|mut e| match &mut e {
                    refresh::Error::Invalid(_) | refresh::Error::Unauthorized(..) => {
                        e.description().map(|d| map_kind(d.kind()))
                    }
                    refresh::Error::Primitive => None,
                })
            };
        let failure = endpoint.store.failure.borrow_mut().take();
        match (outcome, failure) {
            (Ok(()), _) => {
                endpoint.store.response.take().map(Ok).ok_or_else(|| {
                    StoreError::Corrupt("token flow finished without a token".into())
                })
            }
            (Err(_), Some(Failure::Store(e))) => Err(e),
            (Err(_), Some(Failure::Protocol(e))) => Ok(Err(e)),
            (Err(Some(code)), None) => Ok(Err(OAuthError::new(code, generic_description(code)))),
            (Err(None), None) => {
                Err(StoreError::Corrupt("token flow failed without a reason".into()))
            }
        }
    })
}
