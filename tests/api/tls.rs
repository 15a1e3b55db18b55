//! Exposure hardening: built-in TLS, HSTS, which peers may speak for the client through
//! forwarded headers, connection timeouts and the PostgreSQL statement timeout.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use reqwest::StatusCode;
use serde_json::Value;

use scimd::clock::SystemClock;
use scimd::config::Settings;
use scimd::db::{Database, DbTarget};
use scimd::service::operations::audit_log;
use scimd::startup::Application;

use crate::support::okta;
use crate::support::tls::CertFiles;
use crate::support::*;

const HSTS: &str = "strict-transport-security";

fn hsts(response: &reqwest::Response) -> Option<&str> {
    response.headers().get(HSTS).map(|v| v.to_str().unwrap())
}

async fn issuer(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let mut request =
        app.client.get(format!("{}/.well-known/oauth-authorization-server", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body: Value = request.send().await.unwrap().json().await.unwrap();
    body["issuer"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn tls_serves_https_with_hsts_and_refuses_plain_http() {
    let certs = CertFiles::new();
    let app = spawn_app_with(|s| certs.configure(s)).await;
    assert!(app.address.starts_with("https://localhost:"));

    let response = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(hsts(&response), Some("max-age=31536000; includeSubDomains"));
    assert_eq!(response.text().await.unwrap(), "ok");
    // SCIM works over it, errors carry HSTS too, and the derived issuer is https.
    let response = app.get("/Users").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(hsts(&response).is_some());
    let response = app.get_as("scimd_st_wrong", "/Users").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(hsts(&response).is_some());
    assert_eq!(issuer(&app, &[]).await, app.address);

    // Plain http to the TLS port gets no HTTP answer at all.
    let plain = http_client()
        .get(format!("http://127.0.0.1:{}/healthz", app.port))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
}

#[tokio::test]
async fn hsts_max_age_is_configurable_and_zero_turns_it_off() {
    let certs = CertFiles::new();
    let app = spawn_app_with(|s| {
        certs.configure(s);
        s.hsts_max_age_secs = 600;
    })
    .await;
    let response = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(hsts(&response), Some("max-age=600; includeSubDomains"));

    let app = spawn_app_with(|s| {
        certs.configure(s);
        s.hsts_max_age_secs = 0;
    })
    .await;
    let response = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(hsts(&response), None);
}

#[tokio::test]
async fn a_certificate_that_cannot_be_loaded_stops_the_build_with_its_reason() {
    let certs = CertFiles::new();
    let other = CertFiles::new();
    let garbage = certs.dir.join("garbage.pem");
    std::fs::write(&garbage, "not a key").unwrap();
    let missing = certs.dir.join("missing.pem");
    // (certificate, key, the reason, the file it names)
    let cases = [
        (&missing, &certs.key, "cannot read TLS certificate", &missing),
        (&certs.cert, &garbage, "no usable private key", &garbage),
        (&garbage, &certs.key, "no CERTIFICATE block", &garbage),
        (&certs.cert, &other.key, "cannot be used", &other.key),
    ];
    let database = TestDatabase::new();
    let db = Database::connect(&database.url, 2).unwrap();
    for (cert, key, reason, named) in cases {
        let settings = Settings {
            database_url: database.url.clone(),
            bind: "127.0.0.1:0".into(),
            tls_cert: Some(cert.clone()),
            tls_key: Some(key.clone()),
            schema_extensions: acme_extension(),
            ..Settings::default()
        };
        let built = Application::build_with(settings, Arc::new(SystemClock), db.clone());
        let message = format!("{:#}", built.err().expect("the build must fail"));
        assert!(message.contains(reason), "{message}");
        assert!(message.contains(&*named.display().to_string()), "{message}");
    }
}

#[tokio::test]
async fn plain_http_never_sends_hsts_and_ignores_forwarded_headers_by_default() {
    let app = spawn_app().await;
    let forged = [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil.example")];
    let mut request = app.client.get(format!("{}/healthz", app.address));
    for (name, value) in forged {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(hsts(&response), None);
    assert_eq!(issuer(&app, &forged).await, app.address);
    assert_eq!(issuer(&app, &[("Forwarded", "proto=https;host=evil.example")]).await, app.address);
}

#[tokio::test]
async fn a_trusted_proxy_can_say_https() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let fx = okta::setup(&app);
    let authorize = format!("{}/oauth/authorize?{}", app.address, okta::authorize_query(&fx, &[]));

    let https = [("X-Forwarded-Proto", "https")];
    let response = app.client.get(&authorize).header(https[0].0, https[0].1).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(hsts(&response), Some("max-age=31536000; includeSubDomains"));
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
    let host = app.address.trim_start_matches("http://");
    assert_eq!(issuer(&app, &https).await, format!("https://{host}"));
    let forwarded = [("Forwarded", "for=203.0.113.7;proto=https;host=scim.example.com")];
    assert_eq!(issuer(&app, &forwarded).await, "https://scim.example.com");

    // Without the header the same proxy's request is plain http.
    let response = app.client.get(&authorize).send().await.unwrap();
    assert_eq!(hsts(&response), None);
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert_eq!(issuer(&app, &[]).await, app.address);
}

#[tokio::test]
async fn without_trust_the_forwarded_scheme_is_ignored() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()]).await;
    let fx = okta::setup(&app);
    let authorize = format!("{}/oauth/authorize?{}", app.address, okta::authorize_query(&fx, &[]));
    let response =
        app.client.get(&authorize).header("X-Forwarded-Proto", "https").send().await.unwrap();
    assert_eq!(hsts(&response), None);
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert_eq!(issuer(&app, &[("X-Forwarded-Proto", "https")]).await, app.address);
}

/// The client address in the audit trail of a failed SCIM authentication.
async fn recorded_ip(app: &TestApp, forwarded_for: &str) -> Option<String> {
    let response = app
        .bearer_client("scimd_st_wrong")
        .request(reqwest::Method::GET, "/Users")
        .header("X-Forwarded-For", forwarded_for)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let events = audit_log::list(&app.db, app.clock.as_ref(), None, None, 1000).unwrap();
    events.into_iter().rev().find(|e| e.event == "scim.auth_failed").and_then(|e| e.ip)
}

#[tokio::test]
async fn the_client_address_comes_from_trusted_proxies_only() {
    let app = spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()]
    })
    .await;
    // The right-most address that is not a trusted proxy; what the client wrote itself is not.
    let ip = recorded_ip(&app, "6.6.6.6, 203.0.113.7, 10.1.2.3").await;
    assert_eq!(ip.as_deref(), Some("203.0.113.7"));

    let app = spawn_app().await;
    let ip = recorded_ip(&app, "203.0.113.7").await;
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_cut_off() {
    let app = spawn_app_with(|s| s.client_request_timeout_secs = 1).await;
    let port = app.port;
    let started = Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n").unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();
    assert!(outcome.starts_with("HTTP/1.1 408"), "{outcome}");
    // Well before actix's own default of 5 s.
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}

#[tokio::test]
async fn postgres_statements_are_bounded_by_the_statement_timeout() {
    let app = spawn_app_with(|s| s.db_statement_timeout_secs = 1).await;
    if !matches!(app.db.target(), DbTarget::Postgres(_)) {
        return; // SQLite has no statement timeout.
    }
    let mut conn = app.db.conn().unwrap();
    conn.batch_execute("SELECT pg_sleep(0.1)").unwrap();
    let err = conn.batch_execute("SELECT pg_sleep(3)").unwrap_err();
    assert!(err.to_string().contains("statement timeout"), "{err}");
}
