//! `/api/v1`: API keys (isolation per tenant, scopes, revocation, never interchangeable with SCIM
//! credentials, rate limits) and the directory API (cursor paging under concurrent writes,
//! filters, members), with every response checked against the OpenAPI document.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect()
}

/// Creates `n` users named `{prefix}{i}@acme.test` through SCIM, ten at a time.
async fn create_users(scim: &ScimClient, prefix: &str, n: usize) -> Vec<String> {
    let mut created = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let requests = chunk.iter().map(|i| {
            let scim = scim.clone();
            let name = format!("{prefix}{i}@acme.test");
            async move {
                expect_json(scim.post("/Users", &okta_user(&name)).await, StatusCode::CREATED).await
            }
        });
        for user in futures_util::future::join_all(requests).await {
            created.push(id_of(&user));
        }
    }
    created
}

#[tokio::test]
async fn a_key_from_the_cli_reads_the_directory_and_every_answer_matches_the_openapi_document() {
    let app = spawn_app().await;
    let doc = openapi();
    let created = cli::scimd(
        &app.settings.database_url,
        &["apikey", "create", "--label", "app", "--tenant", "acme"],
    );
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("scimd_ak_") && created["id"].is_string(), "{created}");
    let listed = cli::scimd(&app.settings.database_url, &["apikey", "list"]);
    assert_eq!(listed["api_keys"][0]["scopes"], json!(["directory:read", "events:read"]));
    assert!(!listed.to_string().contains(key), "the secret is never listed");
    assert_eq!(app.audit_events("api_key.created").len(), 1);

    let user = app.create_user("ada@acme.test").await;
    let group = app
        .post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng", "members": [{"value": id_of(&user)}]}))
        .await;
    let group = expect_json(group, StatusCode::CREATED).await;
    let (uid, gid) = (id_of(&user), id_of(&group));
    let api = app.api_client(key);

    let served = app.get_public_json("/api/v1/openapi.json").await;
    assert_eq!(served, doc, "the served document is the checked-in one");

    let tenants = api.json("/tenants", StatusCode::OK).await;
    check_against_openapi(&doc, "/api/v1/tenants", &tenants);
    assert_eq!(tenants["data"][0]["slug"], "acme");
    let tenant = api.json("/tenants/acme", StatusCode::OK).await;
    check_against_openapi(&doc, "/api/v1/tenants/{slug}", &tenant);

    let users = api.json("/tenants/acme/users", StatusCode::OK).await;
    check_against_openapi(&doc, "/api/v1/tenants/{slug}/users", &users);
    assert_eq!(users["next_cursor"], Value::Null);
    let one = api.json(&format!("/tenants/acme/users/{uid}"), StatusCode::OK).await;
    check_against_openapi(&doc, "/api/v1/tenants/{slug}/users/{id}", &one);
    assert_eq!(one, users["data"][0]);
    assert_eq!(one["user_name"], "ada@acme.test");
    assert_eq!(one["emails"][0]["value"], "ada@acme.test");
    assert_eq!(one["groups"], json!([{"id": gid, "name": "Eng"}]));
    assert_eq!(one["raw"]["userName"], "ada@acme.test");
    assert_eq!(one["raw"]["groups"][0]["value"], gid.as_str());
    assert!(one["raw"].get("password").is_none());

    let groups = api.json("/tenants/acme/groups", StatusCode::OK).await;
    check_against_openapi(&doc, "/api/v1/tenants/{slug}/groups", &groups);
    let g = api.json(&format!("/tenants/acme/groups/{gid}"), StatusCode::OK).await;
    check_against_openapi(&doc, "/api/v1/tenants/{slug}/groups/{id}", &g);
    assert_eq!(g["name"], "Eng");
    let members = api.json(&format!("/tenants/acme/groups/{gid}/members"), StatusCode::OK).await;
    check_against_openapi(&doc, "/api/v1/tenants/{slug}/groups/{id}/members", &members);
    assert_eq!(members["data"], json!([{"id": uid, "type": "user", "name": "ada Tester"}]));

    // The event feed of the same document (the default scopes include events:read).
    let events = api.json("/events", StatusCode::OK).await;
    check_against_openapi(&doc, "/api/v1/events", &events);
    assert!(!events["data"].as_array().unwrap().is_empty(), "{events}");

    api.refused("/tenants/acme/users/nope", StatusCode::NOT_FOUND, "not_found").await;
    api.refused("/tenants/acme/groups/nope/members", StatusCode::NOT_FOUND, "not_found").await;
    api.refused("/nowhere", StatusCode::NOT_FOUND, "not_found").await;
    let post = app
        .client
        .post(format!("{}/api/v1/tenants", app.address))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers()["allow"], "GET");

    let revoked = cli::scimd(
        &app.settings.database_url,
        &["apikey", "revoke", created["id"].as_str().unwrap()],
    );
    assert!(revoked["revoked"].is_string());
    let why = api.refused("/tenants", StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert!(why.contains("revoked"), "{why}");
    assert_eq!(app.audit_events("api_key.revoked").len(), 1);
}

