//! Okta's SCIM 2.0 spec-test sequence for users, and what Entra sends differently.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn okta_spec_test_sequence() {
    let app = spawn_app().await;

    // Test connection.
    let page = expect_json(app.get("/Users?startIndex=1&count=2").await, StatusCode::OK).await;
    assert_eq!(page["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
    assert_eq!(
        (page["totalResults"].clone(), page["startIndex"].clone(), page["itemsPerPage"].clone()),
        (json!(0), json!(1), json!(0))
    );
    assert_eq!(page["Resources"], json!([]));

    // Lookup before create: absent → 200 with an empty list.
    let lookup =
        "/Users?filter=userName%20eq%20%22jane.doe%40example.com%22&startIndex=1&count=100";
    let absent = expect_json(app.get(lookup).await, StatusCode::OK).await;
    assert_eq!(absent["totalResults"], json!(0));
    assert_eq!(absent["Resources"], json!([]));

    // Create.
    let response = app.post("/Users", &okta_user("jane.doe@example.com")).await;
    let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
    let etag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
    let user = expect_json(response, StatusCode::CREATED).await;
    let id = id_of(&user);
    assert_eq!(user["userName"], "jane.doe@example.com");
    assert_eq!(user["active"], true);
    assert_eq!(user["name"]["givenName"], "jane.doe");
    assert_eq!(user["emails"][0]["value"], "jane.doe@example.com");
    assert_eq!(user["groups"], json!([]));
    assert!(user.get("password").is_none(), "password must never be returned: {user}");
    assert_eq!(user["meta"]["resourceType"], "User");
    assert_eq!(location.as_deref(), user["meta"]["location"].as_str());
    assert!(location.unwrap().ends_with(&format!("/scim/v2/Users/{id}")));
    assert_eq!(etag.as_deref(), user["meta"]["version"].as_str());

    // Lookup now finds it, case-insensitively.
    let found = expect_json(
        app.get(
            "/Users?filter=userName%20eq%20%22JANE.DOE%40example.com%22&startIndex=1&count=100",
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["totalResults"], json!(1));
    assert_eq!(found["Resources"][0]["id"], json!(id));

    // Read; unknown and malformed ids are 404 in SCIM form.
    let read = expect_json(app.get(&format!("/Users/{id}")).await, StatusCode::OK).await;
    assert_eq!(read["id"], json!(id));
    for missing in ["010101001010101011001010101011", "4b6fbb2e-6f43-4c33-9b4b-3d1d8f4d2a11"] {
        expect_error(app.get(&format!("/Users/{missing}")).await, StatusCode::NOT_FOUND, None)
            .await;
    }

    // Duplicate userName (different case) → 409 uniqueness.
    expect_error(
        app.post("/Users", &okta_user("Jane.Doe@Example.com")).await,
        StatusCode::CONFLICT,
        Some("uniqueness"),
    )
    .await;

    // Profile update: full PUT echoing id, meta and groups.
    let mut updated = read.clone();
    updated["name"]["familyName"] = json!("Smith");
    updated["password"] = json!("placeholder");
    let after_put =
        expect_json(app.put(&format!("/Users/{id}"), &updated).await, StatusCode::OK).await;
    assert_eq!(after_put["name"]["familyName"], "Smith");
    assert_eq!(after_put["id"], json!(id));
    assert_eq!(after_put["meta"]["created"], read["meta"]["created"]);
    assert_ne!(after_put["meta"]["version"], read["meta"]["version"]);
    assert!(after_put.get("password").is_none());

    // Deactivate: no-path replace; later GET is 200 with active false.
    let deactivate = patch_body(json!([{"op": "replace", "value": {"active": false}}]));
    let patched =
        expect_json(app.patch(&format!("/Users/{id}"), &deactivate).await, StatusCode::OK).await;
    assert_eq!(patched["active"], false);
    let after = expect_json(app.get(&format!("/Users/{id}")).await, StatusCode::OK).await;
    assert_eq!(after["active"], false);
    assert_eq!(after["name"]["familyName"], "Smith");
    let inactive =
        expect_json(app.get("/Users?filter=active%20eq%20false").await, StatusCode::OK).await;
    assert_eq!(inactive["totalResults"], json!(1));

    // Reactivate.
    let reactivate = patch_body(json!([{"op": "replace", "value": {"active": true}}]));
    let patched =
        expect_json(app.patch(&format!("/Users/{id}"), &reactivate).await, StatusCode::OK).await;
    assert_eq!(patched["active"], true);
}

#[tokio::test]
async fn paging_is_stable_and_complete() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(id_of(&app.create_user(&format!("user{i}@example.com")).await));
    }
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let page = expect_json(
            app.get(&format!("/Users?startIndex={start}&count=3")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(page["totalResults"], json!(7));
        assert_eq!(page["startIndex"], json!(start));
        let resources = page["Resources"].as_array().unwrap().clone();
        assert_eq!(page["itemsPerPage"], json!(resources.len()));
        if resources.is_empty() {
            break;
        }
        seen.extend(resources.iter().map(id_of));
        start += 3;
    }
    assert_eq!(seen, created, "pages must list every user once, in creation order");
    // count=0 returns only the total; startIndex below 1 means 1.
    let zero = expect_json(app.get("/Users?count=0").await, StatusCode::OK).await;
    assert_eq!((zero["totalResults"].clone(), zero["Resources"].clone()), (json!(7), json!([])));
    let clamped = expect_json(app.get("/Users?startIndex=-4&count=1").await, StatusCode::OK).await;
    assert_eq!(clamped["startIndex"], json!(1));
    assert_eq!(clamped["Resources"][0]["id"], json!(created[0]));
}

#[tokio::test]
async fn filters_run_on_indexed_and_nested_attributes() {
    let app = spawn_app().await;
    let ada = app.create_user("ada@example.com").await;
    let grace = app.create_user("grace@navy.mil").await;
    let cases: &[(&str, &[&Value])] = &[
        ("userName eq \"ADA@example.com\"", &[&ada]),
        ("externalId eq \"00uada\"", &[&ada]),
        ("emails.value eq \"grace@navy.mil\"", &[&grace]),
        ("emails[type eq \"work\" and value co \"navy\"]", &[&grace]),
        ("userName eq \"ada@example.com\" and active eq true", &[&ada]),
        ("userName sw \"gr\" or displayName eq \"ada Tester\"", &[&ada, &grace]),
        ("name.givenName eq \"grace\"", &[&grace]),
        ("not (userName eq \"ada@example.com\")", &[&grace]),
        ("emails[type eq \"home\"]", &[]),
        ("userName ne \"ada@example.com\"", &[&grace]),
        ("meta.created gt \"2000-01-01T00:00:00Z\"", &[&ada, &grace]),
    ];
    for (filter, expected) in cases {
        let path = format!("/Users?filter={}", urlencode(filter));
        let page = expect_json(app.get(&path).await, StatusCode::OK).await;
        let ids: Vec<String> = page["Resources"].as_array().unwrap().iter().map(id_of).collect();
        let want: Vec<String> = expected.iter().map(|u| id_of(u)).collect();
        assert_eq!(ids, want, "{filter}");
        assert_eq!(page["totalResults"], json!(want.len()), "{filter}");
    }
}

#[tokio::test]
async fn projection_and_entra_dialect() {
    let app = spawn_app().await;
    let user = app.create_user("pat@example.com").await;
    let id = id_of(&user);
    let slim =
        expect_json(app.get(&format!("/Users/{id}?attributes=userName")).await, StatusCode::OK)
            .await;
    assert_eq!(slim["userName"], "pat@example.com");
    assert_eq!(slim["id"], json!(id));
    assert!(slim.get("emails").is_none() && slim.get("name").is_none(), "{slim}");
    let without = expect_json(
        app.get(&format!("/Users/{id}?excludedAttributes=emails,groups")).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        without.get("emails").is_none()
            && without.get("groups").is_none()
            && without.get("userName").is_some()
    );

    // Entra: capitalised ops, "False" strings, dotted and URN keys in a no-path value.
    let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let body = patch_body(json!([
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "value": {"name.givenName": "Patricia", format!("{ext}:department"): "R&D"}},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "patricia@example.com"}
    ]));
    let patched =
        expect_json(app.patch(&format!("/Users/{id}"), &body).await, StatusCode::OK).await;
    assert_eq!(patched["active"], false);
    assert_eq!(patched["name"]["givenName"], "Patricia");
    assert_eq!(patched[ext]["department"], "R&D");
    assert_eq!(patched["emails"][0]["value"], "patricia@example.com");
    // The filter index follows the change.
    let filter = urlencode(&format!("{ext}:department eq \"r&d\""));
    let page = expect_json(app.get(&format!("/Users?filter={filter}")).await, StatusCode::OK).await;
    assert_eq!(page["totalResults"], json!(1));
    let old = expect_json(
        app.get(&format!("/Users?filter={}", urlencode("emails.value eq \"pat@example.com\"")))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(old["totalResults"], json!(0));
}

