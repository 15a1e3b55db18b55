//! When the database is out of reach, SCIM requests are answered 503 with `Retry-After` in the
//! SCIM error format (never a 500), and the server recovers by itself once it is back.

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{okta_user, spawn_app_with};

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

    admin_sql(&base, &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"));
    admin_sql(
        &base,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ),
    );
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

    admin_sql(&base, &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"));
    let listed = app.get("/Users").await;
    assert_eq!(listed.status(), 200);
    let body: Value = listed.json().await.unwrap();
    assert_eq!(body["totalResults"], 1);
}
