//! Read-only browser of a tenant's users and groups, with search and paging. It runs the same
//! service code as the SCIM API, so what the console shows is what Okta reads.

use actix_web::{HttpRequest, web};
use askama::Template;
use serde_json::Value;

use super::{Done, Nav, Operator, Page, State, check_slug, ok, read};
use crate::http::error::PageError;
use crate::http::extractors::scim_base;
use crate::scim::query::{ListQuery, PageLimits};
use crate::scim::resource::Projection;
use crate::scim::schema::ResourceKind;
use crate::service::provisioning::{ResourceId, TenantContext, TenantId};
use crate::service::tenancy::tenants::{self, TenantView};

const PAGE_SIZE: u64 = 50;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{slug}/{kind:users|groups}", web::get().to(browse))
        .route("/admin/tenants/{slug}/{kind:users|groups}/{id}", web::get().to(show));
}

/// How the browser shows one resource type: a description per type, not a branch per page.
struct Listing {
    kind: ResourceKind,
    /// Page title, and the path segment of the routes.
    title: &'static str,
    segment: &'static str,
    /// The attribute that names a resource, and the one shown beside it.
    name: &'static str,
    detail: Option<&'static str>,
    /// What a page of the list asks the pipeline for: `attributes` or `excludedAttributes`.
    projection: (&'static str, &'static str),
    /// Plain words in the search box match these attributes by substring (and externalId exactly).
    words_in: &'static [&'static str],
}

const LISTINGS: [Listing; 2] = [
    Listing {
        kind: ResourceKind::User,
        title: "Users",
        segment: "users",
        name: "userName",
        detail: Some("displayName"),
        projection: ("attributes", "userName,displayName,externalId,active,meta"),
        words_in: &["userName", "displayName"],
    },
    Listing {
        kind: ResourceKind::Group,
        title: "Groups",
        segment: "groups",
        name: "displayName",
        detail: None,
        projection: ("excludedAttributes", "members"),
        words_in: &["displayName"],
    },
];

/// The listing a path segment names (the routes admit only the listed segments).
fn listing(segment: &str) -> &'static Listing {
    LISTINGS.iter().find(|l| l.segment == segment).unwrap_or(&LISTINGS[0])
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
fn filter_for(listing: &Listing, q: &str) -> Option<String> {
    let q = q.trim();
    if q.is_empty() {
        return None;
    }
    let operators = [" eq ", " ne ", " co ", " sw ", " ew ", " gt ", " ge ", " lt ", " le ", " pr"];
    if operators.iter().any(|op| q.to_ascii_lowercase().contains(op)) {
        return Some(q.to_owned());
    }
    let v = quoted(q);
    let words = listing.words_in.iter().map(|attribute| format!("{attribute} co {v}"));
    Some(words.chain([format!("externalId eq {v}")]).collect::<Vec<_>>().join(" or "))
}

fn text(value: &Value, path: &[&str]) -> String {
    let mut v = value;
    for key in path {
        v = &v[*key];
    }
    v.as_str().unwrap_or("").to_owned()
}

fn row(listing: &Listing, r: &Value) -> Row {
    let inactive = if r["active"] == Value::Bool(false) { " (inactive)" } else { "" };
    let detail = listing.detail.map(|d| format!("{}{inactive}", text(r, &[d])));
    Row {
        id: text(r, &["id"]),
        name: text(r, &[listing.name]),
        detail: detail.unwrap_or_default(),
        external_id: text(r, &["externalId"]),
        updated: text(r, &["meta", "lastModified"]),
    }
}

/// Runs `work` in the SCIM context of the tenant `slug` names, as that tenant's IdP would see it.
async fn in_tenant<T: Send + 'static>(
    req: &HttpRequest,
    state: &State,
    slug: String,
    work: impl FnOnce(&TenantContext<'_>) -> T + Send + 'static,
) -> Result<(TenantView, T), PageError> {
    let base = scim_base(req, state);
    read(state, move |st| {
        let tenant = tenants::by_slug(&st.db, &slug)?;
        let tenant_id = TenantId::new(tenant.id.clone());
        let done = work(&st.tenant_context(&tenant_id, &tenant.slug, &base));
        Ok((TenantView::from(tenant), done))
    })
    .await
}

