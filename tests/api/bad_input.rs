//! Bad input gets a clear SCIM error, never a 500 or a partial write.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn malformed_bodies_and_values() {
    let app = spawn_app_with(|s| s.max_body_bytes = 4096).await;
    let okta = app.static_token_client();
    let raw = |body: &'static str, content_type: &'static str| {
        okta.request(reqwest::Method::POST, "/Users")
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    expect_error(
        raw("{\"userName\": ", SCIM_JSON).await.unwrap(),
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    )
    .await;
    expect_error(raw("", SCIM_JSON).await.unwrap(), StatusCode::BAD_REQUEST, Some("invalidSyntax"))
        .await;
    expect_error(
        raw("[1,2]", SCIM_JSON).await.unwrap(),
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    )
    .await;
    expect_error(
        raw("<user/>", "application/xml").await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        None,
    )
    .await;
    // Plain application/json with a charset is accepted.
    let ok = okta
        .request(reqwest::Method::POST, "/Users")
        .header("Content-Type", "application/json; charset=utf-8")
        .body(okta_user("json@example.com").to_string())
        .send()
        .await
        .unwrap();
    expect_json(ok, StatusCode::CREATED).await;

    let cases = [
        (json!({"schemas": [USER_SCHEMA], "userName": 5}), "invalidValue"),
        (json!({"schemas": [USER_SCHEMA]}), "invalidValue"),
        (
            json!({"schemas": [USER_SCHEMA], "userName": "x@example.com", "favouriteColour": "blue"}),
            "invalidSyntax",
        ),
        (
            json!({"schemas": [USER_SCHEMA], "userName": "x@example.com", "active": "maybe"}),
            "invalidValue",
        ),
        (
            json!({"schemas": [USER_SCHEMA], "userName": "x@example.com", "emails": "x@example.com"}),
            "invalidValue",
        ),
    ];
    for (body, scim_type) in cases {
        let response = app.post("/Users", &body).await;
        let status = response.status();
        let err = expect_json(response, status).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {err}");
        assert_eq!(err["scimType"], json!(scim_type), "{body} → {err}");
    }

    // Over the size limit → 413.
    let mut big = okta_user("big@example.com");
    big["displayName"] = json!("x".repeat(5000));
    expect_error(app.post("/Users", &big).await, StatusCode::PAYLOAD_TOO_LARGE, None).await;

    // Nothing above was stored.
    let page = expect_json(app.get("/Users").await, StatusCode::OK).await;
    assert_eq!(page["totalResults"], json!(1));
}

#[tokio::test]
async fn bad_queries() {
    let app = spawn_app().await;
    for filter in [
        "userName%20eq",
        "userName%20zz%20%22x%22",
        "(userName%20eq%20%22x%22",
        "userName%20eq%20%22x%22%20and",
    ] {
        expect_error(
            app.get(&format!("/Users?filter={filter}")).await,
            StatusCode::BAD_REQUEST,
            Some("invalidFilter"),
        )
        .await;
    }
    let deep = format!("{}userName eq \"x\"{}", "(".repeat(100), ")".repeat(100));
    let path = format!("/Users?filter={}", urlencode(&deep));
    expect_error(app.get(&path).await, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
    expect_error(
        app.get("/Users?filter=active%20eq%20%22yes%22").await,
        StatusCode::BAD_REQUEST,
        Some("invalidFilter"),
    )
    .await;
    for paging in ["startIndex=abc", "count=1.5", "count=lots"] {
        expect_error(
            app.get(&format!("/Users?{paging}")).await,
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
        )
        .await;
    }
    expect_error(
        app.get("/Users?attributes=userName&excludedAttributes=emails").await,
        StatusCode::BAD_REQUEST,
        None,
    )
    .await;
}

#[tokio::test]
async fn bad_patches_change_nothing() {
    let app = spawn_app().await;
    let user = app.create_user("pat@example.com").await;
    let id = id_of(&user);
    let path = format!("/Users/{id}");
    let cases = [
        (json!({"Operations": [{"op": "replace", "value": {"active": false}}]}), "invalidSyntax"),
        (patch_body(json!([])), "invalidSyntax"),
        (patch_body(json!([{"op": "explode", "path": "active"}])), "invalidSyntax"),
        (
            patch_body(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])),
            "invalidPath",
        ),
        (patch_body(json!([{"op": "replace", "path": "active"}])), "invalidValue"),
        (patch_body(json!([{"op": "remove"}])), "noTarget"),
        (patch_body(json!([{"op": "replace", "path": "id", "value": "mine"}])), "mutability"),
        // The first operation is valid, the second is not: neither applies.
        (
            patch_body(
                json!([{"op": "replace", "path": "displayName", "value": "Changed"}, {"op": "replace", "path": "active", "value": "sometimes"}]),
            ),
            "invalidValue",
        ),
    ];
    for (body, scim_type) in cases {
        let response = app.patch(&path, &body).await;
        let status = response.status();
        let err = expect_json(response, status).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {err}");
        assert_eq!(err["scimType"], json!(scim_type), "{body} → {err}");
    }
    let after = expect_json(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(after, user, "a failed PATCH must leave the user untouched");
    // Wrong method and unknown endpoint.
    let response =
        app.static_token_client().request(reqwest::Method::POST, &path).send().await.unwrap();
    expect_error(response, StatusCode::METHOD_NOT_ALLOWED, None).await;
    expect_error(app.get("/Widgets").await, StatusCode::NOT_FOUND, None).await;
}