#[tokio::test]
async fn a_key_of_one_tenant_cannot_read_another_and_an_all_tenant_key_reads_both() {
    let app = spawn_app().await;
    let globex = app.other_tenant_client("globex");
    let theirs = expect_json(
        globex.post("/Users", &okta_user("gina@globex.test")).await,
        StatusCode::CREATED,
    )
    .await;
    let their_group = expect_json(
        globex
            .post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": []}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let ours = app.create_user("ada@acme.test").await;

    let acme = app.api_key(Some("acme"), None);
    let tenants = acme.json("/tenants", StatusCode::OK).await;
    assert_eq!(tenants["data"].as_array().unwrap().len(), 1, "{tenants}");
    assert_eq!(tenants["data"][0]["slug"], "acme");
    let their_id = id_of(&theirs);
    let their_gid = id_of(&their_group);
    for path in [
        "/tenants/globex".to_owned(),
        "/tenants/globex/users".to_owned(),
        format!("/tenants/globex/users/{their_id}"),
        "/tenants/globex/groups".to_owned(),
        format!("/tenants/globex/groups/{their_gid}"),
        format!("/tenants/globex/groups/{their_gid}/members"),
        // A tenant that does not exist is refused alike: nothing learnt about which exist.
        "/tenants/initech/users".to_owned(),
    ] {
        acme.refused(&path, StatusCode::FORBIDDEN, "tenant_forbidden").await;
    }
    // Their resources are not ours under our own slug either.
    acme.refused(&format!("/tenants/acme/users/{their_id}"), StatusCode::NOT_FOUND, "not_found")
        .await;
    let users = acme.json("/tenants/acme/users", StatusCode::OK).await;
    assert_eq!(ids(users["data"].as_array().unwrap()), vec![id_of(&ours)]);

    let all = app.api_key(None, Some("directory:read"));
    let tenants = all.json("/tenants", StatusCode::OK).await;
    let slugs: Vec<&str> =
        tenants["data"].as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, vec!["acme", "globex"]);
    let theirs = all.json(&format!("/tenants/globex/users/{their_id}"), StatusCode::OK).await;
    assert_eq!(theirs["user_name"], "gina@globex.test");
    all.refused("/tenants/initech", StatusCode::NOT_FOUND, "not_found").await;

    // Tenants page by slug too.
    let (paged, pages) = all.all_pages("/tenants", 1).await;
    assert_eq!((paged.len(), pages), (2, 2));
}

