//! `/metrics` for Prometheus, and the middleware that counts every request into it. The tenant
//! label comes from `RequestTenant`, which the `Authenticated` extractor leaves in the request.
//!
//! The page names tenants, so it is not public: with `metrics_token` set, a scraper must send it
//! as a bearer token; without it, only direct loopback peers are answered.

use std::net::IpAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

use super::AppState;
use super::extractors::RequestTenant;
use crate::metrics::text::CONTENT_TYPE;
use crate::metrics::{Registry, RequestLabels};
use crate::oauth::secret;

/// The route label of requests no route matched (404s), so stray paths add no series.
const UNMATCHED: &str = "unmatched";

/// `GET /metrics`: the exposition, to the token holder or (without a token) a loopback peer.
pub async fn scrape(
    req: HttpRequest,
    state: web::Data<AppState>,
    registry: web::Data<Registry>,
) -> HttpResponse {
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let peer = req.peer_addr().map(|a| a.ip());
    let proxied = ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|name| req.headers().contains_key(*name));
    match decide(state.settings.metrics_token.as_deref(), authorization, peer, proxied) {
        Access::Allowed => {
            let mut body = registry.render(state.db.pool_stats(), state.db.audit_counts());
            body.push_str(&webhooks(&req, &state).await);
            body.push_str(&crate::metrics::passwords::render(password_sample(&state)));
            body.push_str(&crate::metrics::retention::render(state.db.prune_counts()));
            HttpResponse::Ok().content_type(CONTENT_TYPE).body(body)
        }
        Access::Unauthenticated => HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"scimd-metrics\""))
            .content_type("text/plain; charset=utf-8")
            .body("send the metrics token as 'Authorization: Bearer <token>'"),
        Access::Forbidden => {
            HttpResponse::Forbidden().content_type("text/plain; charset=utf-8").body("forbidden")
        }
    }
}

/// The webhook families; the backlog is read from the database (empty when it cannot be).
async fn webhooks(req: &HttpRequest, state: &web::Data<AppState>) -> String {
    use crate::metrics::webhooks::{WebhookSample, render};
    use crate::service::delivery::webhooks::endpoints;
    let deliveries = req
        .app_data::<web::Data<crate::startup::Delivery>>()
        .map(|d| d.webhooks.counts.each().collect())
        .unwrap_or_default();
    let (db, clock) = (state.db.clone(), state.clock.clone());
    let backlog = web::block(move || endpoints::backlog(&db, clock.as_ref())).await;
    let (queue_depth, lag_seconds) = match backlog {
        Ok(Ok(backlog)) => backlog,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "webhook backlog unavailable for metrics");
            (0, 0.0)
        }
        Err(_) => (0, 0.0),
    };
    render(&WebhookSample { deliveries, queue_depth, lag_seconds })
}

fn password_sample(state: &AppState) -> crate::metrics::passwords::PasswordSample {
    let gate = &state.passwords;
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    crate::metrics::passwords::PasswordSample {
        limit: count(gate.limit()),
        peak: count(gate.peak()),
        refused: gate.refused(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Allowed,
    Unauthenticated,
    Forbidden,
}

/// With a token configured (blank counts as none), the bearer must match it. Without, the peer
/// must be loopback and the request must not carry forwarding headers: a reverse proxy on the
/// same host would otherwise make every outside request look local.
fn decide(
    token: Option<&str>,
    authorization: Option<&str>,
    peer: Option<IpAddr>,
    proxied: bool,
) -> Access {
    match token.map(str::trim).filter(|t| !t.is_empty()) {
        Some(expected) => match authorization.and_then(bearer) {
            None => Access::Unauthenticated,
            Some(presented) if same_secret(presented, expected) => Access::Allowed,
            Some(_) => Access::Forbidden,
        },
        None if !proxied && peer.is_some_and(|ip| ip.to_canonical().is_loopback()) => {
            Access::Allowed
        }
        None => Access::Forbidden,
    }
}

fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Compared as SHA-256 digests in constant time, so neither the length nor a prefix leaks.
fn same_secret(presented: &str, expected: &str) -> bool {
    bool::from(secret::sha256(presented).ct_eq(&secret::sha256(expected)))
}

/// The middleware (`from_fn`): counts each request in flight, then by route pattern, method,
/// status and tenant, and its latency. The registry is the application's `Data<Registry>`.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(registry) = req.app_data::<web::Data<Registry>>().cloned() else {
        return next.call(req).await;
    };
    let in_flight = registry.enter();
    let method = method_label(req.method());
    let result = next.call(req).await;
    match &result {
        Ok(res) => {
            let req = res.request();
            let route = req.match_pattern();
            let extensions = req.extensions();
            let tenant =
                extensions.get::<RequestTenant>().and_then(|t| t.slug.as_deref()).unwrap_or("");
            in_flight.finish(RequestLabels {
                route: route.as_deref().unwrap_or(UNMATCHED),
                method,
                status: res.status().as_str(),
                tenant,
            });
        }
        Err(err) => in_flight.finish(RequestLabels {
            route: UNMATCHED,
            method,
            status: err.as_response_error().status_code().as_str(),
            tenant: "",
        }),
    }
    result
}

/// Methods outside the standard set share one label: a client inventing methods must not be
/// able to add series.
fn method_label(method: &Method) -> &'static str {
    static KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN.iter().find(|known| *known == method).map_or("OTHER", |known| known.as_str())
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const LOOPBACK: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    const REMOTE: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));

    #[test]
    fn without_a_token_only_direct_loopback_peers_may_scrape() {
        assert_eq!(decide(None, None, LOOPBACK, false), Access::Allowed);
        let mapped = Some(IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()));
        assert_eq!(decide(None, None, mapped, false), Access::Allowed);
        assert_eq!(
            decide(None, None, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)), false),
            Access::Allowed
        );
        assert_eq!(decide(Some("  "), None, LOOPBACK, false), Access::Allowed);
        assert_eq!(decide(None, None, REMOTE, false), Access::Forbidden);
        assert_eq!(decide(None, None, LOOPBACK, true), Access::Forbidden);
        assert_eq!(decide(None, None, None, false), Access::Forbidden);
    }

    #[test]
    fn with_a_token_the_bearer_must_match_from_anywhere() {
        let token = Some("s3cret-token");
        assert_eq!(decide(token, Some("Bearer s3cret-token"), REMOTE, true), Access::Allowed);
        assert_eq!(decide(token, Some("bearer  s3cret-token "), REMOTE, false), Access::Allowed);
        assert_eq!(decide(token, Some("Bearer s3cret-tokeN"), LOOPBACK, false), Access::Forbidden);
        assert_eq!(decide(token, Some("Bearer s3cret"), LOOPBACK, false), Access::Forbidden);
        assert_eq!(decide(token, None, LOOPBACK, false), Access::Unauthenticated);
        assert_eq!(decide(token, Some("Basic czNjcmV0"), LOOPBACK, false), Access::Unauthenticated);
        assert_eq!(decide(token, Some("Bearer "), LOOPBACK, false), Access::Unauthenticated);
    }

    #[test]
    fn unusual_methods_share_a_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let invented = Method::from_bytes(b"FROBNICATE").unwrap();
        assert_eq!(method_label(&invented), "OTHER");
    }
}
