//! Microsoft Entra's 2026 gallery rules (issue 14), over HTTP: per-tenant client-credentials
//! clients with several expiring secrets, and workload identity federation (RFC 7523 client
//! assertions verified against an issuer's JWKS served by the test on loopback).

use reqwest::StatusCode;
use serde_json::{Value, json};

use scimd::audit::Actor;
use scimd::clock::{Clock, ManualClock};
use scimd::service::oauth::tenant_clients::{self, Federation, NewTenantClient};

use crate::support::cli::scimd;
use crate::support::issuer::{self, AUDIENCE, Alg, ISSUER, JwksServer, SUBJECT, SigningKey};
use crate::support::okta::{jwt_parts, oauth_error};
use crate::support::*;

const DAY_MS: i64 = 86_400_000;

/// A client-credentials client of `tenant` (id, secret), made with the service directly.
fn cc_client(app: &TestApp, tenant: &str, ttl: Option<u32>, days: Option<u32>) -> (String, String) {
    let new = NewTenantClient { tenant, name: "Entra ID", access_ttl_minutes: ttl, scope: None };
    let c = tenant_clients::create(&app.db, app.clock.as_ref(), &Actor::Cli, &new, days).unwrap();
    (c.client_id, c.client_secret)
}

async fn cc_token(
    app: &TestApp,
    id: &str,
    secret: &str,
    basic: bool,
    scope: &str,
) -> reqwest::Response {
    let request = app.client.post(format!("{}/oauth/token", app.address));
    let mut form = vec![("grant_type", "client_credentials"), ("scope", scope)];
    let request = if basic {
        request.basic_auth(id, Some(secret))
    } else {
        form.push(("client_id", id));
        form.push(("client_secret", secret));
        request
    };
    request.form(&form).send().await.unwrap()
}

async fn granted(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn client_credentials_tokens_work_in_their_own_tenant_only() {
    let app = spawn_app().await;
    let globex_token = app.other_tenant("globex");
    let created = scimd(
        &app.settings.database_url,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Entra ID",
            "--grant",
            "client_credentials",
            "--access-ttl-minutes",
            "90",
            "--secret-expires-in-days",
            "365",
        ],
    );
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(created["secret_id"].as_str().unwrap().starts_with("sec_"));
    assert!(created["secret_expires_at"].is_string(), "{created}");

    for basic in [true, false] {
        let body = granted(cc_token(&app, &id, &secret, basic, "scim").await).await;
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 90 * 60);
        assert_eq!(body["scope"], "scim:read scim:write");
        assert!(body.get("refresh_token").is_none(), "client credentials get no refresh token");
        let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
        assert_eq!(claims["sub"], id.as_str());
        assert_eq!(claims["client_id"], id.as_str());
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 5400);
    }
    let token = granted(cc_token(&app, &id, &secret, true, "").await).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Reads and writes its own tenant.
    let user = expect_json(
        app.send_as(&token, reqwest::Method::POST, "/Users", &okta_user("cc@acme.test")).await,
        StatusCode::CREATED,
    )
    .await;
    expect_json(app.get_as(&token, &format!("/Users/{}", id_of(&user))).await, StatusCode::OK)
        .await;
    // Another tenant's users stay out of reach.
    let theirs = expect_json(
        app.send_as(&globex_token, reqwest::Method::POST, "/Users", &okta_user("g@globex.test"))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let missing = app.get_as(&token, &format!("/Users/{}", id_of(&theirs))).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let page = expect_json(
        app.get_as(&token, "/Users?filter=userName%20eq%20%22g%40globex.test%22").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["totalResults"], 0);

    // Scopes: a subset is granted as asked; an unknown one is refused, not dropped.
    let read = granted(cc_token(&app, &id, &secret, true, "scim:read").await).await;
    assert_eq!(read["scope"], "scim:read");
    let write = app
        .send_as(
            read["access_token"].as_str().unwrap(),
            reqwest::Method::POST,
            "/Users",
            &okta_user("x@acme.test"),
        )
        .await;
    assert_eq!(write.status(), StatusCode::FORBIDDEN);
    let (error, description) = oauth_error(
        cc_token(&app, &id, &secret, true, "scim admin").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_scope");
    assert!(description.contains("admin"), "{description}");

    // The client is a client-credentials client only.
    let response = app
        .client
        .post(format!("{}/oauth/token", app.address))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "scimd_rt_x")])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(response, StatusCode::BAD_REQUEST).await.0, "unauthorized_client");

    // Audited with the client and the tenant.
    let issued = app.audit_events("token.client_credentials");
    assert_eq!(issued.len(), 4, "{issued:?}");
    assert!(issued.iter().all(|e| e["client_id"] == id.as_str()), "{issued:?}");
}

