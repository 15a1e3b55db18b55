//! `/Bulk` over HTTP: bulkId references in any order, failOnErrors, versions, and the advertised
//! limits enforced.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

fn bulk(operations: Value) -> Value {
    json!({"schemas": [BULK_REQUEST], "Operations": operations})
}

fn statuses(response: &Value) -> Vec<String> {
    response["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["status"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn bulk_ids_resolve_forward_and_backward() {
    let app = spawn_app().await;
    // The group comes first but names a user created later in the same request.
    let request = bulk(json!([
        {"method": "POST", "path": "/Groups", "bulkId": "team",
         "data": {"schemas": [GROUP_SCHEMA], "displayName": "Team",
                  "members": [{"type": "User", "value": "bulkId:ann"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "ann", "data": okta_user("ann@example.com")},
        {"method": "PATCH", "path": "/Users/bulkId:ann",
         "data": patch_body(json!([{"op": "replace", "path": "displayName", "value": "Ann B"}]))},
        {"method": "POST", "path": "/Users", "bulkId": "dup", "data": okta_user("ann@example.com")}
    ]));
    let response = expect_json(app.post("/Bulk", &request).await, StatusCode::OK).await;
    assert_eq!(response["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]));
    assert_eq!(statuses(&response), ["201", "201", "200", "409"], "{response}");
    let ops = response["Operations"].as_array().unwrap();
    assert_eq!(ops[0]["bulkId"], "team");
    assert_eq!(ops[1]["version"], "W/\"1\"");
    assert_eq!(ops[3]["response"]["scimType"], "uniqueness");
    let user_location = ops[1]["location"].as_str().unwrap();
    let user_id = user_location.rsplit('/').next().unwrap();
    assert_eq!(user_location, app.url(&format!("/Users/{user_id}")));

    let group_path = ops[0]["location"].as_str().unwrap().trim_start_matches(&app.url(""));
    let group = expect_json(app.get(group_path).await, StatusCode::OK).await;
    assert_eq!(group["members"][0]["value"], json!(user_id));
    let user = expect_json(app.get(&format!("/Users/{user_id}")).await, StatusCode::OK).await;
    assert_eq!(user["displayName"], "Ann B");
    assert_eq!(user["groups"][0]["display"], "Team");
}

#[tokio::test]
async fn fail_on_errors_stops_and_versions_guard_operations() {
    let app = spawn_app().await;
    let user = app.create_user("kim@example.com").await;
    let path = format!("/Users/{}", id_of(&user));
    let request = json!({
        "schemas": [BULK_REQUEST],
        "failOnErrors": 2,
        "Operations": [
            {"method": "PATCH", "path": path, "version": "W/\"9\"",
             "data": patch_body(json!([{"op": "replace", "path": "active", "value": false}]))},
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"schemas": [USER_SCHEMA]}},
            {"method": "DELETE", "path": path},
            {"method": "GET", "path": path}
        ]
    });
    let response = expect_json(app.post("/Bulk", &request).await, StatusCode::OK).await;
    // Two failures reach failOnErrors: the DELETE and the GET never run.
    assert_eq!(statuses(&response), ["412", "400"], "{response}");
    assert_eq!(response["Operations"][1]["response"]["scimType"], "invalidValue");
    expect_json(app.get(&path).await, StatusCode::OK).await;

    let request = bulk(json!([
        {"method": "DELETE", "path": path, "version": "W/\"1\""},
        {"method": "GET", "path": path},
        {"method": "DELETE", "path": "/Users/bulkId:nowhere"},
        {"method": "PATCH", "path": "/Users"}
    ]));
    let response = expect_json(app.post("/Bulk", &request).await, StatusCode::OK).await;
    assert_eq!(statuses(&response), ["204", "400", "409", "400"], "{response}");
    expect_error(app.get(&path).await, StatusCode::NOT_FOUND, None).await;
}

#[tokio::test]
async fn limits_are_enforced_as_advertised() {
    let app = spawn_app_with(|s| {
        s.bulk_max_operations = 2;
        s.bulk_max_payload_bytes = 2048;
    })
    .await;
    let spc = expect_json(app.get("/ServiceProviderConfig").await, StatusCode::OK).await;
    assert_eq!(spc["bulk"], json!({"supported": true, "maxOperations": 2, "maxPayloadSize": 2048}));
    let three = bulk(json!([
        {"method": "DELETE", "path": "/Users/a"},
        {"method": "DELETE", "path": "/Users/b"},
        {"method": "DELETE", "path": "/Users/c"}
    ]));
    expect_error(app.post("/Bulk", &three).await, StatusCode::PAYLOAD_TOO_LARGE, None).await;
    let big = bulk(json!([
        {"method": "POST", "path": "/Users", "bulkId": "x",
         "data": {"schemas": [USER_SCHEMA], "userName": "x".repeat(4000)}}
    ]));
    expect_error(app.post("/Bulk", &big).await, StatusCode::PAYLOAD_TOO_LARGE, None).await;
    let unsigned = json!({"Operations": []});
    expect_error(
        app.post("/Bulk", &unsigned).await,
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    )
    .await;
    // Still a normal endpoint otherwise: nothing was created.
    let users = expect_json(app.get("/Users").await, StatusCode::OK).await;
    assert_eq!(users["totalResults"], json!(0));
}
