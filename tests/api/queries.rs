//! Sorting, typed filters, POST /.search, custom extension schemas and ETag preconditions, over
//! HTTP against the real server.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// A user carrying the Acme extension; `None` leaves an attribute out.
fn acme_user(user_name: &str, family: Option<&str>, badge: i64, hired: &str, cost: &str) -> Value {
    let mut user = json!({
        "schemas": [USER_SCHEMA, ACME_EXTENSION],
        "userName": user_name,
        ACME_EXTENSION: {"badgeNumber": badge, "hireDate": hired, "costCode": cost,
                         "desk": {"building": "HQ", "floor": badge % 3}}
    });
    if let Some(family) = family {
        user["name"] = json!({"familyName": family});
    }
    user
}

fn user_names(page: &Value) -> Vec<String> {
    page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect()
}

async fn list(app: &TestApp, query: &str) -> Value {
    expect_json(app.get(&format!("/Users?{query}")).await, StatusCode::OK).await
}

async fn seed(app: &TestApp) {
    for user in [
        acme_user("carol", Some("Young"), 10, "2024-03-01T09:00:00Z", "AB-1"),
        acme_user("alice", Some("Zimmer"), 9, "2026-02-01T09:00:00+01:00", "ab-1"),
        acme_user("bob", None, 100, "2025-12-31T23:59:59Z", "CD-2"),
    ] {
        expect_json(app.post("/Users", &user).await, StatusCode::CREATED).await;
    }
}

#[tokio::test]
async fn sort_by_columns_indexed_values_and_numbers() {
    let app = spawn_app().await;
    seed(&app).await;
    let badge = format!("{ACME_EXTENSION}:badgeNumber");
    let cases = [
        ("sortBy=userName", vec!["alice", "bob", "carol"]),
        ("sortBy=USERNAME&sortOrder=descending", vec!["carol", "bob", "alice"]),
        // No family name: last when ascending, first when descending (RFC 7644 §3.4.2.3).
        ("sortBy=name.familyName", vec!["carol", "alice", "bob"]),
        ("sortBy=name.familyName&sortOrder=descending", vec!["bob", "alice", "carol"]),
        // Numbers sort as numbers (as text, "10" < "100" < "9").
        (&format!("sortBy={}", urlencode(&badge)), vec!["alice", "carol", "bob"]),
        ("sortOrder=descending", vec!["carol", "alice", "bob"]),
    ];
    for (query, expected) in cases {
        assert_eq!(user_names(&list(&app, query).await), expected, "{query}");
    }
    // Paging through a sorted list.
    let second = list(&app, "sortBy=userName&startIndex=2&count=1").await;
    assert_eq!(
        (user_names(&second), second["totalResults"].clone()),
        (vec!["bob".into()], json!(3))
    );
    for bad in [
        "sortBy=userName&sortOrder=sideways",
        "sortBy=emails%5Btype%20eq%20%22w%22%5D",
        "sortBy=groups",
    ] {
        expect_error(
            app.get(&format!("/Users?{bad}")).await,
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
        )
        .await;
    }
}

#[tokio::test]
async fn filters_compare_by_type_and_case_exactness() {
    let app = spawn_app().await;
    seed(&app).await;
    let ext = ACME_EXTENSION;
    let cases = [
        (format!("{ext}:badgeNumber gt 9"), vec!["carol", "bob"]),
        (format!("{ext}:badgeNumber le 10"), vec!["carol", "alice"]),
        (format!("{ext}:badgeNumber eq 100"), vec!["bob"]),
        // Offsets are honoured: 09:00+01:00 is 08:00Z.
        (format!("{ext}:hireDate ge \"2025-12-31T23:59:59Z\""), vec!["alice", "bob"]),
        (
            format!(
                "{ext}:hireDate lt \"2026-02-01T08:00:01Z\" and {ext}:hireDate gt \"2026-01-01T00:00:00Z\""
            ),
            vec!["alice"],
        ),
        // caseExact: only the exact spelling matches, for eq and for co/sw.
        (format!("{ext}:costCode eq \"AB-1\""), vec!["carol"]),
        (format!("{ext}:costCode sw \"ab\""), vec!["alice"]),
        (format!("{ext}:costCode co \"D-\""), vec!["bob"]),
        // A complex extension attribute's sub-attribute, numeric.
        (format!("{ext}:desk.floor eq 0"), vec!["alice"]),
        // Not caseExact: any spelling matches.
        ("userName eq \"ALICE\"".to_owned(), vec!["alice"]),
        ("meta.lastModified gt \"2000-01-01T00:00:00Z\" and not (name pr)".to_owned(), vec!["bob"]),
    ];
    for (filter, expected) in cases {
        let page = list(&app, &format!("filter={}", urlencode(&filter))).await;
        assert_eq!(user_names(&page), expected, "{filter}");
    }
    for bad in [
        format!("{ext}:badgeNumber co \"1\""),
        format!("{ext}:badgeNumber gt \"9\""),
        format!("{ext}:hireDate gt \"yesterday\""),
        format!("{ext}:hireDate sw \"2026\""),
    ] {
        let response = app.get(&format!("/Users?filter={}", urlencode(&bad))).await;
        expect_error(response, StatusCode::BAD_REQUEST, Some("invalidFilter")).await;
    }
}

