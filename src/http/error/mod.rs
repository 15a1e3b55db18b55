//! How failures reach clients: this module alone decides the wire form of an error.
//!
//! Error policy:
//! 1. Each surface answers in its own protocol. `/scim/v2`: the SCIM error schema (RFC 7644
//!    §3.12), [`ApiError`]. `/oauth/token`, `/oauth/revoke`, `/oauth/introspect`: RFC 6749 §5.2
//!    JSON ([`oauth`]). `/oauth/authorize`: a redirect to the client carrying `error` and `state`
//!    once the client and its redirect URI are trusted (RFC 6749 §4.1.2.1), else a page. Pages
//!    (`/admin`, `/account`, the consent flow): HTML, [`PageError`]. `/api/v1` (the vendor's
//!    application API): `{"error", "error_description"}` JSON, [`V1Error`].
//! 2. A refusal says why: a 401 names its cause (`WWW-Authenticate`, RFC 6750 §3), a 403 the
//!    missing scope, a 4xx body what to change.
//! 3. Storage out of reach (no pooled connection in time, a lost connection) is 503 with
//!    `Retry-After` on every surface: the request may succeed when retried. Every other storage
//!    failure or broken invariant is a 500 whose body points at the server log; the cause is
//!    logged there, with the request id.
//! 4. Spent rate budgets are 429 with `Retry-After`.
//! 5. No secret (token, password, key) and no SQL reaches a body or a log line.

pub mod oauth;
mod page;
mod scim;
mod v1;

pub use page::{PageError, blocking};
pub use scim::{ApiError, FailureReason, SCIM_CONTENT_TYPE};
pub use v1::V1Error;

/// Seconds a client is asked to wait before retrying after a 503 (storage out of reach).
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;
