//! The OAuth side of the second security review (issue 17), over HTTP: argon2 bounded by the
//! node's gate, client secrets as SHA-256, scope and code-redemption refusals, conformant error
//! redirects, redirect-URI registration, refresh rotation with a grace window, signing-key trust.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use scimd::audit::Actor;
use scimd::clock::Clock;
use scimd::db::repo::client_credentials as client_repo;
use scimd::db::repo::oauth as oauth_repo;
use scimd::oauth::{password, secret};

use crate::support::metrics::{scrape, value};
use crate::support::okta::{self, ClientAuth, browser, oauth_error, param, tokens};
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
    let stored = |app: &TestApp| {
        client_repo::secrets_of(&mut app.db.conn().unwrap(), &fx.client_id).unwrap().remove(0)
    };
    let first = stored(&app);
    // As an earlier version stored it (the migration copies it into the client's secrets).
    client_repo::upgrade_secret_hash(
        &mut app.db.conn().unwrap(),
        &first.id,
        &first.secret_hash,
        &legacy,
    )
    .unwrap();

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
    assert_eq!(stored(&app).secret_hash, secret::sha256_hex(&fx.client_secret));
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

/// Item 10: a scope request naming only unknown scopes is refused, not widened to full access;
/// no scope, `offline_access` and Entra's `scim` still mean both scopes.
#[tokio::test]
async fn a_scope_of_only_unknown_scopes_is_invalid_scope() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let b = browser(&app);
    for unknown in ["openid profile", "admin"] {
        let response = b.authorize(&okta::authorize_query(&fx, &[("scope", unknown)])).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{unknown}");
        let callback = okta::location(&response);
        assert!(callback.starts_with(okta::CALLBACK), "{callback}");
        assert_eq!(param(&callback, "error").as_deref(), Some("invalid_scope"), "{callback}");
        assert!(param(&callback, "error_description").unwrap().contains("scim:read"));
        assert_eq!(param(&callback, "state").as_deref(), Some("okta-state-123"));
    }
    for (requested, granted) in [
        ("offline_access", "scim:read scim:write"),
        ("scim", "scim:read scim:write"),
        ("openid scim:read", "scim:read"),
    ] {
        let body = okta::authorize_and_exchange(&app, &fx, &[("scope", requested)]).await;
        assert_eq!(body["scope"], granted, "{requested}");
    }
    let body = okta::authorize_and_exchange(&app, &fx, &[]).await;
    assert_eq!(body["scope"], "scim:read scim:write");
}

/// Item 20: authorization error redirects carry RFC 6749's `error_description`, not oxide-auth's
/// `description`.
#[tokio::test]
async fn authorization_error_redirects_use_error_description() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let b = browser(&app);
    let plain = [("code_challenge", okta::VERIFIER), ("code_challenge_method", "plain")];
    let response = b.authorize(&okta::authorize_query(&fx, &plain)).await;
    let callback = okta::location(&response);
    assert_eq!(param(&callback, "error").as_deref(), Some("invalid_request"));
    assert!(param(&callback, "error_description").unwrap().contains("S256"), "{callback}");
    assert_eq!(param(&callback, "description"), None, "{callback}");

    let html = b.consent_page(&okta::authorize_query(&fx, &[])).await;
    let callback = okta::location(&b.decide(&html, "deny").await);
    assert_eq!(param(&callback, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        param(&callback, "error_description").as_deref(),
        Some("the administrator denied access")
    );
    assert_eq!(param(&callback, "description"), None, "{callback}");
}

