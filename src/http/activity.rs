//! Middleware on /scim/v2 that keeps each tenant's last activity (the "Connect Okta" status
//! line): the tenant comes from the request's credential, the failure reason from the error.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};

use super::AppState;
use super::error::FailureReason;
use super::extractors::RequestTenant;
use crate::service::operations::activity;

pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let is_get = req.method() == Method::GET;
    let response = next.call(req).await?;
    let tenant = response.request().extensions().get::<RequestTenant>().map(|t| t.id.clone());
    let (Some(tenant_id), Some(state)) = (tenant, state) else {
        return Ok(response);
    };
    let status = response.status();
    // Looking a resource up and not finding it is how Okta checks before creating: not a failure.
    let not_found_lookup = status.as_u16() == 404 && is_get;
    let failure = (status.as_u16() >= 400 && !not_found_lookup).then(|| {
        let reason = response.response().extensions().get::<FailureReason>().map(|r| r.0.clone());
        (status.as_u16(), reason.unwrap_or_else(|| status.to_string()))
    });
    let now = state.clock.now();
    if state.activity.due(&tenant_id, now, failure.as_ref().map(|(_, r)| r.as_str())) {
        let written = web::block(move || {
            activity::record(
                &state.db,
                &tenant_id,
                now,
                failure.as_ref().map(|(s, r)| (*s, r.as_str())),
            )
        })
        .await;
        if let Ok(Err(err)) = written {
            tracing::warn!(error = %err, "could not record tenant activity");
        }
    }
    Ok(response)
}
