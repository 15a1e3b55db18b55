//! `/api/v1` failures (the vendor's application API): `{"error": code, "error_description": why}`
//! JSON, a `WWW-Authenticate: Bearer` challenge on 401 and 403 (RFC 6750 §3), `Retry-After` on
//! 429 and 503. Codes are stable, descriptions are for people.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use super::UNAVAILABLE_RETRY_AFTER_SECS;
use crate::db::StoreError;
use crate::service::catalog::CatalogError;
use crate::service::delivery::feed::FeedError;
use crate::service::directory::read::ReadError;
use crate::service::tenancy::api_keys::{KeyFailure, Scope};

#[derive(Debug)]
pub struct V1Error {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    challenge: Option<String>,
    retry_after: Option<u64>,
}

impl V1Error {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> V1Error {
        V1Error {
            status,
            error,
            description: description.into(),
            challenge: None,
            retry_after: None,
        }
    }

    /// 400 `invalid_request`: a parameter to change.
    pub fn invalid(description: impl Into<String>) -> V1Error {
        V1Error::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn not_found(description: impl Into<String>) -> V1Error {
        V1Error::new(StatusCode::NOT_FOUND, "not_found", description)
    }

    /// 405: the endpoint exists, the method does not; `allowed` lists those it has.
    pub fn method_not_allowed(method: &str, allowed: &str) -> V1Error {
        let method: String = method.chars().take(20).collect();
        V1Error::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not supported here; this endpoint answers {allowed}"),
        )
    }

    /// 413: the body is over `max_body_bytes`.
    pub fn payload_too_large(limit: usize) -> V1Error {
        V1Error::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body exceeds the limit of {limit} bytes (max_body_bytes)"),
        )
    }

    /// 403 `insufficient_scope` (RFC 6750 §3.1), naming the scope the key lacks.
    pub fn insufficient_scope(needed: Scope) -> V1Error {
        let needed = needed.as_str();
        V1Error {
            challenge: Some(format!(
                "Bearer realm=\"scimd\", error=\"insufficient_scope\", scope=\"{needed}\""
            )),
            ..V1Error::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("this API key lacks the scope {needed}"),
            )
        }
    }

    /// 410 `cursor_expired`: the events after a feed cursor were deleted by retention.
    pub fn gone(description: impl Into<String>) -> V1Error {
        V1Error::new(StatusCode::GONE, "cursor_expired", description)
    }

    /// 403 `tenant_forbidden`: the key is confined to another tenant.
    pub fn tenant_forbidden() -> V1Error {
        V1Error::new(
            StatusCode::FORBIDDEN,
            "tenant_forbidden",
            "this API key is confined to another tenant",
        )
    }

    /// 429: the caller's address holds too many connections (`http::limits`).
    pub fn too_many_connections(detail: &str) -> V1Error {
        V1Error {
            retry_after: Some(1),
            ..V1Error::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail)
        }
    }

    /// 429: the key's request budget for this minute is spent.
    pub fn rate_limited(retry_after_secs: u64) -> V1Error {
        V1Error {
            retry_after: Some(retry_after_secs),
            ..V1Error::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many requests with this API key; retry after {retry_after_secs} second(s)"
                ),
            )
        }
    }
}

impl From<FeedError> for V1Error {
    fn from(err: FeedError) -> Self {
        match err {
            FeedError::Gone => V1Error::gone(err.to_string()),
            FeedError::Store(err) => V1Error::from(err),
        }
    }
}

impl From<KeyFailure> for V1Error {
    fn from(failure: KeyFailure) -> Self {
        let description = failure.description();
        let challenge = match failure.error_code() {
            Some(code) => format!(
                "Bearer realm=\"scimd\", error=\"{code}\", error_description=\"{description}\""
            ),
            None => "Bearer realm=\"scimd\"".to_owned(),
        };
        V1Error {
            challenge: Some(challenge),
            ..V1Error::new(
                StatusCode::UNAUTHORIZED,
                failure.error_code().unwrap_or("invalid_request"),
                description,
            )
        }
    }
}

/// Storage out of reach: 503 with `Retry-After`; any other failure a 500 pointing at the log.
impl From<StoreError> for V1Error {
    fn from(err: StoreError) -> Self {
        if err.is_unavailable() {
            tracing::warn!(error = %err, "/api/v1: database out of reach");
            return V1Error {
                retry_after: Some(UNAVAILABLE_RETRY_AFTER_SECS),
                ..V1Error::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the database is unavailable; retry later",
                )
            };
        }
        tracing::error!(error = %err, "/api/v1 storage failure");
        V1Error::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal storage error; see the server log",
        )
    }
}

impl From<ReadError> for V1Error {
    fn from(err: ReadError) -> Self {
        match err {
            ReadError::Invalid(text) => V1Error::invalid(text),
            ReadError::TenantForbidden => V1Error::new(
                StatusCode::FORBIDDEN,
                "tenant_forbidden",
                "this API key is confined to one tenant and may not read another",
            ),
            ReadError::NotFound(_) => V1Error::not_found(err.to_string()),
            ReadError::Store(err) => V1Error::from(err),
        }
    }
}

impl From<CatalogError> for V1Error {
    fn from(err: CatalogError) -> Self {
        match err {
            CatalogError::Invalid(text) => V1Error::invalid(text),
            CatalogError::NotFound(text) => V1Error::not_found(text),
            CatalogError::TenantForbidden => V1Error::new(
                StatusCode::FORBIDDEN,
                "tenant_forbidden",
                "this API key is confined to one tenant: it writes only that tenant's catalog",
            ),
            CatalogError::Store(err) => V1Error::from(err),
        }
    }
}

impl From<actix_web::error::BlockingError> for V1Error {
    fn from(_: actix_web::error::BlockingError) -> Self {
        V1Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the server is shutting down",
        )
    }
}

impl std::fmt::Display for V1Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.description)
    }
}

impl ResponseError for V1Error {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(Ok(value)) = self.challenge.as_deref().map(HeaderValue::from_str) {
            response.insert_header((header::WWW_AUTHENTICATE, value));
        }
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        response.json(json!({ "error": self.error, "error_description": self.description }))
    }
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error};

    use super::*;
    use crate::service::tenancy::credentials::AuthFailure;

    #[test]
    fn refusals_carry_their_challenge_and_retry_after() {
        let missing = V1Error::from(KeyFailure::Header(AuthFailure::Missing)).error_response();
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            missing.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer realm=\"scimd\""
        );
        let scope = V1Error::insufficient_scope(Scope::DirectoryRead).error_response();
        assert_eq!(scope.status(), StatusCode::FORBIDDEN);
        let limited = V1Error::rate_limited(7).error_response();
        assert_eq!(limited.headers().get(header::RETRY_AFTER).unwrap(), "7");
        let lost = StoreError::Query(Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new("gone".to_owned()),
        ));
        let unavailable = V1Error::from(lost).error_response();
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.headers().get(header::RETRY_AFTER).unwrap(), "2");
        let corrupt = V1Error::from(StoreError::Corrupt("x".into()));
        assert_eq!(corrupt.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!corrupt.description.contains('x'));
    }
}
