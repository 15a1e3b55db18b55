//! Read-only browser of a tenant's users and groups, with search and paging. It runs the same
//! service code as the SCIM API, so what the console shows is what Okta reads.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::Value;

use super::{Nav, Operator, check_slug};
use crate::http::AppState;
use crate::http::extractors::scim_base;
use crate::http::ui;
use crate::http::web_session::{PageError, blocking};
use crate::scim::error::ScimError;
use crate::scim::query::{ListQuery, PageLimits};
use crate::scim::resource::Projection;
use crate::scim::schema::ResourceKind;
use crate::service::OperatorError;
use crate::service::provisioning::resources;
use crate::service::provisioning::{ResourceId, TenantId};
use crate::service::tenants::{self, TenantView};

const PAGE_SIZE: u64 = 50;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{slug}/{kind:users|groups}", web::get().to(browse))
        .route("/admin/tenants/{slug}/{kind:users|groups}/{id}", web::get().to(show));
}

/// The kind a path segment names (the routes admit only these two).
fn kind_of(segment: &str) -> ResourceKind {
    if segment == "groups" { ResourceKind::Group } else { ResourceKind::User }
}

pub struct Row {
    id: String,
    name: String,
    detail: String,
    external_id: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "console/browse.html")]
struct BrowsePage {
    nav: Nav,
    tenant: TenantView,
    kind: &'static str,
    path: &'static str,
    search_label: &'static str,
    name_heading: &'static str,
    detail_heading: &'static str,
    q: String,
    error: Option<String>,
    total: u64,
    first: u64,
    last: u64,
    rows: Vec<Row>,
    prev: Option<u64>,
    next: Option<u64>,
}

#[derive(Template)]
#[template(path = "console/resource.html")]
struct ResourcePage {
    nav: Nav,
    tenant: TenantView,
    title: String,
    path: &'static str,
    json: String,
}

#[derive(Debug, serde::Deserialize)]
struct Search {
    q: Option<String>,
    start: Option<u64>,
}

/// A SCIM string literal.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// The search box takes a SCIM filter as is (`userName sw "a"`), or plain words, which match
/// the names by substring and the externalId exactly.
fn filter_for(kind: ResourceKind, q: &str) -> Option<String> {
    let q = q.trim();
    if q.is_empty() {
        return None;
    }
    let operators = [" eq ", " ne ", " co ", " sw ", " ew ", " gt ", " ge ", " lt ", " le ", " pr"];
    if operators.iter().any(|op| q.to_ascii_lowercase().contains(op)) {
        return Some(q.to_owned());
    }
    let v = quoted(q);
    Some(match kind {
        ResourceKind::User => format!("userName co {v} or displayName co {v} or externalId eq {v}"),
        ResourceKind::Group => format!("displayName co {v} or externalId eq {v}"),
    })
}

fn text(value: &Value, path: &[&str]) -> String {
    let mut v = value;
    for key in path {
        v = &v[*key];
    }
    v.as_str().unwrap_or("").to_owned()
}

fn row(kind: ResourceKind, r: &Value) -> Row {
    let (name, detail) = match kind {
        ResourceKind::User => {
            let inactive = if r["active"] == Value::Bool(false) { " (inactive)" } else { "" };
            (text(r, &["userName"]), format!("{}{inactive}", text(r, &["displayName"])))
        }
        ResourceKind::Group => (text(r, &["displayName"]), String::new()),
    };
    Row {
        id: text(r, &["id"]),
        name,
        detail,
        external_id: text(r, &["externalId"]),
        updated: text(r, &["meta", "lastModified"]),
    }
}

fn scim_failure(err: ScimError) -> OperatorError {
    OperatorError::Invalid(err.detail)
}

