//! The catalog types' endpoints (`/Roles`, `/Licenses`, … as configured): the IdP lists and gets
//! the items its tenant sees; every write is refused with 405, since the vendor's app owns the
//! catalog.

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use super::resources::{page_limits, projection};
use super::{ScimCall, scim_response, unknown_endpoint};
use crate::http::error::ApiError;
use crate::http::extractors::query_pairs;
use crate::scim::catalog::CatalogType;
use crate::scim::error::ScimError;
use crate::scim::query::{ListQuery, list_response};
use crate::scim::schema::Registry;
use crate::service::catalog::scim::CatalogItems;

/// The endpoints of the catalog types `schemas` serves.
pub fn routes(cfg: &mut web::ServiceConfig, schemas: &Registry) {
    for t in schemas.catalog() {
        cfg.service(
            web::resource(t.endpoint)
                .app_data(web::Data::new(t.clone()))
                .route(web::get().to(list))
                .default_service(web::to(refuse_write)),
        )
        .service(
            web::resource(format!("{}/{{id}}", t.endpoint))
                .app_data(web::Data::new(t.clone()))
                .route(web::get().to(get))
                .default_service(web::to(refuse_write)),
        );
    }
}

/// The catalog type of the route (registered with each catalog route).
fn served(req: &HttpRequest) -> Option<CatalogType> {
    req.app_data::<web::Data<CatalogType>>().map(|t| t.get_ref().clone())
}

/// Admits the request like any SCIM request (credential, tenant budget, scope).
async fn admit(req: &HttpRequest, payload: web::Payload) -> Result<ScimCall, ApiError> {
    ScimCall::from_request(req, &mut payload.into_inner()).await
}

async fn list(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let Some(t) = served(&req) else { return unknown_endpoint(req).await };
    let call = admit(&req, payload).await?;
    let query = ListQuery::parse(t.schemas, &query_pairs(&req), page_limits(call.state()))?;
    let start = query.start_index;
    let page = call.run(move |ctx| CatalogItems { ctx, catalog_type: &t }.list(&query)).await?;
    let body = list_response(page.total, start, page.resources);
    Ok(scim_response(StatusCode::OK, &body, None))
}

async fn get(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let Some(t) = served(&req) else { return unknown_endpoint(req).await };
    let call = admit(&req, payload).await?;
    let projection = projection(t.schemas, &req)?;
    let id = req.match_info().get("id").unwrap_or_default().to_owned();
    let item =
        call.run(move |ctx| CatalogItems { ctx, catalog_type: &t }.get(&id, &projection)).await?;
    Ok(scim_response(StatusCode::OK, &item.json, Some(item.version)))
}

async fn refuse_write(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Some(t) = served(&req) else { return unknown_endpoint(req).await };
    Err(ScimError::method_not_allowed(format!(
        "{} is read-only over SCIM: the application's catalog of {} items is written through \
         its own API",
        t.endpoint, t.name
    ))
    .into())
}
