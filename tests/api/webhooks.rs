//! Webhooks against a real receiver: Standard Webhooks signatures checked by an independent
//! implementation (PyPI `standardwebhooks`), ordered at-least-once delivery through failures,
//! a node killed mid-delivery, two nodes on one PostgreSQL, private targets, disabling after
//! the failure window, replay, the CLI and metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::cli::{audit_lines, scimd};
use crate::support::metrics::{scrape, value};
use crate::support::receiver::{
    Answer, Receiver, standardwebhooks_python, verify_with_standardwebhooks,
};
use crate::support::*;
use scimd::audit::Actor;
use scimd::clock::{Clock, SystemClock};
use scimd::config::Settings;
use scimd::db::repo::tenants as tenant_repo;
use scimd::db::{Database, StoreError};
use scimd::service::OperatorError;
use scimd::service::delivery::outbox::{self, EventTenant, EventType, NewEvent};
use scimd::service::delivery::webhooks::endpoints::{
    self, EndpointView, IssuedEndpoint, NewEndpoint,
};
use scimd::service::delivery::webhooks::signing;
use scimd::service::tenancy::tenants;

fn allow_private(settings: &mut Settings) {
    settings.allow_private_webhook_targets = true;
}

/// Records events numbered `from..to` for `slug`, one transaction each, as a SCIM write would.
fn record(db: &Database, clock: &dyn Clock, slug: &str, numbers: std::ops::Range<i64>) {
    let tenant = db
        .read(|conn| Ok::<_, StoreError>(tenant_repo::find_by_slug(conn, slug)?))
        .unwrap()
        .expect("tenant");
    for n in numbers {
        let event = NewEvent::about(EventType::UserCreated, &format!("u{n}"), 1, json!({"n": n}));
        db.write(|conn| {
            let at = EventTenant { id: &tenant.id, slug };
            outbox::record(conn, at, clock.now(), vec![event])?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    }
}

fn create(app: &TestApp, url: &str, tenant: Option<&str>, events: &str) -> IssuedEndpoint {
    let new = NewEndpoint { url, tenant, events };
    endpoints::create(&app.db, app.clock.as_ref(), &Actor::Cli, &new, true).unwrap()
}

/// The `data.n` of each received body, in arrival order.
fn numbers(receiver: &Receiver) -> Vec<i64> {
    receiver.received().iter().map(|r| r.json()["data"]["n"].as_i64().unwrap()).collect()
}

fn show(app: &TestApp, id: &str) -> (EndpointView, Vec<endpoints::DeliveryView>) {
    endpoints::show(&app.db, app.clock.as_ref(), id, 100).unwrap()
}

/// Polls (10 s at most) until `done` holds of the endpoint.
async fn wait_until(
    app: &TestApp,
    id: &str,
    what: &str,
    done: impl Fn(&EndpointView, &[endpoints::DeliveryView]) -> bool,
) {
    for _ in 0..500 {
        let (view, deliveries) = show(app, id);
        if done(&view, &deliveries) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}: {:?}", show(app, id));
}

#[tokio::test]
async fn deliveries_are_signed_as_standard_webhooks_verify_them() {
    let app = spawn_app_with(allow_private).await;
    let receiver = Receiver::start();
    let url = app.settings.database_url.clone();
    let created = tokio::task::spawn_blocking({
        let (url, hook) = (url.clone(), receiver.url.clone());
        move || {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_scimd"));
            cmd.env("SCIMD_ALLOW_PRIVATE_WEBHOOK_TARGETS", "1");
            let output = cmd
                .args([
                    "--database-url",
                    &url,
                    "--json",
                    "webhook",
                    "create",
                    "--url",
                    &hook,
                    "--events",
                    "user.*",
                ])
                .output()
                .unwrap();
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
            serde_json::from_slice::<Value>(&output.stdout).unwrap()
        }
    })
    .await
    .unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let encoded = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    use base64::Engine;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap().len(), 32);
    assert!(created["id"].as_str().unwrap().starts_with("wh_"));

    record(&app.db, app.clock.as_ref(), "acme", 1..3);
    let received = receiver.wait_for(2).await;
    let now = SystemClock.now() / 1000;
    for (got, n) in received.iter().zip(1..) {
        let body = got.json();
        assert_eq!(got.headers["webhook-id"], body["id"].as_str().unwrap());
        assert!(body["id"].as_str().unwrap().starts_with("evt_"));
        let timestamp: i64 = got.headers["webhook-timestamp"].parse().unwrap();
        assert!((now - timestamp).abs() < 60);
        assert!(got.headers["webhook-signature"].starts_with("v1,"));
        assert_eq!(got.headers["content-type"], "application/json");
        assert_eq!(body["type"], "user.created");
        assert_eq!(body["tenant"], "acme");
        assert_eq!(body["data"]["n"], n);
    }

    let Some(python) = standardwebhooks_python() else { return };
    let genuine: Vec<(BTreeMap<String, String>, String)> =
        received.iter().map(|r| (r.headers.clone(), r.body.clone())).collect();
    assert_eq!(verify_with_standardwebhooks(&python, &secret, &genuine), [true, true]);

    let (headers, body) = genuine[0].clone();
    let forged_body = (headers.clone(), body.replace("acme", "evil"));
    let mut forged_signature = headers.clone();
    forged_signature.insert(
        "webhook-signature".into(),
        "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
    );
    // Correctly signed, but ten minutes old: outside the verifier's tolerance.
    let mut stale = headers.clone();
    let old = now - 600;
    stale.insert("webhook-timestamp".into(), old.to_string());
    let id = headers["webhook-id"].clone();
    stale.insert("webhook-signature".into(), signing::sign(&secret, &id, old, &body).unwrap());
    let other_secret = signing::generate_secret();
    let checks = [forged_body, (forged_signature, body.clone()), (stale, body.clone())];
    assert_eq!(verify_with_standardwebhooks(&python, &secret, &checks), [false, false, false]);
    assert_eq!(verify_with_standardwebhooks(&python, &other_secret, &genuine[..1]), [false]);

    // After a rotation both secrets sign until the grace period ends.
    let endpoint = created["id"].as_str().unwrap().to_owned();
    let rotated = scimd(&url, &["webhook", "rotate-secret", &endpoint, "--grace-hours", "2"]);
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert!(rotated["previous_secret_until"].is_string());
    record(&app.db, app.clock.as_ref(), "acme", 3..4);
    let received = receiver.wait_for(3).await;
    let last = (received[2].headers.clone(), received[2].body.clone());
    assert_eq!(last.0["webhook-signature"].split(' ').count(), 2);
    assert_eq!(
        verify_with_standardwebhooks(&python, &new_secret, std::slice::from_ref(&last)),
        [true]
    );
    assert_eq!(verify_with_standardwebhooks(&python, &secret, &[last]), [true]);

    let samples = scrape(&app).await;
    assert_eq!(value(&samples, "scimd_webhook_deliveries_total", &[("outcome", "delivered")]), 3.0);
    assert_eq!(value(&samples, "scimd_webhook_queue_depth", &[]), 0.0);
}

#[tokio::test]
async fn a_failing_receiver_gets_every_event_again_in_order() {
    let (app, clock) = spawn_app_manual(allow_private).await;
    let receiver = Receiver::start();
    receiver.script(&[Answer::Status(500), Answer::Status(500), Answer::Status(500)]);
    let endpoint = create(&app, &receiver.url, None, "user.*");
    record(&app.db, app.clock.as_ref(), "acme", 1..4);

    // Retries wait for the clock: about 5 s, 30 s, then 60 s (each ±20 %); the clock moves once
    // the worker has scheduled the retry.
    for (attempts, wait) in [(1, 10_000), (2, 40_000), (3, 80_000)] {
        let what = format!("attempt {attempts} failed");
        wait_until(&app, &endpoint.id, &what, |v, _| v.attempts == attempts).await;
        clock.advance(wait);
    }
    receiver.wait_for(6).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(numbers(&receiver), [1, 1, 1, 1, 2, 3]);

    let (view, deliveries) = show(&app, &endpoint.id);
    assert_eq!(view.pending, 0);
    assert!(view.failing_since.is_none());
    let oldest_first: Vec<_> = deliveries.iter().rev().collect();
    let outcomes: Vec<(&str, Option<i64>, i64)> =
        oldest_first.iter().map(|d| (d.outcome.as_str(), d.status_code, d.attempt)).collect();
    assert_eq!(
        outcomes,
        [
            ("failed", Some(500), 1),
            ("failed", Some(500), 2),
            ("failed", Some(500), 3),
            ("delivered", Some(200), 4),
            ("delivered", Some(200), 1),
            ("delivered", Some(200), 1),
        ]
    );
    assert_eq!(oldest_first[0].response_body.as_deref(), Some("answer 500"));
}

#[tokio::test]
async fn an_endpoint_failing_longer_than_the_window_is_disabled() {
    let (app, clock) = spawn_app_manual(allow_private).await;
    let receiver = Receiver::start();
    receiver.script(&[Answer::Status(503); 20]);
    let endpoint = create(&app, &receiver.url, Some("acme"), "user.*");
    record(&app.db, app.clock.as_ref(), "acme", 1..3);
    receiver.wait_for(1).await;
    wait_until(&app, &endpoint.id, "a failed attempt", |v, _| v.failing_since.is_some()).await;

    let samples = scrape(&app).await;
    assert_eq!(value(&samples, "scimd_webhook_queue_depth", &[]), 2.0);
    assert_eq!(value(&samples, "scimd_webhook_deliveries_total", &[("outcome", "failed")]), 1.0);
    assert!(value(&samples, "scimd_webhook_lag_seconds", &[]) >= 0.0);

    clock.advance(3 * 86_400_000 + 3_600_000);
    wait_until(&app, &endpoint.id, "the endpoint disabled", |v, _| !v.enabled).await;
    let (view, deliveries) = show(&app, &endpoint.id);
    assert!(view.disabled_reason.as_deref().unwrap().contains("failed for more than 72 hours"));
    assert_eq!(deliveries.len(), 2);
    assert_eq!(receiver.received().len(), 2);
    let audit = app.audit_events("webhook.disabled");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["actor"], "system");

    // Disabled, nothing is sent, even when due; enabling resumes at the event that failed.
    clock.advance(86_400_000);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 2);
    endpoints::enable(&app.db, app.clock.as_ref(), &Actor::Cli, &endpoint.id).unwrap();
    // The rest of the script still answers 503: the endpoint retries from the first event.
    receiver.wait_for(3).await;
    assert_eq!(numbers(&receiver), [1, 1, 1]);
}

