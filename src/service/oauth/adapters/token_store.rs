//! The token endpoint's storage behind oxide-auth's `Authorizer` (code redemption), `Issuer`
//! (tokens) and PKCE `Extension`, in one transaction: it applies the lineage rules, audits their
//! outcomes and turns refusals into the OAuth errors the client sees.

use std::cell::RefCell;

use oxide_auth::code_grant::accesstoken;
use oxide_auth::primitives::authorizer::Authorizer;
use oxide_auth::primitives::grant::{Extensions, Grant};
use oxide_auth::primitives::issuer::{IssuedToken, Issuer, RefreshedToken, TokenType};
use oxide_auth::primitives::scope::Scope;

use crate::audit::{self, Actor, Event, Kind};
use crate::db::repo::oauth as repo;
use crate::db::rows::{ClientRow, GrantRow, RefreshTokenRow};
use crate::db::{DbConnection, StoreError};
use crate::oauth::error::OAuthError;
use crate::oauth::refresh::Decision;
use crate::oauth::{pkce, scope};
use crate::service::oauth::GrantRequest;
use crate::service::oauth::lineage::{self, CodeRedemption, CodeRequest, RefreshPresentation};
use crate::service::oauth::token::Issued;
use crate::service::oauth::token::mint;
use crate::service::oauth::{OAuthEnv, until_in};

/// Why a callback failed: the client's fault (committed with what it wrote, e.g. a revoked
/// grant), or storage (rolled back).
pub enum Failure {
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

fn refused(description: &str) -> Failure {
    Failure::Protocol(OAuthError::invalid_grant(description))
}

fn stored_scope(grant: &GrantRow) -> Result<Scope, StoreError> {
    grant.scope.parse().map_err(|_| StoreError::Corrupt("stored scope".into()))
}

/// oxide-auth's callbacks only say that they failed; the reason waits in `failure` and the
/// successful response in `response` for the caller.
pub struct TokenStore<'c, 'e> {
    conn: RefCell<&'c mut DbConnection>,
    env: &'e OAuthEnv<'e>,
    client: &'e ClientRow,
    now: i64,
    failure: RefCell<Option<Failure>>,
    pub response: Option<Issued>,
    pkce_stored: Option<String>,
    /// The refresh token `recover_refresh` accepted, and whether it is a retry.
    presented: RefCell<Option<(RefreshTokenRow, bool)>>,
    /// The token request, checked against its code's authorization request before redemption.
    request: &'e GrantRequest,
}

impl<'c, 'e> TokenStore<'c, 'e> {
    pub fn new(
        conn: &'c mut DbConnection,
        env: &'e OAuthEnv<'e>,
        client: &'e ClientRow,
        request: &'e GrantRequest,
        now: i64,
    ) -> Self {
        TokenStore {
            request,
            conn: RefCell::new(conn),
            env,
            client,
            now,
            failure: RefCell::new(None),
            response: None,
            pkce_stored: None,
            presented: RefCell::new(None),
        }
    }

    /// The first failure recorded, if any.
    pub fn take_failure(&self) -> Option<Failure> {
        self.failure.borrow_mut().take()
    }

    fn fail(&self, failure: Failure) {
        let mut slot = self.failure.borrow_mut();
        if slot.is_none() {
            *slot = Some(failure);
        }
    }

    /// Records a failure for the caller and answers oxide-auth: `Err` aborts the flow (storage),
    /// `Ok(None)` lets it refuse the grant (our error then replaces its generic one).
    fn unless_store<T>(&self, failure: Failure) -> Result<Option<T>, ()> {
        let store_failure = matches!(failure, Failure::Store(_));
        self.fail(failure);
        if store_failure { Err(()) } else { Ok(None) }
    }

    fn record(&mut self, event: Event) -> Result<(), Failure> {
        audit::record(self.conn.get_mut(), self.env.db.audit_counts(), self.now, event)?;
        Ok(())
    }

    fn event(&self, kind: Kind, grant: &GrantRow) -> Event {
        Event::new(kind, &Actor::Client(self.client.id.clone()))
            .tenant(grant.tenant_id.clone())
            .client(grant.client_id.clone())
            .grant(grant.id.clone())
            .ip(self.env.ip.clone())
    }

    /// A refusal of a code or refresh token that names no grant this client can see (unknown):
    /// recorded for the authenticated client that presented it, within its token budget.
    fn unmatched(&self, kind: Kind, reason: &str) -> Event {
        Event::new(kind, &Actor::Client(self.client.id.clone()))
            .client(self.client.id.clone())
            .ip(self.env.ip.clone())
            .detail("reason", reason.to_owned())
    }

    fn find_grant(&mut self, id: &str) -> Result<GrantRow, Failure> {
        let conn: &mut DbConnection = self.conn.get_mut();
        Ok(repo::find_grant(conn, id)?
            .ok_or_else(|| StoreError::Invariant(format!("grant {id} vanished")))?
            .0)
    }

