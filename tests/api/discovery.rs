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

const TEAM_EXTENSION: &str = "urn:globex:params:scim:schemas:extension:team:2.0:Group";

/// A Group extension instead of Acme's User one.
fn team_extension() -> Vec<scimd::scim::custom_schema::ExtensionConfig> {
    let definition = json!([{
        "id": TEAM_EXTENSION,
        "resourceType": "Group",
        "name": "TeamGroup",
        "attributes": [{"name": "room", "type": "string"}]
    }]);
    serde_json::from_value(definition).unwrap()
}

fn schema_ids(list: &serde_json::Value) -> Vec<String> {
    let resources = list["Resources"].as_array().unwrap();
    resources.iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
}

/// Schemas belong to a server, not to the process: two servers with different extensions run side
/// by side, and each validates, describes and filters by its own only.
#[tokio::test]
async fn servers_with_different_extensions_run_side_by_side() {
    let acme = spawn_app().await;
    let globex = spawn_app_with(|s| s.schema_extensions = team_extension()).await;

    let listed = expect_json(acme.get("/Schemas").await, StatusCode::OK).await;
    assert_eq!(schema_ids(&listed), [USER_SCHEMA, ENTERPRISE, GROUP_SCHEMA, ACME_EXTENSION]);
    let listed = expect_json(globex.get("/Schemas").await, StatusCode::OK).await;
    assert_eq!(schema_ids(&listed), [USER_SCHEMA, ENTERPRISE, GROUP_SCHEMA, TEAM_EXTENSION]);
    expect_error(
        globex.get(&format!("/Schemas/{ACME_EXTENSION}")).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    expect_error(
        acme.get(&format!("/Schemas/{TEAM_EXTENSION}")).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;

    let extensions = |doc: &serde_json::Value| doc["schemaExtensions"].clone();
    let user = expect_json(acme.get("/ResourceTypes/User").await, StatusCode::OK).await;
    let group = expect_json(acme.get("/ResourceTypes/Group").await, StatusCode::OK).await;
    assert_eq!(
        extensions(&user),
        json!([{"schema": ENTERPRISE, "required": false}, {"schema": ACME_EXTENSION, "required": false}])
    );
    assert_eq!(extensions(&group), serde_json::Value::Null);
    let user = expect_json(globex.get("/ResourceTypes/User").await, StatusCode::OK).await;
    let group = expect_json(globex.get("/ResourceTypes/Group").await, StatusCode::OK).await;
    assert_eq!(extensions(&user), json!([{"schema": ENTERPRISE, "required": false}]));
    assert_eq!(extensions(&group), json!([{"schema": TEAM_EXTENSION, "required": false}]));

    // Each server accepts its own extension and refuses the other's.
    let badged = json!({"userName": "ann@example.com", ACME_EXTENSION: {"badgeNumber": 7}});
    expect_json(acme.post("/Users", &badged).await, StatusCode::CREATED).await;
    expect_error(
        globex.post("/Users", &badged).await,
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    )
    .await;
    let roomed = json!({"displayName": "Ops", TEAM_EXTENSION: {"room": "B2"}});
    let created = expect_json(globex.post("/Groups", &roomed).await, StatusCode::CREATED).await;
    assert_eq!(created[TEAM_EXTENSION]["room"], "B2");
    expect_error(
        acme.post("/Groups", &roomed).await,
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    )
    .await;

    // Filters resolve against the server's own schemas: typed where the attribute is known.
    let by_badge = urlencode(&format!("{ACME_EXTENSION}:badgeNumber gt 5"));
    let page =
        expect_json(acme.get(&format!("/Users?filter={by_badge}")).await, StatusCode::OK).await;
    assert_eq!(page["totalResults"], json!(1));
    let by_room = urlencode(&format!("{TEAM_EXTENSION}:room eq \"b2\""));
    let page =
        expect_json(globex.get(&format!("/Groups?filter={by_room}")).await, StatusCode::OK).await;
    assert_eq!(page["totalResults"], json!(1));
    let page =
        expect_json(acme.get(&format!("/Groups?filter={by_room}")).await, StatusCode::OK).await;
    assert_eq!(page["totalResults"], json!(0));
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