async fn browse(
    req: HttpRequest,
    state: web::Data<AppState>,
    op: Operator,
    path: web::Path<(String, String)>,
    search: web::Query<Search>,
) -> Result<HttpResponse, PageError> {
    let (slug, segment) = path.into_inner();
    let (kind, search) = (kind_of(&segment), search.into_inner());
    check_slug(&slug)?;
    let q = search.q.unwrap_or_default();
    let start = search.start.unwrap_or(1).max(1);
    let mut params = vec![
        ("startIndex".to_owned(), start.to_string()),
        ("count".to_owned(), PAGE_SIZE.to_string()),
    ];
    match kind {
        ResourceKind::User => {
            params.push(("attributes".into(), "userName,displayName,externalId,active,meta".into()))
        }
        ResourceKind::Group => params.push(("excludedAttributes".into(), "members".into())),
    }
    if let Some(filter) = filter_for(kind, &q) {
        params.push(("filter".into(), filter));
    }
    let base = scim_base(&req, &state);
    let st = state.clone();
    let (tenant, listed) = blocking(move || {
        let tenant = tenants::by_slug(&st.db, &slug)?;
        let limits = PageLimits { default_count: PAGE_SIZE, max_count: PAGE_SIZE };
        let tenant_id = TenantId::new(tenant.id.clone());
        let ctx = st.tenant_context(&tenant_id, &base);
        let listed = ListQuery::parse(ctx.schemas_of(kind), &params, limits)
            .and_then(|query| resources::list(&ctx, kind, &query));
        Ok((TenantView::from(tenant), listed))
    })
    .await?;
    let (total, resources, error) = match listed {
        Ok(page) => (page.total, page.resources, None),
        Err(err) if err.status == 400 => {
            (0, Vec::new(), Some(format!("Invalid search: {}", err.detail)))
        }
        Err(err) => return Err(PageError::internal(err.detail)),
    };
    let shown = resources.len() as u64;
    let page = BrowsePage {
        nav: Nav::new(&op.session, None),
        tenant,
        kind: if kind == ResourceKind::User { "Users" } else { "Groups" },
        path: if kind == ResourceKind::User { "users" } else { "groups" },
        search_label: "Search (words, or a SCIM filter)",
        name_heading: if kind == ResourceKind::User { "userName" } else { "displayName" },
        detail_heading: if kind == ResourceKind::User { "displayName" } else { "" },
        q,
        error,
        total,
        first: start,
        last: start + shown.saturating_sub(1),
        rows: resources.iter().map(|r| row(kind, r)).collect(),
        prev: (start > 1).then(|| start.saturating_sub(PAGE_SIZE).max(1)),
        next: (start + shown <= total && shown > 0).then_some(start + shown),
    };
    Ok(ui::render(StatusCode::OK, &page))
}

async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    op: Operator,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, PageError> {
    let (slug, segment, id) = path.into_inner();
    let kind = kind_of(&segment);
    check_slug(&slug)?;
    let base = scim_base(&req, &state);
    let st = state.clone();
    let (tenant, resource) = blocking(move || {
        let tenant = tenants::by_slug(&st.db, &slug)?;
        let tenant_id = TenantId::new(tenant.id.clone());
        let ctx = st.tenant_context(&tenant_id, &base);
        let projection =
            Projection::parse(ctx.schemas_of(kind), None, None).map_err(scim_failure)?;
        let id = ResourceId::from(id);
        let found = resources::get(&ctx, kind, &id, &projection);
        let resource = found.map_err(|e| {
            if e.status == 404 {
                OperatorError::NotFound(format!("resource '{id}'"))
            } else {
                scim_failure(e)
            }
        })?;
        Ok((TenantView::from(tenant), resource.json))
    })
    .await?;
    let title = match kind {
        ResourceKind::User => format!("User {}", text(&resource, &["userName"])),
        ResourceKind::Group => format!("Group {}", text(&resource, &["displayName"])),
    };
    let page = ResourcePage {
        nav: Nav::new(&op.session, None),
        tenant,
        title,
        path: if kind == ResourceKind::User { "users" } else { "groups" },
        json: serde_json::to_string_pretty(&resource).unwrap_or_default(),
    };
    Ok(ui::render(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_a_safe_filter_and_filters_pass_through() {
        assert_eq!(filter_for(ResourceKind::User, "  "), None);
        assert_eq!(
            filter_for(ResourceKind::Group, "a\"b").unwrap(),
            r#"displayName co "a\"b" or externalId eq "a\"b""#
        );
        assert_eq!(
            filter_for(ResourceKind::User, "userName sw \"x\"").unwrap(),
            "userName sw \"x\""
        );
        assert!(
            crate::scim::filter::parse_filter(
                &filter_for(ResourceKind::User, "o'brien \\").unwrap()
            )
            .is_ok()
        );
    }
}