/// Items 12 and 20: a token request with the wrong `redirect_uri` or PKCE verifier, or a
/// malformed verifier, is refused without spending the code (audited `code.rejected` with the
/// reason), so the client's corrected retry gets its tokens and the grant lives.
#[tokio::test]
async fn a_failed_code_exchange_does_not_consume_the_code() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let b = browser(&app);
    let challenge = okta::s256(okta::VERIFIER);
    let code =
        b.code(&fx, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]).await;
    let exchange = |redirect_uri: &'static str, verifier: &'static str| {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let form: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let app = &app;
        let fx = &fx;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            okta::token_request(app, fx, ClientAuth::Basic, &form).await
        }
    };
    let wrong_verifier = "wrong-verifier-wrong-verifier-wrong-verifier-0000";
    let (error, description) = oauth_error(
        exchange("http://127.0.0.1:9/other", okta::VERIFIER).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_grant");
    assert!(description.contains("redirect_uri"), "{description}");
    let (error, description) =
        oauth_error(exchange(okta::CALLBACK, wrong_verifier).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_grant");
    assert!(description.contains("does not match"), "{description}");
    let (error, description) =
        oauth_error(exchange(okta::CALLBACK, "short+verifier").await, StatusCode::BAD_REQUEST)
            .await;
    assert_eq!(error, "invalid_request");
    assert!(description.contains("43 to 128"), "{description}");

    let body = okta::tokens(exchange(okta::CALLBACK, okta::VERIFIER).await).await;
    assert_eq!(app.get_as(body["access_token"].as_str().unwrap(), "/Users").await.status(), 200);
    let rejected = app.audit_events("code.rejected");
    let reasons: Vec<&str> =
        rejected.iter().map(|e| e["detail"]["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons.len(), 2, "{rejected:?}");
    assert!(
        reasons[0].contains("redirect_uri") && reasons[1].contains("does not match"),
        "{reasons:?}"
    );
    assert_eq!(app.audit_events("code.redeemed").len(), 1);
    assert!(app.audit_events("grant.revoked").is_empty());
    assert!(app.audit_events("code.reused").is_empty());
}

/// Item 20: disabling a tenant ends its admins' sessions, as disabling one admin does, so
/// enabling it again does not revive a browser session from before.
#[tokio::test]
async fn disabling_a_tenant_ends_its_admin_sessions_like_disabling_an_admin() {
    use scimd::service::tenancy::tenants;
    let app = spawn_app().await;
    okta::setup(&app);
    let admin = app.tenant_admin(okta::ADMIN_EMAIL, okta::ADMIN_PASSWORD).await;
    admin.page("/account", StatusCode::OK).await;
    tenants::set_disabled(&app.db, app.clock.as_ref(), &Actor::Cli, "acme", true).unwrap();
    tenants::set_disabled(&app.db, app.clock.as_ref(), &Actor::Cli, "acme", false).unwrap();
    let response = admin.get("/account").await;
    assert_ne!(response.status(), StatusCode::OK, "the old session is gone");
    let disabled = app.audit_events("tenant.disabled");
    assert_eq!(disabled[0]["detail"]["sessions_ended"], 1, "{disabled:?}");
    // Signing in again works.
    app.tenant_admin(okta::ADMIN_EMAIL, okta::ADMIN_PASSWORD)
        .await
        .page("/account", StatusCode::OK)
        .await;
}

/// Item 11: `--okta-app` registers Okta's plain-http `okta1.com:1802` callback only with
/// `--okta-http-callback`, and no other plain-http redirect URI is accepted unless loopback.
#[tokio::test]
async fn plain_http_redirect_uris_only_for_loopback_and_okta_on_request() {
    use crate::support::cli::scimd;
    use scimd::service::oauth::clients::{self, NewClient};
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    let uris = |client: &Value| -> Vec<String> {
        client["redirect_uris"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap().to_owned())
            .collect()
    };
    let plain = scimd(&url, &["client", "create", "--name", "Okta", "--okta-app", "acme_scim"]);
    assert!(uris(&plain).iter().all(|u| u.starts_with("https://")), "{plain}");
    let with_http = scimd(
        &url,
        &["client", "create", "--name", "Okta", "--okta-app", "acme_scim", "--okta-http-callback"],
    );
    let with_http = uris(&with_http);
    assert_eq!(with_http.len(), 5);
    assert!(with_http.contains(
        &"http://system-admin.okta1.com:1802/admin/app/cpc/acme_scim/oauth/callback".to_owned()
    ));

    let create = |uri: &str| {
        let uris = [uri.to_owned()];
        let new = NewClient { name: "App", redirect_uris: &uris, ..NewClient::default() };
        clients::create(&app.db, app.clock.as_ref(), &Actor::Cli, &new)
    };
    for remote in ["http://idp.example/cb", "http://10.1.2.3/cb"] {
        let refused = create(remote).unwrap_err().to_string();
        assert!(refused.contains("loopback"), "{remote}: {refused}");
    }
    for loopback in ["http://127.0.0.1:8123/cb", "http://localhost/cb", "http://[::1]:9/cb"] {
        assert!(create(loopback).is_ok(), "{loopback}");
    }
    // The console refuses it too, with the reason.
    create_operator(&app);
    let op = app.operator().await;
    op.page("/admin/clients", StatusCode::OK).await;
    let response = op
        .post("/admin/clients", &[("name", "App"), ("redirect_uri", "http://idp.example/cb")])
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("loopback"));
}

/// Item 8: the console shows each client's PKCE requirement and sets it, at registration and
/// later; an authorization request without PKCE is refused once it is required.
#[tokio::test]
async fn the_console_shows_and_sets_the_pkce_requirement() {
    let app = spawn_app().await;
    create_operator(&app);
    let fx = okta::setup(&app);
    let op = app.operator().await;
    let html = op.page("/admin/clients", StatusCode::OK).await;
    assert!(html.contains("optional <button"), "{html}");
    let b = browser(&app);
    assert_eq!(b.authorize(&okta::authorize_query(&fx, &[])).await.status(), StatusCode::OK);

    let response =
        op.post(&format!("/admin/clients/{}/pkce", fx.client_id), &[("require_pkce", "on")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = op.page("/admin/clients?done=pkce-changed", StatusCode::OK).await;
    assert!(html.contains("required <button"), "{html}");
    let response = b.authorize(&okta::authorize_query(&fx, &[])).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let callback = okta::location(&response);
    assert_eq!(param(&callback, "error").as_deref(), Some("invalid_request"));
    assert!(param(&callback, "error_description").unwrap().contains("PKCE"), "{callback}");
    let changed = app.audit_events("client.pkce_changed");
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["detail"]["require_pkce"], true);

    op.post(&format!("/admin/clients/{}/pkce", fx.client_id), &[]).await;
    assert_eq!(b.authorize(&okta::authorize_query(&fx, &[])).await.status(), StatusCode::OK);

    // Registered as required from the start.
    op.post(
        "/admin/clients",
        &[("name", "Strict"), ("okta_app", "strict_app"), ("require_pkce", "on")],
    )
    .await;
    let strict = scimd::service::oauth::clients::list(&app.db).unwrap();
    let strict = strict.iter().find(|c| c.name == "Strict").unwrap();
    assert!(strict.require_pkce);
}

fn rt(body: &Value) -> String {
    body["refresh_token"].as_str().unwrap().to_owned()
}

fn at(body: &Value) -> String {
    body["access_token"].as_str().unwrap().to_owned()
}

/// Item 7, the attacker sequence: a stolen, already used refresh token replayed after the grace
/// window. Each replay still gets a pair (the rule that makes a lost response harmless), but it
/// retires the earlier unused child and revokes its access token, so replays never pile up live
/// pairs; and when the holder of a retired child presents it, that is reuse: the family is
/// revoked and audited.
#[tokio::test]
async fn replaying_a_used_refresh_token_after_the_window_retires_its_children() {
    let (app, clock) = spawn_app_manual(|_| {}).await;
    let fx = okta::setup(&app);
    let r0 = rt(&okta::authorize_and_exchange(&app, &fx, &[]).await);
    let legit = tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &r0).await).await;
    assert_eq!(app.get_as(&at(&legit), "/Users").await.status(), StatusCode::OK);

    clock.advance(120_000);
    let stolen = tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &r0).await).await;
    let response = app.get_as(&at(&legit), "/Users").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "the earlier child's access token");
    assert!(okta::challenge(&response).contains("revoked"), "{}", okta::challenge(&response));
    assert_eq!(app.get_as(&at(&stolen), "/Users").await.status(), StatusCode::OK);

    clock.advance(120_000);
    let again = tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &r0).await).await;
    assert_eq!(app.get_as(&at(&stolen), "/Users").await.status(), StatusCode::UNAUTHORIZED);
    let refreshed = app.audit_events("token.refresh_retried");
    assert_eq!(refreshed.len(), 2);
    assert!(refreshed.iter().all(|e| e["detail"]["revoked_access_tokens"] == 1), "{refreshed:?}");

    // The legitimate client refreshes with what it holds: a retired child. Reuse.
    clock.advance(1_000);
    let description = okta::refresh_fails(&app, &fx, &rt(&legit)).await;
    assert!(description.contains("reuse"), "{description}");
    assert_eq!(app.audit_events("token.reuse_detected").len(), 1);
    let revoked = app.audit_events("grant.revoked");
    assert_eq!(revoked[0]["detail"]["reason"], "refresh token reuse detected");
    okta::refresh_fails(&app, &fx, &rt(&again)).await;
    assert_eq!(app.get_as(&at(&again), "/Users").await.status(), StatusCode::UNAUTHORIZED);
}

