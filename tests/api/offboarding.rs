//! Offboarding over HTTP: operators disabled, enabled and given a new password (console and CLI);
//! anyone changing their own password (the current one required, other sessions ended), seeing
//! their sessions and signing out everywhere, on `/admin` and `/account`. Every form refuses a
//! forged CSRF token.

use reqwest::StatusCode;
use scimd::service::accounts::operators;

use crate::support::cli::scimd;
use crate::support::okta::{self, location};
use crate::support::*;

const BOB: &str = "bob@vendor.test";
const BOB_PASSWORD: &str = "bob's long password";

fn create_bob(app: &TestApp) -> String {
    operators::create(&app.db, app.clock.as_ref(), BOB, BOB_PASSWORD).unwrap().id
}

/// Whether a browser's session still opens `path` (a redirect to sign in when it does not).
async fn signed_in(b: &okta::Browser, path: &str) -> bool {
    let response = b.get(path).await;
    match response.status() {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER => {
            assert!(location(&response).contains("/login"), "{}", location(&response));
            false
        }
        other => panic!("{path}: {other}"),
    }
}

/// The one-time secret on a secret page.
fn secret_of(html: &str) -> String {
    let start = html.find("id=\"secret\"").expect("secret field");
    let value = &html[start..];
    let value = &value[value.find("value=\"").unwrap() + 7..];
    okta::unescape(&value[..value.find('"').unwrap()])
}