#[tokio::test]
async fn custom_extension_is_validated_on_write() {
    let app = spawn_app().await;
    let mut user = acme_user("dave", None, 1, "2026-01-01T00:00:00Z", "X");
    user[ACME_EXTENSION]["employeeId"] = json!("E-1");
    let created = expect_json(app.post("/Users", &user).await, StatusCode::CREATED).await;
    assert_eq!(created[ACME_EXTENSION]["badgeNumber"], json!(1));
    assert_eq!(created[ACME_EXTENSION]["employeeId"], "E-1");
    let id = id_of(&created);

    let mut wrong_type = acme_user("erin", None, 1, "2026-01-01T00:00:00Z", "X");
    wrong_type[ACME_EXTENSION]["badgeNumber"] = json!("one");
    let response = app.post("/Users", &wrong_type).await;
    expect_error(response, StatusCode::BAD_REQUEST, Some("invalidValue")).await;

    // immutable: may be set once, never changed.
    let change = patch_body(json!([
        {"op": "replace", "path": format!("{ACME_EXTENSION}:employeeId"), "value": "E-2"}
    ]));
    let response = app.patch(&format!("/Users/{id}"), &change).await;
    expect_error(response, StatusCode::BAD_REQUEST, Some("mutability")).await;

    // PATCH through the URN path; the filter index follows.
    let promote = patch_body(json!([
        {"op": "replace", "path": format!("{ACME_EXTENSION}:badgeNumber"), "value": 77}
    ]));
    let patched =
        expect_json(app.patch(&format!("/Users/{id}"), &promote).await, StatusCode::OK).await;
    assert_eq!(patched[ACME_EXTENSION]["badgeNumber"], json!(77));
    let filter = urlencode(&format!("{ACME_EXTENSION}:badgeNumber gt 50"));
    assert_eq!(user_names(&list(&app, &format!("filter={filter}")).await), vec!["dave"]);
}

#[tokio::test]
async fn post_search_matches_get_and_spans_resource_types_at_the_root() {
    let app = spawn_app().await;
    seed(&app).await;
    app.create_group("Engineering").await;
    app.create_group("Sales").await;
    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName ne \"bob\"",
        "sortBy": "userName",
        "sortOrder": "descending",
        "attributes": ["userName"],
        "startIndex": 1,
        "count": 10
    });
    let page = expect_json(app.post("/Users/.search", &search).await, StatusCode::OK).await;
    assert_eq!(user_names(&page), vec!["carol", "alice"]);
    assert!(page["Resources"][0].get(ACME_EXTENSION).is_none(), "attributes honoured");
    let get = list(
        &app,
        &format!(
            "filter={}&sortBy=userName&sortOrder=descending",
            urlencode("userName ne \"bob\"")
        ),
    )
    .await;
    assert_eq!(user_names(&get), user_names(&page));

    // The root: three users then two groups, paged as one list.
    let all = |start: u64, count: u64| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
               "startIndex": start, "count": count})
    };
    let first = expect_json(app.post("/.search", &all(1, 4)).await, StatusCode::OK).await;
    assert_eq!(first["totalResults"], json!(5));
    let kinds: Vec<&str> = first["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["User", "User", "User", "Group"]);
    let rest = expect_json(app.post("/.search", &all(5, 4)).await, StatusCode::OK).await;
    assert_eq!(rest["Resources"][0]["displayName"], "Sales");
    assert_eq!((rest["startIndex"].clone(), rest["itemsPerPage"].clone()), (json!(5), json!(1)));
    let groups = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": "displayName sw \"eng\""});
    let found = expect_json(app.post("/.search", &groups).await, StatusCode::OK).await;
    assert_eq!(found["totalResults"], json!(1));

    let unsigned = json!({"filter": "userName pr"});
    expect_error(
        app.post("/Users/.search", &unsigned).await,
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    )
    .await;
    let bad_filter = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq"});
    expect_error(
        app.post("/Users/.search", &bad_filter).await,
        StatusCode::BAD_REQUEST,
        Some("invalidFilter"),
    )
    .await;
    let get_search = app.get("/Users/.search").await;
    assert_eq!(get_search.status(), StatusCode::METHOD_NOT_ALLOWED);
}

