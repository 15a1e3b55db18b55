//! The directory API: tenants, users, groups and group members as JSON pages with cursors.
//! Handlers parse the query, call `service::directory::read` and answer; nothing else.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiRequest, get};
use crate::clock::parse_rfc3339;
use crate::db::repo::directory::UserFilter;
use crate::http::AppState;
use crate::http::error::V1Error;
use crate::http::extractors::scim_base;
use crate::service::directory::read::{Page, Paging, Reader};
use crate::service::tenancy::api_keys::{ApiPrincipal, Scope};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get("/tenants").to(tenants))
        .service(get("/tenants/{slug}").to(tenant))
        .service(get("/tenants/{slug}/users").to(users))
        .service(get("/tenants/{slug}/users/{id}").to(user))
        .service(get("/tenants/{slug}/groups").to(groups))
        .service(get("/tenants/{slug}/groups/{id}").to(group))
        .service(get("/tenants/{slug}/groups/{id}/members").to(members));
}

/// Query parameters of the lists; unknown ones are ignored.
#[derive(Debug, Default, Deserialize)]
struct ListParams {
    after: Option<String>,
    limit: Option<String>,
    active: Option<String>,
    updated_since: Option<String>,
    email: Option<String>,
}

/// Longest `email=` accepted (RFC 5321's limit on an address).
const MAX_EMAIL: usize = 320;

impl ListParams {
    fn parse(query: &str) -> Result<ListParams, V1Error> {
        web::Query::<ListParams>::from_query(query)
            .map(web::Query::into_inner)
            .map_err(|_| V1Error::invalid("the query string is malformed"))
    }

    fn paging(&self) -> Result<Paging, V1Error> {
        Ok(Paging::parse(self.after.as_deref(), self.limit.as_deref())?)
    }

    fn user_filter(&self) -> Result<UserFilter, V1Error> {
        let active = match self.active.as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err(V1Error::invalid("active must be true or false")),
        };
        let updated_since = match self.updated_since.as_deref() {
            None => None,
            Some(text) => Some(parse_rfc3339(text).ok_or_else(|| {
                V1Error::invalid(
                    "updated_since must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z",
                )
            })?),
        };
        let email_ci = match self.email.as_deref() {
            None => None,
            Some(email) if email.is_empty() || email.chars().count() > MAX_EMAIL => {
                return Err(V1Error::invalid(format!("email must be 1-{MAX_EMAIL} characters")));
            }
            Some(email) => Some(email.to_lowercase()),
        };
        Ok(UserFilter { active, updated_since, email_ci })
    }
}

/// Runs a read for an admitted key with `directory:read`, with the request's query parameters
/// (checked after admission, so an unauthenticated caller learns nothing from them).
async fn read<T: Send + 'static>(
    call: &ApiRequest,
    f: impl FnOnce(&Reader<'_>, ListParams) -> Result<T, V1Error> + Send + 'static,
) -> Result<T, V1Error> {
    let base = scim_base(&call.req, &call.state);
    let query = call.req.query_string().to_owned();
    call.run(Scope::DirectoryRead, move |state: &AppState, principal: &ApiPrincipal| {
        let params = ListParams::parse(&query)?;
        let reader =
            Reader { db: &state.db, principal, scim_base: &base, registry: &state.schemas };
        f(&reader, params)
    })
    .await
}

fn page(page: Page) -> HttpResponse {
    json_response(&json!({"data": page.data, "next_cursor": page.next_cursor}))
}

fn json_response(body: &Value) -> HttpResponse {
    HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(body)
}

async fn tenants(call: ApiRequest) -> Result<HttpResponse, V1Error> {
    Ok(page(read(&call, move |r, q| Ok(r.tenants(&q.paging()?)?)).await?))
}

async fn tenant(call: ApiRequest, slug: web::Path<String>) -> Result<HttpResponse, V1Error> {
    let slug = slug.into_inner();
    Ok(json_response(&read(&call, move |r, _| Ok(r.tenant(&slug)?)).await?))
}

async fn users(call: ApiRequest, slug: web::Path<String>) -> Result<HttpResponse, V1Error> {
    let slug = slug.into_inner();
    let found = read(&call, move |r, q| Ok(r.users(&slug, &q.paging()?, &q.user_filter()?)?));
    Ok(page(found.await?))
}

async fn user(
    call: ApiRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, V1Error> {
    let (slug, id) = path.into_inner();
    Ok(json_response(&read(&call, move |r, _| Ok(r.user(&slug, &id)?)).await?))
}

async fn groups(call: ApiRequest, slug: web::Path<String>) -> Result<HttpResponse, V1Error> {
    let slug = slug.into_inner();
    Ok(page(read(&call, move |r, q| Ok(r.groups(&slug, &q.paging()?)?)).await?))
}

async fn group(
    call: ApiRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, V1Error> {
    let (slug, id) = path.into_inner();
    Ok(json_response(&read(&call, move |r, _| Ok(r.group(&slug, &id)?)).await?))
}

async fn members(
    call: ApiRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, V1Error> {
    let (slug, id) = path.into_inner();
    Ok(page(read(&call, move |r, q| Ok(r.members(&slug, &id, &q.paging()?)?)).await?))
}