#[tokio::test]
async fn scim_credentials_and_api_keys_are_never_interchangeable() {
    let app = spawn_app().await;
    let key = app.api_key(Some("acme"), None);
    // A SCIM static token on /api/v1.
    let response = app.api_client(&app.token).get("/tenants").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers().get("www-authenticate").unwrap().to_str().unwrap().starts_with("Bearer")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    assert!(body["error_description"].as_str().unwrap().contains("SCIM credential"), "{body}");
    // Something shaped like a JWT is named as a SCIM credential as well.
    let why = app
        .api_client("eyJhbGciOi.eyJzdWIiOi.c2ln")
        .refused("/tenants", StatusCode::UNAUTHORIZED, "invalid_token")
        .await;
    assert!(why.contains("SCIM credential"), "{why}");
    // The API key on /scim/v2.
    let response = app.bearer_client(key.key()).get("/Users").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge =
        response.headers().get("www-authenticate").unwrap().to_str().unwrap().to_owned();
    assert!(challenge.contains("API key"), "{challenge}");
    let body: Value = response.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("/api/v1"), "{body}");
    // Missing, malformed and unknown keys: 401 each with its reason.
    let response = app.client.get(format!("{}/api/v1/tenants", app.address)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers().get("www-authenticate").unwrap(), "Bearer realm=\"scimd\"");
    app.api_client("scimd_ak_unknown")
        .refused("/tenants", StatusCode::UNAUTHORIZED, "invalid_token")
        .await;
    app.api_client("a\"b").refused("/tenants", StatusCode::UNAUTHORIZED, "invalid_request").await;
}

#[tokio::test]
async fn a_key_without_directory_read_is_refused_with_the_scope_it_lacks() {
    let app = spawn_app().await;
    let events_only = app.api_key(Some("acme"), Some("events:read"));
    let why = events_only
        .refused("/tenants/acme/users", StatusCode::FORBIDDEN, "insufficient_scope")
        .await;
    assert!(why.contains("directory:read"), "{why}");
    let bad = scimd::service::tenancy::api_keys::create(
        &app.db,
        app.clock.as_ref(),
        &scimd::audit::Actor::Cli,
        "app",
        None,
        Some("directory:write"),
    );
    assert!(bad.is_err_and(|e| e.to_string().contains("directory:write")));
    let long = "x".repeat(101);
    let bad = scimd::service::tenancy::api_keys::create(
        &app.db,
        app.clock.as_ref(),
        &scimd::audit::Actor::Cli,
        &long,
        None,
        None,
    );
    assert!(bad.is_err());
}

