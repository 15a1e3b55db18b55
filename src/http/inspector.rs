//! Middleware on /scim/v2 that records each request of a known tenant for the request inspector:
//! method, path, status, SCIM error, latency, credential, client, request id, and both bodies
//! with secrets removed. It only queues; `service::operations::inspector` writes.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use serde_json::Value;

use super::AppState;
use super::error::FailureReason;
use super::extractors::{RecordedBody, RequestTenant};
use super::request_id::RequestId;
use crate::db::repo::request_log::RequestRow;
use crate::service::operations::inspector::{
    PATH_MAX, USER_AGENT_MAX, client_of, redact, truncate,
};

pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let Some(state) = state.filter(|s| s.settings.request_log_retention_days > 0) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let started = Instant::now();
    let at = state.clock.now();
    let method = req.method().to_string();
    let path = req.uri().path_and_query().map_or_else(|| req.path().to_owned(), |p| p.to_string());
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let response = next.call(req).await?;
    let tenant = response.request().extensions().get::<RequestTenant>().cloned();
    let Some(tenant) = tenant else {
        return Ok(response.map_into_boxed_body());
    };
    let (request, response) = response.into_parts();
    let (response, body) = response.into_parts();
    // SCIM answers are whole in memory: taken as they are, without polling a stream.
    let bytes = match body.try_into_bytes() {
        Ok(bytes) => bytes,
        Err(body) => actix_web::body::to_bytes(body).await.unwrap_or_default(),
    };
    let limit = state.settings.request_log_body_bytes;
    let status = response.status().as_u16();
    let error: Option<Value> =
        (status >= 400).then(|| serde_json::from_slice(&bytes).ok()).flatten();
    let detail = response
        .extensions()
        .get::<FailureReason>()
        .map(|r| r.0.clone())
        .or_else(|| error.as_ref().and_then(|e| e["detail"].as_str()).map(str::to_owned));
    let extensions = request.extensions();
    let row = RequestRow {
        seq: 0,
        tenant_id: tenant.id,
        at,
        method,
        path: truncate(path, PATH_MAX),
        status: i64::from(status),
        scim_type: error.as_ref().and_then(|e| e["scimType"].as_str()).map(str::to_owned),
        detail: detail.map(|d| truncate(d, 1_000)),
        latency_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        credential: tenant.credential,
        client: client_of(&user_agent).to_owned(),
        user_agent: truncate(user_agent, USER_AGENT_MAX),
        request_id: extensions.get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default(),
        request_body: extensions.get::<RecordedBody>().and_then(|b| redact(&b.0, limit)),
        // Responses never carry secrets (`password` is never returned), so they are only cut,
        // not parsed: a 50 000-member group costs no JSON parse here.
        response_body: (!bytes.is_empty()).then(|| truncate(text_of(&bytes, limit + 4), limit)),
    };
    drop(extensions);
    state.inspector.push(row);
    let response = response.set_body(bytes).map_into_boxed_body();
    Ok(ServiceResponse::new(request, response))
}

/// The first `max` bytes of a body as text. Our answers are UTF-8, so the strict check (whose
/// ASCII path is fast) nearly always passes; a cut through a character, or bytes that are not
/// UTF-8, take the lossy path.
fn text_of(bytes: &[u8], max: usize) -> String {
    let prefix = &bytes[..bytes.len().min(max)];
    match std::str::from_utf8(prefix) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(prefix).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::text_of;

    #[test]
    fn bodies_become_text_whole_cut_or_repaired() {
        assert_eq!(text_of(b"{\"a\":1}", 100), "{\"a\":1}");
        assert_eq!(text_of(b"abcdef", 3), "abc");
        // A cut through "é" (two bytes) leaves a replacement character; the caller reads 4 bytes
        // past its limit, so `truncate` cuts it off again.
        assert_eq!(text_of("aé".as_bytes(), 2), "a\u{fffd}");
        assert_eq!(text_of(b"a\xffb", 10), "a\u{fffd}b");
    }
}
