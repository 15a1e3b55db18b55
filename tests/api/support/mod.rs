//! The shared harness of the API tests; the area files beside `support/` hold only tests.
//!
//! | File | What it holds |
//! |---|---|
//! | `app.rs` | `TestDatabase`, `TestApp`, `spawn_app*`: a real server and database per test |
//! | `clients.rs` | clients typed by identity: static token, JWT, any bearer, operator, tenant admin |
//! | `scim.rs` | SCIM URNs, Okta's request bodies, `expect_json`/`expect_error`, `id_of`, `urlencode` |
//! | `okta.rs` | the fake Okta: its admin's browser on the consent pages and its token back end |
//! | `proxy.rs` | a TCP proxy in front of PostgreSQL that a test can freeze or cut (outages) |
//! | `webdriver.rs` | headless Chromium through WebDriver, skipped where no browser is installed |
//! | `metrics.rs` | `/metrics` scraped and parsed (the exposition format checked on the way) |
//! | `tls.rs` | self-signed certificates for servers with built-in TLS |
//! | `cli.rs` | the `scimd` binary run with `--json` |
//! | `api.rs` | `/api/v1` clients holding an API key; responses checked against `openapi.json` |
//! | `issuer.rs` | a fake Entra issuer: RS256/PS256/ES256 keys, assertions, a JWKS on loopback |
//! | `receiver.rs` | a recording webhook receiver, and the independent `standardwebhooks` verifier |
//!
//! # Writing a test
//!
//! Put it in the area file it belongs to (`users.rs`, `oauth.rs`, `console.rs`, …) or in a new
//! one declared in `main.rs`; it is one more `#[tokio::test]` of the single `api` binary.
//!
//! 1. **Spawn an app.** `spawn_app().await` starts a server on a random port with its own
//!    database (SQLite, or PostgreSQL under `SCIMD_TEST_POSTGRES`) and a tenant `acme` with a
//!    static token. `spawn_app_with(|s| ..)` changes `Settings` first; `spawn_app_manual` gives
//!    a clock that moves only when the test calls `clock.advance(ms)`, so nothing sleeps.
//! 2. **Pick a client by identity.** `app.static_token_client()` (or its shorthands `app.get`,
//!    `app.post`, …) is Okta with the static token; `app.other_tenant_client("globex")` another
//!    tenant; `app.jwt_client(&okta::setup(&app)).await` a JWT from the real OAuth flow;
//!    `app.bearer_client(token)` any credential as given; `app.operator().await` the console
//!    after `create_operator(&app)`; `app.tenant_admin(email, password).await` /account;
//!    `app.api_key(Some("acme"), None)` the vendor's application on `/api/v1` with an API key
//!    (`app.api_client(credential)` any credential there).
//! 3. **Assert.** `expect_json(response, StatusCode::OK)` checks status and SCIM content type
//!    and returns the body; `expect_error(response, status, Some("invalidFilter"))` checks a
//!    SCIM error. A wire format a client depends on gets an insta snapshot in `snapshots.rs`.
//!
//! ```ignore
//! #[tokio::test]
//! async fn a_new_user_is_listed() {
//!     let app = spawn_app().await;
//!     let scim = app.static_token_client();
//!     let created = scim.post("/Users", &okta_user("new@acme.test")).await;
//!     let user = expect_json(created, StatusCode::CREATED).await;
//!     let page = expect_json(scim.get("/Users").await, StatusCode::OK).await;
//!     assert_eq!(page["Resources"][0]["id"], user["id"]);
//! }
//! ```
//!
//! Tests share nothing but the process: no order, no fixed ports, no global state of their own.
// A harness offers more than today's tests call.
#![allow(dead_code)]

pub mod api;
pub mod app;
pub mod cli;
pub mod clients;
pub mod issuer;
pub mod metrics;
pub mod okta;
pub mod proxy;
pub mod receiver;
pub mod scim;
pub mod tls;
pub mod webdriver;

pub use api::*;
pub use app::*;
pub use clients::*;
pub use scim::*;
