//! Limits on what one client can hold open. A request body must arrive within
//! `body_read_timeout_secs` of its head, so a trickled body cannot hold a connection (and its file
//! descriptor) forever; and one address may hold at most `max_connections_per_address` connections
//! (trusted proxies exempt), so a single client cannot take every descriptor of the process.
//!
//! actix offers neither. The cap is counted per connection: `on_connect` leaves an empty slot in
//! the connection's data, the first request on the connection fills it with the address's count
//! (or a refusal), and the count drops with the connection. A connection that never sends a head
//! is closed by `client_request_timeout_secs` anyway.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::EitherBody;
use actix_web::dev::{Extensions, Payload, Service, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::{FutureExt, Stream};

use super::AppState;
use super::error::oauth::oauth_error;
use super::error::{ApiError, V1Error};
use super::ui;
use crate::cidr::throttle_key;
use crate::oauth::error::OAuthError;
use crate::scim::error::ScimError;

/// Why a request body could not be read; each surface words it in its own format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// More than the limit (413).
    TooLarge,
    /// Not complete within `body_read_timeout_secs` (408).
    TimedOut,
    /// Malformed on the wire, e.g. a broken chunked encoding (400).
    Broken,
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_body<S>(payload: &mut S, limit: usize) -> Result<web::Bytes, BodyError>
where
    S: Stream<Item = Result<web::Bytes, PayloadError>> + Unpin,
{
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            PayloadError::Io(e) if e.kind() == io::ErrorKind::TimedOut => BodyError::TimedOut,
            PayloadError::Overflow => BodyError::TooLarge,
            _ => BodyError::Broken,
        })?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A body stream that fails with `TimedOut` once `deadline` has passed.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: bool,
    /// Tells the middleware to close the connection: the rest of the body is still on its way.
    gave_up: Rc<Cell<bool>>,
}

impl Stream for Deadline {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired = true;
            self.gave_up.set(true);
            let err =
                io::Error::new(io::ErrorKind::TimedOut, "the request body did not arrive in time");
            return Poll::Ready(Some(Err(PayloadError::Io(err))));
        }
        Poll::Pending
    }
}

/// Connections open per address (IPv6 by /64), shared by every worker of the server.
#[derive(Default)]
pub struct ConnectionCounts {
    open: Mutex<HashMap<String, usize>>,
}

impl ConnectionCounts {
    /// One more connection for `key`, unless it already holds `cap`.
    fn acquire(self: &Arc<Self>, key: String, cap: usize) -> Option<Counted> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(key.clone()).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(Counted { counts: self.clone(), key })
    }
}