#[tokio::test]
async fn lifetimes_are_bounded_and_tokens_expire() {
    let (app, clock) = spawn_app_manual(|_| {}).await;
    for bad in [4, 361] {
        let new = NewTenantClient {
            tenant: "acme",
            name: "Entra ID",
            access_ttl_minutes: Some(bad),
            scope: None,
        };
        assert!(tenant_clients::create(&app.db, clock.as_ref(), &Actor::Cli, &new, None).is_err());
    }
    let (id, secret) = cc_client(&app, "acme", Some(360), None);
    let body = granted(cc_token(&app, &id, &secret, true, "scim").await).await;
    assert_eq!(body["expires_in"], 6 * 3600);
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_as(&token, "/Users").await.status(), StatusCode::OK);
    clock.advance(6 * 3_600_000 + 61_000);
    let expired = app.get_as(&token, "/Users").await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn two_live_secrets_both_work_and_revoked_or_expired_ones_say_why() {
    let (app, clock) = spawn_app_manual(|_| {}).await;
    let (id, first) = cc_client(&app, "acme", None, Some(10));
    let second = scimd(
        &app.settings.database_url,
        &["client", "add-secret", &id, "--expires-in-days", "700"],
    );
    let second_secret = second["client_secret"].as_str().unwrap().to_owned();
    granted(cc_token(&app, &id, &first, true, "scim").await).await;
    granted(cc_token(&app, &id, &second_secret, false, "scim").await).await;

    // The list shows both, with last use, and the first as expiring (10 days).
    let listed = scimd(&app.settings.database_url, &["client", "list", "--tenant", "acme"]);
    let secrets = listed["clients"][0]["secrets"].as_array().unwrap().clone();
    assert_eq!(secrets.len(), 2, "{listed}");
    assert!(secrets.iter().all(|s| s["last_used"].is_string()), "{secrets:?}");
    let statuses: Vec<&str> = secrets.iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert!(statuses.contains(&"expiring") && statuses.contains(&"active"), "{statuses:?}");
    assert!(listed.to_string().find(&first).is_none(), "never the secret itself");
    let expiring = tenant_clients::expiring(&app.db, clock.as_ref(), None, 10).unwrap();
    assert_eq!(expiring.len(), 1);
    assert_eq!(expiring[0].tenant.as_deref(), Some("acme"));
    let health = scimd(&app.settings.database_url, &["tenant", "list", "--health"]);
    assert_eq!(health["expiring_secrets"][0]["client_id"], id.as_str(), "{health}");
    assert_eq!(health["expiring_secrets"][0]["status"], "expiring");

    // The first expires: refused with its reason; the second keeps working.
    clock.advance(10 * DAY_MS + 1);
    let (error, description) =
        oauth_error(cc_token(&app, &id, &first, true, "scim").await, StatusCode::UNAUTHORIZED)
            .await;
    assert_eq!(error, "invalid_client");
    assert!(description.contains("expired"), "{description}");
    granted(cc_token(&app, &id, &second_secret, true, "scim").await).await;
    // Housekeeping writes the expiry into the audit trail, once.
    scimd::service::operations::housekeeping::run_once(
        &app.db,
        clock.now(),
        &scimd::service::operations::housekeeping::Policy::of(&app.settings),
    )
    .unwrap();
    scimd::service::operations::housekeeping::run_once(
        &app.db,
        clock.now(),
        &scimd::service::operations::housekeeping::Policy::of(&app.settings),
    )
    .unwrap();
    assert_eq!(app.audit_events("client.secret_expired").len(), 1);

    // Revoked: refused with its reason at once.
    let second_id = second["secret_id"].as_str().unwrap();
    scimd(&app.settings.database_url, &["client", "revoke-secret", &id, second_id]);
    let (_, description) = oauth_error(
        cc_token(&app, &id, &second_secret, true, "scim").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(description.contains("revoked"), "{description}");
    // A wrong secret says nothing about the client's secrets.
    let (_, description) = oauth_error(
        cc_token(&app, &id, "scimd_cs_wrong", true, "scim").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(description.contains("unknown client or wrong secret"), "{description}");
    assert_eq!(app.audit_events("client.secret_revoked").len(), 1);
    assert_eq!(app.audit_events("client.secret_added").len(), 1);
}

/// The tenant's federated client, trusting the fake Entra issuer.
fn federated(app: &TestApp, jwks: &JwksServer) -> String {
    let new = NewTenantClient {
        tenant: "acme",
        name: "Entra ID (federated)",
        access_ttl_minutes: None,
        scope: None,
    };
    let federation =
        Federation { issuer: ISSUER, subject: SUBJECT, audience: AUDIENCE, jwks_uri: &jwks.url };
    tenant_clients::federate(&app.db, app.clock.as_ref(), &Actor::Cli, &new, &federation, true)
        .unwrap()
        .client_id
}

async fn assertion_token(
    app: &TestApp,
    address: &str,
    client_id: &str,
    assertion: &str,
) -> reqwest::Response {
    app.client
        .post(format!("{address}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
            ("scope", "scim"),
        ])
        .send()
        .await
        .unwrap()
}

async fn refused(app: &TestApp, client_id: &str, assertion: &str) -> String {
    let (error, description) = oauth_error(
        assertion_token(app, &app.address, client_id, assertion).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(error, "invalid_client", "{description}");
    description
}

fn secs(clock: &ManualClock) -> i64 {
    clock.now().div_euclid(1000)
}

/// A token for an Entra-shaped RS256 assertion signed by `key` now, which must be granted.
async fn entra_token(app: &TestApp, clock: &ManualClock, client: &str, key: &SigningKey) -> Value {
    let assertion = key.mint(Alg::Rs256, &issuer::entra_claims(secs(clock)));
    granted(assertion_token(app, &app.address, client, &assertion).await).await
}

#[tokio::test]
async fn federated_assertions_are_verified_claim_by_claim() {
    let (app, clock) = spawn_app_manual(|s| s.allow_insecure_jwks_uri = true).await;
    let rsa = SigningKey::rsa("rsa-1");
    let ec = SigningKey::ec("ec-1");
    let jwks = JwksServer::start(&[&rsa, &ec]);
    let client = federated(&app, &jwks);

    // Entra's shape (RS256, `uti`), PS256 and ES256 are accepted.
    for (key, alg) in [(&rsa, Alg::Rs256), (&rsa, Alg::Ps256), (&ec, Alg::Es256)] {
        let assertion = key.mint(alg, &issuer::entra_claims(secs(&clock)));
        let body = granted(assertion_token(&app, &app.address, &client, &assertion).await).await;
        assert_eq!(body["expires_in"], 3600);
        assert!(body.get("refresh_token").is_none());
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(app.get_as(token, "/Users").await.status(), StatusCode::OK, "{alg:?}");
    }
    assert_eq!(jwks.fetches(), 1, "keys are cached by kid");
    let accepted = app.audit_events("client.assertion_accepted");
    assert_eq!(accepted.len(), 3, "{accepted:?}");
    assert_eq!(accepted[0]["detail"]["sub"], SUBJECT);

    let now = secs(&clock);
    let with = |name: &str, value: Value| {
        let mut claims = issuer::entra_claims(now);
        claims[name] = value;
        rsa.mint(Alg::Rs256, &claims)
    };
    let cases = [
        (with("iss", json!("https://login.microsoftonline.com/other/v2.0")), "iss"),
        (with("sub", json!("someone-else")), "sub"),
        (with("aud", json!("api://another-app")), "aud does not name"),
        (with("exp", json!(now - 120)), "expired"),
        (with("nbf", json!(now + 600)), "not valid before"),
        (with("exp", json!(now + 3 * 3600)), "longer than"),
    ];
    for (assertion, expected) in &cases {
        let description = refused(&app, &client, assertion).await;
        assert!(description.contains(expected), "{expected}: {description}");
    }
    // A signature by another key under a known kid.
    let impostor = SigningKey::rsa("rsa-1");
    let description =
        refused(&app, &client, &impostor.mint(Alg::Rs256, &issuer::entra_claims(now))).await;
    assert!(description.contains("signature"), "{description}");
    // Unknown kid.
    let stranger = SigningKey::rsa("nobody");
    let description =
        refused(&app, &client, &stranger.mint(Alg::Rs256, &issuer::entra_claims(now))).await;
    assert!(description.contains("no key with kid 'nobody'"), "{description}");
    // alg none, and an HMAC "signed" with the public key.
    let none =
        rsa.sign(Alg::Rs256, &json!({"alg": "none", "kid": "rsa-1"}), &issuer::entra_claims(now));
    let none = format!("{}.", none.rsplit_once('.').unwrap().0);
    assert!(refused(&app, &client, &none).await.contains("'none' is not accepted"));
    let hs =
        rsa.sign(Alg::Rs256, &json!({"alg": "HS256", "kid": "rsa-1"}), &issuer::entra_claims(now));
    assert!(refused(&app, &client, &hs).await.contains("'HS256' is not accepted"));
    // A secret is not how this client authenticates.
    let (_, description) = oauth_error(
        cc_token(&app, &client, "scimd_cs_x", true, "scim").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(description.contains("unknown client or wrong secret"), "{description}");

    // Refusals of a known client are audited with their reason (aggregated per reason).
    let audited = app.audit_events("client.assertion_refused");
    assert!(audited.len() >= cases.len(), "{audited:?}");
    assert!(
        audited.iter().any(|e| e["detail"]["reason"].as_str().unwrap_or("").contains("expired"))
    );
}

#[tokio::test]
async fn a_replayed_assertion_is_refused_on_every_node() {
    let app = spawn_app_with(|s| s.allow_insecure_jwks_uri = true).await;
    let key = SigningKey::ec("ec-1");
    let jwks = JwksServer::start(&[&key]);
    let client = federated(&app, &jwks);
    let node_b = app.second_node().await;
    let assertion = key.mint(Alg::Es256, &issuer::entra_claims(app.clock.now().div_euclid(1000)));
    granted(assertion_token(&app, &app.address, &client, &assertion).await).await;
    for address in [app.address.clone(), node_b] {
        let (error, description) = oauth_error(
            assertion_token(&app, &address, &client, &assertion).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        assert_eq!(error, "invalid_client");
        assert!(description.contains("already used"), "{description}");
    }
    // An assertion without any id cannot be protected from replay: refused.
    let mut claims = issuer::entra_claims(app.clock.now().div_euclid(1000));
    claims.as_object_mut().unwrap().remove("uti");
    let description = refused(&app, &client, &key.mint(Alg::Es256, &claims)).await;
    assert!(description.contains("no jti"), "{description}");
}

#[tokio::test]
async fn the_issuer_rotates_its_keys_and_an_outage_stalls_nothing_already_issued() {
    let (app, clock) = spawn_app_manual(|s| s.allow_insecure_jwks_uri = true).await;
    let old = SigningKey::rsa("2026-a");
    let jwks = JwksServer::start(&[&old]);
    let client = federated(&app, &jwks);
    let token =
        entra_token(&app, &clock, &client, &old).await["access_token"].as_str().unwrap().to_owned();

    // Rotation: a new kid is fetched on first sight, no restart.
    let new = SigningKey::rsa("2026-b");
    jwks.publish(&[&new]);
    clock.advance(11_000);
    entra_token(&app, &clock, &client, &new).await;
    assert_eq!(jwks.fetches(), 2);

    // A made-up kid refetches at most once every 10 s.
    let stranger = SigningKey::rsa("made-up");
    for _ in 0..3 {
        refused(&app, &client, &stranger.mint(Alg::Rs256, &issuer::entra_claims(secs(&clock))))
            .await;
    }
    assert_eq!(jwks.fetches(), 2, "within 10 s of the last fetch");

    // The issuer goes down: SCIM with the issued token keeps working; a known key keeps
    // working from the cache; an unknown kid is refused with the fetch's failure.
    jwks.set_down(true);
    clock.advance(20 * 60_000);
    assert_eq!(app.get_as(&token, "/Users").await.status(), StatusCode::OK);
    entra_token(&app, &clock, &client, &new).await;
    let description =
        refused(&app, &client, &stranger.mint(Alg::Rs256, &issuer::entra_claims(secs(&clock))))
            .await;
    assert!(description.contains("could not be fetched"), "{description}");
}

#[tokio::test]
async fn any_client_may_authenticate_with_private_key_jwt() {
    let app = spawn_app_with(|s| s.allow_insecure_jwks_uri = true).await;
    let (id, secret) = cc_client(&app, "acme", None, None);
    let key = SigningKey::ec("k1");
    let dir = tempdir();
    let path = dir.join("jwks.json");
    std::fs::write(&path, json!({"keys": [key.jwk()]}).to_string()).unwrap();
    let shown = scimd(
        &app.settings.database_url,
        &["client", "set-jwks", &id, "--jwks-file", path.to_str().unwrap()],
    );
    assert_eq!(shown["auth_method"], "private_key_jwt");
    // RFC 7523 §2.2: iss and sub are the client id, aud our token endpoint.
    let now = app.clock.now().div_euclid(1000);
    let claims = json!({"iss": id, "sub": id, "aud": format!("{}/oauth/token", app.address),
                        "iat": now, "exp": now + 300, "jti": uuid::Uuid::new_v4().to_string()});
    // Without client_id, the assertion's sub names the client.
    let response = app
        .client
        .post(format!("{}/oauth/token", app.address))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &key.mint(Alg::Es256, &claims)),
        ])
        .send()
        .await
        .unwrap();
    granted(response).await;
    // Its secret no longer works.
    let (_, description) =
        oauth_error(cc_token(&app, &id, &secret, true, "scim").await, StatusCode::UNAUTHORIZED)
            .await;
    assert!(description.contains("unknown client or wrong secret"), "{description}");
    // The metadata says so.
    let meta = app.get_public_json("/.well-known/oauth-authorization-server").await;
    assert!(meta["token_endpoint_auth_methods_supported"].to_string().contains("private_key_jwt"));
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("scimd-entra-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