/// Within the grace window, replays coexist: several children of one token all work, even after
/// one of them has been used.
#[tokio::test]
async fn siblings_within_the_window_coexist_after_one_is_used() {
    let (app, clock) = spawn_app_manual(|_| {}).await;
    let fx = okta::setup(&app);
    let r0 = rt(&okta::authorize_and_exchange(&app, &fx, &[]).await);
    let a = tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &r0).await).await;
    clock.advance(20_000);
    let b = tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &r0).await).await;
    clock.advance(20_000);
    let a2 = tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &rt(&a)).await).await;
    // b was issued 20 s before a's use: still good, access token included, an hour later too.
    assert_eq!(app.get_as(&at(&b), "/Users").await.status(), StatusCode::OK);
    clock.advance(3_000_000);
    let b2 = tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &rt(&b)).await).await;
    assert_eq!(app.get_as(&at(&b2), "/Users").await.status(), StatusCode::OK);
    // a2's branch is superseded now (issued long before b's use): presenting it is reuse.
    clock.advance(1_000);
    let description = okta::refresh_fails(&app, &fx, &rt(&a2)).await;
    assert!(description.contains("reuse"), "{description}");
}

/// Item 23: four threads share one stored refresh token, the last writer winning, as a
/// multi-threaded client does; every round all four refresh at once, some responses are stored
/// late (after the next round), and the client pauses for an hour between bursts. No refresh is
/// ever refused and the grant survives. (Before the grace window, reuse detection revoked the
/// grant within a few rounds.)
#[tokio::test]
async fn four_threads_sharing_one_stored_token_never_lose_the_grant() {
    let (app, clock) = spawn_app_manual(|_| {}).await;
    let fx = okta::setup(&app);
    let mut slot = okta::authorize_and_exchange(&app, &fx, &[]).await;
    let mut late: Option<Value> = None;
    for round in 0..16 {
        let read = rt(&slot);
        let burst = (0..4).map(|_| okta::refresh(&app, &fx, ClientAuth::Basic, &read));
        let mut answers = Vec::new();
        for response in join_all(burst).await {
            answers.push(tokens(response).await);
        }
        // Stores in a rotating order. In every other round one thread stalls and stores only
        // after the next round's stores, putting an older sibling back into the slot.
        answers.rotate_left(round % 4);
        let stalls = round % 2 == 0 && round % 4 != 3;
        let stalled = if stalls { answers.pop() } else { None };
        for body in answers {
            slot = body;
        }
        if let Some(body) = late.take() {
            slot = body;
        }
        late = stalled;
        assert_eq!(app.get_as(&at(&slot), "/Users").await.status(), StatusCode::OK, "{round}");
        // Bursts of rounds a second apart, an hour between bursts.
        clock.advance(if round % 4 == 3 { 3_600_000 } else { 1_000 });
    }
    let last = tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &rt(&slot)).await).await;
    assert_eq!(app.get_as(&at(&last), "/Users").await.status(), StatusCode::OK);
    assert!(app.audit_events("token.reuse_detected").is_empty());
    assert!(app.audit_events("grant.revoked").is_empty());
}

