//! The request inspector's pages: a tenant's SCIM requests, newest first, filtered by status
//! class, method, resource, client and time; one request with both bodies and what it changed. Operators see any
//! tenant's at /admin/tenants/{slug}/requests; tenant admins their own at /account/requests.

use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::{Done, Nav, Operator, Page, State, check_slug, ok, read};
use crate::clock::{parse_rfc3339, to_rfc3339};
use crate::db::repo::request_log::{RequestFilter, RequestRow};
use crate::http::error::PageError;
use crate::service::operations::inspector::{self, PAGE};
use crate::service::operations::request_changes::{self, Change, Changes};
use crate::service::tenancy::tenants::{self, TenantView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{slug}/requests", web::get().to(list))
        .route("/admin/tenants/{slug}/requests/{seq}", web::get().to(show));
}

/// The list's query: every part optional; `before` pages to older requests.
#[derive(Debug, Default, Deserialize)]
pub struct Query {
    status: Option<String>,
    method: Option<String>,
    resource: Option<String>,
    client: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<i64>,
}

impl Query {
    /// The filter, with what could not be read said in `error`.
    pub fn filter(&self) -> (RequestFilter, Option<String>) {
        fn some(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        let mut error = None;
        let mut time = |v: &Option<String>, name: &str| {
            let text = some(v)?;
            let parsed = parse_rfc3339(text);
            if parsed.is_none() {
                error = Some(format!("{name} must be an RFC 3339 time, e.g. 2026-12-01T09:00:00Z"));
            }
            parsed
        };
        let since = time(&self.since, "since");
        let until = time(&self.until, "until");
        let filter = RequestFilter {
            status_class: some(&self.status).and_then(|s| match s {
                "2xx" => Some(2),
                "4xx" => Some(4),
                "5xx" => Some(5),
                _ => None,
            }),
            method: some(&self.method).map(|m| m.to_ascii_uppercase()).filter(|m| m.len() <= 10),
            resource: some(&self.resource)
                .filter(|r| {
                    r.len() <= 64 && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
                })
                .map(str::to_owned),
            client: some(&self.client)
                .filter(|c| ["okta", "entra", "other"].contains(c))
                .map(str::to_owned),
            since,
            until,
        };
        (filter, error)
    }

    /// The query string of this filter, for the next page's link.
    pub fn again(&self) -> String {
        let pairs = [
            ("status", &self.status),
            ("method", &self.method),
            ("resource", &self.resource),
            ("client", &self.client),
            ("since", &self.since),
            ("until", &self.until),
        ];
        // Each set pair and an `&`, so the link can append `before=`.
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                query.append_pair(key, value);
            }
        }
        let mut query = query.finish();
        if !query.is_empty() {
            query.push('&');
        }
        query
    }
}

/// One row of the list.
pub struct Line {
    pub seq: i64,
    pub at: String,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub failed: bool,
    pub detail: String,
    pub latency_ms: i64,
    pub client: String,
    pub credential: String,
}

impl From<&RequestRow> for Line {
    fn from(r: &RequestRow) -> Line {
        Line {
            seq: r.seq,
            at: to_rfc3339(r.at),
            method: r.method.clone(),
            path: r.path.clone(),
            status: r.status,
            failed: r.status >= 400,
            detail: r
                .scim_type
                .iter()
                .chain(r.detail.iter())
                .cloned()
                .collect::<Vec<_>>()
                .join(": "),
            latency_ms: r.latency_ms,
            client: r.client.clone(),
            credential: r.credential.clone().unwrap_or_else(|| "refused".into()),
        }
    }
}

/// The list's values, shared by the console's page and the account's.
pub struct Listing {
    pub lines: Vec<Line>,
    pub query: String,
    pub status: String,
    pub method: String,
    pub resource: String,
    pub client: String,
    pub since: String,
    pub until: String,
    pub error: Option<String>,
    pub older: Option<i64>,
}

/// Reads a page for `tenant_id` under the query.
pub async fn listing(state: &State, tenant_id: String, query: Query) -> Result<Listing, PageError> {
    let (filter, error) = query.filter();
    let before = query.before;
    let rows =
        read(state, move |st| Ok(inspector::page(&st.db, &tenant_id, &filter, before)?)).await?;
    let older = (rows.len() as i64 == PAGE).then(|| rows.last().map(|r| r.seq)).flatten();
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    Ok(Listing {
        lines: rows.iter().map(Line::from).collect(),
        query: query.again(),
        status: text(&query.status),
        method: text(&query.method),
        resource: text(&query.resource),
        client: text(&query.client),
        since: text(&query.since),
        until: text(&query.until),
        error,
        older,
    })
}

/// One request, as the detail page shows it.
pub struct Detail {
    pub line: Line,
    pub user_agent: String,
    pub request_id: String,
    pub request_body: String,
    pub response_body: String,
    /// What the write changed, from the events it recorded; `None` for a read or a failure.
    pub changes: Option<Vec<Change>>,
}

pub async fn detail(state: &State, tenant_id: String, seq: i64) -> Result<Detail, PageError> {
    let found = read(state, move |st| {
        let Some(row) = inspector::find(&st.db, &tenant_id, seq)? else { return Ok(None) };
        let changes = request_changes::of(&st.db, &row)?;
        Ok(Some((row, changes)))
    })
    .await?;
    let (row, changes) = found.ok_or_else(|| PageError::not_found("no such request"))?;
    let pretty = |body: &Option<String>| match body {
        None => String::from("(no body)"),
        Some(text) => serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| text.clone()),
    };
    Ok(Detail {
        line: Line::from(&row),
        user_agent: row.user_agent.clone(),
        request_id: row.request_id.clone(),
        request_body: pretty(&row.request_body),
        response_body: pretty(&row.response_body),
        changes: match changes {
            Changes::NotApplicable => None,
            Changes::Recorded(changes) => Some(changes),
        },
    })
}

#[derive(Template)]
#[template(path = "console/requests.html")]
struct RequestsPage {
    nav: Nav,
    tenant: TenantView,
    base: String,
    listing: Listing,
}

#[derive(Template)]
#[template(path = "console/request.html")]
struct RequestPage {
    nav: Nav,
    tenant: TenantView,
    base: String,
    detail: Detail,
}

/// The tenant `slug` names, and the base of its inspector's links.
async fn tenant_of(state: &State, slug: String) -> Result<(TenantView, String), PageError> {
    check_slug(&slug)?;
    let tenant = TenantView::from(read(state, move |st| tenants::by_slug(&st.db, &slug)).await?);
    let base = format!("/admin/tenants/{}/requests", tenant.slug);
    Ok((tenant, base))
}

async fn list(
    state: State,
    op: Operator,
    slug: web::Path<String>,
    query: web::Query<Query>,
) -> Page {
    let (tenant, base) = tenant_of(&state, slug.into_inner()).await?;
    let listing = listing(&state, tenant.id.clone(), query.into_inner()).await?;
    ok(&RequestsPage { nav: op.nav(&Done::NONE), tenant, base, listing })
}

async fn show(state: State, op: Operator, path: web::Path<(String, i64)>) -> Page {
    let (slug, seq) = path.into_inner();
    let (tenant, base) = tenant_of(&state, slug).await?;
    let detail = detail(&state, tenant.id.clone(), seq).await?;
    ok(&RequestPage { nav: op.nav(&Done::NONE), tenant, base, detail })
}
