//! Discovery endpoints (RFC 7644 §4): what this server supports, stated truthfully.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{method_not_allowed, scim_response};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extractors::{Authenticated, query_pairs, scim_base};
use crate::scim::discovery::{self, BulkLimits, ProviderCapabilities};
use crate::scim::error::ScimError;
use crate::scim::query::list_response;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/ServiceProviderConfig")
            .route(web::get().to(service_provider_config))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/ResourceTypes")
            .route(web::get().to(resource_types))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/ResourceTypes/{name}")
            .route(web::get().to(resource_type))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/Schemas")
            .route(web::get().to(schemas))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/Schemas/{id}")
            .route(web::get().to(schema))
            .default_service(web::to(method_not_allowed)),
    );
}

/// RFC 7644 §4: discovery endpoints are not filterable.
fn refuse_filter(req: &HttpRequest) -> Result<(), ApiError> {
    if query_pairs(req).iter().any(|(k, _)| k.eq_ignore_ascii_case("filter")) {
        return Err(ScimError::forbidden("discovery endpoints do not support filtering").into());
    }
    Ok(())
}

async fn service_provider_config(
    req: HttpRequest,
    state: web::Data<AppState>,
    _principal: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let caps = ProviderCapabilities {
        patch: true,
        bulk: Some(BulkLimits {
            max_operations: state.settings.bulk_max_operations,
            max_payload_size: state.settings.bulk_max_payload_bytes as u64,
        }),
        filter_max_results: state.settings.max_page_size,
        change_password: false,
        sort: true,
        etag: true,
        documentation_uri: None,
    };
    let body = discovery::service_provider_config(&scim_base(&req, &state), &caps);
    Ok(scim_response(StatusCode::OK, &body, None))
}

async fn resource_types(
    req: HttpRequest,
    state: web::Data<AppState>,
    _p: Authenticated,
) -> Result<HttpResponse, ApiError> {
    refuse_filter(&req)?;
    let all = discovery::resource_types(&state.schemas, &scim_base(&req, &state));
    Ok(scim_response(StatusCode::OK, &list_response(all.len() as u64, 1, all), None))
}

async fn resource_type(
    req: HttpRequest,
    name: web::Path<String>,
    state: web::Data<AppState>,
    _p: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let body = discovery::resource_type(&state.schemas, &scim_base(&req, &state), &name)
        .ok_or_else(|| ScimError::not_found(format!("no resource type '{name}'")))?;
    Ok(scim_response(StatusCode::OK, &body, None))
}

async fn schemas(
    req: HttpRequest,
    state: web::Data<AppState>,
    _p: Authenticated,
) -> Result<HttpResponse, ApiError> {
    refuse_filter(&req)?;
    let all = discovery::schemas(&state.schemas, &scim_base(&req, &state));
    Ok(scim_response(StatusCode::OK, &list_response(all.len() as u64, 1, all), None))
}

async fn schema(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
    _p: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let body = discovery::schema(&state.schemas, &scim_base(&req, &state), &id)
        .ok_or_else(|| ScimError::not_found(format!("no schema '{id}'")))?;
    Ok(scim_response(StatusCode::OK, &body, None))
}