/// Signs `claims` with a stored key, as someone holding its private part could.
fn forge(row: &scimd::db::rows::SigningKeyRow, claims: &Value) -> String {
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &row.private_key)
        .unwrap();
    let key = jsonwebtoken::EncodingKey::from_ed_der(&der);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.typ = Some("at+jwt".into());
    header.kid = Some(row.kid.clone());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn key_rows(app: &TestApp) -> Vec<scimd::db::rows::SigningKeyRow> {
    scimd::db::repo::keys::all(&mut app.db.conn().unwrap()).unwrap()
}

/// Item 2: a token verifies only against a published key. One forged with a retired key that is
/// no longer published is refused although the row still exists; `scimd keys revoke` deletes a
/// key, and tokens it signed (cached verifications included) stop working within the bounded
/// delay.
#[tokio::test]
async fn only_published_keys_verify_and_a_revoked_key_stops_at_once() {
    use scimd::service::oauth::keys;
    let (app, clock) = spawn_app_manual(|_| {}).await;
    let fx = okta::setup(&app);
    let body = okta::authorize_and_exchange(&app, &fx, &[]).await;
    let (_, mut claims) = okta::jwt_parts(&at(&body));
    let first = key_rows(&app).remove(0);
    let fresh_claims = |claims: &mut Value, now_ms: i64| {
        claims["iat"] = (now_ms / 1000).into();
        claims["exp"] = (now_ms / 1000 + 600).into();
        claims.clone()
    };

    let ttl = app.settings.access_token_ttl_ms();
    keys::rotate(&app.db, app.clock.as_ref(), &Actor::Cli, ttl, &Default::default()).unwrap();
    clock.advance(keys::PUBLISH_LEAD + ttl + 61_000);
    let jwks = app.get_public_json("/oauth/jwks.json").await;
    assert!(!jwks.to_string().contains(&first.kid), "no longer published: {jwks}");
    assert_eq!(key_rows(&app).len(), 2, "the row is still there");
    let forged = forge(&first, &fresh_claims(&mut claims, clock.now()));
    let response = app.get_as(&forged, "/Users").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(okta::challenge(&response).contains("unknown key"), "{}", okta::challenge(&response));

    // A token of the current key, verified (and cached) on this node.
    let current = tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &rt(&body)).await).await;
    let (header, _) = okta::jwt_parts(&at(&current));
    let kid = header["kid"].as_str().unwrap().to_owned();
    assert_eq!(app.get_as(&at(&current), "/Users").await.status(), StatusCode::OK);
    let signing = key_rows(&app).into_iter().find(|k| k.kid == kid).unwrap();
    let revoked =
        keys::revoke(&app.db, app.clock.as_ref(), &Actor::Cli, &kid, ttl, &Default::default())
            .unwrap();
    assert_eq!(revoked.kid, kid);
    assert!(key_rows(&app).iter().all(|k| k.kid != kid), "deleted at once");
    clock.advance(keys::KEY_CACHE_MAX_AGE);
    for token in [at(&current), forge(&signing, &fresh_claims(&mut claims, clock.now()))] {
        let response = app.get_as(&token, "/Users").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "revoked key");
    }
    assert!(!app.get_public_json("/oauth/jwks.json").await.to_string().contains(&kid));
    assert_eq!(app.audit_events("key.revoked").len(), 1);
    // Tokens go on, signed by another key.
    let next = tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &rt(&current)).await).await;
    assert_ne!(okta::jwt_parts(&at(&next)).0["kid"], kid.as_str());
    assert_eq!(app.get_as(&at(&next), "/Users").await.status(), StatusCode::OK);
}

