//! `/Users` and `/Groups`: the same handlers for both, dispatched on the resource kind.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::{method_not_allowed, scim_response};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extractors::{Authenticated, ScimBody, query_pairs, scim_base};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::query::{ListQuery, PageLimits, list_response};
use crate::scim::resource::Projection;
use crate::scim::schema::ResourceKind;
use crate::scim::version::{EntityTags, etag};
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
            web::resource(format!("{}/.search", kind.endpoint()))
                .app_data(web::Data::new(kind))
                .route(web::post().to(search))
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
    cfg.service(
        web::resource("/.search")
            .route(web::post().to(search_all))
            .default_service(web::to(method_not_allowed)),
    );
}

/// Runs a service call for the caller's tenant on the blocking pool.
pub(super) async fn run<T: Send + 'static>(
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

fn page_limits(state: &AppState) -> PageLimits {
    PageLimits {
        default_count: u64::from(state.settings.default_page_size),
        max_count: u64::from(state.settings.max_page_size),
    }
}

/// Entity tags from a precondition header; a malformed one is refused, never ignored.
fn entity_tags(req: &HttpRequest, name: header::HeaderName) -> ScimResult<Option<EntityTags>> {
    req.headers()
        .get(&name)
        .map(|value| {
            let text = value
                .to_str()
                .map_err(|_| ScimError::bad_request(format!("{name} is not valid ASCII")))?;
            EntityTags::parse(text)
        })
        .transpose()
}

fn list_kind(
    scope: &Scope<'_>,
    kind: ResourceKind,
    query: &ListQuery,
) -> ScimResult<(u64, Vec<Value>)> {
    match kind {
        ResourceKind::User => users::list(scope, query),
        ResourceKind::Group => groups::list(scope, query),
    }
}

async fn list_page(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    principal: Authenticated,
    kind: ResourceKind,
    query: ListQuery,
) -> Result<HttpResponse, ApiError> {
    let start = query.start_index;
    let (total, resources) =
        run(req, state, principal, move |scope| list_kind(scope, kind, &query)).await?;
    Ok(scim_response(StatusCode::OK, &list_response(total, start, resources), None))
}

async fn list(
    req: HttpRequest,
    kind: web::Data<ResourceKind>,
    state: web::Data<AppState>,
    principal: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(**kind, &query_pairs(&req), page_limits(&state))?;
    list_page(&req, &state, principal, **kind, query).await
}

/// `POST /Users/.search` (RFC 7644 §3.4.3): a list request in the body, out of URLs and logs.
async fn search(
    req: HttpRequest,
    kind: web::Data<ResourceKind>,
    state: web::Data<AppState>,
    principal: Authenticated,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::from_search_request(**kind, &body.0, page_limits(&state))?;
    list_page(&req, &state, principal, **kind, query).await
}

/// `POST /.search` at the root: users, then groups, paged as one list. Each kind is sorted on
/// its own, since an order across resource types is not defined.
async fn search_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Authenticated,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let limits = page_limits(&state);
    let mut queries = Vec::new();
    for kind in ResourceKind::ALL {
        queries.push((kind, ListQuery::from_search_request(kind, &body.0, limits)?));
    }
    let start = queries.first().map_or(1, |(_, q)| q.start_index);
    let (total, resources) = run(&req, &state, principal, move |scope| {
        let (mut total, mut resources) = (0, Vec::new());
        let mut offset = start - 1;
        for (kind, mut query) in queries {
            let wanted = query.count.saturating_sub(resources.len() as u64);
            // Counted even when the page is already full, for totalResults.
            query.start_index = offset + 1;
            query.count = wanted;
            let (kind_total, page) = list_kind(scope, kind, &query)?;
            total += kind_total;
            offset = offset.saturating_sub(kind_total);
            resources.extend(page);
        }
        Ok((total, resources))
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
    let if_none_match = entity_tags(&req, header::IF_NONE_MATCH)?;
    let id = id.into_inner();
    let (resource, version) = run(&req, &state, principal, move |scope| match kind {
        ResourceKind::User => users::get(scope, &id, &projection),
        ResourceKind::Group => groups::get(scope, &id, &projection),
    })
    .await?;
    if if_none_match.is_some_and(|tags| tags.matches(version)) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(version)))
            .finish());
    }
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
    let if_match = entity_tags(&req, header::IF_MATCH)?;
    let id = id.into_inner();
    let (resource, version) = run(&req, &state, principal, move |scope| match kind {
        ResourceKind::User => users::replace(scope, &id, &body.0, if_match.as_ref()),
        ResourceKind::Group => groups::replace(scope, &id, &body.0, if_match.as_ref()),
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
    let minimal = prefers_minimal(&req)
        || (kind == ResourceKind::Group && state.settings.group_patch_no_content);
    // A client that wants no body gets none, and a group then reads no member rows to render it.
    let projection =
        if minimal { Projection::parse(kind, Some("id"), None)? } else { projection(kind, &req)? };
    let if_match = entity_tags(&req, header::IF_MATCH)?;
    let id = id.into_inner();
    let (resource, version) = run(&req, &state, principal, move |scope| match kind {
        ResourceKind::User => users::patch(scope, &id, &body.0, if_match.as_ref())
            .map(|(r, v)| (projection.apply(&r), v)),
        ResourceKind::Group => groups::patch(scope, &id, &body.0, &projection, if_match.as_ref()),
    })
    .await?;
    if minimal {
        return Ok(HttpResponse::NoContent().insert_header((header::ETAG, etag(version))).finish());
    }
    Ok(scim_response(StatusCode::OK, &resource, Some(version)))
}

/// `Prefer: return=minimal` (RFC 7240 §4.2): answer a PATCH with 204 instead of the resource.
fn prefers_minimal(req: &HttpRequest) -> bool {
    req.headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|pref| pref.trim().eq_ignore_ascii_case("return=minimal")))
}

async fn delete(
    req: HttpRequest,
    kind: web::Data<ResourceKind>,
    id: web::Path<String>,
    state: web::Data<AppState>,
    principal: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let kind = **kind;
    let if_match = entity_tags(&req, header::IF_MATCH)?;
    let id = id.into_inner();
    run(&req, &state, principal, move |scope| match kind {
        ResourceKind::User => users::delete(scope, &id, if_match.as_ref()),
        ResourceKind::Group => groups::delete(scope, &id, if_match.as_ref()),
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
