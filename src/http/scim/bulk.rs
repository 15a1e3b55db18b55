//! `POST /Bulk` (RFC 7644 §3.7).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::resources::run;
use super::{method_not_allowed, scim_response};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extractors::{Authenticated, ScimBody};
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
async fn post_bulk(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Authenticated,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let request = parse_bulk_request(&body.0, state.settings.bulk_max_operations)?;
    let results = run(&req, &state, principal, move |ctx| Ok(bulk::run(ctx, request))).await?;
    Ok(scim_response(StatusCode::OK, &bulk_response(&results), None))
}
