//! Failures of the OAuth endpoints that answer clients in JSON (`/oauth/token`, `/oauth/revoke`,
//! `/oauth/introspect`): RFC 6749 §5.2 bodies, never cached.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, HttpResponseBuilder};
use serde_json::json;

use super::UNAVAILABLE_RETRY_AFTER_SECS;
use crate::db::StoreError;
use crate::oauth::error::{OAuthError, OAuthErrorCode};

/// RFC 6749 §5.1: token responses, and their errors, must not be cached.
pub fn no_store(builder: &mut HttpResponseBuilder) {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
}

/// RFC 6749 §5.2. A failed Basic authentication also gets a `WWW-Authenticate: Basic` challenge.
pub fn oauth_error(err: &OAuthError, basic: bool) -> HttpResponse {
    let status = StatusCode::from_u16(err.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    if err.code == OAuthErrorCode::ServerError {
        tracing::error!(error = %err, "OAuth endpoint failed");
    } else {
        tracing::info!(error = err.code.as_str(), description = %err.description, "OAuth request refused");
    }
    render(status, err, basic)
}

/// Storage failed under an OAuth endpoint: 503 `temporarily_unavailable` with `Retry-After`
/// while the database is out of reach, else 500 `server_error`. The cause goes to the log only.
pub fn storage_failure(err: &StoreError) -> HttpResponse {
    if err.is_unavailable() {
        tracing::warn!(error = %err, "OAuth endpoint: database out of reach");
        let unavailable = OAuthError {
            retry_after: Some(UNAVAILABLE_RETRY_AFTER_SECS),
            ..OAuthError::new(
                OAuthErrorCode::TemporarilyUnavailable,
                "the server is briefly unavailable; retry later",
            )
        };
        return render(StatusCode::SERVICE_UNAVAILABLE, &unavailable, false);
    }
    tracing::error!(error = %err, "OAuth endpoint storage failure");
    render(StatusCode::INTERNAL_SERVER_ERROR, &OAuthError::server_error(), false)
}

fn render(status: StatusCode, err: &OAuthError, basic: bool) -> HttpResponse {
    let mut builder = HttpResponse::build(status);
    no_store(&mut builder);
    if err.code == OAuthErrorCode::InvalidClient && basic {
        builder
            .insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"scimd\", charset=\"UTF-8\""));
    }
    if let Some(secs) = err.retry_after {
        builder.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    builder.json(json!({ "error": err.code.as_str(), "error_description": err.description }))
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error};

    use super::*;

    #[test]
    fn storage_out_of_reach_is_503_temporarily_unavailable_and_the_rest_500() {
        let lost = StoreError::Query(Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new("gone".to_owned()),
        ));
        let response = storage_failure(&lost);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "2");
        assert_eq!(response.headers().get(header::CACHE_CONTROL).unwrap(), "no-store");
        let response = storage_failure(&StoreError::Corrupt("x".into()));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
