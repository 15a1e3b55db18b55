//! When the database is out of reach, every surface answers 503 with `Retry-After` in its own
//! format (SCIM error, OAuth JSON, HTML page; never a 500), and the server recovers by itself
//! once the database is back. A node killed mid-write loses nothing it acknowledged.

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::okta::browser;
use crate::support::proxy::DbProxy;
use crate::support::{okta_user, page, spawn_app, spawn_app_with, submit};

/// Runs a statement on the PostgreSQL server's maintenance database.
fn admin_sql(base: &str, sql: &str) {
    let mut conn = PgConnection::establish(&format!("{base}/postgres")).expect("connect admin");
    diesel::sql_query(sql).execute(&mut conn).expect(sql);
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_with_retry_after_and_the_server_recovers() {
    // Only PostgreSQL can be made unreachable from the outside while the server runs.
    let Ok(base) = std::env::var("SCIMD_TEST_POSTGRES") else { return };
    let base = base.trim_end_matches('/').to_owned();
    let app = spawn_app_with(|s| s.db_pool_timeout_secs = 1).await;
    let name = app.settings.database_url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(app.post("/Users", &okta_user("before@acme.com")).await.status(), 201);

    // The sign-in page renders without the database; its form is posted once it is gone.
    let b = browser(&app);
    let sign_in = page(&b, "/account/login", StatusCode::OK).await;
    let api = app.api_key(Some("acme"), None);

    admin_sql(&base, &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"));
    drop_connections(&base, &app);
    for response in [app.get("/Users").await, app.post("/Users", &okta_user("x@acme.com")).await] {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "2");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/scim+json")
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "503");
        assert_eq!(body["detail"], "the database is unavailable; retry later");
    }
    // /api/v1 in its own JSON.
    let response = api.get("/tenants/acme/users").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "2");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    let token = app
        .client
        .post(format!("{}/oauth/token", app.address))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .basic_auth("some-client", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(token.headers()["retry-after"], "2");
    assert_eq!(token.headers()["cache-control"], "no-store");
    let body: Value = token.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    let posted =
        submit(&b, &sign_in, "/account/login", &[("email", "a@acme.com"), ("password", "p")]).await;
    assert_eq!(posted.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(posted.headers()["retry-after"], "2");
    assert!(posted.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(posted.text().await.unwrap().contains("briefly unavailable"));

    admin_sql(&base, &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"));
    // The pool reconnects in the background, backing off after the failures: poll, bounded.
    let mut listed = app.get("/Users").await;
    for _ in 0..60 {
        if listed.status() != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        listed = app.get("/Users").await;
    }
    assert_eq!(listed.status(), 200);
    let body: Value = listed.json().await.unwrap();
    assert_eq!(body["totalResults"], 1);
}

/// Drops every connection of the app's database from the server side, as a restart would.
fn drop_connections(base: &str, app: &crate::support::TestApp) {
    let name = app.settings.database_url.rsplit('/').next().unwrap().to_owned();
    admin_sql(
        base,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ),
    );
}

/// Pooled connections are not tested on every checkout (that was a round trip per request):
/// when the database drops them all, a connection in steady use costs at most one request a
/// 503 (never a 500) before it is replaced.
#[tokio::test]
async fn dropped_connections_cost_at_most_one_503_each() {
    let Ok(base) = std::env::var("SCIMD_TEST_POSTGRES") else { return };
    let base = base.trim_end_matches('/').to_owned();
    let pool_size = 4;
    let app = spawn_app_with(|s| s.db_pool_size = pool_size).await;
    let created = app.post("/Users", &okta_user("steady@acme.com")).await;
    let id = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    // Every pooled connection in use at once, then dropped while still trusted.
    let warm = futures_util::future::join_all((0..pool_size * 2).map(|_| app.get(&path))).await;
    assert!(warm.iter().all(|r| r.status() == StatusCode::OK));
    drop_connections(&base, &app);
    let mut failed = 0;
    for _ in 0..(pool_size * 3) {
        for response in [app.get(&path).await, app.get("/Users?count=1").await] {
            match response.status() {
                StatusCode::OK => {}
                StatusCode::SERVICE_UNAVAILABLE => failed += 1,
                other => panic!("a dropped connection answered {other}"),
            }
        }
    }
    assert!(failed <= pool_size, "{failed} requests failed for {pool_size} dropped connections");
    for _ in 0..pool_size * 2 {
        assert_eq!(app.get(&path).await.status(), StatusCode::OK, "not recovered");
    }
}

/// `host:port` of a `postgres://user@host[:port]` base URL.
fn host_port(base: &str) -> String {
    let rest = base.split_once("://").unwrap().1;
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h).split('/').next().unwrap();
    if host.contains(':') { host.to_owned() } else { format!("{host}:5432") }
}

/// Polls `/readyz` until it says ready (bounded; reconnecting backs off after failures).
async fn until_ready(client: &reqwest::Client, address: &str) {
    for _ in 0..120 {
        let ready = client.get(format!("{address}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("the server did not become ready again");
}

async fn assert_scim_and_oauth_503(client: &reqwest::Client, app: &crate::support::TestApp) {
    let listed = client
        .get(app.url("/Users"))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("a prompt answer, not a hang");
    assert_eq!(listed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(listed.headers()["retry-after"], "2");
    let body: Value = listed.json().await.unwrap();
    assert_eq!(body["detail"], "the database is unavailable; retry later");
    let token = client
        .post(format!("{}/oauth/token", app.address))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .basic_auth("some-client", Some("secret"))
        .send()
        .await
        .expect("a prompt answer, not a hang");
    assert_eq!(token.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(token.headers()["retry-after"], "2");
    let body: Value = token.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn a_database_that_hangs_or_stops_is_a_503_not_a_hang_and_the_server_recovers() {
    let Ok(base) = std::env::var("SCIMD_TEST_POSTGRES") else { return };
    let proxy = DbProxy::start(&host_port(&base));
    let app = spawn_app_with(|s| {
        s.database_url = proxy.url_through(&s.database_url);
        s.db_pool_timeout_secs = 1;
        s.readyz_timeout_secs = 1;
    })
    .await;
    // A hang must fail the test, not block it: every request has a generous deadline.
    let client =
        reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build().unwrap();
    let ready = client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(app.get("/Users").await.status(), StatusCode::OK);

    // Frozen: connections stay open, nothing answers. /readyz gives up, and from then on the
    // database is known to be down, so requests are refused rather than stuck behind it.
    proxy.freeze();
    let ready = client.get(format!("{}/readyz", app.address)).send().await;
    assert_eq!(ready.expect("a bounded readiness check").status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_scim_and_oauth_503(&client, &app).await;
    proxy.resume();
    until_ready(&client, &app.address).await;
    assert_eq!(app.get("/Users").await.status(), StatusCode::OK);

    // Stopped: connections closed, new ones refused.
    proxy.cut();
    assert_scim_and_oauth_503(&client, &app).await;
    let ready = client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    proxy.resume();
    until_ready(&client, &app.address).await;
    let listed = app.get("/Users").await;
    assert_eq!(listed.status(), StatusCode::OK);
}

/// Creates share commits on SQLite (group commit), and each is answered only once its commit is
/// done: a node killed with SIGKILL in the middle of a burst of concurrent creates has, read back
/// by another node, every user it answered 201 for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_burst_keeps_every_create_it_acknowledged() {
    let app = spawn_app().await;
    let mut node = app.child_node().await;
    let url = format!("{}/scim/v2/Users", node.address);
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let (client, url, token) = (app.client.clone(), url.clone(), app.token.clone());
            let acknowledged = acknowledged.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let name = format!("burst-{c}-{i}@acme.test");
                    let sent = client.post(&url).bearer_auth(&token).json(&okta_user(&name));
                    match sent.send().await {
                        Ok(response) if response.status() == StatusCode::CREATED => {
                            acknowledged.lock().unwrap().push(name);
                        }
                        Ok(response) => assert!(response.status().is_server_error()),
                        Err(_) => return, // the node is gone
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    node.kill();
    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let stored: std::collections::HashSet<String> = {
        use scimd::db::schema::scim_users;
        let mut conn = app.db.conn().unwrap();
        scim_users::table
            .select(scim_users::user_name)
            .load(&mut *conn)
            .unwrap()
            .into_iter()
            .collect()
    };
    let lost: Vec<&String> = acknowledged.iter().filter(|name| !stored.contains(*name)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged creates lost: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
}