async fn send_with(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    header: (&str, &str),
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app.static_token_client().request(method, path).header(header.0, header.1);
    if let Some(body) = body {
        request = request.header("Content-Type", SCIM_JSON).body(body.to_string());
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn etags_guard_writes_and_spare_unchanged_reads() {
    let app = spawn_app().await;
    let created = app.post("/Users", &okta_user("vic@example.com")).await;
    assert_eq!(created.headers()["etag"], "W/\"1\"");
    let user = expect_json(created, StatusCode::CREATED).await;
    let id = id_of(&user);
    let path = format!("/Users/{id}");
    assert_eq!(user["meta"]["version"], "W/\"1\"");

    let fresh =
        send_with(&app, reqwest::Method::GET, &path, ("If-None-Match", "W/\"1\""), None).await;
    assert_eq!(fresh.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(fresh.headers()["etag"], "W/\"1\"");
    assert!(fresh.text().await.unwrap().is_empty());
    let other =
        send_with(&app, reqwest::Method::GET, &path, ("If-None-Match", "W/\"7\""), None).await;
    assert_eq!(other.status(), StatusCode::OK);

    let mut replacement = okta_user("vic@example.com");
    replacement["displayName"] = json!("Victor");
    let put =
        send_with(&app, reqwest::Method::PUT, &path, ("If-Match", "W/\"1\""), Some(&replacement))
            .await;
    assert_eq!(put.headers()["etag"], "W/\"2\"");
    expect_json(put, StatusCode::OK).await;

    // The same stale tag again: 412, and nothing changes.
    replacement["displayName"] = json!("Stale");
    let stale =
        send_with(&app, reqwest::Method::PUT, &path, ("If-Match", "W/\"1\""), Some(&replacement))
            .await;
    expect_error(stale, StatusCode::PRECONDITION_FAILED, None).await;
    let deactivate = patch_body(json!([{"op": "replace", "path": "active", "value": false}]));
    let stale =
        send_with(&app, reqwest::Method::PATCH, &path, ("If-Match", "\"1\""), Some(&deactivate))
            .await;
    expect_error(stale, StatusCode::PRECONDITION_FAILED, None).await;
    let stale =
        send_with(&app, reqwest::Method::DELETE, &path, ("If-Match", "W/\"1\""), None).await;
    expect_error(stale, StatusCode::PRECONDITION_FAILED, None).await;
    let current = expect_json(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(
        (current["displayName"].clone(), current["active"].clone()),
        (json!("Victor"), json!(true))
    );

    let malformed =
        send_with(&app, reqwest::Method::PATCH, &path, ("If-Match", "2"), Some(&deactivate)).await;
    expect_error(malformed, StatusCode::BAD_REQUEST, None).await;
    let any =
        send_with(&app, reqwest::Method::PATCH, &path, ("If-Match", "*"), Some(&deactivate)).await;
    assert_eq!(any.headers()["etag"], "W/\"3\"");
    let gone =
        send_with(&app, reqwest::Method::DELETE, &path, ("If-Match", "W/\"2\", W/\"3\""), None)
            .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);

    // Groups: a member change is a new version too.
    let group = app.create_group("Guarded").await;
    let gpath = format!("/Groups/{}", id_of(&group));
    let member = app.create_user("m@example.com").await;
    let add =
        patch_body(json!([{"op": "add", "path": "members", "value": [{"value": id_of(&member)}]}]));
    let added =
        send_with(&app, reqwest::Method::PATCH, &gpath, ("If-Match", "W/\"1\""), Some(&add)).await;
    assert_eq!(added.status(), StatusCode::OK);
    let tag = added.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(tag, "W/\"1\"");
    let stale =
        send_with(&app, reqwest::Method::PATCH, &gpath, ("If-Match", "W/\"1\""), Some(&add)).await;
    expect_error(stale, StatusCode::PRECONDITION_FAILED, None).await;
    let same = send_with(&app, reqwest::Method::GET, &gpath, ("If-None-Match", &tag), None).await;
    assert_eq!(same.status(), StatusCode::NOT_MODIFIED);
    // Prefer: return=minimal gets 204 and the new version, no body.
    let remove = patch_body(
        json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", id_of(&member))}]),
    );
    let minimal = send_with(
        &app,
        reqwest::Method::PATCH,
        &gpath,
        ("Prefer", "return=minimal"),
        Some(&remove),
    )
    .await;
    assert_eq!(minimal.status(), StatusCode::NO_CONTENT);
    let tag = minimal.headers()["etag"].to_str().unwrap().to_owned();
    let readd =
        send_with(&app, reqwest::Method::PATCH, &gpath, ("If-Match", &tag), Some(&add)).await;
    let tag = readd.headers()["etag"].to_str().unwrap().to_owned();
    expect_json(readd, StatusCode::OK).await;
    // Deleting the member changes the group's member list, hence its version.
    let deleted = app.delete(&format!("/Users/{}", id_of(&member))).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let changed =
        send_with(&app, reqwest::Method::GET, &gpath, ("If-None-Match", &tag), None).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let group = expect_json(changed, StatusCode::OK).await;
    assert!(group.get("members").is_none_or(|m| m == &json!([])), "{group}");
}

#[tokio::test]
async fn entra_manager_string_and_boolean_strings() {
    let app = spawn_app().await;
    let boss = id_of(&app.create_user("boss@example.com").await);
    let id = id_of(&app.create_user("worker@example.com").await);
    let body = patch_body(json!([
        {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": boss},
        {"op": "Replace", "path": "active", "value": "False"}
    ]));
    let patched =
        expect_json(app.patch(&format!("/Users/{id}"), &body).await, StatusCode::OK).await;
    assert_eq!(patched[ENTERPRISE]["manager"]["value"], json!(boss));
    assert_eq!(patched["active"], false);
    let filter = urlencode(&format!("{ENTERPRISE}:manager.value eq \"{boss}\""));
    assert_eq!(
        user_names(&list(&app, &format!("filter={filter}")).await),
        vec!["worker@example.com"]
    );
    let reactivate = patch_body(json!([{"op": "Replace", "value": {"active": "True"}}]));
    let patched =
        expect_json(app.patch(&format!("/Users/{id}"), &reactivate).await, StatusCode::OK).await;
    assert_eq!(patched["active"], true);
    let active = list(&app, &format!("filter={}", urlencode("active eq true"))).await;
    assert_eq!(active["totalResults"], json!(2));
}

/// Okta's full import pages with `startIndex`; a page that follows this node's previous one
/// starts where it ended (a keyset step), and any write through the node in between makes the
/// next page an offset again: what the pages say matches the tenant as it is.
#[tokio::test]
async fn an_import_pages_through_every_user_once_and_sees_every_write() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for n in 0..7 {
        let user = json!({"schemas": [USER_SCHEMA], "userName": format!("u{n}")});
        let created = expect_json(app.post("/Users", &user).await, StatusCode::CREATED).await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let page = |start: u64| list_owned(&app, start);
    // Twice: the second import's pages after the first can follow the hints.
    for _ in 0..2 {
        let mut seen = Vec::new();
        for start in [1, 3, 5, 7] {
            let got = page(start).await;
            assert_eq!(got["totalResults"], 7);
            seen.extend(user_names(&got));
        }
        assert_eq!(seen, ["u0", "u1", "u2", "u3", "u4", "u5", "u6"]);
    }
    // Page 1 ends at u1; u0 goes; the page at startIndex 3 is the third user now, not u2.
    assert_eq!(user_names(&page(1).await), ["u0", "u1"]);
    let gone = app.delete(&format!("/Users/{}", ids[0])).await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let third = page(3).await;
    assert_eq!(
        (user_names(&third), third["totalResults"].clone()),
        (vec!["u3".into(), "u4".into()], json!(6))
    );
    // A user created after a page is in the next page's count.
    let user = json!({"schemas": [USER_SCHEMA], "userName": "u7"});
    expect_json(app.post("/Users", &user).await, StatusCode::CREATED).await;
    let last = page(5).await;
    assert_eq!(
        (user_names(&last), last["totalResults"].clone()),
        (vec!["u5".into(), "u6".into()], json!(7))
    );
    assert_eq!(user_names(&page(7).await), ["u7"]);
}

async fn list_owned(app: &TestApp, start: u64) -> Value {
    list(app, &format!("startIndex={start}&count=2")).await
}
