//! `/metrics`: valid Prometheus text, requests counted by route pattern, status and tenant,
//! consistent histograms, audit events, pool gauges, and who may scrape.

use reqwest::StatusCode;

use crate::support::metrics::{find, scrape, value};
use crate::support::*;

const REQUESTS: &str = "scimd_http_requests_total";

#[tokio::test]
async fn requests_are_counted_by_route_pattern_status_and_tenant() {
    let app = spawn_app().await;
    let id = id_of(&app.create_user("ann@example.com").await);
    assert_eq!(app.get(&format!("/Users/{id}")).await.status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/Users/{id}/")).await.status(), StatusCode::OK);
    let missing = "4b6fbb2e-6f43-4c33-9b4b-3d1d8f4d2a11";
    assert_eq!(app.get(&format!("/Users/{missing}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get_as("wrong", "/Users").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/Nothing/here").await.status(), StatusCode::NOT_FOUND);
    let stray = app.client.get(format!("{}/nothing/{id}", app.address)).send().await.unwrap();
    assert_eq!(stray.status(), StatusCode::NOT_FOUND);

    let samples = scrape(&app).await;
    let by_id = "/scim/v2/Users/{id}";
    let count = |route, method, status, tenant| {
        value(
            &samples,
            REQUESTS,
            &[("route", route), ("method", method), ("status", status), ("tenant", tenant)],
        )
    };
    assert_eq!(count("/scim/v2/Users", "POST", "201", "acme"), 1.0);
    assert_eq!(count(by_id, "GET", "200", "acme"), 2.0);
    assert_eq!(count(by_id, "GET", "404", "acme"), 1.0);
    assert_eq!(count("/scim/v2/Users", "GET", "401", ""), 1.0);
    assert_eq!(count("unmatched", "GET", "404", ""), 2.0);
    // Raw paths never become labels.
    for sample in &samples {
        assert!(sample.labels.values().all(|v| !v.contains(&id) && !v.contains(missing)));
    }

    // Histograms agree with the counter and with themselves.
    let histograms = find(&samples, "scimd_http_request_duration_seconds_count", &[]);
    assert!(histograms.len() >= 4, "{histograms:?}");
    for histogram in histograms {
        let route = histogram.labels["route"].as_str();
        let method = histogram.labels["method"].as_str();
        let labels = [("route", route), ("method", method)];
        let requests: f64 = find(&samples, REQUESTS, &labels).iter().map(|s| s.value).sum();
        assert_eq!(histogram.value, requests, "{labels:?}");
        let buckets = find(&samples, "scimd_http_request_duration_seconds_bucket", &labels);
        assert_eq!(buckets.len(), 14, "{labels:?}");
        let bounds: Vec<f64> = buckets
            .iter()
            .map(|b| match b.labels["le"].as_str() {
                "+Inf" => f64::INFINITY,
                le => le.parse().unwrap(),
            })
            .collect();
        assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{bounds:?}");
        assert!(buckets.windows(2).all(|w| w[0].value <= w[1].value), "{buckets:?}");
        assert_eq!(buckets.last().unwrap().labels["le"], "+Inf");
        assert_eq!(buckets.last().unwrap().value, histogram.value);
        let sum = value(&samples, "scimd_http_request_duration_seconds_sum", &labels);
        assert!(sum > 0.0 && sum.is_finite(), "{sum}");
    }

    // This scrape is in flight; the previous one is counted by the next.
    assert!(value(&samples, "scimd_http_requests_in_flight", &[]) >= 1.0);
    let again = scrape(&app).await;
    assert_eq!(
        value(&again, REQUESTS, &[("route", "/metrics"), ("status", "200"), ("tenant", "")]),
        1.0
    );

    // Pool and build facts.
    assert_eq!(value(&samples, "scimd_db_pool_max_connections", &[]), 4.0);
    let idle = value(&samples, "scimd_db_pool_connections", &[("state", "idle")]);
    let in_use = value(&samples, "scimd_db_pool_connections", &[("state", "in_use")]);
    assert!(idle >= 1.0 && idle + in_use <= 4.0, "idle {idle}, in use {in_use}");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(value(&samples, "scimd_build_info", &[("version", version)]), 1.0);
    assert!(value(&samples, "scimd_process_start_time_seconds", &[]) > 1.7e9);
}

#[tokio::test]
async fn a_failed_authentication_counts_as_an_audit_event() {
    let app = spawn_app().await;
    let failed = [("event", "scim.auth_failed")];
    // The harness writes events of its own while setting the app up: compare, don't assume.
    let before = value(&scrape(&app).await, "scimd_token_events_total", &failed);
    assert_eq!(app.get_as("scimd_st_forged", "/Users").await.status(), StatusCode::UNAUTHORIZED);
    let samples = scrape(&app).await;
    assert!(value(&samples, "scimd_token_events_total", &failed) >= before + 1.0);
    // Token kinds are there from the start, so dashboards have a series before the first event.
    for event in ["token.issued", "token.refreshed", "token.reuse_detected", "login.failed"] {
        value(&samples, "scimd_token_events_total", &[("event", event)]);
    }
}

#[tokio::test]
async fn with_a_metrics_token_the_scraper_must_send_it() {
    let app = spawn_app_with(|s| s.metrics_token = Some("scrape-secret-0123456789".into())).await;
    let url = format!("{}/metrics", app.address);
    let response = app.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("www-authenticate").is_some());
    let response =
        app.client.get(&url).bearer_auth("scrape-secret-012345678").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A SCIM token is no metrics token.
    let response = app.client.get(&url).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response =
        app.client.get(&url).bearer_auth("scrape-secret-0123456789").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("# TYPE scimd_http_requests_total counter"));
}

#[tokio::test]
async fn without_a_token_only_direct_loopback_requests_are_answered() {
    let app = spawn_app().await;
    let url = format!("{}/metrics", app.address);
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), StatusCode::OK);
    // Through a reverse proxy on this host, the peer is loopback but the client is not.
    for header in ["X-Forwarded-For", "Forwarded", "X-Real-IP"] {
        let response = app.client.get(&url).header(header, "203.0.113.7").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{header}");
    }
}
