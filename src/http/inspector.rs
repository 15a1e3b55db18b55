//! Middleware on /scim/v2 that records each request of a known tenant for the request inspector:
//! method, path, status, SCIM error, latency, credential, client, request id, and both bodies
//! with secrets removed. It only takes what the request and its answer already hold (both
//! bodies shared, not copied) and queues it; `service::operations::inspector` redacts, cuts and
//! writes, on its own thread.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};

use super::AppState;
use super::error::FailureReason;
use super::extractors::{RecordedBody, RequestTenant};
use super::request_id::RequestId;
use crate::service::operations::inspector::CapturedRequest;

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
    let method = req.method().as_str().to_owned();
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
    let (mut response, body) = response.into_parts();
    // SCIM answers are whole in memory: taken as they are, without polling a stream.
    let bytes = match body.try_into_bytes() {
        Ok(bytes) => bytes,
        Err(body) => actix_web::body::to_bytes(body).await.unwrap_or_default(),
    };
    let limit = state.settings.request_log_body_bytes;
    let mut extensions = request.extensions_mut();
    state.inspector.push(CapturedRequest {
        tenant_id: tenant.id,
        credential: tenant.credential,
        at,
        latency_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        method,
        path,
        user_agent,
        request_id: extensions.get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default(),
        status: response.status().as_u16(),
        failure: response.extensions_mut().remove::<FailureReason>().map(|r| r.0),
        request_body: extensions.remove::<RecordedBody>().map(|b| b.0),
        response_body: CapturedRequest::response_prefix(bytes.clone(), limit),
    });
    drop(extensions);
    let response = response.set_body(bytes).map_into_boxed_body();
    Ok(ServiceResponse::new(request, response))
}
