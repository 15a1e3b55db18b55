//! `/scim/v2` failures: the SCIM error schema (RFC 7644 §3.12), 401s with a `WWW-Authenticate`
//! challenge that names the reason (RFC 6750 §3), `Retry-After` on 429 and 503.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use super::UNAVAILABLE_RETRY_AFTER_SECS;
use crate::scim::error::ScimError;
use crate::service::tenancy::credentials::AuthFailure;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json; charset=utf-8";

#[derive(Debug)]
pub struct ApiError {
    pub scim: ScimError,
    /// The challenge of a 401.
    pub challenge: Option<String>,
    /// Seconds for the `Retry-After` of a 429 or 503.
    pub retry_after: Option<u64>,
}

/// Why a SCIM request failed, left on the response for the tenant's activity status line.
#[derive(Debug, Clone)]
pub struct FailureReason(pub String);

impl From<ScimError> for ApiError {
    fn from(scim: ScimError) -> Self {
        let retry_after = (scim.status == 503).then_some(UNAVAILABLE_RETRY_AFTER_SECS);
        ApiError { scim, challenge: None, retry_after }
    }
}

impl From<AuthFailure> for ApiError {
    fn from(failure: AuthFailure) -> Self {
        let description = failure.description();
        let challenge = match failure.error_code() {
            Some(code) => format!(
                "Bearer realm=\"scimd\", error=\"{code}\", error_description=\"{description}\""
            ),
            None => "Bearer realm=\"scimd\"".to_owned(),
        };
        ApiError {
            scim: ScimError::unauthorized(description),
            challenge: Some(challenge),
            retry_after: None,
        }
    }
}

impl ApiError {
    /// RFC 6750 §3.1: the token is valid but lacks the scope this request needs.
    pub fn insufficient_scope(needed: &str) -> ApiError {
        ApiError {
            scim: ScimError::forbidden(format!("the access token lacks the scope '{needed}'")),
            challenge: Some(format!(
                "Bearer realm=\"scimd\", error=\"insufficient_scope\", scope=\"{needed}\", \
                 error_description=\"this request needs the scope {needed}\""
            )),
            retry_after: None,
        }
    }

    /// 429: the tenant's request budget for this window is spent (RFC 6585 §4).
    pub fn rate_limited(retry_after_secs: u64) -> ApiError {
        ApiError {
            scim: ScimError::too_many_requests(format!(
                "too many requests for this tenant; retry after {retry_after_secs} second(s)"
            )),
            challenge: None,
            retry_after: Some(retry_after_secs),
        }
    }

    /// 429: the tenant's requests already hold every database slot it may use on this node.
    pub fn busy_tenant(retry_after_secs: u64) -> ApiError {
        ApiError {
            scim: ScimError::too_many_requests(format!(
                "too many concurrent requests for this tenant; retry after {retry_after_secs} second(s)"
            )),
            challenge: None,
            retry_after: Some(retry_after_secs),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        ApiError::from(ScimError::internal("the worker pool is shutting down"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.scim.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.scim.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
        if let Some(Ok(value)) = self.challenge.as_deref().map(HeaderValue::from_str) {
            response.insert_header((header::WWW_AUTHENTICATE, value));
        }
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        response.extensions_mut().insert(FailureReason(self.scim.detail.clone()));
        response.body(self.scim.to_json().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailability_and_rate_limits_carry_retry_after() {
        let unavailable = ApiError::from(ScimError::unavailable("later")).error_response();
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.headers().get(header::RETRY_AFTER).unwrap(), "2");
        assert_eq!(unavailable.headers().get(header::CONTENT_TYPE).unwrap(), SCIM_CONTENT_TYPE);
        let limited = ApiError::rate_limited(7).error_response();
        assert_eq!(limited.headers().get(header::RETRY_AFTER).unwrap(), "7");
        let internal = ApiError::from(ScimError::internal("x")).error_response();
        assert!(internal.headers().get(header::RETRY_AFTER).is_none());
    }
}