#[tokio::test]
async fn private_targets_are_refused_without_the_setting() {
    let app = spawn_app().await;
    let refused = |url: &str| {
        let new = NewEndpoint { url, tenant: None, events: "" };
        match endpoints::create(&app.db, app.clock.as_ref(), &Actor::Cli, &new, false) {
            Err(OperatorError::Invalid(message)) => message,
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    };
    for url in [
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[fd00::1]/hooks",
        "https://[::ffff:192.168.0.1]/hooks",
        "https://100.64.0.1/hooks",
    ] {
        assert!(refused(url).contains("non-public address"), "{url}");
    }
    assert!(refused("http://hooks.example.com/").contains("must use https"));
    assert!(refused("javascript:alert(1)").contains("must use https"));
    assert!(refused(&format!("https://example.com/{}", "a".repeat(3000))).contains("longer than"));

    // A name is checked when it is resolved, at every delivery: localhost is refused then.
    let receiver = Receiver::start();
    let port = receiver.url.split(':').nth(2).unwrap().split('/').next().unwrap().to_owned();
    let new =
        NewEndpoint { url: &format!("https://localhost:{port}/hooks"), tenant: None, events: "" };
    let endpoint =
        endpoints::create(&app.db, app.clock.as_ref(), &Actor::Cli, &new, false).unwrap();
    record(&app.db, app.clock.as_ref(), "acme", 1..2);
    wait_until(&app, &endpoint.id, "a refused delivery", |_, d| !d.is_empty()).await;
    let (_, deliveries) = show(&app, &endpoint.id);
    assert_eq!(deliveries[0].outcome, "refused");
    assert!(deliveries[0].response_body.as_deref().unwrap().contains("non-public address"));
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn replay_resends_one_event_or_a_time_range() {
    let app = spawn_app_with(allow_private).await;
    let receiver = Receiver::start();
    let endpoint = create(&app, &receiver.url, None, "user.*");
    record(&app.db, app.clock.as_ref(), "acme", 1..4);
    let received = receiver.wait_for(3).await;
    let url = &app.settings.database_url;

    let second = received[1].id();
    let queued = scimd(url, &["webhook", "replay", &endpoint.id, "--event", &second]);
    assert_eq!(queued["queued"], 1);
    receiver.wait_for(4).await;
    let queued = scimd(url, &["webhook", "replay", &endpoint.id, "--since", "1h"]);
    assert_eq!(queued["queued"], 3);
    receiver.wait_for(7).await;
    assert_eq!(numbers(&receiver), [1, 2, 3, 2, 1, 2, 3]);
    // The receiver has the last replay before the sender records its attempt: wait for it.
    let mut replayed = 0;
    for _ in 0..100 {
        let (_, deliveries) = show(&app, &endpoint.id);
        replayed = deliveries.iter().filter(|d| d.outcome == "replayed").count();
        if replayed >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(replayed, 4);
    assert_eq!(app.audit_events("webhook.replayed").len(), 2);

    // Replay of an unknown event, or a range the wrong way round, is refused clearly.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args([
            "--database-url",
            url,
            "--json",
            "webhook",
            "replay",
            &endpoint.id,
            "--event",
            "evt_nope",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("not found"));
}

#[tokio::test]
async fn the_cli_lists_disables_enables_and_deletes_endpoints() {
    let app = spawn_app_with(allow_private).await;
    let receiver = Receiver::start();
    let endpoint = create(&app, &receiver.url, Some("acme"), "user.*");
    let url = &app.settings.database_url;
    let list = scimd(url, &["webhook", "list"]);
    let listed = &list["webhooks"][0];
    assert_eq!(listed["id"], endpoint.id.as_str());
    assert_eq!(listed["tenant"], "acme");
    assert_eq!(listed["events"], "user.*");
    assert_eq!(listed["enabled"], true);
    assert!(listed.get("secret").is_none());

    scimd(url, &["webhook", "disable", &endpoint.id]);
    record(&app.db, app.clock.as_ref(), "acme", 1..3);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(receiver.received().is_empty());
    let list = scimd(url, &["webhook", "list"]);
    assert_eq!(list["webhooks"][0]["enabled"], false);
    assert_eq!(list["webhooks"][0]["pending"], 2);

    scimd(url, &["webhook", "enable", &endpoint.id]);
    receiver.wait_for(2).await;
    assert_eq!(numbers(&receiver), [1, 2]);

    scimd(url, &["webhook", "delete", &endpoint.id]);
    assert_eq!(scimd(url, &["webhook", "list"])["webhooks"], json!([]));
    let kinds: Vec<String> = audit_lines(url, &[])
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .filter(|e| e.starts_with("webhook."))
        .collect();
    assert_eq!(
        kinds,
        ["webhook.created", "webhook.disabled", "webhook.enabled", "webhook.deleted"]
    );
}

/// `scimd serve` as a child process on `database_url`.
fn serve(database_url: &str) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["--database-url", database_url, "serve", "--bind", "127.0.0.1:0"])
        .env_remove("SCIMD_CONFIG")
        .env("SCIMD_ALLOW_PRIVATE_WEBHOOK_TARGETS", "1")
        .env("SCIMD_WEBHOOK_LEASE_SECS", "2")
        .env("SCIMD_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start scimd")
}

