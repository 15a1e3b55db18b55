//! The OAuth2 endpoints' use cases, split by concern: authorize/consent, the token endpoint, the
//! refresh-family lineage on stored rows, and the adapters that put oxide-auth on our database.
//!
//! oxide-auth's code-grant state machines are the protocol engine (parameter validation,
//! redirect-URI binding, scope negotiation, code/client/redirect binding). Its known gaps are
//! closed at its extension points rather than in a fork:
//! - refresh reads client credentials only from HTTP Basic → our refresh `Request` also offers the
//!   body's `client_id`/`client_secret` as the credentials;
//! - refresh-token expiry tied to the access token's → `recover_refresh` returns a grant that
//!   lives as long as the *refresh token* does (idle/absolute policy), checked on our clock;
//! - no reuse detection → refresh families with rotation rules (`lineage`, on top of the pure
//!   `crate::oauth::refresh`);
//! - its actix actor serialises all OAuth work → no actor: each request runs the state machine
//!   on a blocking thread with its own connection, so requests proceed in parallel.

pub mod access_tokens;
mod adapters;
mod authorize;
pub mod client_auth;
mod client_grant;
pub mod clients;
pub mod grants;
pub mod jwks_cache;
pub mod keys;
pub mod lineage;
mod request;
pub mod tenant_clients;
mod token;

use chrono::Utc;

pub use authorize::{AuthorizeOutcome, ConsentDecision, ConsentRequest, authorize};
pub use client_auth::{AuthMethod, ClientCredentials, authenticate_client, client_credentials};
pub use lineage::token_state;
pub use request::{GrantRequest, Params};
pub use token::{Minted, TokenResponse, token};

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Database;
use crate::oauth::refresh::RefreshPolicy;

/// What every OAuth use case runs against.
pub struct OAuthEnv<'a> {
    pub db: &'a Database,
    pub clock: &'a dyn Clock,
    pub settings: &'a Settings,
    /// Our issuer identifier: the public origin, e.g. `https://scim.example.com`.
    pub issuer: &'a str,
    pub ip: Option<String>,
    /// The node's argon2 slots (legacy client secrets).
    pub passwords: &'a crate::oauth::password::Gate,
    /// Opens the signing key's private part.
    pub sealer: &'a crate::oauth::seal::Sealer,
    /// The node's cache of client key sets (`private_key_jwt`).
    pub jwks: &'a jwks_cache::JwksCache,
    /// The node's signers of our own keys.
    pub signers: &'a keys::Signers,
}

impl OAuthEnv<'_> {
    /// The `aud` of every access token: the SCIM base URL.
    pub fn audience(&self) -> String {
        audience_for(self.issuer)
    }

    pub fn refresh_policy(&self) -> RefreshPolicy {
        policy(self.settings)
    }
}

pub fn audience_for(issuer: &str) -> String {
    format!("{issuer}/scim/v2")
}

pub fn policy(settings: &Settings) -> RefreshPolicy {
    RefreshPolicy {
        idle_ttl: settings.refresh_idle_ttl_ms(),
        absolute_ttl: settings.refresh_absolute_ttl_ms(),
        grace: settings.refresh_grace_ms(),
    }
}

/// A chrono instant `millis` from now, for the `until` fields oxide-auth checks against the
/// system clock. Our own checks use the injected clock; this keeps both views consistent.
fn until_in(millis: i64) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::milliseconds(millis.max(1))
}
