//! `POST /Bulk` (RFC 7644 §3.7).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{ScimCall, method_not_allowed, scim_response};
use crate::http::error::ApiError;
use crate::http::extractors::ScimBody;
use crate::scim::bulk::{bulk_response, parse_bulk_request};
use crate::service::provisioning::bulk;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/Bulk")
            .route(web::post().to(post_bulk))
            .default_service(web::to(method_not_allowed)),
    );
}

/// The body limit (`maxPayloadSize`) is enforced while reading it; `maxOperations` here.
async fn post_bulk(call: ScimCall, body: ScimBody) -> Result<HttpResponse, ApiError> {
    let request = parse_bulk_request(&body.0, call.state().settings.bulk_max_operations)?;
    // Admission counted the request once; each further operation costs as much as a request.
    let extra = u64::try_from(request.operations.len().saturating_sub(1)).unwrap_or(u64::MAX);
    call.charge(extra).await?;
    let results = call.run(move |ctx| Ok(bulk::run(ctx, request))).await?;
    Ok(scim_response(StatusCode::OK, &bulk_response(&results), None))
}
