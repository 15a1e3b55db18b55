//! SCIM 2.0 endpoints under `/scim/v2` (RFC 7644).

mod bulk;
mod discovery;
mod resources;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::error::{ApiError, SCIM_CONTENT_TYPE};
use crate::scim::error::ScimError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    resources::routes(cfg);
    bulk::routes(cfg);
    discovery::routes(cfg);
    cfg.default_service(web::to(unknown_endpoint));
}

/// A SCIM JSON response with an optional ETag.
fn scim_response(
    status: actix_web::http::StatusCode,
    body: &Value,
    version: Option<i64>,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
    if let Some(v) = version {
        response.insert_header((header::ETAG, crate::scim::version::etag(v)));
    }
    response.body(body.to_string())
}

async fn unknown_endpoint(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ScimError::not_found(format!("no SCIM endpoint at {}", req.path())).into())
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ScimError::method_not_allowed(format!(
        "{} is not supported on {}",
        req.method(),
        req.path()
    ))
    .into())
}
