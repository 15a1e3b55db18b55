//! "Authenticate with <app>": the authorization-code flow as Okta drives it, JWT access tokens at
//! the SCIM endpoints, and refresh-token rotation that survives lost responses and concurrency
//! while catching theft.

use reqwest::StatusCode;
use serde_json::{Value, json};

use scimd::audit::Actor;
use scimd::service::oauth::keys;
use scimd::service::operations::audit_log;

use crate::support::okta::{
    self, ClientAuth, browser, challenge, client_post, exchange, oauth_error, param, refresh,
    refresh_fails, tokens,
};
use crate::support::*;

const DAY: i64 = 86_400_000;

fn key_ids(jwks: &Value) -> Vec<&str> {
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect()
}

async fn scim_get(app: &TestApp, token: &str) -> reqwest::Response {
    app.get_as(token, "/Users").await
}

#[tokio::test]
async fn okta_flow_with_basic_auth_issues_a_jwt_that_scim_accepts() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let b = browser(&app);

    // The login page comes first; then the consent page names client, tenant and scopes.
    let html = b.consent_page(&okta::authorize_query(&fx, &[])).await;
    assert!(html.contains("Authorize Okta?"), "{html}");
    assert!(html.contains("Acme Inc"), "{html}");
    assert!(html.contains("Read the users and groups"), "{html}");
    assert!(html.contains("Create, update, deactivate"), "{html}");
    let response = b.decide(&html, "allow").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = okta::location(&response);
    assert!(callback.starts_with(okta::CALLBACK));
    assert_eq!(param(&callback, "state").as_deref(), Some("okta-state-123"));
    let code = param(&callback, "code").unwrap();

    let body = tokens(exchange(&app, &fx, ClientAuth::Basic, &code, None).await).await;
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "scim:read scim:write");
    let access = body["access_token"].as_str().unwrap();
    let (header, claims) = okta::jwt_parts(access);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].is_string());
    assert_eq!(claims["iss"], app.address);
    assert_eq!(claims["aud"], format!("{}/scim/v2", app.address));
    assert_eq!(claims["client_id"], fx.client_id);
    assert_eq!(claims["scope"], "scim:read scim:write");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    for claim in ["sub", "jti", "tenant", "grant"] {
        assert!(claims[claim].is_string(), "{claim} in {claims}");
    }

    // SCIM with the JWT: read, write, and the tenant is the consenting admin's.
    assert_eq!(scim_get(&app, access).await.status(), StatusCode::OK);
    let created = app.bearer_client(access).post("/Users", &okta_user("jwt@acme.test")).await;
    let user = expect_json(created, StatusCode::CREATED).await;
    let listed =
        expect_json(app.get(&format!("/Users/{}", id_of(&user))).await, StatusCode::OK).await;
    assert_eq!(listed["userName"], "jwt@acme.test", "visible with the tenant's static token");
}

