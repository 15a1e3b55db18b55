//! Chunked request bodies are read whole before the request is served.
//!
//! actix-http treats a malformed chunk (a size line that is not hexadecimal, say) as the client
//! having gone away: it drops the connection at once unless the service answers in the same
//! poll. A handler still waiting on the database then (authentication, say) never gets to send
//! its 400, and the client sees the connection close with no answer. Read first, the body's
//! failure reaches this middleware in that very poll, and it answers 400 in the surface's format.
//!
//! Only chunked bodies are read ahead (IdPs send `Content-Length`), and at most
//! `max_body_bytes` of one: beyond that the rest streams on and the handler answers 413 as it
//! would have. A body that stops arriving is still the read deadline's to end (`limits`).

use std::io;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::ConnectionType;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::{Stream, StreamExt, stream};

use super::AppState;
use super::error::oauth::oauth_error;
use super::error::{ApiError, V1Error};
use super::limits::Surface;
use super::ui;
use crate::oauth::error::OAuthError;
use crate::scim::error::ScimError;

/// Middleware for `App::wrap`, inside `limits::guard` (so the body has its deadline).
pub async fn read_chunked_first(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if !req.chunked().unwrap_or(false) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let limit =
        req.app_data::<web::Data<AppState>>().map_or(1024 * 1024, |s| s.settings.max_body_bytes);
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    let replay: Payload = loop {
        match payload.next().await {
            None => break Payload::from(body.freeze()),
            Some(Ok(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > limit {
                    let read = stream::once(async move { Ok(body.freeze()) });
                    break boxed(read.chain(payload));
                }
            }
            // Our own deadline: the handler words it (408, or `invalid_request` for OAuth).
            Some(Err(PayloadError::Io(e))) if e.kind() == io::ErrorKind::TimedOut => {
                let read = stream::iter([Ok(body.freeze()), Err(PayloadError::Io(e))]);
                break boxed(read);
            }
            Some(Err(_)) => {
                let answer = malformed(req.request());
                return Ok(req.into_response(answer));
            }
        }
    };
    req.set_payload(replay);
    Ok(next.call(req).await?.map_into_boxed_body())
}

fn boxed(body: impl Stream<Item = Result<web::Bytes, PayloadError>> + 'static) -> Payload {
    let body: std::pin::Pin<Box<dyn Stream<Item = Result<web::Bytes, PayloadError>>>> =
        Box::pin(body);
    Payload::from(body)
}

/// 400 in the surface's own format, and the connection closed (the rest of the body cannot be
/// framed).
fn malformed(req: &HttpRequest) -> HttpResponse {
    let detail = "the request body could not be read (malformed chunked transfer encoding)";
    let mut response = match Surface::of(req.path()) {
        Surface::Scim => ApiError::from(ScimError::invalid_syntax(detail)).error_response(),
        Surface::OAuthClient => oauth_error(&OAuthError::invalid_request(detail), false),
        Surface::Api => V1Error::invalid(detail).error_response(),
        Surface::Page => ui::error_page(StatusCode::BAD_REQUEST, "Bad request", detail),
    };
    response.head_mut().set_connection_type(ConnectionType::Close);
    response
}