/// Item 24: after `keys rotate` on one node, another node that has just (re)loaded its keys, as
/// any client can make it do with a made-up `kid`, accepts the first token of the new key at
/// once: the key is published before anything signs with it.
#[tokio::test]
async fn a_new_key_is_known_to_every_node_before_it_signs() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use scimd::service::oauth::keys;
    let (app, clock) = spawn_app_manual(|s| s.public_url = Some("http://scim.test".into())).await;
    let node_b = app.second_node().await;
    let fx = okta::setup(&app);
    let body = okta::authorize_and_exchange(&app, &fx, &[]).await;
    let on_b = |token: String| {
        let request = app.client.get(format!("{node_b}/scim/v2/Users")).bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    let made_up = {
        let token = at(&body);
        let parts: Vec<&str> = token.split('.').collect();
        let header = serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "made-up"});
        format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), parts[1], parts[2])
    };
    assert_eq!(on_b(at(&body)).await.status(), StatusCode::OK);
    assert_eq!(on_b(made_up.clone()).await.status(), StatusCode::UNAUTHORIZED);

    let ttl = app.settings.access_token_ttl_ms();
    let rotated =
        keys::rotate(&app.db, app.clock.as_ref(), &Actor::Cli, ttl, &Default::default()).unwrap();
    assert!(!rotated.signing, "published first");
    let jwks: Value = app
        .client
        .get(format!("{node_b}/oauth/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(jwks.to_string().contains(&rotated.kid), "published at once: {jwks}");
    // Right after the rotation, tokens are still signed by the old key: fine on B.
    let soon = tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &rt(&body)).await).await;
    assert_ne!(okta::jwt_parts(&at(&soon)).0["kid"], rotated.kid.as_str());
    assert_eq!(on_b(at(&soon)).await.status(), StatusCode::OK);

    clock.advance(keys::PUBLISH_LEAD);
    assert_eq!(on_b(made_up).await.status(), StatusCode::UNAUTHORIZED);
    let new = tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &rt(&soon)).await).await;
    assert_eq!(okta::jwt_parts(&at(&new)).0["kid"], rotated.kid.as_str());
    assert_eq!(on_b(at(&new)).await.status(), StatusCode::OK, "known on B before its first use");
}

