//! `/Users` and `/Groups`: the same handlers for both, dispatched on the resource kind.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::{method_not_allowed, scim_response};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extractors::{Authenticated, ScimBody, query_pairs, scim_base};
use crate::scim::error::ScimResult;
use crate::scim::query::{ListQuery, PageLimits, list_response};
use crate::scim::resource::Projection;
use crate::scim::schema::ResourceKind;
use crate::service::{Scope, groups, users};

pub fn routes(cfg: &mut web::ServiceConfig) {
    for kind in [ResourceKind::User, ResourceKind::Group] {
        cfg.service(
            web::resource(kind.endpoint())
                .app_data(web::Data::new(kind))
                .route(web::get().to(list))
                .route(web::post().to(create))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{}/{{id}}", kind.endpoint()))
                .app_data(web::Data::new(kind))
                .route(web::get().to(get))
                .route(web::put().to(replace))
                .route(web::patch().to(patch))
                .route(web::delete().to(delete))
                .default_service(web::to(method_not_allowed)),
        );
    }
}

/// Runs a service call for the caller's tenant on the blocking pool.
async fn run<T: Send + 'static>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    principal: Authenticated,
    call: impl FnOnce(&Scope<'_>) -> ScimResult<T> + Send + 'static,
) -> Result<T, ApiError> {
    let base = scim_base(req, state);
    let state = state.clone();
    let tenant = principal.0.tenant_id;
    let result = web::block(move || {
        let scope =
            Scope { db: &state.db, clock: state.clock.as_ref(), tenant_id: &tenant, base: &base };
        call(&scope)
    })
    .await?;
    Ok(result?)
}

fn projection(kind: ResourceKind, req: &HttpRequest) -> ScimResult<Projection> {
    let pairs = query_pairs(req);
    let get = |name: &str| {
        pairs.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    Projection::parse(kind, get("attributes").as_deref(), get("excludedAttributes").as_deref())
}

async fn list(
    req: HttpRequest,
    kind: web::Data<ResourceKind>,
    state: web::Data<AppState>,
    principal: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let limits = PageLimits {
        default_count: u64::from(state.settings.default_page_size),
        max_count: u64::from(state.settings.max_page_size),
    };
    let query = ListQuery::parse(**kind, &query_pairs(&req), limits)?;
    let kind = **kind;
    let start = query.start_index;
    let (total, resources) = run(&req, &state, principal, move |scope| match kind {
        ResourceKind::User => users::list(scope, &query),
        ResourceKind::Group => groups::list(scope, &query),
    })
    .await?;
    Ok(scim_response(StatusCode::OK, &list_response(total, start, resources), None))
}

async fn create(
    req: HttpRequest,
    kind: web::Data<ResourceKind>,
    state: web::Data<AppState>,
    principal: Authenticated,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let kind = **kind;
    let (resource, version) = run(&req, &state, principal, move |scope| match kind {
        ResourceKind::User => users::create(scope, &body.0),
        ResourceKind::Group => groups::create(scope, &body.0),
    })
    .await?;
    let mut response = scim_response(StatusCode::CREATED, &resource, Some(version));
    let location = resource.pointer("/meta/location").and_then(Value::as_str);
    if let Some(Ok(value)) = location.map(header::HeaderValue::from_str) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn get(
    req: HttpRequest,
    kind: web::Data<ResourceKind>,
    id: web::Path<String>,
    state: web::Data<AppState>,
    principal: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let kind = **kind;
    let projection = projection(kind, &req)?;
    let id = id.into_inner();
    let (resource, version) = run(&req, &state, principal, move |scope| match kind {
        ResourceKind::User => users::get(scope, &id, &projection),
        ResourceKind::Group => groups::get(scope, &id, &projection),
    })
    .await?;
    Ok(scim_response(StatusCode::OK, &resource, Some(version)))
}

async fn replace(
    req: HttpRequest,
    kind: web::Data<ResourceKind>,
    id: web::Path<String>,
    state: web::Data<AppState>,
    principal: Authenticated,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let kind = **kind;
    let id = id.into_inner();
    let (resource, version) = run(&req, &state, principal, move |scope| match kind {
        ResourceKind::User => users::replace(scope, &id, &body.0),
        ResourceKind::Group => groups::replace(scope, &id, &body.0),
    })
    .await?;
    Ok(scim_response(StatusCode::OK, &resource, Some(version)))
}

async fn patch(
    req: HttpRequest,
    kind: web::Data<ResourceKind>,
    id: web::Path<String>,
    state: web::Data<AppState>,
    principal: Authenticated,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let kind = **kind;
    let projection = projection(kind, &req)?;
    let id = id.into_inner();
    let (resource, version) = run(&req, &state, principal, move |scope| match kind {
        ResourceKind::User => {
            users::patch(scope, &id, &body.0).map(|(r, v)| (projection.apply(&r), v))
        }
        ResourceKind::Group => groups::patch(scope, &id, &body.0, &projection),
    })
    .await?;
    Ok(scim_response(StatusCode::OK, &resource, Some(version)))
}

async fn delete(
    req: HttpRequest,
    kind: web::Data<ResourceKind>,
    id: web::Path<String>,
    state: web::Data<AppState>,
    principal: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let kind = **kind;
    let id = id.into_inner();
    run(&req, &state, principal, move |scope| match kind {
        ResourceKind::User => users::delete(scope, &id),
        ResourceKind::Group => groups::delete(scope, &id),
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
