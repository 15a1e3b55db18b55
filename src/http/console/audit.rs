//! The audit log for security reviewers: filters (tenant, event, actor, grant, time range) on
//! indexed columns, keyset paging that costs the same on page 1 and page 10 000, a JSON-lines
//! export streamed page by page, and each grant's token lineage.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;

use super::{Done, Nav, Operator, Page, State, ok, read};
use crate::audit::Kind;
use crate::http::error::PageError;
use crate::http::ui;
use crate::service::oauth::grants::{self, Lineage};
use crate::service::operations::audit_log::{self, AuditQuery, AuditView};
use crate::service::tenancy::tenants::{self, TenantView};

const PAGE_SIZE: i64 = 100;
/// Events per database round trip of an export.
const EXPORT_BATCH: i64 = 2_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/audit", web::get().to(page))
        .route("/admin/audit.jsonl", web::get().to(export))
        .route("/admin/grants/{id}", web::get().to(lineage));
}

/// The filters as typed, echoed back into the form.
#[derive(Debug, Default, Clone, serde::Deserialize)]
struct Filters {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    grant: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    before: Option<String>,
}

impl Filters {
    fn query(&self) -> AuditQuery {
        let some = |s: &String| Some(s.clone()).filter(|s| !s.trim().is_empty());
        AuditQuery {
            tenant: some(&self.tenant),
            event: some(&self.event),
            actor: some(&self.actor),
            grant: some(&self.grant),
            since: some(&self.since),
            until: some(&self.until),
        }
    }

    /// The filters as a query string, for paging and export links.
    fn to_query_string(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("tenant", &self.tenant),
            ("event", &self.event),
            ("actor", &self.actor),
            ("grant", &self.grant),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !v.trim().is_empty() {
                out.append_pair(k, v);
            }
        }
        out.finish()
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    nav: Nav,
    tenants: Vec<TenantView>,
    events_offered: Vec<&'static str>,
    filters: Filters,
    query: String,
    before: Option<String>,
    error: Option<String>,
    events: Vec<AuditView>,
    next: Option<String>,
}

async fn page(state: State, op: Operator, filters: web::Query<Filters>) -> Page {
    let filters = filters.into_inner();
    let (query, before) = (filters.query(), filters.before.clone());
    let (tenants, result) = read(&state, move |st| {
        let tenants = tenants::list(&st.db)?;
        let result =
            audit_log::page(&st.db, st.clock.as_ref(), &query, before.as_deref(), true, PAGE_SIZE);
        Ok((tenants, result))
    })
    .await?;
    let (events, next, error, status) = match result {
        Ok(page) => (page.events, page.next, None, StatusCode::OK),
        Err(crate::service::OperatorError::Store(e)) => return Err(PageError::internal(e)),
        Err(e) => (Vec::new(), None, Some(e.to_string()), StatusCode::BAD_REQUEST),
    };
    let page = AuditPage {
        nav: op.nav(&Done::NONE),
        tenants,
        events_offered: Kind::ALL.iter().map(|k| k.as_str()).collect(),
        query: filters.to_query_string(),
        before: filters.before.clone(),
        filters,
        error,
        events,
        next,
    };
    Ok(ui::render(status, &page))
}

/// Every matching event, oldest first, one JSON object per line. Streamed: each chunk is one
/// keyset page fetched when the client has read the previous one, so memory stays flat for
/// millions of events.
async fn export(state: State, _op: Operator, filters: web::Query<Filters>) -> Page {
    let query = filters.into_inner().query();
    // Bad filters fail the request before the stream starts.
    let q = query.clone();
    let first = read(&state, move |st| {
        audit_log::page(&st.db, st.clock.as_ref(), &q, None, false, EXPORT_BATCH)
    })
    .await?;
    let stream = futures_util::stream::unfold(Some((Some(first), None::<String>)), move |cursor| {
        let (state, query) = (state.clone(), query.clone());
        async move {
            let (ready, after) = cursor?;
            let page = match ready {
                Some(page) => page,
                None => {
                    let fetched = web::block(move || {
                        audit_log::page(
                            &state.db,
                            state.clock.as_ref(),
                            &query,
                            after.as_deref(),
                            false,
                            EXPORT_BATCH,
                        )
                    })
                    .await;
                    match fetched {
                        Ok(Ok(page)) => page,
                        _ => {
                            tracing::error!("audit export failed mid-stream");
                            return Some((
                                Err(actix_web::error::ErrorInternalServerError("export failed")),
                                None,
                            ));
                        }
                    }
                }
            };
            let mut chunk = String::new();
            for event in &page.events {
                chunk.push_str(&serde_json::to_string(event).unwrap_or_default());
                chunk.push('\n');
            }
            let next = page.next.map(|n| (None, Some(n)));
            Some((Ok::<_, actix_web::Error>(web::Bytes::from(chunk)), next))
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/jsonl; charset=utf-8"))
        .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"scimd-audit.jsonl\""))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .streaming(stream))
}

#[derive(Template)]
#[template(path = "console/lineage.html")]
struct LineagePage {
    nav: Nav,
    lineage: Lineage,
}

async fn lineage(
    state: State,
    op: Operator,
    grant_id: web::Path<String>,
    query: web::Query<Done>,
) -> Page {
    let id = grant_id.into_inner();
    let lineage = read(&state, move |st| grants::lineage(&st.db, &id)).await?;
    ok(&LineagePage { nav: op.nav(&query), lineage })
}
