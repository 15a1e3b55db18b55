//! OAuth errors with their RFC 6749 §5.2 / RFC 7009 / RFC 6750 codes. The HTTP layer renders them
//! as JSON (token, revoke, introspect) or as a redirect carrying `error` and `state` (authorize).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    UnsupportedTokenType,
    /// RFC 6749 §4.1.2.1's code for an overloaded server; sent with 429 and `Retry-After`.
    TemporarilyUnavailable,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::AccessDenied => "access_denied",
            OAuthErrorCode::UnsupportedResponseType => "unsupported_response_type",
            OAuthErrorCode::ServerError => "server_error",
            OAuthErrorCode::UnsupportedTokenType => "unsupported_token_type",
            OAuthErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// 401 for a failed client authentication, 429 for a rate limit, 500 for our own failures,
    /// else 400.
    pub fn status(self) -> u16 {
        match self {
            OAuthErrorCode::InvalidClient => 401,
            OAuthErrorCode::TemporarilyUnavailable => 429,
            OAuthErrorCode::ServerError => 500,
            _ => 400,
        }
    }
}

/// An error for the client, with a human-readable description that never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: String,
    /// Seconds for `Retry-After` (rate limits).
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError { code, description: description.into(), retry_after: None }
    }
    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new(OAuthErrorCode::InvalidRequest, description)
    }
    pub fn invalid_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(OAuthErrorCode::InvalidClient, description)
    }
    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new(OAuthErrorCode::InvalidGrant, description)
    }
    /// Too many requests from this client or address in the current window.
    pub fn rate_limited(retry_after_secs: u64) -> OAuthError {
        OAuthError {
            retry_after: Some(retry_after_secs),
            ..OAuthError::new(
                OAuthErrorCode::TemporarilyUnavailable,
                format!("too many requests; retry after {retry_after_secs} second(s)"),
            )
        }
    }
    /// Every argon2 slot of the node is taken (RFC 6749 §4.1.2.1's `temporarily_unavailable`).
    pub fn busy(retry_after_secs: u64) -> OAuthError {
        OAuthError {
            retry_after: Some(retry_after_secs),
            ..OAuthError::new(
                OAuthErrorCode::TemporarilyUnavailable,
                format!("the server is busy; retry after {retry_after_secs} second(s)"),
            )
        }
    }
    pub fn server_error() -> OAuthError {
        OAuthError::new(OAuthErrorCode::ServerError, "internal error; see the server log")
    }
}