/// `scimd keys revoke KID` deletes the key and says so; the server keeps a key to sign with.
#[tokio::test]
async fn the_cli_revokes_a_signing_key() {
    use crate::support::cli::scimd;
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    let first = scimd(&url, &["keys", "list"])["keys"][0]["kid"].as_str().unwrap().to_owned();
    let rotated = scimd(&url, &["keys", "rotate"]);
    assert_eq!(rotated["signing"], false, "published before it signs");
    // A key id is base64url: one that begins with `-` is an id, not an option.
    let dashed = std::process::Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args(["--database-url", &url, "keys", "revoke", "-no-such-key"])
        .env_remove("SCIMD_CONFIG")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&dashed.stderr);
    assert!(!dashed.status.success() && said.contains("'-no-such-key' not found"), "{said}");
    let revoked = scimd(&url, &["keys", "revoke", &first]);
    assert_eq!(
        (revoked["kid"].as_str(), revoked["published"].as_bool()),
        (Some(first.as_str()), Some(false))
    );
    let listed = scimd(&url, &["keys", "list"]);
    let kids: Vec<&str> =
        listed["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, [rotated["kid"].as_str().unwrap()]);
    assert_eq!(listed["keys"][0]["signing"], true, "the survivor signs at once");
    let fx = okta::setup(&app);
    let body = okta::authorize_and_exchange(&app, &fx, &[]).await;
    assert_eq!(okta::jwt_parts(&at(&body)).0["kid"], rotated["kid"]);
}

const SEAL_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const SEAL_B: &str = "HxwdHhscHRobGBkWFxQVEhMQEQ4PDA0KCwgJBgcEBQI=";

/// Item 2 (at rest): with `signing_key_secret`, the signing key's private part is sealed in the
/// database, tokens work as before, a server without the secret refuses to start, and the
/// documented rotation (new secret, old one as previous, `keys rotate`) works.
#[tokio::test]
async fn signing_keys_are_sealed_at_rest_and_the_secret_rotates() {
    use scimd::oauth::seal::Sealer;
    use scimd::service::oauth::keys;
    let (app, clock) = spawn_app_manual(|s| s.signing_key_secret = Some(SEAL_A.into())).await;
    let fx = okta::setup(&app);
    let body = okta::authorize_and_exchange(&app, &fx, &[]).await;
    assert_eq!(app.get_as(&at(&body), "/Users").await.status(), StatusCode::OK);
    let rows = key_rows(&app);
    assert_eq!(rows.len(), 1);
    assert!(Sealer::is_sealed(&rows[0].private_key), "sealed in the database");

    // A node without the secret, or with another one, will not start on this database.
    for secret in [None, Some(SEAL_B.to_owned())] {
        let settings = scimd::config::Settings {
            bind: "127.0.0.1:0".into(),
            signing_key_secret: secret,
            ..app.settings.clone()
        };
        let built =
            scimd::startup::Application::build_with(settings, app.clock.clone(), app.db.clone());
        let error = built.err().expect("refused").to_string();
        assert!(error.contains("sealed with a secret this server does not have"), "{error}");
    }
    // Rotation: B seals new keys, A still opens the current one until the new key signs.
    let rotating = Sealer::new(Some(SEAL_B), Some(SEAL_A)).unwrap();
    let ttl = app.settings.access_token_ttl_ms();
    let rotated = keys::rotate(&app.db, app.clock.as_ref(), &Actor::Cli, ttl, &rotating).unwrap();
    clock.advance(keys::PUBLISH_LEAD);
    let row = key_rows(&app).into_iter().find(|k| k.kid == rotated.kid).unwrap();
    let only_b = Sealer::new(Some(SEAL_B), None).unwrap();
    assert!(only_b.open(&row.kid, &row.private_key).is_ok(), "sealed with the new secret");
    let settings = scimd::config::Settings {
        bind: "127.0.0.1:0".into(),
        signing_key_secret: Some(SEAL_B.into()),
        ..app.settings.clone()
    };
    assert!(
        scimd::startup::Application::build_with(settings, app.clock.clone(), app.db.clone())
            .is_ok(),
        "the old secret is no longer needed"
    );
}