#[tokio::test]
async fn paging_sees_every_user_exactly_once_while_users_are_created() {
    let app = spawn_app().await;
    let scim = app.static_token_client();
    let before = create_users(&scim, "u", 250).await;
    let api = app.api_key(Some("acme"), None);

    let writer = {
        let scim = scim.clone();
        tokio::spawn(async move { create_users(&scim, "late", 40).await })
    };
    let (seen, pages) = api.all_pages("/tenants/acme/users", 100).await;
    let late = writer.await.unwrap();

    let seen = ids(&seen);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no user is repeated");
    let mut first: Vec<String> = seen[..250].to_vec();
    first.sort();
    let mut expected = before.clone();
    expected.sort();
    assert_eq!(first, expected, "the first 250 are the users there before, none skipped");
    assert!(seen[250..].iter().all(|id| late.contains(id)), "late users only at the end");
    assert!(pages >= 3);
    // A fresh pass sees all 290.
    let (all, _) = api.all_pages("/tenants/acme/users", 1000).await;
    assert_eq!(all.len(), 290);

    for bad in ["?after=!!", "?after=dDEy", "?limit=0", "?limit=1001", "?limit=x"] {
        api.refused(
            &format!("/tenants/acme/users{bad}"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
    }
}

#[tokio::test]
async fn users_filter_by_active_updated_since_and_email() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada@Acme.test").await;
    let bob = app.create_user("bob@acme.test").await;
    let mut inactive = okta_user("cy@acme.test");
    inactive["active"] = json!(false);
    let cy = expect_json(app.post("/Users", &inactive).await, StatusCode::CREATED).await;
    let api = app.api_key(Some("acme"), None);
    let list = |q: &'static str| {
        let api = api.clone();
        async move {
            ids(api.json(&format!("/tenants/acme/users{q}"), StatusCode::OK).await["data"]
                .as_array()
                .unwrap())
        }
    };
    assert_eq!(list("?active=true").await, vec![id_of(&ada), id_of(&bob)]);
    assert_eq!(list("?active=false").await, vec![id_of(&cy)]);
    assert_eq!(list("?email=ada%40ACME.test").await, vec![id_of(&ada)]);
    assert_eq!(list("?email=nobody%40acme.test").await, Vec::<String>::new());

    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let cut = scimd::clock::to_rfc3339(app.clock.now());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let patch = patch_body(json!([{"op": "replace", "path": "displayName", "value": "Bobby"}]));
    let response = app.patch(&format!("/Users/{}", id_of(&bob)), &patch).await;
    assert_eq!(response.status(), StatusCode::OK);
    let path = format!("/tenants/acme/users?updated_since={}", urlencode(&cut));
    let changed = api.json(&path, StatusCode::OK).await;
    assert_eq!(ids(changed["data"].as_array().unwrap()), vec![id_of(&bob)]);
    assert_eq!(changed["data"][0]["display_name"], "Bobby");
    let combined = format!("/tenants/acme/users?updated_since={}&active=false", urlencode(&cut));
    assert!(api.json(&combined, StatusCode::OK).await["data"].as_array().unwrap().is_empty());

    for bad in ["?active=yes", "?updated_since=yesterday", "?email="] {
        api.refused(
            &format!("/tenants/acme/users{bad}"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
    }
    let long = format!("?email={}", "a".repeat(400));
    api.refused(&format!("/tenants/acme/users{long}"), StatusCode::BAD_REQUEST, "invalid_request")
        .await;
}

#[tokio::test]
async fn group_members_page_users_in_creation_order_then_nested_groups() {
    let app = spawn_app().await;
    let scim = app.static_token_client();
    let users = create_users(&scim, "m", 230).await;
    let nested = app.create_group("Nested").await;
    let mut members: Vec<Value> = users.iter().rev().map(|id| json!({"value": id})).collect();
    members.push(json!({"value": id_of(&nested), "type": "Group"}));
    let group = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Big", "members": members}),
        )
        .await;
    let gid = id_of(&expect_json(group, StatusCode::CREATED).await);
    let api = app.api_key(None, None);
    let (seen, pages) = api.all_pages(&format!("/tenants/acme/groups/{gid}/members"), 100).await;
    assert_eq!(pages, 3);
    let mut seen_users = ids(&seen[..230]);
    seen_users.sort();
    let mut expected = users.clone();
    expected.sort();
    assert_eq!(seen_users, expected);
    assert_eq!(ids(&seen[230..]), vec![id_of(&nested)]);
    assert_eq!(seen[230]["type"], "group");
    assert_eq!(seen[0]["type"], "user");
    // A page boundary right at the last user still moves on to the groups.
    let (seen, _) = api.all_pages(&format!("/tenants/acme/groups/{gid}/members"), 115).await;
    assert_eq!(seen.len(), 231);
}

#[tokio::test]
async fn every_use_of_a_key_is_rate_limited() {
    let app = spawn_app_with(|s| s.rate_limits.api_per_key = 3).await;
    let api = app.api_key(Some("acme"), None);
    for _ in 0..3 {
        api.json("/tenants", StatusCode::OK).await;
    }
    let response = api.get("/tenants").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 =
        response.headers().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    // Another key has its own budget.
    app.api_key(Some("acme"), None).json("/tenants", StatusCode::OK).await;
}

#[tokio::test]
async fn the_console_creates_a_key_shown_once_and_revokes_it() {
    let app = spawn_app().await;
    create_operator(&app);
    let op = app.operator().await;
    let html = op.page("/admin/api-keys", StatusCode::OK).await;
    assert!(html.contains("No API key yet") && html.contains("href=\"/admin/api-keys\""));
    let form = [("label", "app-backend"), ("tenant", "acme"), ("scope:directory:read", "on")];
    let response = op.post("/admin/api-keys", &form).await;
    assert_eq!(response.status(), StatusCode::OK);
    let key = shown_secret(&response.text().await.unwrap());
    let key = key.as_str();
    assert!(key.starts_with("scimd_ak_"));
    let api = app.api_client(key);
    api.json("/tenants/acme/users", StatusCode::OK).await;
    let listed = scimd::service::tenancy::api_keys::list(&app.db, Some("acme")).unwrap();
    assert_eq!(listed[0].scopes, vec!["directory:read"], "only the ticked scope");

    let html = op.page("/admin/api-keys", StatusCode::OK).await;
    assert!(!html.contains(key) && html.contains("app-backend") && html.contains(&key[..13]));
    // Without its CSRF token a form does nothing.
    let id = scimd::service::tenancy::api_keys::list(&app.db, None).unwrap()[0].id.clone();
    let forged = op.post_form(&format!("/admin/api-keys/{id}/revoke"), &[]).await;
    assert_ne!(forged.status(), StatusCode::SEE_OTHER);
    api.json("/tenants/acme", StatusCode::OK).await;
    let response = op.post(&format!("/admin/api-keys/{id}/revoke"), &[]).await;
    assert_eq!(crate::support::okta::location(&response), "/admin/api-keys?done=api-key-revoked");
    api.refused("/tenants", StatusCode::UNAUTHORIZED, "invalid_token").await;
    // No scope ticked is a clear refusal, not a key.
    let response = op.post("/admin/api-keys", &[("label", "none")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn last_used_is_refreshed_at_most_once_a_minute() {
    let (app, clock) = spawn_app_manual(|_| {}).await;
    let api = app.api_key(Some("acme"), None);
    let last_used =
        || scimd::service::tenancy::api_keys::list(&app.db, None).unwrap()[0].last_used.clone();
    assert_eq!(last_used(), None);
    api.json("/tenants", StatusCode::OK).await;
    let first = last_used().expect("recorded on first use");
    clock.advance(30_000);
    api.json("/tenants", StatusCode::OK).await;
    assert_eq!(last_used().as_ref(), Some(&first), "not rewritten within the minute");
    clock.advance(31_000);
    api.json("/tenants", StatusCode::OK).await;
    assert_ne!(last_used().as_ref(), Some(&first));
}

#[tokio::test]
async fn cli_refusals_are_json_errors() {
    let app = spawn_app().await;
    for args in [
        vec!["apikey", "create", "--label", "x", "--tenant", "nope"],
        vec!["apikey", "create", "--label", "x", "--scope", "directory:write"],
        vec!["apikey", "create", "--label", ""],
        vec!["apikey", "revoke", "no-such-key"],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_scimd"))
            .args(["--database-url", &app.settings.database_url, "--json"])
            .args(&args)
            .env_remove("SCIMD_CONFIG")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?}");
        let body: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(body["error"].is_string(), "{args:?}: {body}");
    }
}

#[tokio::test]
async fn a_key_of_a_disabled_tenant_is_refused_and_an_all_tenant_key_still_sees_it() {
    let app = spawn_app().await;
    let confined = app.api_key(Some("acme"), None);
    let all = app.api_key(None, None);
    scimd::service::tenancy::tenants::set_disabled(
        &app.db,
        app.clock.as_ref(),
        &scimd::audit::Actor::Cli,
        "acme",
        true,
    )
    .unwrap();
    let why = confined.refused("/tenants", StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert!(why.contains("disabled"), "{why}");
    let tenant = all.json("/tenants/acme", StatusCode::OK).await;
    assert_eq!(tenant["active"], false);
}