#[tokio::test]
async fn a_node_killed_mid_delivery_delivers_the_pending_events_after_restart() {
    let database = TestDatabase::new();
    let db = Database::connect(&database.url, 2).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    tenants::create(&db, clock.as_ref(), &Actor::Cli, "acme", None).unwrap();
    let receiver = Receiver::start();
    receiver.script(&[Answer::Hang]);
    let new = NewEndpoint { url: &receiver.url, tenant: None, events: "user.*" };
    endpoints::create(&db, clock.as_ref(), &Actor::Cli, &new, true).unwrap();
    record(&db, clock.as_ref(), "acme", 1..4);

    let mut node = serve(&database.url);
    receiver.wait_for(1).await;
    node.kill().unwrap(); // SIGKILL, in the middle of delivering event 1
    node.wait().unwrap();
    record(&db, clock.as_ref(), "acme", 4..6);

    let mut node = serve(&database.url);
    let received = receiver.wait_for(6).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    node.kill().unwrap();
    node.wait().unwrap();
    assert_eq!(received.len(), 6);
    // At least once: event 1, whose delivery was cut off, comes again, then the rest in order.
    assert_eq!(numbers(&receiver), [1, 1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn two_nodes_on_one_postgresql_deliver_each_event_once_in_order() {
    if std::env::var("SCIMD_TEST_POSTGRES").map_or(true, |v| v.is_empty()) {
        eprintln!("skipping: two nodes share a database only on PostgreSQL (SCIMD_TEST_POSTGRES)");
        return;
    }
    let app = spawn_app_with(allow_private).await;
    let db2 = Database::connect_with(&app.settings.database_url, 4, 30).unwrap();
    let second =
        scimd::startup::Application::build_with(app.settings.clone(), app.clock.clone(), db2)
            .unwrap();
    tokio::spawn(second.run_until_stopped());
    app.other_tenant("globex");
    app.other_tenant("initech");
    let receiver = Receiver::start();
    create(&app, &receiver.url, None, "user.*");

    const PER_TENANT: i64 = 40;
    let writers: Vec<_> = ["acme", "globex", "initech"]
        .into_iter()
        .map(|slug| {
            let (db, clock) = (app.db.clone(), app.clock.clone());
            tokio::task::spawn_blocking(move || record(&db, clock.as_ref(), slug, 0..PER_TENANT))
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    receiver.wait_for(3 * PER_TENANT as usize).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 3 * PER_TENANT as usize, "no event twice");
    let mut by_tenant: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &received {
        let body = r.json();
        by_tenant
            .entry(body["tenant"].as_str().unwrap().to_owned())
            .or_default()
            .push(body["data"]["n"].as_i64().unwrap());
    }
    let expected: Vec<i64> = (0..PER_TENANT).collect();
    for (tenant, got) in by_tenant {
        assert_eq!(got, expected, "tenant {tenant}");
    }
}

#[tokio::test]
async fn scim_writes_arrive_as_webhooks_in_commit_order() {
    let app = spawn_app_with(allow_private).await;
    let receiver = Receiver::start();
    create(&app, &receiver.url, Some("acme"), "user.*,group.*");
    let user = app.create_user("ada@acme.test").await;
    let uid = id_of(&user);
    let off = patch_body(json!([{"op": "replace", "value": {"active": false}}]));
    expect_json(app.patch(&format!("/Users/{uid}"), &off).await, reqwest::StatusCode::OK).await;
    let group = app.create_group("Engineering").await;
    let gid = id_of(&group);
    let add = patch_body(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    app.patch(&format!("/Groups/{gid}"), &add).await;
    let deleted = app.delete(&format!("/Users/{uid}")).await;
    assert_eq!(deleted.status(), reqwest::StatusCode::NO_CONTENT);

    // Deleting the user also takes it out of its group (a member_removed first).
    let received = receiver.wait_for(6).await;
    let types: Vec<String> =
        received.iter().map(|r| r.json()["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        types[..4],
        ["user.created", "user.deactivated", "group.created", "group.member_added"]
    );
    assert_eq!(types[4..], ["group.member_removed", "user.deleted"]);
    let first = received[0].json();
    assert_eq!(first["resource_id"], uid.as_str());
    assert_eq!(first["data"]["user_name"], "ada@acme.test");
    assert_eq!(received[0].id(), first["id"].as_str().unwrap());
}

#[tokio::test]
async fn the_console_creates_shows_and_manages_endpoints() {
    use reqwest::StatusCode;
    let app = spawn_app_with(allow_private).await;
    create_operator(&app);
    let op = app.operator().await;
    let receiver = Receiver::start();
    let html = op.page("/admin/webhooks", StatusCode::OK).await;
    assert!(html.contains("No webhook endpoint yet") && html.contains("href=\"/admin/webhooks\""));

    // Without the CSRF token nothing is created.
    let forged = op.post_form("/admin/webhooks", &[("url", receiver.url.as_str())]).await;
    assert_ne!(forged.status(), StatusCode::OK);
    assert!(endpoints::list(&app.db, app.clock.as_ref()).unwrap().is_empty());

    let bad =
        op.post("/admin/webhooks", &[("url", "ftp://x"), ("tenant", ""), ("events", "")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let fields = [("url", receiver.url.as_str()), ("tenant", "acme"), ("events", "user.*")];
    let response = op.post("/admin/webhooks", &fields).await;
    assert_eq!(response.status(), StatusCode::OK);
    let secret = shown_secret(&response.text().await.unwrap());
    assert!(secret.starts_with("whsec_"));
    let id = endpoints::list(&app.db, app.clock.as_ref()).unwrap()[0].id.clone();

    record(&app.db, app.clock.as_ref(), "acme", 1..3);
    receiver.wait_for(2).await;
    let page = format!("/admin/webhooks/{id}");
    wait_until(&app, &id, "two deliveries", |_, d| d.len() == 2).await;
    let html = op.page(&page, StatusCode::OK).await;
    assert!(html.contains("delivered") && html.contains("answer 200"), "{html}");
    assert!(!html.contains(&secret));
    let list = op.page("/admin/webhooks", StatusCode::OK).await;
    assert!(list.contains(&receiver.url) && list.contains("delivered 200"));

    let response = op.post(&format!("{page}/disable"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = op.page(&format!("{page}?done=webhook-disabled"), StatusCode::OK).await;
    assert!(html.contains("disabled by an operator"));
    assert!(op.page("/admin/webhooks", StatusCode::OK).await.contains("class=\"flagged\""));
    op.post(&format!("{page}/enable"), &[]).await;

    let response = op.post(&format!("{page}/rotate"), &[("grace_hours", "1")]).await;
    let rotated = shown_secret(&response.text().await.unwrap());
    assert_ne!(rotated, secret);
    let event = receiver.received()[0].id();
    let response = op.post(&format!("{page}/replay"), &[("event", event.as_str())]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    receiver.wait_for(3).await;
    let response = op.post(&format!("{page}/replay"), &[("since", "1h"), ("until", "")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    receiver.wait_for(5).await;
    let response = op.post(&format!("{page}/replay"), &[("event", "evt_unknown")]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let response = op.post(&format!("{page}/delete"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    op.page(&page, StatusCode::NOT_FOUND).await;
    op.page("/admin/webhooks/%3Cscript%3E", StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let (app, clock) = spawn_app_manual(allow_private).await;
    let receiver = Receiver::start();
    receiver.script(&[Answer::Status(302)]);
    let endpoint = create(&app, &receiver.url, None, "user.*");
    record(&app.db, app.clock.as_ref(), "acme", 1..2);
    wait_until(&app, &endpoint.id, "the redirect counted as a failure", |v, _| v.attempts == 1)
        .await;
    let (_, deliveries) = show(&app, &endpoint.id);
    assert_eq!((deliveries[0].outcome.as_str(), deliveries[0].status_code), ("failed", Some(302)));
    assert_eq!(receiver.received().len(), 1, "the redirect was not followed");
    clock.advance(10_000);
    receiver.wait_for(2).await;
    wait_until(&app, &endpoint.id, "the retry delivered", |v, _| v.pending == 0).await;
    assert_eq!(numbers(&receiver), [1, 1]);
}

#[tokio::test]
async fn a_receiver_that_does_not_answer_within_ten_seconds_is_a_failure() {
    let app = spawn_app_with(allow_private).await;
    let receiver = Receiver::start();
    receiver.script(&[Answer::Hang]);
    let endpoint = create(&app, &receiver.url, None, "user.*");
    record(&app.db, app.clock.as_ref(), "acme", 1..2);
    receiver.wait_for(1).await;
    let started = std::time::Instant::now();
    for _ in 0..150 {
        if show(&app, &endpoint.id).0.attempts == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (view, deliveries) = show(&app, &endpoint.id);
    assert_eq!(view.attempts, 1);
    assert!(started.elapsed() < Duration::from_secs(12));
    assert_eq!(deliveries[0].outcome, "error");
    assert!(deliveries[0].latency_ms >= 9_000, "{:?}", deliveries[0]);
    assert!(deliveries[0].response_body.as_deref().unwrap().starts_with("timed out"));
}
