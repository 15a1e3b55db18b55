//! Okta entitlement management: the catalog the vendor's app writes through `/api/v1`, the
//! read-only SCIM endpoints Okta discovers and reads (its discovery sequence and its published
//! Entitlements test replayed), and users holding roles and entitlements through every form of
//! POST, PUT and PATCH, filtered in SQL, with events in the feed and at a webhook receiver.

use reqwest::{Method, StatusCode};
use scimd::audit::Actor;
use scimd::config::Settings;
use scimd::scim::catalog::EntitlementTypeConfig;
use scimd::scim::custom_schema::ExtensionConfig;
use scimd::service::delivery::webhooks::endpoints::{self, NewEndpoint};
use serde_json::{Value, json};

use crate::support::receiver::Receiver;
use crate::support::*;

const ROLE_SCHEMA: &str = "urn:okta:scim:schemas:core:1.0:Role";
const ENTITLEMENT_SCHEMA: &str = "urn:okta:scim:schemas:core:1.0:Entitlement";
const PROFILE_EXTENSION: &str = "urn:acme:scim:schemas:extension:app:1.0:Profile";

fn entitlement_type(id: &str, name: &str, endpoint: &str) -> EntitlementTypeConfig {
    EntitlementTypeConfig {
        id: id.into(),
        name: name.into(),
        endpoint: endpoint.into(),
        description: format!("{name}s of the app"),
    }
}

/// Roles, Licenses, and Profiles with a schema extension of their own.
fn with_catalog(settings: &mut Settings) {
    settings.catalog_roles = true;
    settings.entitlement_types = vec![
        entitlement_type("License", "License", "/Licenses"),
        entitlement_type("Profile", "Profile", "/Profiles"),
    ];
    let profile: ExtensionConfig = serde_json::from_value(json!({
        "id": PROFILE_EXTENSION,
        "resourceType": "Profile",
        "name": "Profile",
        "attributes": [{"name": "seats", "type": "integer"}]
    }))
    .unwrap();
    settings.schema_extensions.push(profile);
    settings.allow_private_webhook_targets = true;
}

async fn catalog_app() -> (TestApp, ApiClient) {
    let app = spawn_app_with(with_catalog).await;
    let api = app.api_key(None, Some("catalog:write,directory:read,events:read"));
    (app, api)
}

/// Writes the vendor-wide catalog most tests start from.
async fn write_catalog(api: &ApiClient) {
    let items = json!({"items": [
        {"type": "Role", "id": "admin", "name": "Administrator", "description": "Everything"},
        {"type": "Role", "id": "viewer", "name": "Viewer"},
        {"type": "License", "id": "pro", "name": "Pro"},
        {"type": "License", "id": "basic", "name": "Basic"},
        {"type": "Profile", "id": "pro", "name": "Pro profile",
         "extensions": {PROFILE_EXTENSION: {"seats": 5}}}
    ]});
    let done = api.put("/catalog", &items, StatusCode::OK).await;
    assert_eq!(done["created"], 5, "{done}");
}

fn user_with(name: &str, extra: Value) -> Value {
    let mut user = okta_user(name);
    for (key, value) in extra.as_object().unwrap() {
        user[key] = value.clone();
    }
    user
}

fn values(user: &Value, attribute: &str) -> Vec<String> {
    let list = user[attribute].as_array().cloned().unwrap_or_default();
    let mut out: Vec<String> = list
        .iter()
        .map(|e| match e["type"].as_str() {
            Some(t) => format!("{t}:{}", e["value"].as_str().unwrap()),
            None => e["value"].as_str().unwrap().to_owned(),
        })
        .collect();
    out.sort();
    out
}

