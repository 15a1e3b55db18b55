//! Use cases, each one database transaction: provisioning users and groups, tenants, credentials.
//! Services take `now` from the injected clock and return protocol errors, never panics.

pub mod access_tokens;
pub mod activity;
pub mod admins;
pub mod audit_log;
pub mod bulk;
pub mod clients;
pub mod credentials;
pub mod grants;
pub mod groups;
pub mod keys;
pub mod login;
pub mod oauth;
pub mod operators;
pub mod rate_limit;
pub mod render;
pub mod tenants;
pub mod users;

use crate::clock::Clock;
use crate::db::{Database, StoreError, is_unique_violation};
use crate::scim::error::ScimError;

/// What every SCIM use case runs against: the caller's tenant, storage, time and the base URL
/// (`https://host/scim/v2`) that `meta.location` and `$ref` values are built from.
pub struct Scope<'a> {
    pub db: &'a Database,
    pub clock: &'a dyn Clock,
    pub tenant_id: &'a str,
    pub base: &'a str,
}

/// Storage failures reach the client as a bare 500; the detail goes to the log only.
impl From<StoreError> for ScimError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "storage failure");
        ScimError::internal("internal storage error; see the server log")
    }
}

impl From<diesel::result::Error> for ScimError {
    fn from(err: diesel::result::Error) -> Self {
        if is_unique_violation(&err) {
            // A concurrent writer won the race for a unique value the pre-check saw free.
            return ScimError::uniqueness("a resource with that unique attribute already exists");
        }
        ScimError::from(StoreError::Query(err))
    }
}

/// Errors of the operator commands (CLI and, later, the console).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for AdminError {
    fn from(err: diesel::result::Error) -> Self {
        AdminError::Store(StoreError::Query(err))
    }
}
