//! `GET /api/v1/events`: the event feed, oldest first, after a cursor; `wait` long-polls for apps
//! that cannot receive webhooks. Within a tenant a reader following `next_cursor` sees every
//! committed event once, in commit order (see `db::repo::events` for why).

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::ApiRequest;
use crate::db::repo::tenants;
use crate::http::error::V1Error;
use crate::service::delivery::feed::{self, Cursor, FeedPage, MAX_LIMIT};
use crate::service::delivery::outbox::TypeFilter;
use crate::service::tenancy::api_keys::{ApiPrincipal, Scope};

/// The longest `wait` a reader may ask for, in seconds.
const MAX_WAIT_SECS: u64 = 30;
/// While waiting, the database is asked again this often for events other nodes sequenced.
const POLL: Duration = Duration::from_millis(250);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::get("/events").to(events));
}

#[derive(Debug, Default, Deserialize)]
struct FeedParams {
    after: Option<String>,
    limit: Option<String>,
    tenant: Option<String>,
    types: Option<String>,
    wait: Option<String>,
}

/// A checked request for the feed.
#[derive(Debug, Clone)]
struct FeedRequest {
    after: Cursor,
    tenant_id: Option<String>,
    types: TypeFilter,
    limit: i64,
    wait: Duration,
}

impl FeedRequest {
    fn read(&self, db: &crate::db::Database) -> Result<FeedPage, V1Error> {
        let reading = feed::Reading {
            after: self.after,
            tenant_id: self.tenant_id.as_deref(),
            types: &self.types,
            limit: self.limit,
        };
        Ok(feed::page(db, &reading)?)
    }
}

/// Checks the parameters against what the key may read.
fn checked(
    db: &crate::db::Database,
    principal: &ApiPrincipal,
    query: &str,
) -> Result<FeedRequest, V1Error> {
    let params = web::Query::<FeedParams>::from_query(query)
        .map(web::Query::into_inner)
        .map_err(|_| V1Error::invalid("the query string is malformed"))?;
    let after = match params.after.as_deref() {
        None => Cursor::START,
        Some("latest") => feed::latest(db)?,
        Some(text) => Cursor::parse(text).ok_or_else(|| {
            V1Error::invalid("after must be a next_cursor this API returned, or 'latest'")
        })?,
    };
    let limit = match params.limit.as_deref() {
        None => 100,
        Some(text) => {
            text.parse::<i64>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                V1Error::invalid(format!("limit must be a whole number from 1 to {MAX_LIMIT}"))
            })?
        }
    };
    let wait = match params.wait.as_deref() {
        None => 0,
        Some(text) => {
            text.parse::<u64>().ok().filter(|n| *n <= MAX_WAIT_SECS).ok_or_else(|| {
                V1Error::invalid(format!(
                    "wait must be a whole number of seconds, 0 to {MAX_WAIT_SECS}"
                ))
            })?
        }
    };
    let types = TypeFilter::parse(params.types.as_deref().unwrap_or(""))
        .map_err(|why| V1Error::invalid(format!("types: {why}")))?;
    let tenant_id = match (params.tenant.as_deref(), &principal.tenant) {
        (Some(slug), _) if !principal.may_see(slug) => return Err(V1Error::tenant_forbidden()),
        (Some(slug), _) => {
            let mut conn = db.conn()?;
            let tenant = tenants::find_by_slug(&mut conn, slug)
                .map_err(crate::db::StoreError::from)?
                .ok_or_else(|| {
                    V1Error::not_found(format!("tenant '{}' not found", truncated(slug)))
                })?;
            Some(tenant.id)
        }
        (None, Some(confined)) => Some(confined.id.clone()),
        (None, None) => None,
    };
    Ok(FeedRequest { after, tenant_id, types, limit, wait: Duration::from_secs(wait) })
}

fn truncated(text: &str) -> String {
    text.chars().take(64).collect()
}

async fn events(call: ApiRequest) -> Result<HttpResponse, V1Error> {
    let query = call.req.query_string().to_owned();
    let (request, mut page) = call
        .run(Scope::EventsRead, move |state, principal| {
            let request = checked(&state.db, principal, &query)?;
            let page = request.read(&state.db)?;
            Ok((request, page))
        })
        .await?;
    if page.data.is_empty() && !request.wait.is_zero() {
        let deadline = tokio::time::Instant::now() + request.wait;
        let mut head = call.state.events.head();
        head.borrow_and_update();
        while page.data.is_empty() {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            // Woken by this node's sequencer, or after POLL for events other nodes sequenced.
            let nap = (deadline - now).min(POLL);
            if tokio::time::timeout(nap, head.changed()).await.is_ok_and(|r| r.is_err()) {
                tokio::time::sleep(nap).await;
            }
            let (state, request) = (call.state.clone(), request.clone());
            page = web::block(move || request.read(&state.db)).await??;
        }
    }
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(page))
}
