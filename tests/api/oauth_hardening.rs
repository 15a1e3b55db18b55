//! The OAuth side of the second security review (issue 17), over HTTP: argon2 bounded by the
//! node's gate, client secrets as SHA-256, scope and code-redemption refusals, conformant error
//! redirects, redirect-URI registration, refresh rotation with a grace window, signing-key trust.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use scimd::db::repo::oauth as oauth_repo;
use scimd::oauth::{password, secret};

use crate::support::metrics::{scrape, value};
use crate::support::okta::{self, ClientAuth, browser, oauth_error};
use crate::support::*;

/// A burst of unauthenticated token requests against a client whose secret an earlier version
/// stored as argon2id, and of sign-ins, at once: never more verifications than the gate's one
/// slot (memory ≈ slots × 19 MiB), the rest answered busy in each surface's format.
#[tokio::test]
async fn argon2_bursts_stay_within_the_gate_and_are_answered_busy() {
    let app = spawn_app_with(|s| {
        s.password_hash_concurrency = Some(1);
        s.rate_limits.token_per_client = 0;
        s.rate_limits.token_per_ip = 0;
        s.rate_limits.login_per_ip = 0;
    })
    .await;
    let fx = okta::setup(&app);
    let legacy = password::hash(&fx.client_secret).unwrap();
    oauth_repo::set_client_secret(&mut app.db.conn().unwrap(), &fx.client_id, &legacy, 0).unwrap();

    let b = browser(&app);
    let html = page(&b, "/account/login", StatusCode::OK).await;
    let csrf = okta::hidden(&html, "csrf");
    let wrong = secret::generate(secret::CLIENT_SECRET_PREFIX);
    let token_burst = (0..24).map(|_| {
        app.client
            .post(format!("{}/oauth/token", app.address))
            .basic_auth(&fx.client_id, Some(&wrong))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", "scimd_rt_x")])
            .send()
    });
    let sign_in_burst = (0..24).map(|i| {
        let email = format!("nobody{i}@acme.test");
        let form = [("email", email.as_str()), ("password", "wrong password"), ("csrf", &csrf)];
        b.http.post(format!("{}/account/login", app.address)).form(&form).send()
    });
    let (token_answers, sign_in_answers) =
        tokio::join!(join_all(token_burst), join_all(sign_in_burst));

    let mut busy = 0;
    for response in token_answers {
        let response = response.unwrap();
        let status = response.status();
        let retry_after = response.headers().get("retry-after").cloned();
        let body: Value = response.json().await.unwrap();
        match status {
            StatusCode::UNAUTHORIZED => assert_eq!(body["error"], "invalid_client", "{body}"),
            StatusCode::TOO_MANY_REQUESTS => {
                busy += 1;
                assert_eq!(body["error"], "temporarily_unavailable", "{body}");
                assert_eq!(retry_after.unwrap(), "1");
            }
            other => panic!("{other}: {body}"),
        }
    }
    for response in sign_in_answers {
        let response = response.unwrap();
        let status = response.status();
        let retry_after = response.headers().get("retry-after").cloned();
        let html = response.text().await.unwrap();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                busy += 1;
                assert!(html.contains("The server is busy"), "{html}");
                assert_eq!(retry_after.unwrap(), "1");
            }
            other => panic!("{other}: {html}"),
        }
    }
    let samples = scrape(&app).await;
    assert_eq!(value(&samples, "scimd_password_verifications_limit", &[]), 1.0);
    assert_eq!(value(&samples, "scimd_password_verifications_peak", &[]), 1.0, "bounded");
    let refused = value(&samples, "scimd_password_verifications_busy_total", &[]);
    assert!(refused >= 1.0 && refused == f64::from(busy), "{refused} busy, {busy} answered");

    // The genuine secret still works, and is stored as SHA-256 from then on.
    let response = okta::token_request(
        &app,
        &fx,
        ClientAuth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", "scimd_rt_x")],
    )
    .await;
    let (error, _) = oauth_error(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_grant", "authenticated: only the refresh token is wrong");
    let row = oauth_repo::find_client(&mut app.db.conn().unwrap(), &fx.client_id).unwrap();
    assert_eq!(row.unwrap().secret_hash, secret::sha256_hex(&fx.client_secret));
}

/// New client secrets never touch argon2: a flood of wrong ones costs no verification slot.
#[tokio::test]
async fn client_secrets_are_checked_with_sha256() {
    let app = spawn_app_with(|s| s.password_hash_concurrency = Some(1)).await;
    let fx = okta::setup(&app);
    let row = oauth_repo::find_client(&mut app.db.conn().unwrap(), &fx.client_id).unwrap();
    assert_eq!(row.unwrap().secret_hash, secret::sha256_hex(&fx.client_secret));
    let burst = (0..16).map(|i| {
        app.client
            .post(format!("{}/oauth/introspect", app.address))
            .basic_auth(
                if i % 2 == 0 { fx.client_id.as_str() } else { "scimd_ci_unknown" },
                Some("wrong"),
            )
            .form(&[("token", "x")])
            .send()
    });
    for response in join_all(burst).await {
        assert_eq!(response.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let samples = scrape(&app).await;
    assert_eq!(value(&samples, "scimd_password_verifications_peak", &[]), 0.0);
}
