//! `/Users` and `/Groups`: the same handlers for every resource type; the kind travels with the
//! route into the one resource pipeline.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::{ScimCall, method_not_allowed, scim_response};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extractors::{ScimBody, query_pairs};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::query::{ListQuery, PageLimits, list_response};
use crate::scim::resource::Projection;
use crate::scim::schema::{ResourceKind, ResourceSchemas};
use crate::scim::version::{EntityTags, etag};
use crate::service::provisioning::ResourceId;
use crate::service::provisioning::resources::{self, Page, Rendered, Update};

pub fn routes(cfg: &mut web::ServiceConfig) {
    for kind in ResourceKind::ALL {
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

pub(super) fn projection(schemas: ResourceSchemas, req: &HttpRequest) -> ScimResult<Projection> {
    let pairs = query_pairs(req);
    let get = |name: &str| {
        pairs.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    Projection::parse(schemas, get("attributes").as_deref(), get("excludedAttributes").as_deref())
}

pub(super) fn page_limits(state: &AppState) -> PageLimits {
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

/// The schemas of the route's resource type.
fn schemas_of(call: &ScimCall, kind: ResourceKind) -> ResourceSchemas {
    call.state().schemas.resource(kind)
}

/// The resource type of the route (registered with each resource route).
fn route_kind(call: &ScimCall) -> Result<ResourceKind, ApiError> {
    call.request()
        .app_data::<web::Data<ResourceKind>>()
        .map(|kind| *kind.get_ref())
        .ok_or_else(|| ApiError::from(ScimError::internal("resource route without a kind")))
}

/// The `{id}` of the route's path.
fn path_id(call: &ScimCall) -> ResourceId {
    ResourceId::from(call.request().match_info().get("id").unwrap_or_default().to_owned())
}

fn list_answer(page: Page, start_index: u64) -> HttpResponse {
    scim_response(StatusCode::OK, &list_response(page.total, start_index, page.resources), None)
}

async fn list_page(
    call: ScimCall,
    kind: ResourceKind,
    query: ListQuery,
) -> Result<HttpResponse, ApiError> {
    let start = query.start_index;
    let page = call.run(move |ctx| ctx.resources(kind).list(&query)).await?;
    Ok(list_answer(page, start))
}

async fn list(call: ScimCall) -> Result<HttpResponse, ApiError> {
    let kind = route_kind(&call)?;
    let params = query_pairs(call.request());
    let query = ListQuery::parse(schemas_of(&call, kind), &params, page_limits(call.state()))?;
    list_page(call, kind, query).await
}

/// `POST /Users/.search` (RFC 7644 §3.4.3): a list request in the body, out of URLs and logs.
async fn search(call: ScimCall, body: ScimBody) -> Result<HttpResponse, ApiError> {
    let kind = route_kind(&call)?;
    let schemas = schemas_of(&call, kind);
    let query = ListQuery::from_search_request(schemas, &body.0, page_limits(call.state()))?;
    list_page(call, kind, query).await
}

/// `POST /.search` at the root: every resource type, paged as one list.
async fn search_all(call: ScimCall, body: ScimBody) -> Result<HttpResponse, ApiError> {
    let limits = page_limits(call.state());
    let mut queries = Vec::new();
    for kind in ResourceKind::ALL {
        let schemas = schemas_of(&call, kind);
        queries.push((kind, ListQuery::from_search_request(schemas, &body.0, limits)?));
    }
    let start = queries.first().map_or(1, |(_, q)| q.start_index);
    let page = call.run(move |ctx| resources::list_all(ctx, queries)).await?;
    Ok(list_answer(page, start))
}

async fn create(call: ScimCall, body: ScimBody) -> Result<HttpResponse, ApiError> {
    let kind = route_kind(&call)?;
    let projection = Projection::default_for(schemas_of(&call, kind));
    let created = call.run(move |ctx| ctx.resources(kind).create(&body.0, &projection)).await?;
    let mut response = scim_response(StatusCode::CREATED, &created.json, Some(created.version));
    let location = created.json.pointer("/meta/location").and_then(Value::as_str);
    if let Some(Ok(value)) = location.map(header::HeaderValue::from_str) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn get(call: ScimCall) -> Result<HttpResponse, ApiError> {
    let (kind, id) = (route_kind(&call)?, path_id(&call));
    let projection = projection(schemas_of(&call, kind), call.request())?;
    let if_none_match = entity_tags(call.request(), header::IF_NONE_MATCH)?;
    let found = call.run(move |ctx| ctx.resources(kind).get(&id, &projection)).await?;
    if if_none_match.is_some_and(|tags| tags.matches(found.version)) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(found.version)))
            .finish());
    }
    Ok(scim_response(StatusCode::OK, &found.json, Some(found.version)))
}

/// PUT and PATCH: `update` says how the body is read; answers the resource as `projection` shows it.
async fn update(
    call: ScimCall,
    kind: ResourceKind,
    body: ScimBody,
    update: fn(&Value) -> Update<'_>,
    projection: Projection,
) -> Result<Rendered, ApiError> {
    let id = path_id(&call);
    let if_match = entity_tags(call.request(), header::IF_MATCH)?;
    call.run(move |ctx| {
        ctx.resources(kind).update(&id, update(&body.0), if_match.as_ref(), &projection)
    })
    .await
}

async fn replace(call: ScimCall, body: ScimBody) -> Result<HttpResponse, ApiError> {
    let kind = route_kind(&call)?;
    let projection = Projection::default_for(schemas_of(&call, kind));
    let replaced = update(call, kind, body, |b| Update::Replace(b), projection).await?;
    Ok(scim_response(StatusCode::OK, &replaced.json, Some(replaced.version)))
}

async fn patch(call: ScimCall, body: ScimBody) -> Result<HttpResponse, ApiError> {
    let kind = route_kind(&call)?;
    let minimal = prefers_minimal(call.request())
        || (kind.has_members() && call.state().settings.group_patch_no_content);
    // A client that wants no body gets none, and a group then reads no member rows to render it.
    let projection = if minimal {
        Projection::parse(schemas_of(&call, kind), Some("id"), None)?
    } else {
        projection(schemas_of(&call, kind), call.request())?
    };
    let patched = update(call, kind, body, |b| Update::Patch(b), projection).await?;
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

async fn delete(call: ScimCall) -> Result<HttpResponse, ApiError> {
    let (kind, id) = (route_kind(&call)?, path_id(&call));
    let if_match = entity_tags(call.request(), header::IF_MATCH)?;
    call.run(move |ctx| ctx.resources(kind).delete(&id, if_match.as_ref())).await?;
    Ok(HttpResponse::NoContent().finish())
}