/// Okta's call sequence: `/ResourceTypes`, `/Schemas` for what it does not know, then each
/// endpoint whose schema is Okta's Role or Entitlement URN, with its Entitlements test's request.
#[tokio::test]
async fn okta_discovers_the_catalog_types_and_its_entitlements_test_passes() {
    let (app, api) = catalog_app().await;
    write_catalog(&api).await;

    let types = expect_json(app.get("/ResourceTypes").await, StatusCode::OK).await;
    let types = types["Resources"].as_array().unwrap().clone();
    let ids: Vec<&str> = types.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["User", "Group", "Role", "License", "Profile"]);
    let role = &types[2];
    assert_eq!(
        (role["endpoint"].as_str(), role["schema"].as_str()),
        (Some("/Roles"), Some(ROLE_SCHEMA))
    );
    assert_eq!(types[3]["schema"], ENTITLEMENT_SCHEMA);
    assert_eq!(
        types[4]["schemaExtensions"],
        json!([{"schema": PROFILE_EXTENSION, "required": false}])
    );
    let one = expect_json(app.get("/ResourceTypes/license").await, StatusCode::OK).await;
    assert_eq!(one["endpoint"], "/Licenses");

    let schemas = expect_json(app.get("/Schemas").await, StatusCode::OK).await;
    let schema_ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for urn in [ROLE_SCHEMA, ENTITLEMENT_SCHEMA, PROFILE_EXTENSION] {
        assert!(schema_ids.contains(&urn), "{urn} in {schema_ids:?}");
    }
    let extension =
        expect_json(app.get(&format!("/Schemas/{PROFILE_EXTENSION}")).await, StatusCode::OK).await;
    assert_eq!(extension["attributes"][0]["name"], "seats");

    // Okta's Entitlements test, once per endpoint a ResourceType names.
    for t in
        types.iter().filter(|t| t["schema"] == ROLE_SCHEMA || t["schema"] == ENTITLEMENT_SCHEMA)
    {
        let endpoint = t["endpoint"].as_str().unwrap();
        let response = app
            .client
            .get(app.url(&format!("{endpoint}?count=1&startIndex=1")))
            .header("Authorization", format!("Bearer {}", app.token))
            .header("Accept", "application/scim+json")
            .header("Content-Type", "application/scim+json; charset=utf-8")
            .header("User-Agent", "OKTA SCIM Integration")
            .send()
            .await
            .unwrap();
        let page = expect_json(response, StatusCode::OK).await;
        assert_eq!(page["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
        assert_eq!(page["itemsPerPage"], 1, "{endpoint}: {page}");
        assert_eq!(page["startIndex"], 1);
        assert!(page["totalResults"].as_u64().unwrap() >= 1);
        let item = &page["Resources"][0];
        assert!(item["id"].is_string() && item["displayName"].is_string(), "{item}");
    }

    // The items as Okta reads them: its URNs, `type` the ResourceType's name, extensions.
    let profile = expect_json(app.get("/Profiles/pro").await, StatusCode::OK).await;
    assert_eq!(profile["schemas"], json!([ENTITLEMENT_SCHEMA, PROFILE_EXTENSION]));
    assert_eq!(
        (profile["type"].as_str(), profile["displayName"].as_str()),
        (Some("Profile"), Some("Pro profile"))
    );
    assert_eq!(profile[PROFILE_EXTENSION]["seats"], 5);
    assert_eq!(profile["meta"]["location"], app.url("/Profiles/pro"));
    let admin = expect_json(app.get("/Roles/admin").await, StatusCode::OK).await;
    assert_eq!(admin["schemas"], json!([ROLE_SCHEMA]));
    assert!(admin.get("type").is_none(), "roles have no type: {admin}");
    assert_eq!(admin["description"], "Everything");
    expect_error(app.get("/Roles/nobody").await, StatusCode::NOT_FOUND, None).await;

    // Lists filter on id and displayName, sort, and page.
    let filtered = expect_json(
        app.get(&format!("/Licenses?filter={}", urlencode("displayName sw \"b\""))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(filtered["totalResults"], 1);
    assert_eq!(filtered["Resources"][0]["id"], "basic");
    let by_id = expect_json(
        app.get(&format!("/Roles?filter={}", urlencode("id eq \"viewer\" or id eq \"admin\"")))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_id["totalResults"], 2);
    let sorted = expect_json(
        app.get("/Licenses?sortBy=displayName&sortOrder=descending").await,
        StatusCode::OK,
    )
    .await;
    let names: Vec<&str> = sorted["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Pro", "Basic"]);
    let second = expect_json(app.get("/Roles?startIndex=2&count=5").await, StatusCode::OK).await;
    assert_eq!(
        (second["totalResults"].as_u64(), second["itemsPerPage"].as_u64()),
        (Some(2), Some(1))
    );
    // Only the item columns filter; anything else is a clear SCIM error.
    let bad = app
        .get(&format!("/Profiles?filter={}", urlencode(&format!("{PROFILE_EXTENSION}:seats gt 1"))))
        .await;
    expect_error(bad, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
}

#[tokio::test]
async fn the_idp_cannot_write_the_catalog() {
    let (app, api) = catalog_app().await;
    write_catalog(&api).await;
    let item = json!({"schemas": [ROLE_SCHEMA], "displayName": "Hacker"});
    for (method, path) in [
        (Method::POST, "/Roles"),
        (Method::PUT, "/Roles/admin"),
        (Method::PATCH, "/Roles/admin"),
        (Method::DELETE, "/Roles/admin"),
        (Method::POST, "/Licenses"),
        (Method::DELETE, "/Licenses/pro"),
    ] {
        let refused = expect_error(
            app.send(method.clone(), path, &item).await,
            StatusCode::METHOD_NOT_ALLOWED,
            None,
        )
        .await;
        assert!(
            refused["detail"].as_str().unwrap().contains("read-only"),
            "{method} {path}: {refused}"
        );
    }
    let admin = expect_json(app.get("/Roles/admin").await, StatusCode::OK).await;
    assert_eq!(admin["displayName"], "Administrator");
    // Endpoint names match in any case, as SCIM's attribute names do.
    let lower = expect_json(app.get("/roles?count=1").await, StatusCode::OK).await;
    assert_eq!(lower["itemsPerPage"], 1);
    expect_error(
        app.send(Method::POST, "/LICENSES", &item).await,
        StatusCode::METHOD_NOT_ALLOWED,
        None,
    )
    .await;
    // Types the server does not serve have no endpoint.
    expect_error(app.get("/Permissions").await, StatusCode::NOT_FOUND, None).await;
}

/// Vendor-wide items every tenant sees, plus each tenant's own, which take the place of a
/// vendor-wide item with the same type and id; no tenant sees another's.
#[tokio::test]
async fn tenants_see_the_vendor_catalog_merged_with_their_own_and_nothing_of_others() {
    let (app, api) = catalog_app().await;
    write_catalog(&api).await;
    let globex = app.other_tenant_client("globex");

    api.put("/tenants/acme/roles/auditor", &json!({"name": "Auditor"}), StatusCode::CREATED).await;
    let shadow = json!({"name": "Acme Admin", "description": "Acme's own"});
    api.put("/tenants/acme/roles/admin", &shadow, StatusCode::CREATED).await;
    // A repeated identical PUT changes nothing, a different one a new version.
    let same = api.put("/tenants/acme/roles/admin", &shadow, StatusCode::OK).await;
    assert_eq!(same["version"], 1);
    api.put(
        "/tenants/globex/entitlements/License/enterprise",
        &json!({"name": "Enterprise"}),
        StatusCode::CREATED,
    )
    .await;

    let acme_roles = expect_json(app.get("/Roles").await, StatusCode::OK).await;
    let shown: Vec<(String, String)> = acme_roles["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["id"].as_str().unwrap().to_owned(), r["displayName"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(acme_roles["totalResults"], 3);
    assert!(shown.contains(&("admin".into(), "Acme Admin".into())), "{shown:?}");
    assert!(shown.contains(&("auditor".into(), "Auditor".into())));
    let globex_roles = expect_json(globex.get("/Roles").await, StatusCode::OK).await;
    assert_eq!(globex_roles["totalResults"], 2);
    let admin = expect_json(globex.get("/Roles/admin").await, StatusCode::OK).await;
    assert_eq!(admin["displayName"], "Administrator");
    expect_error(globex.get("/Roles/auditor").await, StatusCode::NOT_FOUND, None).await;
    expect_error(app.get("/Licenses/enterprise").await, StatusCode::NOT_FOUND, None).await;
    // And a user of one tenant cannot hold another tenant's item.
    let refused = app
        .post(
            "/Users",
            &user_with(
                "eve@acme.test",
                json!({"entitlements": [{"value": "enterprise", "type": "License"}]}),
            ),
        )
        .await;
    let refused = expect_error(refused, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    assert!(refused["detail"].as_str().unwrap().contains("'enterprise'"), "{refused}");

    // The console shows what each tenant sees, read-only, with whose each item is.
    create_operator(&app);
    let operator = app.operator().await;
    let page = operator.page("/admin/tenants/acme/catalog", StatusCode::OK).await;
    for expected in
        ["Acme Admin", "Auditor", "this tenant", "vendor-wide", "/Licenses", "Pro profile"]
    {
        assert!(page.contains(expected), "{expected} in the catalog page");
    }
    assert!(!page.contains("Enterprise"), "another tenant's item is not shown");
    let tenant_page = operator.page("/admin/tenants/acme", StatusCode::OK).await;
    assert!(tenant_page.contains("/admin/tenants/acme/catalog"));

    // The API lists one owner's own items; a key confined to a tenant writes only its catalog.
    let own = api.json("/tenants/acme/roles", StatusCode::OK).await;
    assert_eq!(own["data"].as_array().unwrap().len(), 2);
    check_against_openapi(&openapi(), "/api/v1/tenants/{slug}/roles", &own);
    let vendor = api.json("/catalog", StatusCode::OK).await;
    assert_eq!(vendor["data"].as_array().unwrap().len(), 5);
    check_against_openapi(&openapi(), "/api/v1/catalog", &vendor);
    let confined = app.api_key(Some("acme"), Some("catalog:write"));
    confined.put("/tenants/acme/roles/ops", &json!({"name": "Ops"}), StatusCode::CREATED).await;
    for path in ["/roles/ops", "/tenants/globex/roles/ops"] {
        let body = confined.put(path, &json!({"name": "Ops"}), StatusCode::FORBIDDEN).await;
        assert_eq!(body["error"], "tenant_forbidden", "{path}");
    }
    let reader = app.api_key(None, Some("directory:read"));
    let body = reader.put("/roles/x", &json!({"name": "X"}), StatusCode::FORBIDDEN).await;
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(reader.json("/roles", StatusCode::OK).await["data"].as_array().unwrap().len(), 2);
    // Bad requests say what to change.
    for (path, body, error) in [
        ("/roles/a%20b", json!({"name": "x"}), "invalid_request"),
        ("/roles/x", json!({"name": ""}), "invalid_request"),
        ("/roles/x", json!({"name": "x", "description": "d".repeat(1001)}), "invalid_request"),
        ("/roles/x", json!({"name": "x", "colour": "red"}), "invalid_request"),
        ("/entitlements/Seat/x", json!({"name": "x"}), "not_found"),
        ("/tenants/nobody/roles/x", json!({"name": "x"}), "not_found"),
        (
            "/entitlements/Profile/p2",
            json!({"name": "x", "extensions": {PROFILE_EXTENSION: {"seats": "many"}}}),
            "invalid_request",
        ),
    ] {
        let status =
            if error == "not_found" { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
        let answer = api.put(path, &body, status).await;
        assert_eq!(answer["error"], error, "{path}: {answer}");
    }
}

/// Okta and Entra send roles and entitlements on POST and PUT, and every PATCH form; each value
/// is checked against the tenant's catalog.
#[tokio::test]
async fn users_hold_roles_and_entitlements_through_post_put_and_every_patch_form() {
    let (app, api) = catalog_app().await;
    write_catalog(&api).await;
    let created = app
        .post("/Users", &user_with("ada@acme.test", json!({
            "roles": [{"value": "admin", "display": "whatever the IdP thinks"}],
            "entitlements": [{"value": "pro", "type": "License"}, {"value": "pro", "type": "Profile"}]
        })))
        .await;
    let user = expect_json(created, StatusCode::CREATED).await;
    let uid = id_of(&user);
    assert_eq!(user["roles"], json!([{"value": "admin", "display": "Administrator"}]));
    assert_eq!(values(&user, "entitlements"), ["License:pro", "Profile:pro"]);
    let path = format!("/Users/{uid}");

    let patch = |ops: Value| patch_body(ops);
    let steps: Vec<(Value, Vec<&str>, Vec<&str>)> = vec![
        // Okta: add a list.
        (
            patch(json!([{"op": "add", "path": "roles", "value": [{"value": "viewer"}]}])),
            vec!["admin", "viewer"],
            vec!["License:pro", "Profile:pro"],
        ),
        // Remove by a value filter.
        (
            patch(json!([{"op": "remove", "path": "roles[value eq \"admin\"]"}])),
            vec!["viewer"],
            vec!["License:pro", "Profile:pro"],
        ),
        // Entra: remove by a value list, type given.
        (
            patch(
                json!([{"op": "Remove", "path": "entitlements", "value": [{"value": "pro", "type": "Profile"}]}]),
            ),
            vec!["viewer"],
            vec!["License:pro"],
        ),
        // A filter naming the type is evaluated over the user's entitlements.
        (
            patch(
                json!([{"op": "add", "path": "entitlements", "value": [{"value": "basic"}]}, {"op": "remove", "path": "entitlements[type eq \"License\" and value eq \"pro\"]"}]),
            ),
            vec!["viewer"],
            vec!["License:basic"],
        ),
        // Replace a list, then path-less replace of both next to another attribute.
        (
            patch(
                json!([{"op": "replace", "path": "roles", "value": [{"value": "admin"}, {"value": "viewer"}]}]),
            ),
            vec!["admin", "viewer"],
            vec!["License:basic"],
        ),
        (
            patch(
                json!([{"op": "replace", "value": {"displayName": "Ada", "roles": [{"value": "viewer"}], "entitlements": [{"value": "pro", "type": "License"}]}}]),
            ),
            vec!["viewer"],
            vec!["License:pro"],
        ),
        (patch(json!([{"op": "remove", "path": "entitlements"}])), vec!["viewer"], vec![]),
    ];
    let mut version = user["meta"]["version"].as_str().unwrap().to_owned();
    for (body, roles, entitlements) in steps {
        let after = expect_json(app.patch(&path, &body).await, StatusCode::OK).await;
        assert_eq!(values(&after, "roles"), roles, "{body}");
        assert_eq!(values(&after, "entitlements"), entitlements, "{body}");
        let next = after["meta"]["version"].as_str().unwrap().to_owned();
        assert_ne!(next, version, "every change moves the version: {body}");
        version = next;
    }
    let read = expect_json(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(read["displayName"], "Ada");
    // A repeated add changes nothing, not even the version.
    let again = patch(json!([{"op": "add", "path": "roles", "value": [{"value": "viewer"}]}]));
    let same = expect_json(app.patch(&path, &again).await, StatusCode::OK).await;
    assert_eq!(same["meta"]["version"].as_str(), Some(version.as_str()));

    // Okta's PUT carries the whole user: its lists replace the held ones; a list it leaves out
    // is emptied.
    let mut whole = read.clone();
    whole["roles"] = json!([{"value": "admin"}]);
    whole["entitlements"] = json!([{"value": "basic", "type": "License"}]);
    let put = expect_json(app.put(&path, &whole).await, StatusCode::OK).await;
    assert_eq!(
        (values(&put, "roles"), values(&put, "entitlements")),
        (vec!["admin".to_owned()], vec!["License:basic".to_owned()])
    );
    whole.as_object_mut().unwrap().remove("roles");
    let put = expect_json(app.put(&path, &whole).await, StatusCode::OK).await;
    assert!(values(&put, "roles").is_empty(), "{put}");

    // Refusals name the value and change nothing.
    let refusals = [
        (
            json!([{"op": "add", "path": "roles", "value": [{"value": "root"}]}]),
            "role 'root' is not in this tenant's catalog",
        ),
        (
            json!([{"op": "add", "path": "entitlements", "value": [{"value": "pro"}]}]),
            "several types",
        ),
        (
            json!([{"op": "add", "path": "entitlements", "value": [{"value": "pro", "type": "Seat"}]}]),
            "type 'Seat'",
        ),
        (
            json!([{"op": "add", "path": "roles", "value": [{"value": "admin"}]}, {"op": "add", "path": "roles", "value": [{"value": "nope"}]}]),
            "'nope'",
        ),
    ];
    for (ops, expected) in refusals {
        let refused = expect_error(
            app.patch(&path, &patch(ops.clone())).await,
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
        )
        .await;
        assert!(refused["detail"].as_str().unwrap().contains(expected), "{ops}: {refused}");
    }
    let unchanged = expect_json(app.get(&path).await, StatusCode::OK).await;
    assert!(values(&unchanged, "roles").is_empty(), "a refused PATCH is rolled back: {unchanged}");
    let refused = app
        .post("/Users", &user_with("bob@acme.test", json!({"roles": [{"value": "root"}]})))
        .await;
    expect_error(refused, StatusCode::BAD_REQUEST, Some("invalidValue")).await;
    let none = expect_json(
        app.get(&format!("/Users?filter={}", urlencode("userName eq \"bob@acme.test\""))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(none["totalResults"], 0);

    // The vendor's app reads them in the directory API, as it reads groups.
    let api_user = api.json(&format!("/tenants/acme/users/{uid}"), StatusCode::OK).await;
    check_against_openapi(&openapi(), "/api/v1/tenants/{slug}/users/{id}", &api_user);
    assert_eq!(api_user["roles"], json!([]));
    assert_eq!(
        api_user["entitlements"],
        json!([{"type": "License", "id": "basic", "name": "Basic"}])
    );
    assert_eq!(api_user["raw"]["entitlements"][0]["display"], "Basic");

    // Projections leave them out, or keep only them.
    let slim =
        expect_json(app.get(&format!("{path}?attributes=userName")).await, StatusCode::OK).await;
    assert!(slim.get("roles").is_none() && slim.get("entitlements").is_none(), "{slim}");
    let only =
        expect_json(app.get(&format!("{path}?attributes=entitlements")).await, StatusCode::OK)
            .await;
    assert_eq!(values(&only, "entitlements"), ["License:basic"]);
}

#[tokio::test]
async fn filters_on_roles_and_entitlements_run_against_their_rows() {
    let (app, api) = catalog_app().await;
    write_catalog(&api).await;
    let mut ids = Vec::new();
    for (name, roles, entitlements) in [
        ("a@acme.test", json!([{"value": "admin"}]), json!([{"value": "pro", "type": "License"}])),
        (
            "b@acme.test",
            json!([{"value": "viewer"}]),
            json!([{"value": "basic", "type": "License"}]),
        ),
        ("c@acme.test", json!([]), json!([{"value": "pro", "type": "Profile"}])),
    ] {
        let user = user_with(name, json!({"roles": roles, "entitlements": entitlements}));
        ids.push(id_of(&expect_json(app.post("/Users", &user).await, StatusCode::CREATED).await));
    }
    let names = |filter: &'static str| {
        let app = &app;
        async move {
            let page = expect_json(
                app.get(&format!("/Users?filter={}&sortBy=userName", urlencode(filter))).await,
                StatusCode::OK,
            )
            .await;
            page["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["userName"].as_str().unwrap().chars().next().unwrap())
                .collect::<String>()
        }
    };
    assert_eq!(names("roles.value eq \"admin\"").await, "a");
    assert_eq!(names("roles[value eq \"viewer\"]").await, "b");
    assert_eq!(names("roles pr").await, "ab");
    assert_eq!(names("not (roles pr)").await, "c");
    assert_eq!(names("entitlements[value eq \"pro\"]").await, "ac");
    assert_eq!(names("entitlements.value eq \"basic\" or roles.value eq \"admin\"").await, "ab");
    assert_eq!(names("entitlements pr and userName sw \"c\"").await, "c");
    assert_eq!(names("roles.value ne \"admin\"").await, "bc");
    let bad = app.get(&format!("/Users?filter={}", urlencode("roles.display eq \"Viewer\""))).await;
    expect_error(bad, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
    // Another tenant's users never match.
    let globex = app.other_tenant_client("globex");
    let page = expect_json(
        globex.get(&format!("/Users?filter={}", urlencode("roles pr"))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["totalResults"], 0);
}

/// Every grant and revocation is an event in the feed and at the app's webhook, including the
/// revocations a deleted catalog item causes; a bulk replace is one transaction.
#[tokio::test]
async fn grants_and_revocations_are_events_and_deleting_an_item_revokes_it() {
    let (app, api) = catalog_app().await;
    let receiver = Receiver::start();
    let hook =
        NewEndpoint { url: &receiver.url, tenant: None, events: "user.role_*,user.entitlement_*" };
    endpoints::create(&app.db, app.clock.as_ref(), &Actor::Cli, &hook, true).unwrap();
    write_catalog(&api).await;
    let user = user_with(
        "ada@acme.test",
        json!({"roles": [{"value": "admin"}, {"value": "viewer"}], "entitlements": [{"value": "basic", "type": "License"}]}),
    );
    let uid = id_of(&expect_json(app.post("/Users", &user).await, StatusCode::CREATED).await);
    let swap = patch_body(
        json!([{"op": "replace", "path": "entitlements", "value": [{"value": "pro", "type": "License"}]}]),
    );
    expect_json(app.patch(&format!("/Users/{uid}"), &swap).await, StatusCode::OK).await;

    // A bulk replace with one bad item changes nothing.
    let bad = json!({"items": [{"type": "Role", "id": "admin", "name": "Administrator"}, {"type": "Nope", "id": "x", "name": "x"}]});
    let response = api.send(Method::PUT, "/catalog", Some(&bad)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(expect_json(app.get("/Roles").await, StatusCode::OK).await["totalResults"], 2);
    // Deleting the vendor-wide `viewer` revokes it; a tenant's own `pro` license keeps the
    // holders of the vendor-wide one it replaces when that is deleted.
    api.put(
        "/tenants/acme/entitlements/License/pro",
        &json!({"name": "Acme Pro"}),
        StatusCode::CREATED,
    )
    .await;
    let deleted = api.delete("/roles/viewer", StatusCode::OK).await;
    assert_eq!(deleted["revoked_assignments"], 1);
    let replaced = api
        .put(
            "/catalog",
            &json!({"items": [{"type": "Role", "id": "admin", "name": "Admin"}]}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        (replaced["deleted"].as_u64(), replaced["updated"].as_u64()),
        (Some(3), Some(1)),
        "{replaced}"
    );
    assert_eq!(replaced["revoked_assignments"], 0, "the tenant's own pro still stands: {replaced}");
    let now = expect_json(app.get(&format!("/Users/{uid}")).await, StatusCode::OK).await;
    assert_eq!(now["roles"], json!([{"value": "admin", "display": "Admin"}]));
    assert_eq!(
        now["entitlements"],
        json!([{"value": "pro", "display": "Acme Pro", "type": "License"}])
    );
    api.delete("/tenants/acme/entitlements/License/pro", StatusCode::OK).await;
    let after = expect_json(app.get(&format!("/Users/{uid}")).await, StatusCode::OK).await;
    assert_eq!(after["entitlements"], json!([]));
    assert_ne!(after["meta"]["version"], now["meta"]["version"]);

    let expected = [
        ("user.role_granted", "role", "admin"),
        ("user.role_granted", "role", "viewer"),
        ("user.entitlement_granted", "entitlement", "basic"),
        ("user.entitlement_granted", "entitlement", "pro"),
        ("user.entitlement_revoked", "entitlement", "basic"),
        ("user.role_revoked", "role", "viewer"),
        ("user.entitlement_revoked", "entitlement", "pro"),
    ];
    // Events reach the feed once sequenced, just after their commit: long-poll until they are in.
    let mut feed = Value::Null;
    for _ in 0..50 {
        feed = api
            .json("/events?types=user.role_*,user.entitlement_*&limit=100", StatusCode::OK)
            .await;
        if feed["data"].as_array().unwrap().len() >= expected.len() {
            break;
        }
        api.json("/events?after=latest&wait=1", StatusCode::OK).await;
    }
    let seen: Vec<(String, String)> = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let kind = if e["data"]["role"].is_object() { "role" } else { "entitlement" };
            (
                e["type"].as_str().unwrap().to_owned(),
                e["data"][kind]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let wanted: Vec<(String, String)> =
        expected.iter().map(|(t, _, id)| ((*t).to_owned(), (*id).to_owned())).collect();
    assert_eq!(seen, wanted, "{feed:#}");
    let first = &feed["data"][0];
    assert_eq!(first["data"]["user"], json!({"id": uid, "name": "ada Tester"}));
    assert_eq!(first["data"]["role"], json!({"id": "admin", "name": "Administrator"}));
    assert_eq!(
        feed["data"][3]["data"]["entitlement"],
        json!({"type": "License", "id": "pro", "name": "Pro"})
    );

    let delivered = receiver.wait_for(expected.len()).await;
    let types: Vec<String> =
        delivered.iter().map(|r| r.json()["type"].as_str().unwrap().to_owned()).collect();
    let wanted_types: Vec<&str> = expected.iter().map(|(t, _, _)| *t).collect();
    assert_eq!(types, wanted_types);
}

/// Without catalog types, `roles` and `entitlements` stay the free-form values they always were.
#[tokio::test]
async fn without_a_catalog_roles_and_entitlements_are_free_form() {
    let app = spawn_app().await;
    let user = user_with(
        "ada@acme.test",
        json!({"roles": [{"value": "anything", "primary": true}], "entitlements": [{"value": "x"}]}),
    );
    let created = expect_json(app.post("/Users", &user).await, StatusCode::CREATED).await;
    assert_eq!(created["roles"], json!([{"value": "anything", "primary": true}]));
    let types = expect_json(app.get("/ResourceTypes").await, StatusCode::OK).await;
    assert_eq!(types["totalResults"], 2);
    expect_error(app.get("/Roles").await, StatusCode::NOT_FOUND, None).await;
    let page = expect_json(
        app.get(&format!("/Users?filter={}", urlencode("roles.value eq \"anything\""))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["totalResults"], 1);
    let api = app.api_key(None, Some("catalog:write"));
    let answer = api.put("/roles/admin", &json!({"name": "Admin"}), StatusCode::NOT_FOUND).await;
    assert!(answer["error_description"].as_str().unwrap().contains("serves: none"), "{answer}");
}

/// A grant racing the deletion of its item never leaves the user holding a deleted item: either
/// the grant waits and is then revoked, or it finds nothing to grant (PostgreSQL row locks;
/// SQLite writes one at a time).
#[tokio::test]
async fn a_grant_racing_the_deletion_of_its_item_never_outlives_it() {
    let (app, api) = catalog_app().await;
    let uid = id_of(
        &expect_json(app.post("/Users", &okta_user("ada@acme.test")).await, StatusCode::CREATED)
            .await,
    );
    for round in 0..25 {
        let role = format!("r{round}");
        api.put(&format!("/roles/{role}"), &json!({"name": role}), StatusCode::CREATED).await;
        let grant = patch_body(json!([{"op": "add", "path": "roles", "value": [{"value": role}]}]));
        let (path, item) = (format!("/Users/{uid}"), format!("/roles/{role}"));
        let (granted, deleted) =
            tokio::join!(app.patch(&path, &grant), api.send(Method::DELETE, &item, None));
        assert!(
            matches!(granted.status(), StatusCode::OK | StatusCode::BAD_REQUEST),
            "{}",
            granted.status()
        );
        assert_eq!(deleted.status(), StatusCode::OK);
        let held = expect_json(app.get(&path).await, StatusCode::OK).await;
        assert!(!values(&held, "roles").contains(&role), "round {round}: {held}");
        let filter = urlencode(&format!("roles.value eq \"{role}\""));
        let found =
            expect_json(app.get(&format!("/Users?filter={filter}")).await, StatusCode::OK).await;
        assert_eq!(found["totalResults"], 0, "round {round}");
    }
}