/// A counted connection: dropped with the connection's data, it gives its place back.
struct Counted {
    counts: Arc<ConnectionCounts>,
    key: String,
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

enum Slot {
    Unknown,
    /// Holds the connection's place until the connection's data is dropped.
    Counted {
        _place: Counted,
    },
    Exempt,
    Refused,
}

/// The connection's place in its address's count, filled by its first request.
struct ConnectionSlot(RefCell<Slot>);

/// For `HttpServer::on_connect`: every connection starts with an empty slot.
pub fn on_connect(_: &dyn std::any::Any, data: &mut Extensions) {
    data.insert(ConnectionSlot(RefCell::new(Slot::Unknown)));
}

/// Whether the connection of `req` may be served: counts it on its first request.
fn admitted(req: &ServiceRequest, state: &AppState, counts: &Arc<ConnectionCounts>) -> bool {
    let cap = state.settings.max_connections_per_address;
    let Some(slot) = req.conn_data::<ConnectionSlot>() else { return true };
    let mut slot = slot.0.borrow_mut();
    if matches!(*slot, Slot::Unknown) {
        let peer = req.peer_addr().map(|a| a.ip().to_canonical());
        *slot = match peer {
            None => Slot::Exempt,
            Some(_) if cap == 0 => Slot::Exempt,
            Some(ip) if state.settings.trusted_proxies.iter().any(|n| n.contains(ip)) => {
                Slot::Exempt
            }
            Some(ip) => match counts.acquire(throttle_key(&ip.to_string()), cap) {
                Some(place) => Slot::Counted { _place: place },
                None => Slot::Refused,
            },
        };
    }
    !matches!(*slot, Slot::Refused)
}

/// What `guard` answers: the service's response, or its own refusal.
pub type Guarded<B> =
    Pin<Box<dyn Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>>>;

/// Middleware for `App::wrap_fn`: refuses requests on a connection over its address's cap, and
/// gives every body its read deadline.
pub fn guard<S, B>(mut req: ServiceRequest, srv: &S) -> Guarded<B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: 'static,
{
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let counts = req.app_data::<web::Data<Arc<ConnectionCounts>>>().cloned();
    if let (Some(state), Some(counts)) = (&state, &counts)
        && !admitted(&req, state, counts)
    {
        tracing::info!(peer = ?req.peer_addr().map(|a| a.ip()), "too many connections from one address");
        let response = too_many_connections(req.request());
        return Box::pin(async move { Ok(req.into_response(response).map_into_right_body()) });
    }
    let timeout = state.map_or(0, |s| s.settings.body_read_timeout_secs);
    let gave_up = Rc::new(Cell::new(false));
    if timeout > 0 {
        let payload = req.take_payload();
        if !matches!(payload, Payload::None) {
            let sleep = Box::pin(tokio::time::sleep(Duration::from_secs(timeout)));
            let deadline =
                Deadline { inner: payload, sleep, expired: false, gave_up: gave_up.clone() };
            let stream: Pin<Box<dyn Stream<Item = Result<web::Bytes, PayloadError>>>> =
                Box::pin(deadline);
            req.set_payload(Payload::from(stream));
        } else {
            req.set_payload(payload);
        }
    }
    Box::pin(srv.call(req).map(move |r| {
        r.map(|mut response| {
            if gave_up.get() {
                response.response_mut().head_mut().set_connection_type(ConnectionType::Close);
            }
            response.map_into_left_body()
        })
    }))
}

/// Which of the server's surfaces a path belongs to: each words its refusals in its own format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Scim,
    /// The endpoints OAuth clients call with form bodies (RFC 6749 error JSON).
    OAuthClient,
    Api,
    /// Browser pages: the console, `/account`, the consent flow.
    Page,
}

impl Surface {
    pub fn of(path: &str) -> Surface {
        if path.starts_with("/scim/") {
            Surface::Scim
        } else if ["/oauth/token", "/oauth/revoke", "/oauth/introspect"].contains(&path) {
            Surface::OAuthClient
        } else if path.starts_with("/api/") {
            Surface::Api
        } else {
            Surface::Page
        }
    }
}

/// 429 in the surface's own format, and the connection closed.
fn too_many_connections(req: &HttpRequest) -> HttpResponse {
    let detail = "too many connections from this address; close some and retry";
    let mut response = match Surface::of(req.path()) {
        Surface::Scim => ApiError {
            scim: ScimError::too_many_requests(detail),
            challenge: None,
            retry_after: Some(1),
        }
        .error_response(),
        Surface::OAuthClient => oauth_error(
            &OAuthError { description: detail.into(), ..OAuthError::rate_limited(1) },
            false,
        ),
        Surface::Api => V1Error::too_many_connections(detail).error_response(),
        Surface::Page => {
            let mut page =
                ui::error_page(StatusCode::TOO_MANY_REQUESTS, "Too many connections", detail);
            page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            page
        }
    };
    response.head_mut().set_connection_type(ConnectionType::Close);
    response
}

#[cfg(test)]
mod tests {
    use super::Surface;

    #[test]
    fn each_path_belongs_to_the_surface_whose_error_format_it_speaks() {
        for (path, surface) in [
            ("/scim/v2/Users", Surface::Scim),
            ("/scim/v2/Bulk", Surface::Scim),
            ("/oauth/token", Surface::OAuthClient),
            ("/oauth/revoke", Surface::OAuthClient),
            ("/oauth/introspect", Surface::OAuthClient),
            // The consent flow is a browser page, not a client endpoint.
            ("/oauth/authorize", Surface::Page),
            ("/oauth/token/extra", Surface::Page),
            ("/api/v1/users", Surface::Api),
            ("/admin/login", Surface::Page),
            ("/account", Surface::Page),
            ("/scimx", Surface::Page),
        ] {
            assert_eq!(Surface::of(path), surface, "{path}");
        }
    }
}
