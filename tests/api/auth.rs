//! Authentication: every failure is a 401 that says why; tokens revoke at once; tenants are isolated.

use std::time::Instant;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;
use scimd::service::tenancy::credentials;

async fn challenge(app: &TestApp, auth: Option<&str>) -> (String, serde_json::Value) {
    let mut request = app.client.get(app.url("/Users"));
    if let Some(value) = auth {
        request = request.header("Authorization", value);
    }
    let response = request.send().await.unwrap();
    let header = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = expect_error(response, StatusCode::UNAUTHORIZED, None).await;
    (header, body)
}

#[tokio::test]
async fn each_401_names_its_reason() {
    let app = spawn_app().await;
    let (header, body) = challenge(&app, None).await;
    assert_eq!(header, "Bearer realm=\"scimd\"");
    assert!(body["detail"].as_str().unwrap().contains("no Authorization header"));

    let (header, _) = challenge(&app, Some("Basic dXNlcjpwYXNz")).await;
    assert!(
        header.contains("error=\"invalid_request\"") && header.contains("Bearer scheme"),
        "{header}"
    );

    let (header, body) = challenge(&app, Some("Bearer scimd_st_not-a-real-token")).await;
    assert!(
        header.contains("error=\"invalid_token\"") && header.contains("not recognised"),
        "{header}"
    );
    assert!(body["detail"].as_str().unwrap().contains("not recognised"));

    // Revocation takes effect on the very next request.
    let issued = credentials::issue(
        &app.db,
        app.clock.as_ref(),
        &scimd::audit::Actor::Cli,
        &app.tenant,
        "rotation",
    )
    .unwrap();
    assert_eq!(app.get_as(&issued.token, "/Users").await.status(), StatusCode::OK);
    credentials::revoke(&app.db, app.clock.as_ref(), &scimd::audit::Actor::Cli, None, &issued.id)
        .unwrap();
    let (header, body) = challenge(&app, Some(&format!("Bearer {}", issued.token))).await;
    assert!(header.contains("invalid_token") && header.contains("revoked"), "{header}");
    assert!(body["detail"].as_str().unwrap().contains("revoked"));
    // The other token of the tenant keeps working (rotation without downtime).
    assert_eq!(app.get("/Users").await.status(), StatusCode::OK);

    // Discovery endpoints need a credential too.
    let response = app.client.get(app.url("/ServiceProviderConfig")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_record_last_use_and_never_list_the_secret() {
    let app = spawn_app().await;
    let before = credentials::list(&app.db, &app.tenant).unwrap();
    assert!(before[0].last_used.is_none());
    assert_eq!(app.get("/Users").await.status(), StatusCode::OK);
    let after = credentials::list(&app.db, &app.tenant).unwrap();
    assert!(after[0].last_used.is_some());
    let listed = serde_json::to_string(&after).unwrap();
    assert!(!listed.contains(&app.token), "the secret must never be listed");
    assert!(after[0].hint.starts_with("scimd_st_"));
}

#[tokio::test]
async fn tenants_are_isolated() {
    let app = spawn_app().await;
    let other = app.other_tenant_client("globex");
    let user = app.create_user("shared@example.com").await;
    let id = id_of(&user);
    let group = app.create_group("Shared").await;
    let gid = id_of(&group);

    // The other tenant sees nothing by id, list or filter.
    for path in [format!("/Users/{id}"), format!("/Groups/{gid}")] {
        expect_error(other.get(&path).await, StatusCode::NOT_FOUND, None).await;
    }
    for path in [
        "/Users".to_owned(),
        "/Groups".to_owned(),
        format!("/Users?filter={}", urlencode("userName eq \"shared@example.com\"")),
    ] {
        let page = expect_json(other.get(&path).await, StatusCode::OK).await;
        assert_eq!(page["totalResults"], json!(0), "{path}");
    }
    // …and changes nothing.
    let deactivate = patch_body(json!([{"op": "replace", "value": {"active": false}}]));
    expect_error(
        other.patch(&format!("/Users/{id}"), &deactivate).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    expect_error(
        other.put(&format!("/Users/{id}"), &okta_user("x@example.com")).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    let delete = other.delete(&format!("/Users/{id}")).await;
    expect_error(delete, StatusCode::NOT_FOUND, None).await;
    // Its own group cannot take the first tenant's user as a member.
    let own =
        other.post("/Groups", &json!({"displayName": "Mine", "members": [{"value": id}]})).await;
    expect_error(own, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    // The same userName is free in the other tenant.
    let theirs = other.post("/Users", &okta_user("shared@example.com")).await;
    expect_json(theirs, StatusCode::CREATED).await;

    let still = expect_json(app.get(&format!("/Users/{id}")).await, StatusCode::OK).await;
    assert_eq!(still["active"], true);
}

/// Nodes remember verified credentials for under a second (README "Credential cache"): a static
/// token revoked, a grant revoked and a tenant disabled through one node are refused at once by
/// that node and within a second by another node, a separate process with its own memory on the
/// same database.
#[tokio::test]
async fn revocations_reach_every_node_within_a_second() {
    use scimd::audit::Actor;
    use scimd::service::oauth::grants;
    use scimd::service::tenancy::tenants;
    let app = spawn_app_with(|s| s.public_url = Some("http://scim.test".into())).await;
    let node = app.child_node().await;
    let fx = okta::setup(&app);
    let tokens = okta::authorize_and_exchange(&app, &fx, &[]).await;
    let jwt = tokens["access_token"].as_str().unwrap().to_owned();
    let globex = app.other_tenant("globex");
    let status = |address: String, token: String| {
        let request = app.client.get(format!("{address}/scim/v2/Users")).bearer_auth(token);
        async move { request.send().await.unwrap().status() }
    };
    for token in [&app.token, &jwt, &globex] {
        for address in [&app.address, &node.address] {
            // Twice: the second answer may come from the node's memory.
            for _ in 0..2 {
                assert_eq!(status(address.clone(), token.clone()).await, StatusCode::OK);
            }
        }
    }
    let clock = app.clock.as_ref();

    let token_id = credentials::list(&app.db, "acme").unwrap().remove(0).id;
    credentials::revoke(&app.db, clock, &Actor::Cli, None, &token_id).unwrap();
    let revoked = Instant::now();
    assert_eq!(status(app.address.clone(), app.token.clone()).await, StatusCode::UNAUTHORIZED);
    app.refused_within_a_second(&node.address, &app.token, revoked).await;

    let grant_id = grants::list(&app.db, Some("acme")).unwrap().remove(0).id;
    grants::revoke(&app.db, clock, &Actor::Cli, None, &grant_id, "test").unwrap();
    let revoked = Instant::now();
    assert_eq!(status(app.address.clone(), jwt.clone()).await, StatusCode::UNAUTHORIZED);
    app.refused_within_a_second(&node.address, &jwt, revoked).await;

    tenants::set_disabled(&app.db, clock, &Actor::Cli, "globex", true).unwrap();
    let revoked = Instant::now();
    assert_eq!(status(app.address.clone(), globex.clone()).await, StatusCode::UNAUTHORIZED);
    app.refused_within_a_second(&node.address, &globex, revoked).await;
}