#[tokio::test]
async fn client_secret_post_works_for_code_and_refresh() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let code = browser(&app).code(&fx, &[]).await;
    let first = tokens(exchange(&app, &fx, ClientAuth::Post, &code, None).await).await;
    let rt = first["refresh_token"].as_str().unwrap();
    let second = tokens(refresh(&app, &fx, ClientAuth::Post, rt).await).await;
    assert_ne!(second["refresh_token"], first["refresh_token"], "rotated");
    assert_eq!(
        scim_get(&app, second["access_token"].as_str().unwrap()).await.status(),
        StatusCode::OK
    );
    let third = tokens(
        refresh(&app, &fx, ClientAuth::Basic, second["refresh_token"].as_str().unwrap()).await,
    )
    .await;
    assert_eq!(
        scim_get(&app, third["access_token"].as_str().unwrap()).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn pkce_s256_is_enforced_plain_is_refused_and_downgrade_is_caught() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let b = browser(&app);
    let challenge_value = okta::s256(okta::VERIFIER);
    let with_pkce =
        [("code_challenge", challenge_value.as_str()), ("code_challenge_method", "S256")];

    let code = b.code(&fx, &with_pkce).await;
    let (error, description) = oauth_error(
        exchange(&app, &fx, ClientAuth::Basic, &code, None).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_grant");
    assert!(description.contains("code_verifier"), "{description}");

    let code = b.code(&fx, &with_pkce).await;
    let wrong = "wrong-verifier-wrong-verifier-wrong-verifier-0000";
    let (error, _) = oauth_error(
        exchange(&app, &fx, ClientAuth::Basic, &code, Some(wrong)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_grant");

    let code = b.code(&fx, &with_pkce).await;
    tokens(exchange(&app, &fx, ClientAuth::Basic, &code, Some(okta::VERIFIER)).await).await;

    // A verifier for a code issued without a challenge: a downgrade attempt.
    let code = b.code(&fx, &[]).await;
    let (error, description) = oauth_error(
        exchange(&app, &fx, ClientAuth::Basic, &code, Some(okta::VERIFIER)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_grant");
    assert!(description.contains("no code_challenge"), "{description}");

    // plain is refused at /authorize, with a redirect that carries the error and the state.
    let response = b
        .authorize(&okta::authorize_query(
            &fx,
            &[("code_challenge", okta::VERIFIER), ("code_challenge_method", "plain")],
        ))
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let callback = okta::location(&response);
    assert_eq!(param(&callback, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&callback, "state").as_deref(), Some("okta-state-123"));
}

#[tokio::test]
async fn a_client_that_requires_pkce_cannot_skip_it() {
    let app = spawn_app().await;
    let fx = okta::setup_with(&app, true);
    let response = browser(&app).authorize(&okta::authorize_query(&fx, &[])).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(param(&okta::location(&response), "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn untrusted_requests_get_an_error_page_and_trusted_ones_a_redirect() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let b = browser(&app);
    for (query, needle) in [
        ("response_type=code&client_id=nope&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Foauth%2Fcallback".to_owned(), "not registered"),
        (format!("response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb", fx.client_id), "redirect_uri"),
        (format!("response_type=code&client_id={}", fx.client_id), "redirect_uri"),
        ("response_type=code".to_owned(), "client_id"),
    ] {
        let response = b.authorize(&query).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert!(response.headers().get("location").is_none());
        let html = response.text().await.unwrap();
        assert!(html.contains(needle), "{query}: {html}");
    }
    // Okta's own callbacks are registered exactly.
    let okta_cb = "https://system-admin.okta.com/admin/app/cpc/acme_scim/oauth/callback";
    let q = format!(
        "response_type=code&client_id={}&redirect_uri={}&state=s",
        fx.client_id,
        urlencode(okta_cb)
    );
    assert_eq!(b.authorize(&q).await.status(), StatusCode::OK);
    let response = b.authorize(&format!("{q}x")).await;
    assert_eq!(response.status(), StatusCode::OK, "state may be anything");
    let near_miss = format!(
        "response_type=code&client_id={}&redirect_uri={}",
        fx.client_id,
        urlencode(&format!("{okta_cb}/"))
    );
    assert_eq!(b.authorize(&near_miss).await.status(), StatusCode::BAD_REQUEST);

    // A bad response_type after the redirect URI is trusted: redirect with error and state.
    let q = okta::authorize_query(&fx, &[]).replace("response_type=code", "response_type=token");
    let response = b.authorize(&q).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let callback = okta::location(&response);
    assert_eq!(param(&callback, "error").as_deref(), Some("unsupported_response_type"));
    assert_eq!(param(&callback, "state").as_deref(), Some("okta-state-123"));

    // Deny: access_denied, and no code.
    let html = b.consent_page(&okta::authorize_query(&fx, &[])).await;
    let response = b.decide(&html, "deny").await;
    let callback = okta::location(&response);
    assert_eq!(param(&callback, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&callback, "state").as_deref(), Some("okta-state-123"));
    assert!(param(&callback, "code").is_none());
}

#[tokio::test]
async fn login_checks_csrf_password_and_throttles() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let b = browser(&app);
    let query = okta::authorize_query(&fx, &[]);
    let html = b.authorize(&query).await.text().await.unwrap();
    assert!(html.contains("Sign in"), "{html}");

    // No CSRF token: refused, nothing else happens.
    let return_to = okta::hidden(&html, "return_to");
    let response = b
        .post_form(
            "/oauth/login",
            &[
                ("email", okta::ADMIN_EMAIL),
                ("password", okta::ADMIN_PASSWORD),
                ("return_to", &return_to),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A browser without the CSRF cookie (another site posting the form) is refused too.
    let stranger = browser(&app);
    let response = stranger.login(&html, okta::ADMIN_EMAIL, okta::ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = b.login(&html, okta::ADMIN_EMAIL, "wrong password!").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("Incorrect email or password"));
    let response = b.login(&html, "nobody@acme.test", "wrong password!").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "unknown emails look the same");

    // The email is case-insensitive.
    let response = b.login(&html, "ADMIN@Acme.Test", okta::ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");

    // Five failures lock the account, even for the right password afterwards.
    let other = browser(&app);
    let html = other.authorize(&query).await.text().await.unwrap();
    for _ in 0..5 {
        other.login(&html, okta::ADMIN_EMAIL, "wrong password!").await;
    }
    let response = other.login(&html, okta::ADMIN_EMAIL, okta::ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.text().await.unwrap().contains("Too many failed sign-in attempts"));
}

#[tokio::test]
async fn consent_needs_the_session_csrf_token() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let b = browser(&app);
    let html = b.consent_page(&okta::authorize_query(&fx, &[])).await;
    let action = okta::consent_action(&html);
    for csrf in ["", "forged-token"] {
        let response = b.post_form(&action, &[("csrf", csrf), ("decision", "allow")]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.headers().get("location").is_none());
    }
    // Logging out ends the session: the consent form then asks to sign in again.
    let csrf = okta::hidden(&html, "csrf");
    let return_to = okta::hidden(&html, "return_to");
    let response =
        b.post_form("/oauth/logout", &[("csrf", &csrf), ("return_to", &return_to)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = b.post_form(&action, &[("csrf", &csrf), ("decision", "allow")]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("Sign in"));
}

#[tokio::test]
async fn a_reused_code_fails_and_revokes_what_it_issued() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let code = browser(&app).code(&fx, &[]).await;
    let first = tokens(exchange(&app, &fx, ClientAuth::Basic, &code, None).await).await;
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(scim_get(&app, access).await.status(), StatusCode::OK);

    let (error, description) = oauth_error(
        exchange(&app, &fx, ClientAuth::Basic, &code, None).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_grant");
    assert!(description.contains("already been used"), "{description}");
    let response = scim_get(&app, access).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&response).contains("revoked"), "{}", challenge(&response));
    let (error, _) = oauth_error(
        refresh(&app, &fx, ClientAuth::Basic, first["refresh_token"].as_str().unwrap()).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_grant");
}

#[tokio::test]
async fn codes_expire_after_sixty_seconds_and_access_tokens_after_an_hour() {
    let (app, clock) = spawn_app_manual(|_| {}).await;
    let fx = okta::setup(&app);
    let b = browser(&app);
    let code = b.code(&fx, &[]).await;
    clock.advance(61_000);
    let (error, description) = oauth_error(
        exchange(&app, &fx, ClientAuth::Basic, &code, None).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(
        (error.as_str(), description.contains("expired")),
        ("invalid_grant", true),
        "{description}"
    );

    let code = b.code(&fx, &[]).await;
    let body = tokens(exchange(&app, &fx, ClientAuth::Basic, &code, None).await).await;
    let access = body["access_token"].as_str().unwrap();
    clock.advance(3_600_000 + 20_000);
    assert_eq!(scim_get(&app, access).await.status(), StatusCode::OK, "within the leeway");
    clock.advance(11_000);
    let response = scim_get(&app, access).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&response).contains("expired"), "{}", challenge(&response));
    let error = expect_error(response, StatusCode::UNAUTHORIZED, None).await;
    assert!(error["detail"].as_str().unwrap().contains("expired"));
    // Refreshing gets a working token again.
    let again = tokens(
        refresh(&app, &fx, ClientAuth::Basic, body["refresh_token"].as_str().unwrap()).await,
    )
    .await;
    assert_eq!(
        scim_get(&app, again["access_token"].as_str().unwrap()).await.status(),
        StatusCode::OK
    );
}

fn rt(body: &Value) -> String {
    body["refresh_token"].as_str().unwrap().to_owned()
}

fn at(body: &Value) -> String {
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_lost_refresh_response_can_be_retried_even_weeks_later() {
    let (app, clock) = spawn_app_manual(|_| {}).await;
    let fx = okta::setup(&app);
    let r0 = rt(&okta::authorize_and_exchange(&app, &fx, &[]).await);

    // The response to this refresh is lost in transit.
    let _lost = tokens(refresh(&app, &fx, ClientAuth::Basic, &r0).await).await;
    clock.advance(21 * DAY);
    let retried = tokens(refresh(&app, &fx, ClientAuth::Basic, &r0).await).await;
    assert_eq!(scim_get(&app, &at(&retried)).await.status(), StatusCode::OK);
    // Okta goes on with what it received; the chain continues.
    let next = tokens(refresh(&app, &fx, ClientAuth::Basic, &rt(&retried)).await).await;
    let next = tokens(refresh(&app, &fx, ClientAuth::Basic, &rt(&next)).await).await;
    assert_eq!(scim_get(&app, &at(&next)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_all_succeed() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let r0 = rt(&okta::authorize_and_exchange(&app, &fx, &[]).await);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (client, address, id, secret, token) = (
            app.client.clone(),
            app.address.clone(),
            fx.client_id.clone(),
            fx.client_secret.clone(),
            r0.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client
                .post(format!("{address}/oauth/token"))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", token.as_str())])
                .send()
                .await
                .unwrap()
        }));
    }
    let mut children = Vec::new();
    for task in tasks {
        let body = tokens(task.await.unwrap()).await;
        assert_eq!(scim_get(&app, &at(&body)).await.status(), StatusCode::OK);
        children.push(rt(&body));
    }
    children.sort();
    children.dedup();
    assert_eq!(children.len(), 6, "every refresh got its own token");
    // The last writer wins in Okta's store; using it keeps the grant alive.
    let kept = tokens(refresh(&app, &fx, ClientAuth::Basic, &children[3]).await).await;
    assert_eq!(scim_get(&app, &at(&kept)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn reuse_of_a_superseded_refresh_token_revokes_the_whole_grant() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let first = okta::authorize_and_exchange(&app, &fx, &[]).await;
    let r0 = rt(&first);
    let a = tokens(refresh(&app, &fx, ClientAuth::Basic, &r0).await).await;
    let sibling = tokens(refresh(&app, &fx, ClientAuth::Basic, &r0).await).await;
    // The successor is used: r0 and its other child are now retired.
    let b = tokens(refresh(&app, &fx, ClientAuth::Basic, &rt(&a)).await).await;
    let live_access = at(&b);
    assert_eq!(scim_get(&app, &live_access).await.status(), StatusCode::OK);

    // An attacker replays the old token: theft. The grant dies, access tokens included.
    let description = refresh_fails(&app, &fx, &r0).await;
    assert!(description.contains("reuse"), "{description}");
    let response = scim_get(&app, &live_access).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&response).contains("revoked"), "{}", challenge(&response));
    refresh_fails(&app, &fx, &rt(&b)).await;
    refresh_fails(&app, &fx, &rt(&sibling)).await;
    assert_eq!(scim_get(&app, &at(&first)).await.status(), StatusCode::UNAUTHORIZED);

    // The trail shows what happened.
    let events = audit_log::list(&app.db, app.clock.as_ref(), Some("acme"), None, 1000).unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    for expected in [
        "login.succeeded",
        "consent.granted",
        "code.issued",
        "code.redeemed",
        "token.issued",
        "token.refreshed",
        "token.refresh_retried",
        "token.reuse_detected",
        "grant.revoked",
        "token.refresh_rejected",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let all = audit_log::list(&app.db, app.clock.as_ref(), None, None, 1000).unwrap();
    let failure = all.iter().find(|e| e.event == "scim.auth_failed").expect("SCIM 401 audited");
    assert!(failure.detail["reason"].as_str().unwrap().contains("revoked"));
    // No secret ever lands in the trail.
    let dump =
        serde_json::to_string(&json!(all.iter().map(|e| &e.detail).collect::<Vec<_>>())).unwrap();
    assert!(
        !dump.contains("scimd_rt_")
            && !dump.contains(&fx.client_secret)
            && !dump.contains(okta::ADMIN_PASSWORD)
    );
}

#[tokio::test]
async fn refresh_tokens_expire_when_idle_and_at_the_absolute_limit() {
    let (app, clock) = spawn_app_manual(|s| s.refresh_absolute_ttl_secs = Some(200 * 86_400)).await;
    let fx = okta::setup(&app);
    let r0 = rt(&okta::authorize_and_exchange(&app, &fx, &[]).await);
    clock.advance(89 * DAY);
    let r1 = rt(&tokens(refresh(&app, &fx, ClientAuth::Basic, &r0).await).await);
    clock.advance(89 * DAY);
    let r2 = rt(&tokens(refresh(&app, &fx, ClientAuth::Basic, &r1).await).await);
    clock.advance(91 * DAY);
    let description = refresh_fails(&app, &fx, &r2).await;
    assert!(description.contains("maximum lifetime"), "{description}");

    let r0 = rt(&okta::authorize_and_exchange(&app, &fx, &[]).await);
    clock.advance(90 * DAY);
    let description = refresh_fails(&app, &fx, &r0).await;
    assert!(description.contains("unused"), "{description}");
}

#[tokio::test]
async fn scopes_limit_what_a_token_may_do() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let read_only =
        okta::authorize_and_exchange(&app, &fx, &[("scope", "scim:read offline_access")]).await;
    assert_eq!(read_only["scope"], "scim:read");
    let token = at(&read_only);
    assert_eq!(scim_get(&app, &token).await.status(), StatusCode::OK);
    let response = app.bearer_client(&token).post("/Users", &okta_user("x@acme.test")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let c = challenge(&response);
    assert!(c.contains("insufficient_scope") && c.contains("scim:write"), "{c}");
    expect_error(response, StatusCode::FORBIDDEN, None).await;

    // Okta may repeat offline_access (or other scopes it knows) on refresh: never a failure.
    let full = okta::authorize_and_exchange(&app, &fx, &[]).await;
    let again = tokens(
        okta::refresh_with_scope(&app, &fx, &rt(&full), "offline_access scim:read scim:write")
            .await,
    )
    .await;
    assert_eq!(again["scope"], "scim:read scim:write");

    let write_only = okta::authorize_and_exchange(&app, &fx, &[("scope", "scim:write")]).await;
    assert_eq!(scim_get(&app, &at(&write_only)).await.status(), StatusCode::FORBIDDEN);

    // Refresh may narrow the scope but never widen it.
    let narrowed =
        tokens(okta::refresh_with_scope(&app, &fx, &rt(&read_only), "scim:read").await).await;
    assert_eq!(narrowed["scope"], "scim:read");
    let (error, _) = oauth_error(
        okta::refresh_with_scope(&app, &fx, &rt(&narrowed), "scim:read scim:write").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_scope");
}

/// Signs `claims` with the server's active key, as only the server could.
fn sign_with_server_key(app: &TestApp, claims: &Value) -> String {
    use scimd::db::repo::keys as key_repo;
    let row = key_repo::active(&mut app.db.conn().unwrap()).unwrap().unwrap();
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &row.private_key)
        .unwrap();
    let key = jsonwebtoken::EncodingKey::from_ed_der(&der);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.typ = Some("at+jwt".into());
    header.kid = Some(row.kid);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

#[tokio::test]
async fn forged_and_foreign_tokens_are_refused_with_their_reason() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let good = at(&okta::authorize_and_exchange(&app, &fx, &[]).await);
    let (header, claims) = okta::jwt_parts(&good);
    let parts: Vec<&str> = good.split('.').collect();
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());

    let with = |key: &str, value: Value| {
        let mut c = claims.clone();
        c[key] = value;
        c
    };
    let jwks = app.get_public_json("/oauth/jwks.json").await;
    let public_x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let hs256 = {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.typ = Some("at+jwt".into());
        h.kid = header["kid"].as_str().map(str::to_owned);
        jsonwebtoken::encode(
            &h,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(public_x.as_bytes()),
        )
        .unwrap()
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]})),
        parts[1]
    );
    let tampered =
        format!("{}.{}.{}", parts[0], b64(&with("tenant", json!("someone-else"))), parts[2]);
    let unknown_kid = format!(
        "{}.{}.{}",
        b64(&json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "nope"})),
        parts[1],
        parts[2]
    );
    let not_at_jwt = format!(
        "{}.{}.{}",
        b64(&json!({"alg": "EdDSA", "typ": "JWT", "kid": header["kid"]})),
        parts[1],
        parts[2]
    );
    let cases: Vec<(String, &str)> = vec![
        (none, "malformed"),
        (hs256, "algorithm"),
        (tampered, "signature"),
        (unknown_kid, "unknown key"),
        (not_at_jwt, "at+jwt"),
        (
            sign_with_server_key(&app, &with("aud", json!("https://other.example/scim/v2"))),
            "audience",
        ),
        (
            sign_with_server_key(&app, &with("iss", json!("https://other.example"))),
            "another authorization server",
        ),
        (sign_with_server_key(&app, &with("exp", json!(1_000))), "expired"),
        ("eyJhbGciOiJFZERTQSJ9.e30".to_owned(), "malformed"),
    ];
    for (token, reason) in cases {
        let response = scim_get(&app, &token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{reason}");
        let c = challenge(&response);
        assert!(c.contains("invalid_token") && c.contains(reason), "{reason}: {c}");
    }
    // The genuine token still works, and a claim-for-claim re-signing by the server too.
    assert_eq!(scim_get(&app, &good).await.status(), StatusCode::OK);
    assert_eq!(scim_get(&app, &sign_with_server_key(&app, &claims)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_and_publishes_both_keys() {
    let (app, clock) = spawn_app_manual(|_| {}).await;
    let fx = okta::setup(&app);
    let old = okta::authorize_and_exchange(&app, &fx, &[]).await;
    let ttl = 3_600_000;
    let rotated =
        keys::rotate(&app.db, app.clock.as_ref(), &Actor::Cli, ttl, &Default::default()).unwrap();
    let jwks = app.get_public_json("/oauth/jwks.json").await;
    let kids = key_ids(&jwks);
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&rotated.kid.as_str()));
    for k in jwks["keys"].as_array().unwrap() {
        assert_eq!(
            (k["kty"].as_str(), k["crv"].as_str(), k["alg"].as_str()),
            (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
        );
        assert!(k.get("d").is_none(), "never the private part");
    }
    // Old tokens keep working; the new key is published before it signs (every node knows it
    // first), then new tokens carry the new kid and work.
    assert_eq!(scim_get(&app, &at(&old)).await.status(), StatusCode::OK);
    let before = tokens(refresh(&app, &fx, ClientAuth::Basic, &rt(&old)).await).await;
    assert_ne!(okta::jwt_parts(&at(&before)).0["kid"], rotated.kid.as_str());
    clock.advance(keys::PUBLISH_LEAD);
    let new = tokens(refresh(&app, &fx, ClientAuth::Basic, &rt(&before)).await).await;
    assert_eq!(okta::jwt_parts(&at(&new)).0["kid"], rotated.kid.as_str());
    assert_eq!(scim_get(&app, &at(&new)).await.status(), StatusCode::OK);
    // Once every token of the old key has expired, the next rotation drops it.
    clock.advance(ttl + 61_000);
    keys::rotate(&app.db, app.clock.as_ref(), &Actor::Cli, ttl, &Default::default()).unwrap();
    let jwks = app.get_public_json("/oauth/jwks.json").await;
    let kids = key_ids(&jwks);
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert!(kids.contains(&rotated.kid.as_str()));
}

#[tokio::test]
async fn introspection_and_revocation() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let body = okta::authorize_and_exchange(&app, &fx, &[]).await;
    let (access, refresh_token) = (at(&body), rt(&body));

    let info: Value = client_post(&app, &fx, "/oauth/introspect", &[("token", &access)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], fx.client_id);
    assert_eq!(info["tenant"], "acme");
    assert_eq!(info["scope"], "scim:read scim:write");
    let info: Value = client_post(
        &app,
        &fx,
        "/oauth/introspect",
        &[("token", &refresh_token), ("token_type_hint", "refresh_token")],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["token_type"], "refresh_token");
    let info: Value = client_post(&app, &fx, "/oauth/introspect", &[("token", "garbage")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info, json!({"active": false}));

    // Another client learns nothing and cannot revoke.
    let new = scimd::service::oauth::clients::NewClient {
        name: "Other",
        redirect_uris: &[okta::CALLBACK.to_owned()],
        ..Default::default()
    };
    let other =
        scimd::service::oauth::clients::create(&app.db, app.clock.as_ref(), &Actor::Cli, &new)
            .unwrap();
    let other = okta::Fixture { client_id: other.client_id, client_secret: other.client_secret };
    let info: Value = client_post(&app, &other, "/oauth/introspect", &[("token", &access)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], false);
    assert_eq!(
        client_post(&app, &other, "/oauth/revoke", &[("token", &refresh_token)]).await.status(),
        StatusCode::OK
    );
    assert_eq!(scim_get(&app, &access).await.status(), StatusCode::OK);

    // Without client authentication: 401 invalid_client.
    let response = app
        .client
        .post(format!("{}/oauth/introspect", app.address))
        .form(&[("token", &access)])
        .send()
        .await
        .unwrap();
    let (error, _) = oauth_error(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(error, "invalid_client");

    // RFC 7009: revoking the refresh token ends the grant, access token included.
    let response = client_post(&app, &fx, "/oauth/revoke", &[("token", &refresh_token)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(scim_get(&app, &access).await.status(), StatusCode::UNAUTHORIZED);
    refresh_fails(&app, &fx, &refresh_token).await;
    let info: Value = client_post(&app, &fx, "/oauth/introspect", &[("token", &access)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], false);
    assert_eq!(
        client_post(&app, &fx, "/oauth/revoke", &[("token", "unknown")]).await.status(),
        StatusCode::OK
    );

    // Revoking an access token ends its grant too.
    let body = okta::authorize_and_exchange(&app, &fx, &[]).await;
    assert_eq!(
        client_post(&app, &fx, "/oauth/revoke", &[("token", &at(&body))]).await.status(),
        StatusCode::OK
    );
    assert_eq!(scim_get(&app, &at(&body)).await.status(), StatusCode::UNAUTHORIZED);
    refresh_fails(&app, &fx, &rt(&body)).await;
}

#[tokio::test]
async fn token_endpoint_errors_follow_rfc_6749() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let url = format!("{}/oauth/token", app.address);
    let bad_secret =
        okta::Fixture { client_id: fx.client_id.clone(), client_secret: "scimd_cs_wrong".into() };
    let response = okta::token_request(
        &app,
        &bad_secret,
        ClientAuth::Basic,
        &[("grant_type", "authorization_code"), ("code", "x")],
    )
    .await;
    assert!(okta::challenge(&response).starts_with("Basic"), "{response:?}");
    assert_eq!(oauth_error(response, StatusCode::UNAUTHORIZED).await.0, "invalid_client");
    let response = okta::token_request(
        &app,
        &bad_secret,
        ClientAuth::Post,
        &[("grant_type", "authorization_code"), ("code", "x")],
    )
    .await;
    assert_eq!(oauth_error(response, StatusCode::UNAUTHORIZED).await.0, "invalid_client");

    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("grant_type", "password"), ("username", "a"), ("password", "b")],
            "unsupported_grant_type",
        ),
        // Okta's client is an authorization-code client (RFC 6749 §5.2).
        (vec![("grant_type", "client_credentials")], "unauthorized_client"),
        (vec![("code", "x")], "invalid_request"),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("redirect_uri", okta::CALLBACK),
            ],
            "invalid_grant",
        ),
        (
            vec![("grant_type", "refresh_token"), ("refresh_token", "scimd_rt_nope")],
            "invalid_grant",
        ),
        (vec![("grant_type", "refresh_token")], "invalid_request"),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
            ],
            "invalid_request",
        ),
    ];
    for (form, expected) in cases {
        let response = okta::token_request(&app, &fx, ClientAuth::Basic, &form).await;
        assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
        assert_eq!(oauth_error(response, StatusCode::BAD_REQUEST).await.0, expected, "{form:?}");
    }
    // Both authentication methods at once, and a JSON body, are refused.
    let response = app
        .client
        .post(&url)
        .basic_auth(&fx.client_id, Some(&fx.client_secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_secret", fx.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(response, StatusCode::BAD_REQUEST).await.0, "invalid_request");
    let response = app
        .client
        .post(&url)
        .basic_auth(&fx.client_id, Some(&fx.client_secret))
        .json(&json!({"grant_type": "refresh_token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(response, StatusCode::BAD_REQUEST).await.0, "invalid_request");

    // A code redeemed with the wrong redirect_uri fails.
    let code = browser(&app).code(&fx, &[]).await;
    let response = okta::token_request(
        &app,
        &fx,
        ClientAuth::Basic,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
        ],
    )
    .await;
    assert_eq!(oauth_error(response, StatusCode::BAD_REQUEST).await.0, "invalid_grant");
}

#[tokio::test]
async fn discovery_metadata_and_jwks() {
    let app = spawn_app().await;
    let meta = app.get_public_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(meta["issuer"], app.address);
    assert_eq!(meta["token_endpoint"], format!("{}/oauth/token", app.address));
    assert_eq!(meta["authorization_endpoint"], format!("{}/oauth/authorize", app.address));
    assert_eq!(meta["jwks_uri"], format!("{}/oauth/jwks.json", app.address));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "private_key_jwt"])
    );
    assert_eq!(
        meta["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(
        meta["token_endpoint_auth_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256"])
    );
    let jwks = app.get_public_json("/oauth/jwks.json").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1, "a fresh server creates its first key");
}
