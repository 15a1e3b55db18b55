//! The catalog API: the vendor's app writes the roles and entitlements the IdP reads over SCIM,
//! vendor-wide (`/roles…`, `/entitlements/{type}…`, `/catalog`) or for one tenant (the same under
//! `/tenants/{slug}`). Writes need `catalog:write`; reads `catalog:write` or `directory:read`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiRequest, refuse_method};
use crate::http::AppState;
use crate::http::error::V1Error;
use crate::http::extractors::{MAX_JSON_DEPTH, exceeds_depth};
use crate::http::limits::{BodyError, read_body};
use crate::scim::catalog::ROLE_TYPE;
use crate::service::catalog::items::{Catalog, Owner};
use crate::service::directory::read::Paging;
use crate::service::tenancy::api_keys::{ApiPrincipal, Scope};

const READERS: &[Scope] = &[Scope::CatalogWrite, Scope::DirectoryRead];

pub fn routes(cfg: &mut web::ServiceConfig) {
    for prefix in ["", "/tenants/{slug}"] {
        cfg.service(
            web::resource(format!("{prefix}/catalog"))
                .route(web::get().to(list_all))
                .route(web::put().to(replace))
                .default_service(web::to(|req: HttpRequest| async move {
                    refuse_method(&req, "GET, PUT")
                })),
        )
        .service(
            web::resource(format!("{prefix}/roles"))
                .route(web::get().to(list_type))
                .default_service(web::to(
                    |req: HttpRequest| async move { refuse_method(&req, "GET") },
                )),
        )
        .service(
            web::resource(format!("{prefix}/entitlements/{{type}}"))
                .route(web::get().to(list_type))
                .default_service(web::to(
                    |req: HttpRequest| async move { refuse_method(&req, "GET") },
                )),
        );
        for item in
            [format!("{prefix}/roles/{{id}}"), format!("{prefix}/entitlements/{{type}}/{{id}}")]
        {
            cfg.service(
                web::resource(item)
                    .route(web::get().to(get_item))
                    .route(web::put().to(put_item))
                    .route(web::delete().to(delete_item))
                    .default_service(web::to(|req: HttpRequest| async move {
                        refuse_method(&req, "GET, PUT, DELETE")
                    })),
            );
        }
    }
}

/// `?after=&limit=` of a list.
#[derive(Debug, Default, Deserialize)]
struct ListParams {
    after: Option<String>,
    limit: Option<String>,
}

/// Who owns the items of the route, and which type and item it names.
struct Target {
    owner: Owner,
    type_id: Option<String>,
    item_id: Option<String>,
}

impl Target {
    fn of(req: &HttpRequest) -> Target {
        let info = req.match_info();
        let owner = match info.get("slug") {
            Some(slug) => Owner::Tenant(slug.to_owned()),
            None => Owner::Vendor,
        };
        // A path without `{type}` under /roles names the Role type.
        let type_id = info.get("type").map(str::to_owned).or_else(|| {
            req.match_pattern().filter(|p| p.contains("/roles")).map(|_| ROLE_TYPE.to_owned())
        });
        Target { owner, type_id, item_id: info.get("id").map(str::to_owned) }
    }

    fn type_id(&self) -> &str {
        self.type_id.as_deref().unwrap_or_default()
    }

    fn item_id(&self) -> &str {
        self.item_id.as_deref().unwrap_or_default()
    }
}

/// Runs a catalog use case for an admitted key holding one of `scopes`.
async fn with_catalog<T: Send + 'static>(
    call: &ApiRequest,
    scopes: &[Scope],
    f: impl FnOnce(&Catalog<'_>) -> Result<T, V1Error> + Send + 'static,
) -> Result<T, V1Error> {
    call.run_with_any(scopes, move |state: &AppState, principal: &ApiPrincipal| {
        let catalog = Catalog {
            db: &state.db,
            clock: state.clock.as_ref(),
            registry: &state.schemas,
            principal,
        };
        f(&catalog)
    })
    .await
}

fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status).insert_header(("Cache-Control", "no-store")).json(body)
}

/// The request body as JSON, at most `max_body_bytes`; read before admission, checked after.
async fn json_body(req: &HttpRequest, payload: web::Payload) -> Result<Value, V1Error> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(1024 * 1024, |state| state.settings.max_body_bytes);
    let mut payload = payload.into_inner();
    let body = read_body(&mut payload, limit).await.map_err(|e| match e {
        BodyError::TooLarge => V1Error::payload_too_large(limit),
        BodyError::TimedOut => V1Error::invalid("the request body did not arrive in time"),
        BodyError::Broken => V1Error::invalid("the request body could not be read"),
    })?;
    if exceeds_depth(&body, MAX_JSON_DEPTH) {
        return Err(V1Error::invalid(format!(
            "the body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|e| V1Error::invalid(format!("the request body is not JSON: {e}")))
}

fn paging(req: &HttpRequest) -> Result<Paging, V1Error> {
    let params = web::Query::<ListParams>::from_query(req.query_string())
        .map_err(|_| V1Error::invalid("the query string is malformed"))?;
    Ok(Paging::parse(params.after.as_deref(), params.limit.as_deref())?)
}

async fn list_all(call: ApiRequest) -> Result<HttpResponse, V1Error> {
    let target = Target::of(&call.req);
    let paging = paging(&call.req);
    let page = with_catalog(&call, READERS, move |c| Ok(c.list(&target.owner, None, &paging?)?));
    let page = page.await?;
    Ok(json_response(StatusCode::OK, &json!({"data": page.data, "next_cursor": page.next_cursor})))
}

async fn list_type(call: ApiRequest) -> Result<HttpResponse, V1Error> {
    let target = Target::of(&call.req);
    let paging = paging(&call.req);
    let page = with_catalog(&call, READERS, move |c| {
        Ok(c.list(&target.owner, Some(target.type_id()), &paging?)?)
    });
    let page = page.await?;
    Ok(json_response(StatusCode::OK, &json!({"data": page.data, "next_cursor": page.next_cursor})))
}

async fn get_item(call: ApiRequest) -> Result<HttpResponse, V1Error> {
    let target = Target::of(&call.req);
    let item = with_catalog(&call, READERS, move |c| {
        Ok(c.get(&target.owner, target.type_id(), target.item_id())?)
    });
    Ok(json_response(StatusCode::OK, &item.await?))
}

async fn put_item(call: ApiRequest, payload: web::Payload) -> Result<HttpResponse, V1Error> {
    let target = Target::of(&call.req);
    let body = json_body(&call.req, payload).await;
    let (created, item) = with_catalog(&call, &[Scope::CatalogWrite], move |c| {
        Ok(c.put(&target.owner, target.type_id(), target.item_id(), &body?)?)
    })
    .await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(json_response(status, &item))
}

async fn delete_item(call: ApiRequest) -> Result<HttpResponse, V1Error> {
    let target = Target::of(&call.req);
    let revoked = with_catalog(&call, &[Scope::CatalogWrite], move |c| {
        Ok(c.delete(&target.owner, target.type_id(), target.item_id())?)
    })
    .await?;
    Ok(json_response(StatusCode::OK, &json!({"deleted": true, "revoked_assignments": revoked})))
}

async fn replace(call: ApiRequest, payload: web::Payload) -> Result<HttpResponse, V1Error> {
    let target = Target::of(&call.req);
    let body = json_body(&call.req, payload).await;
    let done =
        with_catalog(&call, &[Scope::CatalogWrite], move |c| Ok(c.replace(&target.owner, &body?)?))
            .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "created": done.created,
            "updated": done.updated,
            "unchanged": done.unchanged,
            "deleted": done.deleted,
            "revoked_assignments": done.revoked,
        }),
    ))
}
