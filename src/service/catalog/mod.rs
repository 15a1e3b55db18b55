//! The catalog of roles and entitlements (Okta entitlement management), owned by the vendor's
//! app: `items` are written and listed through `/api/v1` (vendor-wide, or one tenant's), `scim`
//! serves them to the IdP read-only, and users hold them (`provisioning`). Deleting an item
//! revokes it from its holders, with events, in the same transaction.

pub mod items;
pub mod scim;

use crate::db::StoreError;
use crate::scim::error::ScimError;

/// Why a catalog request was refused; each is one JSON error of the API.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// 400 `invalid_request`: something in the request to change.
    #[error("{0}")]
    Invalid(String),
    /// 404 `not_found`: no such type, tenant or item.
    #[error("{0}")]
    NotFound(String),
    /// 403 `tenant_forbidden`: the key is confined to another tenant (or writes the vendor-wide
    /// catalog while confined to one).
    #[error("this API key is confined to another tenant")]
    TenantForbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for CatalogError {
    fn from(err: diesel::result::Error) -> Self {
        CatalogError::Store(StoreError::Query(err))
    }
}

/// A request body the SCIM validator refused, or a storage failure met on the way.
impl From<ScimError> for CatalogError {
    fn from(err: ScimError) -> Self {
        if err.status >= 500 {
            return CatalogError::Store(StoreError::Invariant(err.detail));
        }
        CatalogError::Invalid(err.detail)
    }
}