#[tokio::test]
async fn an_operator_disables_enables_and_resets_another_in_the_console() {
    let app = spawn_app().await;
    let me = create_operator(&app);
    let bob_id = create_bob(&app);
    let ops = app.operator().await;
    let (bob, status) = app.operator_sign_in(BOB, BOB_PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let list = ops.page("/admin/operators", StatusCode::OK).await;
    assert!(list.contains(BOB), "{list}");

    let forged =
        ops.post_form(&format!("/admin/operators/{bob_id}/disable"), &[("csrf", "forged")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(signed_in(&bob, "/admin").await, "a forged post changes nothing");

    let disabled = ops.post(&format!("/admin/operators/{bob_id}/disable"), &[]).await;
    assert_eq!(disabled.status(), StatusCode::SEE_OTHER);
    assert!(!signed_in(&bob, "/admin").await, "disabling ends their sessions");
    assert_eq!(app.operator_sign_in(BOB, BOB_PASSWORD).await.1, StatusCode::UNAUTHORIZED);
    assert_eq!(app.audit_events("operator.disabled").len(), 1);

    let forged =
        ops.post_form(&format!("/admin/operators/{bob_id}/enable"), &[("csrf", "x")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.operator_sign_in(BOB, BOB_PASSWORD).await.1, StatusCode::UNAUTHORIZED);
    let enabled = ops.post(&format!("/admin/operators/{bob_id}/enable"), &[]).await;
    assert_eq!(enabled.status(), StatusCode::SEE_OTHER);
    let (bob, status) = app.operator_sign_in(BOB, BOB_PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let forged =
        ops.post_form(&format!("/admin/operators/{bob_id}/reset-password"), &[("csrf", "x")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let reset = ops.post(&format!("/admin/operators/{bob_id}/reset-password"), &[]).await;
    assert_eq!(reset.status(), StatusCode::OK);
    let password = secret_of(&reset.text().await.unwrap());
    assert!(!signed_in(&bob, "/admin").await, "a reset ends their sessions");
    assert_eq!(app.operator_sign_in(BOB, BOB_PASSWORD).await.1, StatusCode::UNAUTHORIZED);
    assert_eq!(app.operator_sign_in(BOB, &password).await.1, StatusCode::SEE_OTHER);
    let events = app.audit_events("operator.password_reset");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], format!("operator:{me}"));
    assert!(!events[0].to_string().contains(&password), "the password is not audited");

    let myself = ops.post(&format!("/admin/operators/{me}/disable"), &[]).await;
    assert_eq!(myself.status(), StatusCode::BAD_REQUEST, "nobody disables themselves");
    assert!(signed_in(&ops, "/admin").await);
}

#[tokio::test]
async fn the_cli_disables_enables_and_resets_operators() {
    let app = spawn_app().await;
    create_bob(&app);
    let url = app.settings.database_url.clone();
    let (bob, _) = app.operator_sign_in(BOB, BOB_PASSWORD).await;
    let disabled = scimd(&url, &["operator", "disable", BOB]);
    assert_eq!(disabled["disabled"], true);
    assert!(!signed_in(&bob, "/admin").await);
    assert_eq!(app.operator_sign_in(BOB, BOB_PASSWORD).await.1, StatusCode::UNAUTHORIZED);
    let enabled = scimd(&url, &["operator", "enable", BOB]);
    assert_eq!(enabled["disabled"], false);
    let (bob, status) = app.operator_sign_in(BOB, BOB_PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let reset = scimd(&url, &["operator", "reset-password", BOB]);
    let password = reset["password"].as_str().unwrap().to_owned();
    assert!(!signed_in(&bob, "/admin").await);
    assert_eq!(app.operator_sign_in(BOB, BOB_PASSWORD).await.1, StatusCode::UNAUTHORIZED);
    assert_eq!(app.operator_sign_in(BOB, &password).await.1, StatusCode::SEE_OTHER);
    let events = app.audit_events("operator.password_reset");
    assert_eq!(events[0]["actor"], "operator");
}

/// Two signed-in browsers of one account, in either realm.
async fn two_sessions(app: &TestApp, realm: &str, password: &str) -> (Session2, Session2) {
    match realm {
        "/admin" => {
            let a = app.operator_sign_in(OPERATOR_EMAIL, password).await;
            let b = app.operator_sign_in(OPERATOR_EMAIL, password).await;
            assert_eq!((a.1, b.1), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER));
            (Session2::Operator(a.0), Session2::Operator(b.0))
        }
        _ => {
            let a = app.tenant_admin_sign_in(okta::ADMIN_EMAIL, password).await;
            let b = app.tenant_admin_sign_in(okta::ADMIN_EMAIL, password).await;
            assert_eq!((a.1, b.1), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER));
            (Session2::Admin(a.0), Session2::Admin(b.0))
        }
    }
}

enum Session2 {
    Operator(Operator),
    Admin(TenantAdmin),
}

impl std::ops::Deref for Session2 {
    type Target = Session;
    fn deref(&self) -> &Session {
        match self {
            Session2::Operator(o) => o,
            Session2::Admin(a) => a,
        }
    }
}

async fn sign_in_status(app: &TestApp, realm: &str, password: &str) -> StatusCode {
    match realm {
        "/admin" => app.operator_sign_in(OPERATOR_EMAIL, password).await.1,
        _ => app.tenant_admin_sign_in(okta::ADMIN_EMAIL, password).await.1,
    }
}

#[tokio::test]
async fn changing_ones_password_needs_the_current_one_and_ends_the_other_sessions() {
    for realm in ["/admin", "/account"] {
        let app = spawn_app().await;
        create_operator(&app);
        okta::setup(&app);
        let old = if realm == "/admin" { OPERATOR_PASSWORD } else { okta::ADMIN_PASSWORD };
        let (this, other) = two_sessions(&app, realm, old).await;
        let security = this.page(&format!("{realm}/security"), StatusCode::OK).await;
        assert_eq!(security.matches("<td>").count(), 6, "two sessions listed: {security}");
        assert!(security.contains("this browser"));
        let path = format!("{realm}/password");
        let new = "a brand new long password";

        let forged = this
            .post_form(&path, &[("current", old), ("new", new), ("confirm", new), ("csrf", "x")])
            .await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{realm}");
        let wrong =
            this.post(&path, &[("current", "not it at all"), ("new", new), ("confirm", new)]).await;
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "{realm}");
        let mismatch = this.post(&path, &[("current", old), ("new", new), ("confirm", "x")]).await;
        assert_eq!(mismatch.status(), StatusCode::BAD_REQUEST, "{realm}");
        let short =
            this.post(&path, &[("current", old), ("new", "short"), ("confirm", "short")]).await;
        assert_eq!(short.status(), StatusCode::BAD_REQUEST, "{realm}");
        assert!(signed_in(&other, realm).await, "refusals end nothing");
        assert_eq!(app.audit_events("password.changed").len(), 0);

        let changed = this.post(&path, &[("current", old), ("new", new), ("confirm", new)]).await;
        assert_eq!(changed.status(), StatusCode::SEE_OTHER, "{realm}");
        assert!(signed_in(&this, realm).await, "this session stays");
        assert!(!signed_in(&other, realm).await, "the other session ended");
        assert_eq!(sign_in_status(&app, realm, old).await, StatusCode::UNAUTHORIZED);
        assert_eq!(sign_in_status(&app, realm, new).await, StatusCode::SEE_OTHER);
        let events = app.audit_events("password.changed");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["detail"]["other_sessions_ended"], 1);
    }
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session() {
    for realm in ["/admin", "/account"] {
        let app = spawn_app().await;
        create_operator(&app);
        okta::setup(&app);
        let password = if realm == "/admin" { OPERATOR_PASSWORD } else { okta::ADMIN_PASSWORD };
        let (this, other) = two_sessions(&app, realm, password).await;
        let path = format!("{realm}/sessions/end");
        let forged = this.post_form(&path, &[("csrf", "forged")]).await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        assert!(signed_in(&other, realm).await);
        let ended = this.post(&path, &[]).await;
        assert_eq!(ended.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&ended), format!("{realm}/login"));
        assert!(!signed_in(&this, realm).await);
        assert!(!signed_in(&other, realm).await);
        let events = app.audit_events("login.signed_out_everywhere");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["detail"]["sessions_ended"], 2);
    }
}
