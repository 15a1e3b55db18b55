//! OAuth2 token logic with no HTTP and no SQL: secrets and their hashes, password hashing, scopes,
//! PKCE, JWT access tokens (RFC 9068), signing keys and JWKS (sealed at rest), refresh-family
//! rules, error codes.
//! oxide-auth drives the protocol; the service layer plugs our storage into it.

pub mod assertion;
pub mod error;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod pkce;
pub mod redirect;
pub mod refresh;
pub mod scope;
pub mod seal;
pub mod secret;
