//! SCIM 2.0 endpoints under `/scim/v2` (RFC 7644).

mod bulk;
mod catalog;
mod discovery;
pub mod endpoint_case;
mod resources;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::AppState;
use super::error::{ApiError, SCIM_CONTENT_TYPE};
use super::extractors::{Authenticated, NUL_DETAIL, scim_base, state};
use super::nul;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::Registry;
use crate::service::operations::rate_limit::Limit;
use crate::service::provisioning::{TenantContext, TenantId};

pub fn routes(cfg: &mut web::ServiceConfig, schemas: &Registry) {
    resources::routes(cfg);
    bulk::routes(cfg);
    discovery::routes(cfg);
    catalog::routes(cfg, schemas);
    cfg.default_service(web::to(unknown_endpoint));
}

/// A SCIM request that passed admission (credential, rate limit, scope): the request, the app,
/// and the caller's tenant, which every use case it runs is confined to.
pub(super) struct ScimCall {
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: TenantId,
    tenant_slug: String,
}

impl FromRequest for ScimCall {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let admitted = Authenticated::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let Authenticated(principal) = admitted.await?;
            if nul::in_raw(req.path()) || nul::in_raw(req.query_string()) {
                return Err(ScimError::invalid_value(NUL_DETAIL).into());
            }
            let state = state(&req)?;
            let tenant = TenantId::new(principal.tenant_id);
            Ok(ScimCall { req, state, tenant, tenant_slug: principal.tenant_slug })
        })
    }
}

impl ScimCall {
    pub(super) fn request(&self) -> &HttpRequest {
        &self.req
    }

    pub(super) fn state(&self) -> &AppState {
        &self.state
    }

    /// Counts `cost` more requests against the tenant's SCIM budget (a `/Bulk`'s operations):
    /// 429 with `Retry-After` when they do not fit.
    pub(super) async fn charge(&self, cost: u64) -> Result<(), ApiError> {
        let (state, tenant) = (self.state.clone(), self.tenant.as_str().to_owned());
        let decision = web::block(move || {
            let limit = Limit::per_minute(state.settings.rate_limits.scim_per_tenant);
            let checked = state.scim_limiter.check_cost(&tenant, cost, limit, state.clock.now());
            state.scim_limiter.settle(&state.db, &checked)
        })
        .await?
        .map_err(ScimError::from)?;
        match decision.retry_after_secs() {
            Some(secs) => {
                tracing::info!(tenant = %self.tenant_slug, cost, "SCIM rate limit reached by a Bulk request");
                Err(ApiError::rate_limited(secs))
            }
            None => Ok(()),
        }
    }

    /// Runs a use case for the caller's tenant on the blocking pool, holding one of the
    /// tenant's database slots on this node (`tenant_max_connections`): when none frees up
    /// within `db_pool_timeout_secs`, 429 with `Retry-After`, and the other tenants never noticed.
    pub(super) async fn run<T: Send + 'static>(
        self,
        call: impl FnOnce(&TenantContext<'_>) -> ScimResult<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let base = scim_base(&self.req, &self.state);
        let wait = std::time::Duration::from_secs(self.state.settings.db_pool_timeout_secs);
        let Some(slot) = self.state.tenant_slots.take(self.tenant.as_str(), wait).await else {
            tracing::info!(tenant = %self.tenant_slug, "tenant holds all its database slots");
            return Err(ApiError::busy_tenant(TENANT_BUSY_RETRY_SECS));
        };
        let (state, tenant, slug) = (self.state, self.tenant, self.tenant_slug);
        let result = web::block(move || {
            let _slot = slot;
            call(&state.tenant_context(&tenant, &slug, &base))
        })
        .await?;
        Ok(result?)
    }
}

/// `Retry-After` of a request refused because its tenant holds all its database slots.
const TENANT_BUSY_RETRY_SECS: u64 = 1;

/// A SCIM JSON response with an optional ETag.
fn scim_response(
    status: actix_web::http::StatusCode,
    body: &Value,
    version: Option<i64>,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
    if let Some(v) = version {
        response.insert_header((header::ETAG, crate::scim::version::etag(v)));
    }
    response.body(body.to_string())
}

async fn unknown_endpoint(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ScimError::not_found(format!("no SCIM endpoint at {}", req.path())).into())
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ScimError::method_not_allowed(format!(
        "{} is not supported on {}",
        req.method(),
        req.path()
    ))
    .into())
}
