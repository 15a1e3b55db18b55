//! Use cases, each one database transaction, grouped by the product's areas: SCIM provisioning,
//! OAuth, accounts (tenant admins and operators), tenancy, and operations. Services take `now`
//! from the injected clock and return protocol errors, never panics.

pub mod accounts;
pub mod catalog;
pub mod delivery;
pub mod directory;
pub mod oauth;
pub mod operations;
pub mod outbound;
pub mod provisioning;
pub mod tenancy;
pub mod verdict;

use crate::db::{MayConflict, StoreError, is_unique_violation};
use crate::scim::error::ScimError;

/// Storage failures reach the client as a bare 500, or a 503 when the database is only out of
/// reach for now; the detail goes to the log only.
/// The detail of a write that kept losing conflicts (`Database::write_retrying`): a 503, which
/// clients retry, and which `MayConflict` recognises inside the retry loop.
const TRANSACTION_CONFLICT: &str = "the write conflicted with concurrent writes; retry later";

impl MayConflict for ScimError {
    fn is_conflict(&self) -> bool {
        self.status == 503 && self.detail == TRANSACTION_CONFLICT
    }
}

impl From<StoreError> for ScimError {
    fn from(err: StoreError) -> Self {
        if err.is_conflict() {
            tracing::info!(error = %err, "transaction conflict");
            return ScimError::unavailable(TRANSACTION_CONFLICT);
        }
        if err.is_unavailable() {
            tracing::warn!(error = %err, "database unavailable");
            return ScimError::unavailable("the database is unavailable; retry later");
        }
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

/// Errors of operator commands (the CLI and the console at /admin).
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for OperatorError {
    fn from(err: diesel::result::Error) -> Self {
        OperatorError::Store(StoreError::Query(err))
    }
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error};

    use super::*;

    fn database_error(kind: DatabaseErrorKind) -> StoreError {
        StoreError::Query(Error::DatabaseError(kind, Box::new("detail".to_owned())))
    }

    #[test]
    fn storage_out_of_reach_and_lost_conflicts_are_503_and_everything_else_500() {
        let cases = [
            (database_error(DatabaseErrorKind::ClosedConnection), 503),
            (database_error(DatabaseErrorKind::UnableToSendCommand), 503),
            (StoreError::Connection(diesel::ConnectionError::BadConnection("down".into())), 503),
            // A conflict still lost after `write_retrying`'s runs: the client may retry.
            (database_error(DatabaseErrorKind::SerializationFailure), 503),
            (database_error(DatabaseErrorKind::CheckViolation), 500),
            (
                StoreError::Query(Error::DatabaseError(
                    DatabaseErrorKind::Unknown,
                    Box::new("canceling statement due to statement timeout".to_owned()),
                )),
                503,
            ),
            (StoreError::Query(Error::NotFound), 500),
            (StoreError::Corrupt("x".into()), 500),
            (StoreError::Invariant("x".into()), 500),
            (StoreError::Migration("x".into()), 500),
        ];
        for (err, status) in cases {
            let text = err.to_string();
            let scim = ScimError::from(err);
            assert_eq!(scim.status, status, "{text}");
            // The cause stays in the log; the client learns nothing about the database.
            assert!(!scim.detail.contains("detail") && !scim.detail.contains("down"), "{text}");
        }
    }

    #[test]
    fn a_lost_unique_race_is_a_uniqueness_error() {
        let scim = ScimError::from(Error::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new("dup".to_owned()),
        ));
        assert_eq!(
            (scim.status, scim.scim_type),
            (409, Some(crate::scim::error::ScimType::Uniqueness))
        );
    }
}