    fn redeem(&mut self, code: &str) -> Result<Option<Grant>, Failure> {
        let now = self.now;
        let GrantRequest::AuthorizationCode { redirect_uri, code_verifier, .. } = self.request
        else {
            return Err(StoreError::Invariant("code redemption without a code request".into()))?;
        };
        let request = CodeRequest { redirect_uri, code_verifier: code_verifier.as_deref() };
        let (grant, code) =
            match lineage::redeem_code(self.conn.get_mut(), &self.client.id, code, request, now)? {
                CodeRedemption::Redeemed { grant, code } => (grant, code),
                // `?`: a storage failure while auditing the refusal wins over the refusal.
                refusal => return Err(self.code_refused(refusal)?),
            };
        self.record(self.event(Kind::CodeRedeemed, &grant))?;
        self.pkce_stored = code.pkce.clone();
        let redirect_uri =
            url::Url::parse(&code.redirect_uri).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Some(Grant {
            scope: stored_scope(&grant)?,
            owner_id: grant.id,
            client_id: grant.client_id,
            redirect_uri,
            until: until_in(code.expires_at - now),
            extensions: Extensions::new(),
        }))
    }

    /// Audits a refused redemption; `Ok` holds what to tell the client.
    fn code_refused(&mut self, refusal: CodeRedemption) -> Result<Failure, Failure> {
        let description = match refusal {
            CodeRedemption::Redeemed { .. } | CodeRedemption::Unknown => {
                self.record(self.unmatched(Kind::CodeRejected, "unknown code"))?;
                "the authorization code is not recognised"
            }
            CodeRedemption::OtherClient { grant } => {
                let event = self.event(Kind::CodeRejected, &grant);
                self.record(event.detail("reason", "issued to another client"))?;
                "the authorization code was issued to another client"
            }
            CodeRedemption::Inactive => "the grant has been revoked or its tenant disabled",
            CodeRedemption::Reused { grant, newly_revoked } => {
                self.record(self.event(Kind::CodeReused, &grant))?;
                if newly_revoked {
                    let revoked = self.event(Kind::GrantRevoked, &grant);
                    self.record(revoked.detail("reason", lineage::CODE_REUSED))?;
                }
                "the authorization code has already been used; every token issued from it is revoked"
            }
            CodeRedemption::Rejected { grant, reason } => {
                let event = self.event(Kind::CodeRejected, &grant).detail("reason", reason.clone());
                self.record(event)?;
                return Ok(Failure::Protocol(OAuthError::invalid_grant(format!(
                    "{reason}; the authorization code is still valid"
                ))));
            }
            CodeRedemption::Expired { grant } => {
                self.record(self.event(Kind::CodeRejected, &grant).detail("reason", "expired"))?;
                "the authorization code has expired"
            }
        };
        Ok(refused(description))
    }

    fn recover(&self, token: &str) -> Result<Option<Grant>, Failure> {
        let now = self.now;
        let mut conn = self.conn.borrow_mut();
        let conn: &mut DbConnection = &mut conn;
        let policy = self.env.refresh_policy();
        match lineage::present_refresh(conn, &self.client.id, token, policy, now)? {
            RefreshPresentation::Unknown => {
                let event = self.unmatched(Kind::RefreshRejected, "unknown refresh token");
                audit::record(conn, self.env.db.audit_counts(), now, event)?;
                Err(refused("the refresh token is not recognised"))
            }
            RefreshPresentation::OtherClient { token, grant } => {
                let event = self
                    .event(Kind::RefreshRejected, &grant)
                    .detail("refresh_token_id", token.id)
                    .detail("reason", "issued to another client");
                audit::record(conn, self.env.db.audit_counts(), now, event)?;
                Err(refused("the refresh token was issued to another client"))
            }
            RefreshPresentation::Rotate { token, grant, retry, expires_at } => {
                let scope = stored_scope(&grant)?;
                let redirect_uri = url::Url::parse(self.env.issuer)
                    .map_err(|e| StoreError::Invariant(format!("issuer is not a URL: {e}")))?;
                *self.presented.borrow_mut() = Some((token, retry));
                Ok(Some(Grant {
                    owner_id: grant.id,
                    client_id: grant.client_id,
                    scope,
                    redirect_uri,
                    until: until_in(expires_at - now),
                    extensions: Extensions::new(),
                }))
            }
            RefreshPresentation::Reused { token, grant, newly_revoked } => {
                let event = self.event(Kind::RefreshReuseDetected, &grant);
                audit::record(
                    conn,
                    self.env.db.audit_counts(),
                    now,
                    event.detail("refresh_token_id", token.id),
                )?;
                if newly_revoked {
                    let event = self.event(Kind::GrantRevoked, &grant);
                    audit::record(
                        conn,
                        self.env.db.audit_counts(),
                        now,
                        event.detail("reason", lineage::REFRESH_REUSED),
                    )?;
                }
                Err(refused(Decision::Reuse.description()))
            }
            RefreshPresentation::Refused { token, grant, decision } => {
                let event = self
                    .event(Kind::RefreshRejected, &grant)
                    .detail("refresh_token_id", token.id)
                    .detail("reason", decision.description());
                audit::record(conn, self.env.db.audit_counts(), now, event)?;
                Err(refused(decision.description()))
            }
        }
    }

