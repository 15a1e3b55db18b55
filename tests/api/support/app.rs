//! The spawned application: every test gets its own database (a fresh SQLite file, or a fresh
//! PostgreSQL database when SCIMD_TEST_POSTGRES is set) and its own server on a random port.

use std::sync::Arc;

use diesel::prelude::*;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use super::scim::{ACME_EXTENSION, GROUP_SCHEMA, expect_json, okta_user};

use scimd::audit::Actor;
use scimd::clock::{Clock, ManualClock, SystemClock};
use scimd::config::Settings;
use scimd::db::Database;
use scimd::scim::custom_schema::ExtensionConfig;
use scimd::service::tenancy::{credentials, tenants};
use scimd::startup::Application;

/// `[[schema_extensions]]` of every test server: one attribute of each interesting kind.
pub fn acme_extension() -> Vec<ExtensionConfig> {
    let definition = json!([{
        "id": ACME_EXTENSION,
        "resourceType": "User",
        "name": "AcmeUser",
        "description": "Acme's custom attributes",
        "attributes": [
            {"name": "badgeNumber", "type": "integer"},
            {"name": "hireDate", "type": "dateTime"},
            {"name": "costCode", "type": "string", "caseExact": true},
            {"name": "clearance", "type": "string", "canonicalValues": ["low", "high"]},
            {"name": "employeeId", "type": "string", "mutability": "immutable"},
            {"name": "desk", "type": "complex", "subAttributes": [
                {"name": "building", "type": "string"},
                {"name": "floor", "type": "integer"}
            ]}
        ]
    }]);
    serde_json::from_value(definition).expect("valid extension definition")
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteFile(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    pub fn new() -> TestDatabase {
        let id = uuid::Uuid::new_v4().simple().to_string();
        match std::env::var("SCIMD_TEST_POSTGRES") {
            Ok(base) if !base.is_empty() => {
                let base = base.trim_end_matches('/').to_owned();
                let admin_url = format!("{base}/postgres");
                let name = format!("scimd_test_{id}");
                let mut conn = PgConnection::establish(&admin_url)
                    .expect("connect to PostgreSQL admin database");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                TestDatabase {
                    url: format!("{base}/{name}"),
                    cleanup: Cleanup::Postgres { admin_url, name },
                }
            }
            _ => {
                let path = std::env::temp_dir().join(format!("scimd-test-{id}.db"));
                TestDatabase {
                    url: format!("sqlite://{}", path.display()),
                    cleanup: Cleanup::SqliteFile(path),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut conn) = PgConnection::establish(admin_url) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn);
                }
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub db: Database,
    pub clock: Arc<dyn Clock>,
    /// A tenant created for the test, with a live token.
    pub tenant: String,
    pub token: String,
    pub client: reqwest::Client,
    pub settings: Settings,
    _database: TestDatabase,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(configure, Arc::new(SystemClock)).await
}

/// A server whose clock only moves when the test says so (token expiry without sleeping).
pub async fn spawn_app_manual(
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, Arc<ManualClock>) {
    let now = SystemClock.now();
    let clock = ManualClock::new(now);
    let app = spawn_app_on(configure, clock.clone()).await;
    (app, clock)
}

pub async fn spawn_app_on(configure: impl FnOnce(&mut Settings), clock: Arc<dyn Clock>) -> TestApp {
    let database = TestDatabase::new();
    let mut settings = Settings {
        database_url: database.url.clone(),
        bind: "127.0.0.1:0".into(),
        db_pool_size: 4,
        workers: Some(2),
        schema_extensions: acme_extension(),
        ..Settings::default()
    };
    configure(&mut settings);
    let db = Database::connect_with(
        &settings.database_url,
        settings.db_pool_size,
        settings.db_statement_timeout_secs,
    )
    .expect("connect test database");
    let app =
        Application::build_with(settings.clone(), clock.clone(), db.clone()).expect("build app");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    tenants::create(&db, clock.as_ref(), &Actor::Cli, "acme", Some("Acme Inc"))
        .expect("create tenant");
    let token = credentials::issue(&db, clock.as_ref(), &Actor::Cli, "acme", "okta")
        .expect("issue token")
        .token;
    let (address, client) = match &settings.tls_cert {
        Some(cert) => (format!("https://localhost:{port}"), https_client(cert, port)),
        None => (format!("http://127.0.0.1:{port}"), http_client()),
    };
    TestApp {
        address,
        port,
        db,
        clock,
        tenant: "acme".into(),
        token,
        client,
        settings,
        _database: database,
    }
}

/// reqwest is built with rustls but no crypto provider of its own (its default would compile
/// ring beside aws-lc-rs): every client of the tests uses the process-wide aws-lc-rs one.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

pub fn http_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::new()
}

/// A client that trusts only the server's own (self-signed) certificate, with `localhost`
/// resolving to the server, so the name in the certificate is checked as in production.
pub fn https_client(cert: &std::path::Path, port: u16) -> reqwest::Client {
    install_crypto_provider();
    let pem = std::fs::read(cert).expect("read test certificate");
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM certificate"))
        .resolve("localhost", std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .expect("https client")
}

impl TestApp {
    /// A second server on the same database: another node behind the load balancer. Several
    /// nodes are a PostgreSQL deployment; on SQLite (one process owns the file) this node
    /// stands in. Returns its address.
    pub async fn second_node(&self) -> String {
        if self.db.target().is_sqlite() {
            return self.address.clone();
        }
        let settings = Settings { bind: "127.0.0.1:0".into(), ..self.settings.clone() };
        let db = Database::connect(&settings.database_url, settings.db_pool_size).unwrap();
        let node = Application::build_with(settings, self.clock.clone(), db).unwrap();
        let address = format!("http://127.0.0.1:{}", node.port());
        tokio::spawn(node.run_until_stopped());
        address
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/scim/v2{path}", self.address)
    }

    /// Creates another tenant and returns a token for it.
    pub fn other_tenant(&self, slug: &str) -> String {
        tenants::create(&self.db, self.clock.as_ref(), &Actor::Cli, slug, None)
            .expect("create tenant");
        credentials::issue(&self.db, self.clock.as_ref(), &Actor::Cli, slug, "okta")
            .expect("issue token")
            .token
    }

    // The harness tenant's static token: shorthand for `self.static_token_client()`.

    pub async fn get(&self, path: &str) -> Response {
        self.static_token_client().get(path).await
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> Response {
        self.static_token_client().send(method, path, body).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.static_token_client().post(path, body).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.static_token_client().put(path, body).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.static_token_client().patch(path, body).await
    }
    pub async fn delete(&self, path: &str) -> Response {
        self.static_token_client().delete(path).await
    }

    // Any other bearer credential: shorthand for `self.bearer_client(token)`.

    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.bearer_client(token).get(path).await
    }

    pub async fn send_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Response {
        self.bearer_client(token).send(method, path, body).await
    }

    /// GET of a public (unauthenticated) path outside /scim/v2, e.g. `/healthz`.
    pub async fn get_public(&self, path: &str) -> Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("GET")
    }

    /// The audit events of one kind (every tenant), oldest first, as JSON.
    pub fn audit_events(&self, event: &str) -> Vec<Value> {
        scimd::service::operations::audit_log::page(
            &self.db,
            self.clock.as_ref(),
            &scimd::service::operations::audit_log::AuditQuery {
                event: Some(event.into()),
                ..Default::default()
            },
            None,
            false,
            1000,
        )
        .unwrap()
        .events
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
    }

    /// A public JSON document of the server (metadata, JWKS), whatever the status.
    pub async fn get_public_json(&self, path: &str) -> Value {
        self.get_public(path).await.json().await.expect("JSON body")
    }

    /// Creates a user as Okta does and returns the created resource.
    pub async fn create_user(&self, user_name: &str) -> Value {
        let response = self.post("/Users", &okta_user(user_name)).await;
        expect_json(response, StatusCode::CREATED).await
    }

    pub async fn create_group(&self, name: &str) -> Value {
        let response = self
            .post(
                "/Groups",
                &json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": []}),
            )
            .await;
        expect_json(response, StatusCode::CREATED).await
    }
}

/// `scimd serve` as a child process on the app's database: another node, with its own memory,
/// as a load balancer would put beside the first. Killed when dropped.
pub struct ChildNode {
    pub address: String,
    child: std::process::Child,
}

impl TestApp {
    /// Requests `token` on `address` until it is refused; fails when a request sent more than a second
    /// after the revocation (`revoked`) was still admitted. Then it stays refused.
    pub async fn refused_within_a_second(
        &self,
        address: &str,
        token: &str,
        revoked: std::time::Instant,
    ) {
        let url = format!("{address}/scim/v2/Users");
        loop {
            let sent = std::time::Instant::now();
            let status = self.client.get(&url).bearer_auth(token).send().await.unwrap().status();
            if status == reqwest::StatusCode::UNAUTHORIZED {
                break;
            }
            assert_eq!(status, reqwest::StatusCode::OK);
            assert!(
                sent.duration_since(revoked) < std::time::Duration::from_secs(1),
                "{address} still admitted the credential a second after its revocation"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for _ in 0..3 {
            let status = self.client.get(&url).bearer_auth(token).send().await.unwrap().status();
            assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);
        }
    }

    /// Starts another node (see [`ChildNode`]) with the app's public URL, and waits until it
    /// answers `/healthz`.
    pub async fn child_node(&self) -> ChildNode {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let bind = format!("127.0.0.1:{port}");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scimd"));
        command
            .args(["--database-url", &self.settings.database_url, "serve", "--bind", &bind])
            .env_remove("SCIMD_CONFIG")
            .env("SCIMD_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(public_url) = &self.settings.public_url {
            command.env("SCIMD_PUBLIC_URL", public_url);
        }
        let child = command.spawn().expect("start scimd");
        let node = ChildNode { address: format!("http://{bind}"), child };
        for _ in 0..600 {
            let up = self.client.get(format!("{}/healthz", node.address)).send().await;
            if up.is_ok_and(|r| r.status().is_success()) {
                return node;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the child node did not come up on {bind}");
    }
}

impl ChildNode {
    /// SIGKILL: the process ends mid-way, with no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
