//! Discovery endpoints describe what the server really does.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn discovery_documents() {
    let app = spawn_app().await;
    let spc = expect_json(app.get("/ServiceProviderConfig").await, StatusCode::OK).await;
    assert_eq!(
        spc["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], json!(1000));
    assert_eq!(spc["bulk"]["supported"], true);
    assert_eq!(spc["bulk"]["maxOperations"], json!(1000));
    assert_eq!(spc["bulk"]["maxPayloadSize"], json!(1_048_576));
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["changePassword"]["supported"], false);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");

    let types = expect_json(app.get("/ResourceTypes").await, StatusCode::OK).await;
    assert_eq!(types["totalResults"], json!(2));
    let user_type = expect_json(app.get("/ResourceTypes/User").await, StatusCode::OK).await;
    assert_eq!(user_type["endpoint"], "/Users");
    assert_eq!(
        user_type["schemaExtensions"],
        json!([{"schema": ENTERPRISE, "required": false}, {"schema": ACME_EXTENSION, "required": false}])
    );

    let schemas = expect_json(app.get("/Schemas").await, StatusCode::OK).await;
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [USER_SCHEMA, ENTERPRISE, GROUP_SCHEMA, ACME_EXTENSION], "{ids:?}");
    // The configured extension is served like the built-in ones, characteristics included.
    let acme =
        expect_json(app.get(&format!("/Schemas/{ACME_EXTENSION}")).await, StatusCode::OK).await;
    assert_eq!(acme["name"], "AcmeUser");
    let attribute = |name: &str| {
        acme["attributes"].as_array().unwrap().iter().find(|a| a["name"] == name).unwrap().clone()
    };
    assert_eq!(attribute("badgeNumber")["type"], "integer");
    assert_eq!(attribute("costCode")["caseExact"], true);
    assert_eq!(attribute("employeeId")["mutability"], "immutable");
    assert_eq!(attribute("desk")["subAttributes"][1]["name"], "floor");
    let user = expect_json(app.get(&format!("/Schemas/{USER_SCHEMA}")).await, StatusCode::OK).await;
    let user_name =
        user["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "userName").unwrap();
    assert_eq!(
        (user_name["required"].clone(), user_name["uniqueness"].clone()),
        (json!(true), json!("server"))
    );
    assert!(user["meta"]["location"].as_str().unwrap().starts_with(&app.address));

    expect_error(app.get("/Schemas/urn:nope").await, StatusCode::NOT_FOUND, None).await;
    expect_error(app.get("/Schemas?filter=id%20eq%20%22x%22").await, StatusCode::FORBIDDEN, None)
        .await;
    let post = app.post("/ServiceProviderConfig", &json!({})).await;
    expect_error(post, StatusCode::METHOD_NOT_ALLOWED, None).await;
    let health = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn readiness_fails_while_a_migration_is_pending() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    // As if a newer binary's migration had not run yet: forget the latest one.
    let mut conn = app.db.conn().unwrap();
    diesel::sql_query(
        "DELETE FROM __diesel_schema_migrations WHERE version = \
         (SELECT MAX(version) FROM __diesel_schema_migrations)",
    )
    .execute(&mut *conn)
    .unwrap();
    drop(conn);
    let response = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.text().await.unwrap(), "unavailable");
    // Liveness does not depend on the database.
    let live = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
}

#[tokio::test]
async fn readiness_and_request_ids() {
    let app = spawn_app().await;
    let ready = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let generated = ready.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    assert_eq!(ready.text().await.unwrap(), "ready");

    // A plain id from a proxy is kept, on SCIM answers and on 401s alike.
    let kept = app
        .static_token_client()
        .request(reqwest::Method::GET, "/Users")
        .header("X-Request-Id", "okta-req.42")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "okta-req.42");
    let refused =
        app.client.get(app.url("/Users")).header("X-Request-Id", "lb:7").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers()["x-request-id"], "lb:7");
    // Anything else is replaced, never echoed.
    let replaced = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("X-Request-Id", "x".repeat(200))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.headers()["x-request-id"].len(), 36);
}
