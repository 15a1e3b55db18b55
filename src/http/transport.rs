//! HSTS: once a browser has reached us over https, `Strict-Transport-Security` makes it refuse
//! plain http to this host for `hsts_max_age_secs`, so a network attacker cannot downgrade the
//! consent pages. Sent only on responses to https requests (RFC 6797 §7.2: a UA ignores it over
//! http anyway, and a proxy-less http deployment must not be pinned to https).

use std::future::Future;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, STRICT_TRANSPORT_SECURITY};
use actix_web::web;

use super::AppState;
use super::extractors::is_https;

/// Middleware for `App::wrap_fn`: adds `Strict-Transport-Security` to responses of https requests.
pub fn hsts<S, B>(
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
    let response = srv.call(req);
    async move {
        let mut response = response.await?;
        if let Some(value) = value {
            response.headers_mut().insert(STRICT_TRANSPORT_SECURITY, value);
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