async fn browse(
    req: HttpRequest,
    state: State,
    op: Operator,
    path: web::Path<(String, String)>,
    search: web::Query<Search>,
) -> Page {
    let (slug, segment) = path.into_inner();
    let (listing, search) = (listing(&segment), search.into_inner());
    let kind = listing.kind;
    check_slug(&slug)?;
    let q = search.q.unwrap_or_default();
    let start = search.start.unwrap_or(1).max(1);
    let mut params = vec![
        ("startIndex".to_owned(), start.to_string()),
        ("count".to_owned(), PAGE_SIZE.to_string()),
    ];
    params.push((listing.projection.0.into(), listing.projection.1.into()));
    if let Some(filter) = filter_for(listing, &q) {
        params.push(("filter".into(), filter));
    }
    let limits = PageLimits { default_count: PAGE_SIZE, max_count: PAGE_SIZE };
    let (tenant, listed) = in_tenant(&req, &state, slug, move |ctx| {
        ListQuery::parse(ctx.schemas_of(kind), &params, limits)
            .and_then(|query| ctx.resources(kind).list(&query))
    })
    .await?;
    let (total, resources, error) = match listed {
        Ok(page) => (page.total, page.resources, None),
        Err(err) if err.status == 400 => {
            (0, Vec::new(), Some(format!("Invalid search: {}", err.detail)))
        }
        Err(err) => return Err(PageError::from(err)),
    };
    let shown = resources.len() as u64;
    ok(&BrowsePage {
        nav: op.nav(&Done::NONE),
        tenant,
        kind: listing.title,
        path: listing.segment,
        search_label: "Search (words, or a SCIM filter)",
        name_heading: listing.name,
        detail_heading: listing.detail.unwrap_or(""),
        q,
        error,
        total,
        first: start,
        last: start + shown.saturating_sub(1),
        rows: resources.iter().map(|r| row(listing, r)).collect(),
        prev: (start > 1).then(|| start.saturating_sub(PAGE_SIZE).max(1)),
        next: (start + shown <= total && shown > 0).then_some(start + shown),
    })
}

async fn show(
    req: HttpRequest,
    state: State,
    op: Operator,
    path: web::Path<(String, String, String)>,
) -> Page {
    let (slug, segment, id) = path.into_inner();
    let listing = listing(&segment);
    let kind = listing.kind;
    check_slug(&slug)?;
    let id = ResourceId::from(id);
    let wanted = id.clone();
    let (tenant, found) = in_tenant(&req, &state, slug, move |ctx| {
        ctx.resources(kind).get(&wanted, &Projection::default_for(ctx.schemas_of(kind)))
    })
    .await?;
    let resource = match found {
        Ok(found) => found.json,
        Err(e) if e.status == 404 => {
            return Err(PageError::not_found(format!("resource '{id}' not found")));
        }
        Err(e) => return Err(PageError::from(e)),
    };
    ok(&ResourcePage {
        nav: op.nav(&Done::NONE),
        tenant,
        title: format!("{} {}", kind.name(), text(&resource, &[listing.name])),
        path: listing.segment,
        json: serde_json::to_string_pretty(&resource).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_a_safe_filter_and_filters_pass_through() {
        let (users, groups) = (listing("users"), listing("groups"));
        assert_eq!(filter_for(users, "  "), None);
        assert_eq!(
            filter_for(groups, "a\"b").unwrap(),
            r#"displayName co "a\"b" or externalId eq "a\"b""#
        );
        assert_eq!(filter_for(users, "userName sw \"x\"").unwrap(), "userName sw \"x\"");
        assert!(
            crate::scim::filter::parse_filter(&filter_for(users, "o'brien \\").unwrap()).is_ok()
        );
    }
}
