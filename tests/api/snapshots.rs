//! Snapshots of the wire formats IdPs and apps depend on: the SCIM error body, a ListResponse,
//! the discovery documents, the RFC 8414 metadata, a token response, the directory API's pages
//! and refusals. Ports, ids, times and secrets are redacted, so a snapshot changes only when the
//! format does. Review a change with `cargo insta review` (or accept it with
//! `INSTA_UPDATE=always`) and commit the `.snap` file;
//! under CI=true a missing or different snapshot fails instead of being written.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::okta::{self, ClientAuth, browser};
use crate::support::*;

/// Where the server's own base URL (with its random port) appears in a snapshot.
const BASE: &str = "http://scimd.test";

/// `value` with every occurrence of the server's base URL replaced by `BASE`.
fn without_port(value: Value, app: &TestApp) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace(&app.address, BASE)),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| without_port(v, app)).collect())
        }
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, without_port(v, app))).collect())
        }
        other => other,
    }
}

/// A SCIM document as the harness tenant's static token reads it.
async fn scim_document(app: &TestApp, path: &str) -> Value {
    without_port(expect_json(app.get(path).await, StatusCode::OK).await, app)
}

#[tokio::test]
async fn scim_error_bodies() {
    let app = spawn_app().await;
    let missing = app.get("/Users/4b6fbb2e-6f43-4c33-9b4b-3d1d8f4d2a11").await;
    let not_found = expect_error(missing, StatusCode::NOT_FOUND, None).await;
    insta::assert_json_snapshot!("error_not_found", not_found);

    let path = format!("/Users?filter={}", urlencode("userName eq"));
    let bad_filter =
        expect_error(app.get(&path).await, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
    insta::assert_json_snapshot!("error_invalid_filter", bad_filter);
}

#[tokio::test]
async fn list_response_with_a_user() {
    let app = spawn_app().await;
    app.create_user("snap@acme.test").await;
    let page = scim_document(&app, "/Users").await;
    // Attribute order inside a stored resource is not part of the format.
    insta::with_settings!({sort_maps => true}, {
        insta::assert_json_snapshot!("list_response", page, {
            ".Resources[].id" => "[id]",
            ".Resources[].meta.created" => "[time]",
            ".Resources[].meta.lastModified" => "[time]",
            ".Resources[].meta.location" => "[location]",
        });
    });
}

#[tokio::test]
async fn service_provider_config() {
    let app = spawn_app().await;
    let config = scim_document(&app, "/ServiceProviderConfig").await;
    insta::assert_json_snapshot!("service_provider_config", config);
}

#[tokio::test]
async fn resource_types() {
    let app = spawn_app().await;
    let types = scim_document(&app, "/ResourceTypes").await;
    insta::assert_json_snapshot!("resource_types", types);
}

#[tokio::test]
async fn schemas() {
    let app = spawn_app().await;
    let schemas = scim_document(&app, "/Schemas").await;
    insta::assert_json_snapshot!("schemas", schemas);
}

#[tokio::test]
async fn authorization_server_metadata() {
    let app = spawn_app().await;
    let response = app.get_public("/.well-known/oauth-authorization-server").await;
    assert_eq!(response.status(), StatusCode::OK);
    let metadata = without_port(response.json().await.unwrap(), &app);
    insta::assert_json_snapshot!("oauth_authorization_server", metadata);
}

#[tokio::test]
async fn token_response() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let code = browser(&app).code(&fx, &[]).await;
    let response = okta::exchange(&app, &fx, ClientAuth::Basic, &code, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    insta::assert_json_snapshot!("token_response", body, {
        ".access_token" => "[jwt]",
        ".refresh_token" => "[refresh token]",
    });
}

#[tokio::test]
async fn directory_api_user_group_and_members() {
    let app = spawn_app().await;
    let user = app.create_user("snap@acme.test").await;
    let body = serde_json::json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng", "members": [{"value": id_of(&user)}]});
    let group = expect_json(app.post("/Groups", &body).await, StatusCode::CREATED).await;
    let api = app.api_key(Some("acme"), None);
    let users = without_port(api.json("/tenants/acme/users?limit=1", StatusCode::OK).await, &app);
    let gid = id_of(&group);
    let groups = without_port(api.json("/tenants/acme/groups", StatusCode::OK).await, &app);
    let members = api.json(&format!("/tenants/acme/groups/{gid}/members"), StatusCode::OK).await;
    let refused = api.json("/tenants/globex/users", StatusCode::FORBIDDEN).await;
    insta::with_settings!({sort_maps => true}, {
        insta::assert_json_snapshot!("directory_users", users, {
            ".data[].id" => "[id]",
            ".data[].groups[].id" => "[id]",
            ".data[].created_at" => "[time]",
            ".data[].updated_at" => "[time]",
            ".data[].raw.id" => "[id]",
            ".data[].raw.groups[].value" => "[id]",
            ".data[].raw.groups[][\"$ref\"]" => "[location]",
            ".data[].raw.meta.created" => "[time]",
            ".data[].raw.meta.lastModified" => "[time]",
            ".data[].raw.meta.location" => "[location]",
        });
        insta::assert_json_snapshot!("directory_groups", groups, {
            ".data[].id" => "[id]",
            ".data[].created_at" => "[time]",
            ".data[].updated_at" => "[time]",
            ".data[].raw.id" => "[id]",
            ".data[].raw.meta.created" => "[time]",
            ".data[].raw.meta.lastModified" => "[time]",
            ".data[].raw.meta.location" => "[location]",
        });
        insta::assert_json_snapshot!("directory_members", members, {".data[].id" => "[id]"});
        insta::assert_json_snapshot!("directory_tenant_forbidden", refused);
    });
}
