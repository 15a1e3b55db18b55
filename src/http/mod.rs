//! HTTP: actix-web routes, extractors and the error type. Handlers parse, call one service function
//! off the async runtime, and shape the response; no SQL and no protocol rules live here.

pub mod account;
pub mod activity;
pub mod api;
pub mod chunked;
pub mod console;
pub mod error;
pub mod extractors;
pub mod forwarded;
pub mod inspector;
pub mod limits;
pub mod metrics;
pub mod nul;
pub mod oauth;
pub mod request_id;
pub mod scim;
pub mod security;
pub mod sign_in_csrf;
pub mod transport;
pub mod ui;
pub mod web_session;

use std::sync::Arc;

use actix_web::{HttpResponse, web};

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Database;
use crate::scim::schema::Registry;
use crate::service::delivery::sequencer::EventWorker;
use crate::service::oauth::keys::TokenRuntime;
use crate::service::operations::activity::ActivityTracker;
use crate::service::operations::rate_limit::BatchedLimiter;
use crate::service::provisioning::{TenantContext, TenantId};

/// Shared by every request.
/// The application state, as handlers receive it.
pub type State = web::Data<AppState>;

/// What an HTML page's handler answers: the page, a redirect, or an error page.
pub type Page = Result<HttpResponse, error::PageError>;

pub struct AppState {
    /// Where this node's last unfiltered pages ended, and the counts they reported.
    pub list_hints: Arc<crate::service::provisioning::list_hints::ListHints>,
    pub db: Database,
    /// This node's housekeeping thread (retention of every growing table), alive with the state.
    pub housekeeper: Arc<crate::service::operations::housekeeping::Housekeeper>,
    pub clock: Arc<dyn Clock>,
    /// This node's event sequencer: the feed head long-polling readers wait on.
    pub events: EventWorker,
    pub settings: Arc<Settings>,
    /// The SCIM schemas of this server: the built-in ones and `settings.schema_extensions`.
    pub schemas: Arc<Registry>,
    /// Per-node caches for JWT verification (keys by kid, verified tokens by hash).
    pub tokens: Arc<TokenRuntime>,
    /// SCIM credentials this node verified in the last moment (`credential_cache`).
    pub credentials: Arc<crate::service::provisioning::credential_cache::CredentialCache>,
    /// This node's side of the shared SCIM request budget per tenant.
    pub scim_limiter: Arc<BatchedLimiter>,
    /// This node's queue of SCIM requests for the request inspector.
    pub inspector: Arc<crate::service::operations::inspector::Inspector>,
    /// Throttles writes of each tenant's last SCIM activity.
    pub activity: Arc<ActivityTracker>,
    /// This node's bound on concurrent argon2 verifications (sign-ins, legacy client secrets).
    pub passwords: Arc<crate::oauth::password::Gate>,
    /// Seals new signing keys and opens the one that signs (`signing_key_secret`).
    pub sealer: Arc<crate::oauth::seal::Sealer>,
    /// Mints and checks the sign-in forms' CSRF tokens.
    pub sign_in_csrf: Arc<sign_in_csrf::SignInCsrf>,
    /// Bounds the pooled connections one tenant's SCIM requests hold at once on this node.
    pub tenant_slots: Arc<crate::service::operations::tenant_slots::TenantSlots>,
    /// This node's cache of the key sets `private_key_jwt` clients sign with.
    pub jwks: Arc<crate::service::oauth::jwks_cache::JwksCache>,
    /// This node's signing keys, opened and parsed once each.
    pub signers: Arc<crate::service::oauth::keys::Signers>,
}

impl AppState {
    /// What a provisioning use case for `tenant` runs against; `base` is the SCIM base URL.
    pub fn tenant_context<'a>(
        &'a self,
        tenant: &'a TenantId,
        tenant_slug: &'a str,
        base: &'a str,
    ) -> TenantContext<'a> {
        TenantContext {
            db: &self.db,
            clock: self.clock.as_ref(),
            schemas: &self.schemas,
            tenant,
            tenant_slug,
            base,
            max_multi_values: self.settings.max_multi_values,
            list_hints: &self.list_hints,
        }
    }
}

/// Every route; the SCIM catalog endpoints are the ones `schemas` serves.
pub fn routes(cfg: &mut web::ServiceConfig, schemas: &Registry) {
    // SCIM first: actix tries routes in order, and each console route with a `{…}` segment is a
    // regex match that every request placed after it would pay for.
    cfg.service(
        web::scope("/scim/v2")
            .wrap(actix_web::middleware::from_fn(activity::track))
            .wrap(actix_web::middleware::from_fn(inspector::record))
            .configure(|cfg| scim::routes(cfg, schemas)),
    )
    .configure(api::routes)
    .route("/healthz", web::get().to(healthz))
    .route("/readyz", web::get().to(readyz))
    .route("/metrics", web::get().to(metrics::scrape))
    .configure(oauth::routes)
    .configure(ui::routes)
    .configure(account::routes)
    .configure(console::routes);
}

/// The process is up (liveness): answered without touching the database.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok")
}

/// The node can serve (readiness): the database answers and no migration is pending. The reason
/// of a 503 goes to the log only; the body just says "unavailable". The check is bounded by
/// `readyz_timeout_secs`: a database that stopped answering is a prompt 503, not a hung probe,
/// and is then known to be down, so requests fail fast too.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let limit = std::time::Duration::from_secs(state.settings.readyz_timeout_secs.max(1));
    let checked = tokio::time::timeout(limit, web::block(move || db.check_ready())).await;
    match checked {
        Ok(Ok(Ok(()))) => {
            HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ready")
        }
        Ok(Ok(Err(err))) => {
            tracing::warn!(error = %err, "not ready");
            unavailable()
        }
        Ok(Err(_)) => unavailable(),
        Err(_) => {
            tracing::warn!(
                secs = limit.as_secs(),
                "not ready: the database did not answer in time"
            );
            state.db.mark_down();
            unavailable()
        }
    }
}

fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable().content_type("text/plain; charset=utf-8").body("unavailable")
}
