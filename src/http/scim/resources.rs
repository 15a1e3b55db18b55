//! `/Users` and `/Groups`: the same handlers for every resource type; the kind travels with the
//! route into the one resource pipeline.

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
use crate::service::provisioning::resources::{self, Page};
use crate::service::provisioning::{ResourceId, TenantContext, TenantId};

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
    call: impl FnOnce(&TenantContext<'_>) -> ScimResult<T> + Send + 'static,
) -> Result<T, ApiError> {
    let base = scim_base(req, state);
    let state = state.clone();
    let tenant = TenantId::new(principal.0.tenant_id);
    let result = web::block(move || {
        let ctx = TenantContext {
            db: &state.db,
            clock: state.clock.as_ref(),
            tenant: &tenant,
            base: &base,
        };
        call(&ctx)
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

async fn list_page(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    principal: Authenticated,
    kind: ResourceKind,
    query: ListQuery,
) -> Result<HttpResponse, ApiError> {
    let start = query.start_index;
    let page = run(req, state, principal, move |ctx| resources::list(ctx, kind, &query)).await?;
    Ok(list_answer(page, start))
}

fn list_answer(page: Page, start_index: u64) -> HttpResponse {
    scim_response(StatusCode::OK, &list_response(page.total, start_index, page.resources), None)
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

/// `POST /.search` at the root: every resource type, paged as one list.
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
    let page = run(&req, &state, principal, move |ctx| resources::list_all(ctx, queries)).await?;
    Ok(list_answer(page, start))
}

async fn create(
    req: HttpRequest,
    kind: web::Data<ResourceKind>,
    state: web::Data<AppState>,
    principal: Authenticated,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let kind = **kind;
    let projection = Projection::default_for(kind);
    let created =
        run(&req, &state, principal, move |ctx| resources::create(ctx, kind, &body.0, &projection))
            .await?;
    let mut response = scim_response(StatusCode::CREATED, &created.json, Some(created.version));
    let location = created.json.pointer("/meta/location").and_then(Value::as_str);
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
    let id = ResourceId::from(id.into_inner());
    let found =
        run(&req, &state, principal, move |ctx| resources::get(ctx, kind, &id, &projection))
            .await?;
    if if_none_match.is_some_and(|tags| tags.matches(found.version)) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(found.version)))
            .finish());
    }
    Ok(scim_response(StatusCode::OK, &found.json, Some(found.version)))
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
    let id = ResourceId::from(id.into_inner());
    let projection = Projection::default_for(kind);
    let replaced = run(&req, &state, principal, move |ctx| {
        resources::replace(ctx, kind, &id, &body.0, if_match.as_ref(), &projection)
    })
    .await?;
    Ok(scim_response(StatusCode::OK, &replaced.json, Some(replaced.version)))
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
    let id = ResourceId::from(id.into_inner());
    let patched = run(&req, &state, principal, move |ctx| {
        resources::patch(ctx, kind, &id, &body.0, if_match.as_ref(), &projection)
    })
    .await?;
    if minimal {
        return Ok(HttpResponse::NoContent()
            .insert_header((header::ETAG, etag(patched.version)))
            .finish());
    }
    Ok(scim_response(StatusCode::OK, &patched.json, Some(patched.version)))
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
    let id = ResourceId::from(id.into_inner());
    run(&req, &state, principal, move |ctx| resources::delete(ctx, kind, &id, if_match.as_ref()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
