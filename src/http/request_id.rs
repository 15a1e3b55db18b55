//! A request id on every response (`X-Request-Id`) and on every log line of the request, so an
//! operator can match what a client reports to the server's log. A sane id sent by a proxy or
//! client is kept; anything else is replaced by a fresh one.

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, left on it for what records the request (the request inspector).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The id to use for this request: the caller's if it is short and plain, else a new UUID.
pub fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_plain(id))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// At most 128 characters of letters, digits, `-`, `_`, `.` and `:`: nothing that could forge
/// a log line or a header.
fn is_plain(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Echoes the id in the response.
pub fn tag<B>(mut response: ServiceResponse<B>, id: &str) -> ServiceResponse<B> {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_are_kept() {
        assert!(is_plain("0193f0c2-7b1e-7d4e-9a4b-2b1f3c4d5e6f"));
        assert!(is_plain("okta:abc.123_x"));
        for bad in ["", "a b", "x\r\nSet-Cookie: y", &"a".repeat(129), "ü"] {
            assert!(!is_plain(bad), "{bad:?}");
        }
    }
}
