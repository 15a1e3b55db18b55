//! HTTP: actix-web routes, extractors and the error type. Handlers parse, call one service function
//! off the async runtime, and shape the response; no SQL and no protocol rules live here.

pub mod error;
pub mod extractors;
pub mod oauth;
pub mod scim;
pub mod ui;

use std::sync::Arc;

use actix_web::{HttpResponse, web};

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Database;
use crate::service::keys::TokenRuntime;

/// Shared by every request.
pub struct AppState {
    pub db: Database,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// Per-node caches for JWT verification (keys by kid, verified tokens by hash).
    pub tokens: Arc<TokenRuntime>,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .configure(oauth::routes)
        .service(web::scope("/scim/v2").configure(scim::routes));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok")
}