#[tokio::test]
async fn delete_removes_user_and_memberships() {
    let app = spawn_app().await;
    let user = app.create_user("gone@example.com").await;
    let id = id_of(&user);
    let group = app.create_group("Leavers").await;
    let gid = id_of(&group);
    let add = patch_body(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
    expect_json(app.patch(&format!("/Groups/{gid}"), &add).await, StatusCode::OK).await;
    let response = app.delete(&format!("/Users/{id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_error(app.get(&format!("/Users/{id}")).await, StatusCode::NOT_FOUND, None).await;
    expect_error(app.delete(&format!("/Users/{id}")).await, StatusCode::NOT_FOUND, None).await;
    let group = expect_json(app.get(&format!("/Groups/{gid}")).await, StatusCode::OK).await;
    assert_eq!(group["members"], json!([]));
    // The userName is free again.
    app.create_user("gone@example.com").await;
}

#[tokio::test]
async fn concurrent_patches_lose_no_update() {
    let app = std::sync::Arc::new(spawn_app().await);
    let id = id_of(&app.create_user("busy@example.com").await);
    let mut tasks = Vec::new();
    for i in 0..10 {
        let app = app.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let body = patch_body(json!([{"op": "add", "path": "emails", "value": [{"value": format!("alias{i}@example.com"), "type": "other"}]}]));
            app.patch(&format!("/Users/{id}"), &body).await.status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    let user = expect_json(app.get(&format!("/Users/{id}")).await, StatusCode::OK).await;
    let emails = user["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 11, "every concurrent PATCH must survive: {emails:?}");
    assert_eq!(user["meta"]["version"], json!("W/\"11\""));
}

/// Microsoft's reference collection addresses `/scim/v2/users`: endpoint names match without
/// regard to case, as attribute names do; ids keep theirs.
#[tokio::test]
async fn endpoint_names_match_without_regard_to_case() {
    let app = spawn_app().await;
    let created =
        expect_json(app.post("/users", &okta_user("ada@acme.test")).await, StatusCode::CREATED)
            .await;
    let id = id_of(&created);
    let read =
        expect_json(app.get(&format!("/USERS/{id}?attributes=userName")).await, StatusCode::OK)
            .await;
    assert_eq!(read["userName"], "ada@acme.test");
    let listed = expect_json(
        app.get("/Users?filter=userName%20eq%20%22ada@acme.test%22").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["totalResults"], 1);
    let group = json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng"});
    expect_json(app.post("/groups", &group).await, StatusCode::CREATED).await;
    expect_json(app.get("/resourcetypes/user").await, StatusCode::OK).await;
    expect_json(app.get("/serviceproviderconfig").await, StatusCode::OK).await;
    // An id is not an endpoint: its case is its own.
    expect_error(
        app.get(&format!("/users/{}", id.to_uppercase())).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    expect_error(app.get("/userz").await, StatusCode::NOT_FOUND, None).await;
}

/// The index rows of a resource, each with the identity of its stored row (PostgreSQL's `ctid`,
/// SQLite's `rowid`): a row deleted and written again gets a new one.
fn index_rows_of(app: &TestApp, resource_id: &str) -> std::collections::BTreeSet<(String, String)> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        ident: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        element: String,
    }
    let mut conn = app.db.conn().unwrap();
    let ident = match &*conn {
        scimd::db::DbConnection::Postgres(_) => "CAST(ctid AS TEXT)",
        scimd::db::DbConnection::Sqlite(_) => "CAST(rowid AS TEXT)",
    };
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT {ident} AS ident, element FROM resource_values WHERE resource_id = '{resource_id}'"
    ))
    .load(&mut *conn)
    .unwrap();
    rows.into_iter().map(|r| (r.ident, r.element)).collect()
}

#[tokio::test]
async fn a_patch_rewrites_only_the_index_rows_of_what_changed() {
    // Issue 17 item 26: a displayName PATCH of a user with hundreds of emails rewrote every
    // index row of the user.
    let app = spawn_app().await;
    let mut body = okta_user("many@example.com");
    body["emails"] = (0..300)
        .map(|i| json!({"value": format!("alias{i}@example.com"), "type": "other"}))
        .collect();
    let uid = id_of(&expect_json(app.post("/Users", &body).await, StatusCode::CREATED).await);
    // Another resource's rows after these, so a rewritten row cannot take its old rowid again.
    app.create_user("later@example.com").await;
    let before = index_rows_of(&app, &uid);
    assert!(before.len() >= 300, "{}", before.len());

    let rename = patch_body(json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]));
    expect_json(app.patch(&format!("/Users/{uid}"), &rename).await, StatusCode::OK).await;
    let renamed = index_rows_of(&app, &uid);
    let kept = before.intersection(&renamed).count();
    assert_eq!((kept, renamed.len()), (before.len(), before.len()), "no row rewritten by a rename");

    let title = patch_body(json!([{"op": "add", "path": "title", "value": "Engineer"}]));
    expect_json(app.patch(&format!("/Users/{uid}"), &title).await, StatusCode::OK).await;
    let after = index_rows_of(&app, &uid);
    let kept = before.intersection(&after).count();
    assert_eq!(kept, before.len(), "every email row kept");
    assert_eq!(after.len(), before.len() + 1, "one row for the title");

    // The filters still see the index as it now is.
    let filter = urlencode("title eq \"Engineer\" and emails.value eq \"alias299@example.com\"");
    let found =
        expect_json(app.get(&format!("/Users?filter={filter}")).await, StatusCode::OK).await;
    assert_eq!(found["totalResults"], 1, "{found}");
}