    /// A child of the token `recover` accepted, which retires what that token supersedes.
    fn rotate(&mut self, grant: &Grant) -> Result<Issued, Failure> {
        let now = self.now;
        let (presented, retry) = self
            .presented
            .borrow_mut()
            .take()
            .ok_or_else(|| StoreError::Invariant("refresh without a recovered token".into()))?;
        let grant_row = self.find_grant(&grant.owner_id)?;
        let conn: &mut DbConnection = self.conn.get_mut();
        let policy = self.env.refresh_policy();
        let access_ttl = self.env.settings.access_token_ttl_ms();
        let retirement = lineage::retire_superseded(conn, &presented, policy, access_ttl, now)?;
        let scope_text = scope::canonical(&grant.scope.to_string());
        let response = mint(conn, self.env, &grant_row, &scope_text, Some(&presented.id), now)?;
        let kind = if retry { Kind::RefreshRetried } else { Kind::TokenRefreshed };
        let event = response.minted.describe(
            self.event(kind, &grant_row)
                .detail("refresh_token_id", presented.id.clone())
                .detail("retired", retirement.retired)
                .detail("revoked_access_tokens", retirement.revoked_access_tokens),
        );
        self.record(event)?;
        Ok(response)
    }

    /// The code's first tokens.
    fn issue_first(&mut self, grant: &Grant) -> Result<Issued, Failure> {
        let row = self.find_grant(&grant.owner_id)?;
        let scope_text = scope::canonical(&grant.scope.to_string());
        let response = mint(self.conn.get_mut(), self.env, &row, &scope_text, None, self.now)?;
        self.record(response.minted.describe(
            self.event(Kind::TokenIssued, &row).detail("scope", response.scope().to_owned()),
        ))?;
        Ok(response)
    }

    /// Keeps a minted response for the caller and hands oxide-auth what it returns.
    fn keep(&mut self, result: Result<Issued, Failure>) -> Result<Bearer, ()> {
        match result {
            Ok(response) => {
                let bearer = Bearer {
                    // oxide-auth's own answer is not sent (ours is `response`, signed after the
                    // commit): the token's id stands in for the token.
                    token: response.minted.jti.clone(),
                    refresh: response.refresh_token.clone(),
                    until: until_in(response.expires_in * 1000),
                };
                self.response = Some(response);
                Ok(bearer)
            }
            Err(failure) => {
                self.fail(failure);
                Err(())
            }
        }
    }
}

/// What `IssuedToken` and `RefreshedToken` share.
struct Bearer {
    token: String,
    refresh: Option<String>,
    until: chrono::DateTime<chrono::Utc>,
}

impl Authorizer for TokenStore<'_, '_> {
    fn authorize(&mut self, _: Grant) -> Result<String, ()> {
        Err(())
    }
    fn extract(&mut self, code: &str) -> Result<Option<Grant>, ()> {
        match self.redeem(code) {
            Ok(grant) => Ok(grant),
            Err(failure) => self.unless_store(failure),
        }
    }
}

impl Issuer for TokenStore<'_, '_> {
    fn issue(&mut self, grant: Grant) -> Result<IssuedToken, ()> {
        let result = self.issue_first(&grant);
        let Bearer { token, refresh, until } = self.keep(result)?;
        Ok(IssuedToken { token, refresh, until, token_type: TokenType::Bearer })
    }

    fn refresh(&mut self, _token: &str, grant: Grant) -> Result<RefreshedToken, ()> {
        let result = self.rotate(&grant);
        let Bearer { token, refresh, until } = self.keep(result)?;
        Ok(RefreshedToken { token, refresh, until, token_type: TokenType::Bearer })
    }

    fn recover_token(&self, _: &str) -> Result<Option<Grant>, ()> {
        // Access tokens are JWTs verified locally; oxide-auth's resource flow is not used.
        Ok(None)
    }

    fn recover_refresh(&self, token: &str) -> Result<Option<Grant>, ()> {
        match self.recover(token) {
            Ok(grant) => Ok(grant),
            Err(failure) => self.unless_store(failure),
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
            Err(refusal) => {
                self.fail(Failure::Protocol(OAuthError::invalid_grant(refusal.to_string())));
                Err(())
            }
        }
    }
}
