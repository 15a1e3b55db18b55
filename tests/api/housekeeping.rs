//! Housekeeping over real storage with the manual clock: each growing table keeps what its rules
//! still read and loses the rest, one node at a time, counted in `/metrics`; unauthenticated SCIM
//! attempts are limited per address; SQLite bounds its WAL file.

use diesel::prelude::*;
use reqwest::StatusCode;
use scimd::db::DbTarget;
use scimd::service::operations::housekeeping::{self, Policy};

use crate::support::metrics::{scrape, value};
use crate::support::okta::{self, ClientAuth};
use crate::support::*;

const DAY: i64 = 86_400_000;

fn rows(app: &TestApp, table: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.db.conn().unwrap();
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<Count>(&mut *conn)
        .unwrap()
        .n
}

fn run(app: &TestApp) -> Vec<(&'static str, usize)> {
    let policy = Policy::of(&app.settings);
    housekeeping::run_once(&app.db, app.clock.now(), &policy).unwrap().expect("the lock is free")
}

fn deleted(pruned: &[(&'static str, usize)], table: &str) -> usize {
    pruned.iter().find(|(t, _)| *t == table).map_or(0, |(_, n)| *n)
}

/// Codes, sessions, sign-in counters, rate-limit windows and revoked access tokens go once they
/// decide nothing; refresh tokens stay while reuse detection or a retry still needs them, then
/// go; the audit trail follows `audit_retention_days`.
#[tokio::test]
async fn every_growing_table_is_pruned_once_nothing_reads_it() {
    let (app, clock) = spawn_app_manual(|s| s.audit_retention_days = 30).await;
    let fx = okta::setup(&app);
    let first = okta::authorize_and_exchange(&app, &fx, &[]).await;
    let r0 = first["refresh_token"].as_str().unwrap().to_owned();
    let second = okta::tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &r0).await).await;
    let r1 = second["refresh_token"].as_str().unwrap().to_owned();
    // Using r1 retires r0 (r0's child was used).
    let third = okta::tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &r1).await).await;
    assert!(third["refresh_token"].is_string());
    create_operator(&app);
    let _signed_in = app.operator().await;
    let b = okta::browser(&app);
    let html = b.get("/admin/login").await.text().await.unwrap();
    let csrf = okta::hidden(&html, "csrf");
    let failed = b
        .post_form("/admin/login", &[("email", "x@y.z"), ("password", "p"), ("csrf", &csrf)])
        .await;
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let before: Vec<i64> = TABLES.iter().map(|t| rows(&app, t)).collect();
    for (table, n) in TABLES.iter().zip(&before) {
        if *table != "revoked_access_tokens" {
            assert!(*n > 0, "{table} is empty before housekeeping");
        }
    }

    // Nothing has expired yet: nothing goes.
    let pruned = run(&app);
    assert!(pruned.iter().all(|(_, n)| *n == 0), "{pruned:?}");

    // Two days on: codes (a day past expiry), sessions, counters and windows have gone; the
    // retired refresh token and the trail are still needed.
    clock.advance(2 * DAY);
    let pruned = run(&app);
    for table in
        ["oauth_codes", "operator_sessions", "web_sessions", "login_throttle", "rate_limits"]
    {
        assert_eq!(rows(&app, table), 0, "{table} after two days ({pruned:?})");
    }
    assert_eq!(deleted(&pruned, "refresh_tokens"), 0);
    assert_eq!(deleted(&pruned, "audit_events"), 0);
    let family = rows(&app, "refresh_tokens");
    assert_eq!(family, 3);
    // A refresh now (day 2): r2 is used, r1 retired; r3 is issued.
    let fourth = okta::tokens(
        okta::refresh(&app, &fx, ClientAuth::Basic, third["refresh_token"].as_str().unwrap()).await,
    )
    .await;
    let r3 = fourth["refresh_token"].as_str().unwrap().to_owned();
    let audit = rows(&app, "audit_events");

    // Past the audit retention, the trail goes; refresh tokens stay while a live one of their
    // age could still be presented (refresh_idle_ttl, 90 days): r0 is still caught as reuse.
    clock.advance(31 * DAY);
    let pruned = run(&app);
    assert_eq!(deleted(&pruned, "audit_events") as i64, audit);
    assert_eq!(rows(&app, "audit_events"), 0);
    assert_eq!(rows(&app, "refresh_tokens"), 4);

    // 91 days after the first tokens: r0, r1 and r2 could only be refused; r3 (day 2) stays
    // and still refreshes.
    clock.advance(58 * DAY);
    let pruned = run(&app);
    assert_eq!(deleted(&pruned, "refresh_tokens"), 3, "{pruned:?}");
    assert_eq!(rows(&app, "refresh_tokens"), 1);
    let fifth = okta::refresh(&app, &fx, ClientAuth::Basic, &r3).await;
    assert_eq!(fifth.status(), StatusCode::OK);
    okta::refresh_fails(&app, &fx, &r0).await;

    let samples = scrape(&app).await;
    let total =
        |table: &str| value(&samples, "scimd_retention_deleted_total", &[("table", table)]) as i64;
    assert_eq!(total("refresh_tokens"), 3);
    assert_eq!(total("audit_events"), audit);
    assert!(total("oauth_codes") >= 1);
    assert_eq!(value(&samples, "scimd_housekeeping_runs_total", &[("outcome", "done")]), 4.0);
}

