//! Headers every response gets from the edge. HSTS: once a browser has reached us over https,
//! `Strict-Transport-Security` makes it refuse plain http to this host for `hsts_max_age_secs`,
//! so a network attacker cannot downgrade the consent pages; sent only on responses to https
//! requests (RFC 6797 §7.2: a UA ignores it over http anyway, and a proxy-less http deployment
//! must not be pinned to https). `X-Content-Type-Options: nosniff` on everything, so no JSON
//! body (a SCIM error echoing input, an OAuth error) is ever sniffed into HTML; and SCIM
//! responses, which carry directory data, are `Cache-Control: no-store` unless a handler said
//! otherwise.

use std::future::Future;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    CACHE_CONTROL, HeaderValue, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
};
use actix_web::web;

use super::AppState;
use super::extractors::is_https;

/// Middleware for `App::wrap_fn`: adds `Strict-Transport-Security` to responses of https
/// requests, `nosniff` to all, and `no-store` to SCIM responses without a `Cache-Control`.
pub fn edge_headers<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let value = req
        .app_data::<web::Data<AppState>>()
        .filter(|state| is_https(req.request(), state))
        .and_then(|state| header_value(state.settings.hsts_max_age_secs));
    let scim = req.path().starts_with("/scim/");
    let response = srv.call(req);
    async move {
        let mut response = response.await?;
        let headers = response.headers_mut();
        if let Some(value) = value {
            headers.insert(STRICT_TRANSPORT_SECURITY, value);
        }
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        if scim && !headers.contains_key(CACHE_CONTROL) {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        Ok(response)
    }
}

/// `max-age=…; includeSubDomains`, or nothing when HSTS is off (`hsts_max_age_secs = 0`).
fn header_value(max_age_secs: u64) -> Option<HeaderValue> {
    (max_age_secs > 0)
        .then(|| HeaderValue::from_str(&format!("max-age={max_age_secs}; includeSubDomains")).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_turns_hsts_off() {
        assert_eq!(header_value(0), None);
        assert_eq!(
            header_value(31_536_000).unwrap().to_str().unwrap(),
            "max-age=31536000; includeSubDomains"
        );
    }
}
