//! Building and running the server: `Application::build` binds (port 0 picks a free port, which
//! tests use), `port()` tells which, `run_until_stopped()` serves, over http or, with `tls_cert`
//! and `tls_key`, https.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, Service};
use actix_web::http::KeepAlive;
use actix_web::middleware::{NormalizePath, TrailingSlash};
use actix_web::{App, HttpServer, web};
use tracing::Instrument;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Database;
use crate::http::scim::endpoint_case::{self, Endpoints};
use crate::http::sign_in_csrf::SignInCsrf;
use crate::http::{AppState, chunked, limits, request_id, routes, transport};
use crate::scim::catalog::CatalogConfig;
use crate::scim::schema::Registry;
use crate::service::delivery::sequencer::EventWorker;
use crate::service::delivery::webhooks::worker::{WebhookWorker, WorkerConfig};
use crate::service::oauth::keys::{self, TokenRuntime};
use crate::service::operations::activity::ActivityTracker;
use crate::service::operations::housekeeping::{self, Housekeeper};
use crate::service::operations::inspector::{Inspector, Retention, start_writer};
use crate::service::operations::rate_limit::BatchedLimiter;

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        let db = Database::connect_configured(
            &settings.database_url,
            settings.db_pool_size,
            settings.db_statement_timeout_secs,
            settings.db_connect_timeout_secs,
        )?;
        Self::build_with(settings, clock, db)
    }

    /// Builds on an already connected database (tests share it with their fixtures).
    pub fn build_with(
        settings: Settings,
        clock: Arc<dyn Clock>,
        db: Database,
    ) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
        let local = listener.local_addr()?;
        let port = local.port();
        check_public_url(&settings, local.ip())?;
        let workers = settings.workers;
        let bounds = Limits::of(&settings);
        // Read the certificate before anything else starts, so a bad one stops us with its reason.
        let tls = match (&settings.tls_cert, &settings.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
            _ => None,
        };
        warn_about_settings(&settings);
        let state = Self::start_state(settings, clock, db)?;
        let delivery = start_delivery(&state.db, &state.clock, &state.settings);
        let registry = web::Data::new(crate::metrics::Registry::new());
        let connections = web::Data::new(Arc::new(limits::ConnectionCounts::default()));
        let mut server = HttpServer::new(move || {
            let schemas = state.schemas.clone();
            let endpoints = web::Data::new(Endpoints::of(&schemas));
            App::new()
                .app_data(state.clone())
                .app_data(delivery.clone())
                .app_data(registry.clone())
                .app_data(endpoints)
                .wrap(actix_web::middleware::from_fn(endpoint_case::canonical_case))
                .app_data(connections.clone())
                .wrap(actix_web::middleware::from_fn(chunked::read_chunked_first))
                .wrap_fn(limits::guard)
                .wrap(NormalizePath::new(TrailingSlash::Trim))
                .wrap_fn(|req, srv| {
                    let id = request_id::request_id(&req);
                    actix_web::HttpMessage::extensions_mut(&req)
                        .insert(request_id::RequestId(id.clone()));
                    let span = tracing::info_span!("request", request_id = %id);
                    let response = srv.call(req).instrument(span);
                    async move { response.await.map(|r| request_id::tag(r, &id)) }
                })
                .wrap_fn(transport::edge_headers)
                .wrap(actix_web::middleware::from_fn(crate::http::metrics::record))
                .configure(|cfg| routes(cfg, &schemas))
        })
        .on_connect(limits::on_connect)
        .client_request_timeout(bounds.client_request_timeout)
        .client_disconnect_timeout(bounds.client_disconnect_timeout)
        .keep_alive(bounds.keep_alive);
        if let Some(n) = bounds.max_connections {
            server = server.max_connections(n);
        }
        server = match tls {
            Some(config) => server.listen_rustls_0_23(listener, config)?,
            None => server.listen(listener)?,
        };
        if let Some(n) = workers {
            server = server.workers(n.max(1));
        }
        Ok(Application { port, server: server.run() })
    }

    /// The application state every handler shares: the schema registry, keys, caches and the
    /// background workers that belong to it.
    fn start_state(
        settings: Settings,
        clock: Arc<dyn Clock>,
        db: Database,
    ) -> anyhow::Result<web::Data<AppState>> {
        let catalog = CatalogConfig {
            roles: settings.catalog_roles,
            entitlement_types: settings.entitlement_types.clone(),
        };
        let schemas = Registry::configured(&settings.schema_extensions, &catalog)
            .map_err(|e| anyhow::anyhow!("invalid schema_extensions or entitlement_types: {e}"))?;
        let db = db
            .with_checkout_timeout(Duration::from_secs(settings.db_pool_timeout_secs))
            .with_read_timeout(
                (settings.db_read_timeout_secs > 0)
                    .then(|| Duration::from_secs(settings.db_read_timeout_secs)),
            );
        let sealer = settings.sealer().map_err(|e| anyhow::anyhow!("{e}"))?;
        keys::ensure_signing_key(&db, clock.as_ref(), &sealer)
            .map_err(|e| anyhow::anyhow!("cannot create the first signing key: {e}"))?;
        let passwords = match settings.password_hash_concurrency {
            Some(limit) => crate::oauth::password::Gate::new(limit),
            None => crate::oauth::password::Gate::per_core(),
        };
        let tokens = TokenRuntime::new(settings.access_token_ttl_ms());
        let csrf_key = crate::service::accounts::sign_in_csrf_key(&db, clock.as_ref())
            .map_err(|e| anyhow::anyhow!("cannot read the sign-in CSRF key: {e}"))?;
        let events = EventWorker::start(db.clone(), clock.clone(), settings.event_retention_ms());
        let inspector = start_inspector(&settings, &db, &clock);
        let housekeeper = Arc::new(Housekeeper::start(
            db.clone(),
            clock.clone(),
            housekeeping::Policy::of(&settings),
        ));
        let tenant_slots = crate::service::operations::tenant_slots::TenantSlots::for_pool(
            settings.tenant_max_connections,
            settings.db_pool_size,
        );
        let settings_allow_insecure_jwks = settings.allow_insecure_jwks_uri;
        Ok(web::Data::new(AppState {
            housekeeper,
            db,
            clock,
            events,
            settings: Arc::new(settings),
            schemas: Arc::new(schemas),
            tokens: Arc::new(tokens),
            credentials: Arc::default(),
            list_hints: Arc::default(),
            scim_limiter: Arc::new(BatchedLimiter::new()),
            activity: Arc::new(ActivityTracker::new()),
            inspector: inspector.clone(),
            passwords: Arc::new(passwords),
            sealer: Arc::new(sealer),
            sign_in_csrf: Arc::new(SignInCsrf::new(&csrf_key)),
            tenant_slots,
            jwks: Arc::new(crate::service::oauth::jwks_cache::JwksCache::new(
                settings_allow_insecure_jwks,
            )),
            signers: Arc::default(),
        }))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Without `public_url`, the OAuth issuer, the metadata and every resource location follow the
/// request's `Host`, which any client chooses: fine on loopback (development), a mistake on a
/// public address unless a proxy in front fixes the host, which `allow_host_derived_urls` says.
fn check_public_url(settings: &Settings, bound: std::net::IpAddr) -> anyhow::Result<()> {
    if settings.public_url.is_some() {
        return Ok(());
    }
    if bound.is_loopback() || settings.allow_host_derived_urls {
        tracing::warn!(
            "public_url is not set: the issuer and resource locations follow each request's Host header"
        );
        return Ok(());
    }
    anyhow::bail!(
        "public_url is not set and {bound} is not a loopback address: the OAuth issuer and resource \
         locations would follow whatever Host header a client sends. Set public_url \
         (e.g. https://scim.example.com), or allow_host_derived_urls = true if a proxy in front \
         fixes the Host header"
    )
}

/// The node's webhook workers; their threads stop when the server (which holds the returned
/// handle) is dropped.
/// Settings that work but that an operator should know about.
fn warn_about_settings(settings: &Settings) {
    if settings.trusts_every_peer() {
        tracing::warn!(
            "forwarded headers are trusted from every peer; list the proxies in trusted_proxies"
        );
    }
    if settings.refresh_absolute_ttl_ms().is_none() {
        // A deliberate exception (README, Security): Okta refreshes only when it provisions,
        // and a forced expiry would be an outage; the operator should know it is so.
        tracing::warn!(
            "refresh_absolute_ttl_secs is not set: refresh-token chains have no absolute \
             lifetime (only the idle limit, refresh_idle_ttl_secs); set it to bound them"
        );
    }
}

/// The request inspector's queue, and its writer unless the log is off (retention 0 days).
fn start_inspector(settings: &Settings, db: &Database, clock: &Arc<dyn Clock>) -> Arc<Inspector> {
    let inspector = Arc::new(Inspector::new(settings.request_log_body_bytes));
    if settings.request_log_retention_days > 0 {
        let keep = Retention {
            max_age_ms: i64::try_from(settings.request_log_retention_days)
                .unwrap_or(i64::MAX / 86_400_000)
                .saturating_mul(86_400_000),
            max_per_tenant: i64::try_from(settings.request_log_max_per_tenant).unwrap_or(i64::MAX),
        };
        start_writer(&inspector, db.clone(), clock.clone(), keep);
    }
    inspector
}

fn start_delivery(
    db: &Database,
    clock: &Arc<dyn Clock>,
    settings: &Settings,
) -> web::Data<Delivery> {
    let config = WorkerConfig {
        allow_private: settings.allow_private_webhook_targets,
        disable_after_ms: i64::try_from(settings.webhook_disable_after_secs.saturating_mul(1000))
            .unwrap_or(i64::MAX),
        threads: settings.webhook_workers,
        // A lease of 0 would let every node claim at once.
        lease_ms: i64::try_from(settings.webhook_lease_secs.max(1).saturating_mul(1000))
            .unwrap_or(30_000),
    };
    let webhooks = WebhookWorker::start(db.clone(), clock.clone(), config);
    web::Data::new(Delivery { webhooks })
}

/// What the webhook threads leave with the server (`/metrics` reads their counts).
pub struct Delivery {
    pub webhooks: WebhookWorker,
}

/// The connection limits of `Settings`, in actix's types.
struct Limits {
    client_request_timeout: Duration,
    client_disconnect_timeout: Duration,
    keep_alive: KeepAlive,
    max_connections: Option<usize>,
}

impl Limits {
    fn of(settings: &Settings) -> Limits {
        Limits {
            client_request_timeout: Duration::from_secs(settings.client_request_timeout_secs),
            client_disconnect_timeout: Duration::from_secs(settings.client_disconnect_timeout_secs),
            keep_alive: match settings.keep_alive_secs {
                0 => KeepAlive::Disabled,
                secs => KeepAlive::Timeout(Duration::from_secs(secs)),
            },
            max_connections: settings.max_connections,
        }
    }
}
