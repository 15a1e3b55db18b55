//! Discovery endpoints (RFC 7644 §4): what this server supports, stated truthfully.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::{method_not_allowed, scim_response};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extractors::{Authenticated, query_pairs, scim_base};
use crate::scim::discovery::{self, BulkLimits, ProviderCapabilities};
use crate::scim::error::ScimError;
use crate::scim::query::list_response;
use crate::scim::schema::Registry;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/ServiceProviderConfig")
            .route(web::get().to(service_provider_config))
            .default_service(web::to(method_not_allowed)),
    );
    let collections = [
        (Collection::ResourceTypes, "/ResourceTypes", "/ResourceTypes/{name}"),
        (Collection::Schemas, "/Schemas", "/Schemas/{id}"),
    ];
    for (collection, path, item) in collections {
        cfg.service(
            web::resource(path)
                .app_data(web::Data::new(collection))
                .route(web::get().to(list))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(item)
                .app_data(web::Data::new(collection))
                .route(web::get().to(one))
                .default_service(web::to(method_not_allowed)),
        );
    }
}

/// `/ResourceTypes` and `/Schemas`: lists of documents from the server's schema registry, each
/// also served by its id; the same two handlers serve both.
#[derive(Debug, Clone, Copy)]
enum Collection {
    ResourceTypes,
    Schemas,
}

impl Collection {
    fn all(self, registry: &Registry, base: &str) -> Vec<Value> {
        match self {
            Collection::ResourceTypes => discovery::resource_types(registry, base),
            Collection::Schemas => discovery::schemas(registry, base),
        }
    }

    fn one(self, registry: &Registry, base: &str, id: &str) -> Result<Value, ScimError> {
        let (found, what) = match self {
            Collection::ResourceTypes => {
                (discovery::resource_type(registry, base, id), "resource type")
            }
            Collection::Schemas => (discovery::schema(registry, base, id), "schema"),
        };
        found.ok_or_else(|| ScimError::not_found(format!("no {what} '{id}'")))
    }
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

async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    collection: web::Data<Collection>,
    _p: Authenticated,
) -> Result<HttpResponse, ApiError> {
    refuse_filter(&req)?;
    let all = collection.all(&state.schemas, &scim_base(&req, &state));
    Ok(scim_response(StatusCode::OK, &list_response(all.len() as u64, 1, all), None))
}

async fn one(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
    collection: web::Data<Collection>,
    _p: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let body = collection.one(&state.schemas, &scim_base(&req, &state), &id)?;
    Ok(scim_response(StatusCode::OK, &body, None))
}