const TABLES: &[&str] = &[
    "oauth_codes",
    "operator_sessions",
    "login_throttle",
    "rate_limits",
    "refresh_tokens",
    "revoked_access_tokens",
    "audit_events",
];

/// `audit_retention_days = 0` keeps the trail however old it is.
#[tokio::test]
async fn an_audit_retention_of_zero_keeps_the_trail() {
    let (app, clock) = spawn_app_manual(|s| s.audit_retention_days = 0).await;
    let audit = rows(&app, "audit_events");
    assert!(audit > 0);
    clock.advance(3650 * DAY);
    let pruned = run(&app);
    assert_eq!(deleted(&pruned, "audit_events"), 0);
    assert_eq!(rows(&app, "audit_events"), audit);
}

/// On PostgreSQL one node at a time: while another holds the lock, a run does nothing.
#[tokio::test]
async fn housekeeping_runs_on_one_node_at_a_time() {
    let app = spawn_app().await;
    if !matches!(app.db.target(), DbTarget::Postgres(_)) {
        return;
    }
    let key = scimd::db::repo::retention::HOUSEKEEPING_LOCK;
    let mut other = app.db.conn().unwrap();
    diesel::sql_query(format!("SELECT pg_advisory_lock({key})")).execute(&mut *other).unwrap();
    let policy = Policy::of(&app.settings);
    assert!(housekeeping::run_once(&app.db, app.clock.now(), &policy).unwrap().is_none());
    diesel::sql_query(format!("SELECT pg_advisory_unlock({key})")).execute(&mut *other).unwrap();
    assert!(housekeeping::run_once(&app.db, app.clock.now(), &policy).unwrap().is_some());
    let samples = scrape(&app).await;
    assert_eq!(value(&samples, "scimd_housekeeping_runs_total", &[("outcome", "skipped")]), 1.0);
}

/// Made-up bearer tokens from one address: past the budget, 429 and no audit row; a tenant's
/// good token from the same address is never charged.
#[tokio::test]
async fn unauthenticated_scim_attempts_are_limited_per_address() {
    let app = spawn_app_with(|s| s.rate_limits.scim_auth_failures_per_ip = 3).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let response = app.get_as(&format!("made-up-{i}"), "/Users").await;
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["status"], "429", "{body}");
        }
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // The three refusals are identical (same reason, path and address): one row counts them.
    let audited = app.audit_events("scim.auth_failed");
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0]["detail"]["repeats"], 3);
    assert_eq!(app.get("/Users").await.status(), StatusCode::OK);
}

/// SQLite truncates its WAL file after a checkpoint instead of keeping its largest size.
#[tokio::test]
async fn sqlite_bounds_its_wal_file() {
    let app = spawn_app().await;
    if !matches!(app.db.target(), DbTarget::Sqlite(_)) {
        return;
    }
    #[derive(QueryableByName)]
    struct Limit {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        journal_size_limit: i64,
    }
    let mut conn = app.db.conn().unwrap();
    let limit = diesel::sql_query("PRAGMA journal_size_limit").get_result::<Limit>(&mut *conn);
    assert_eq!(limit.unwrap().journal_size_limit, 64 * 1024 * 1024);
}
