//! Okta's group push sequence and membership semantics.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn okta_group_push_sequence() {
    let app = spawn_app().await;
    let alice = id_of(&app.create_user("alice@example.com").await);
    let bob = id_of(&app.create_user("bob@example.com").await);
    let carol = id_of(&app.create_user("carol@example.com").await);

    // Create, then find by displayName.
    let group = app.create_group("Engineering").await;
    let gid = id_of(&group);
    assert_eq!(group["members"], json!([]));
    assert_eq!(group["meta"]["resourceType"], "Group");
    let found = expect_json(
        app.get(&format!("/Groups?filter={}", urlencode("displayName eq \"engineering\""))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["totalResults"], json!(1));
    assert_eq!(found["Resources"][0]["id"], json!(gid));
    // Same name again → 409.
    expect_error(
        app.post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": "ENGINEERING"}))
            .await,
        StatusCode::CONFLICT,
        Some("uniqueness"),
    )
    .await;

    // Every push starts with a no-path replace of id + displayName.
    let rename = patch_body(
        json!([{"op": "replace", "value": {"id": gid, "displayName": "Engineering Team"}}]),
    );
    let renamed =
        expect_json(app.patch(&format!("/Groups/{gid}"), &rename).await, StatusCode::OK).await;
    assert_eq!(renamed["displayName"], "Engineering Team");

    // Add members.
    let add = patch_body(json!([{"op": "add", "path": "members", "value": [
        {"value": alice, "display": "alice@example.com"}, {"value": bob, "display": "bob@example.com"}]}]));
    let with_members =
        expect_json(app.patch(&format!("/Groups/{gid}"), &add).await, StatusCode::OK).await;
    let members: Vec<&str> = with_members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![alice.as_str(), bob.as_str()]);
    assert_eq!(with_members["members"][0]["type"], "User");
    // `display` is returned on request only, so members read back as they were sent.
    assert!(with_members["members"][0].get("display").is_none(), "{with_members}");
    let named = expect_json(
        app.get(&format!("/Groups/{gid}?attributes=members.value,members.display")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(named["members"][0]["display"], "alice Tester");
    // Adding again is idempotent.
    expect_json(app.patch(&format!("/Groups/{gid}"), &add).await, StatusCode::OK).await;

    // The user shows its group.
    let alice_read = expect_json(app.get(&format!("/Users/{alice}")).await, StatusCode::OK).await;
    assert_eq!(alice_read["groups"][0]["value"], json!(gid));
    assert_eq!(alice_read["groups"][0]["display"], "Engineering Team");

    // Remove one by filter.
    let remove =
        patch_body(json!([{"op": "remove", "path": format!("members[value eq \"{alice}\"]")}]));
    let after_remove =
        expect_json(app.patch(&format!("/Groups/{gid}"), &remove).await, StatusCode::OK).await;
    assert_eq!(after_remove["members"].as_array().unwrap().len(), 1);
    assert_eq!(after_remove["members"][0]["value"], json!(bob));

    // Replace the whole list.
    let replace = patch_body(
        json!([{"op": "replace", "path": "members", "value": [{"value": carol}, {"value": alice}]}]),
    );
    let replaced =
        expect_json(app.patch(&format!("/Groups/{gid}"), &replace).await, StatusCode::OK).await;
    let mut members: Vec<String> = replaced["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    members.sort();
    let mut want = vec![carol.clone(), alice.clone()];
    want.sort();
    assert_eq!(members, want);

    // Entra: remove with a value array; membership probe filter.
    let entra_remove =
        patch_body(json!([{"op": "Remove", "path": "members", "value": [{"value": carol}]}]));
    expect_json(app.patch(&format!("/Groups/{gid}"), &entra_remove).await, StatusCode::OK).await;
    let probe = urlencode(&format!("id eq \"{gid}\" and members[value eq \"{alice}\"]"));
    let hit = expect_json(
        app.get(&format!("/Groups?filter={probe}&excludedAttributes=members")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(hit["totalResults"], json!(1));
    assert!(hit["Resources"][0].get("members").is_none());
    let probe = urlencode(&format!("id eq \"{gid}\" and members[value eq \"{carol}\"]"));
    let miss = expect_json(app.get(&format!("/Groups?filter={probe}")).await, StatusCode::OK).await;
    assert_eq!(miss["totalResults"], json!(0));

    // Reads without members; the list view too.
    let slim = expect_json(
        app.get(&format!("/Groups/{gid}?excludedAttributes=members")).await,
        StatusCode::OK,
    )
    .await;
    assert!(slim.get("members").is_none() && slim["displayName"] == "Engineering Team");

    // Delete.
    assert_eq!(app.delete(&format!("/Groups/{gid}")).await.status(), StatusCode::NO_CONTENT);
    expect_error(app.get(&format!("/Groups/{gid}")).await, StatusCode::NOT_FOUND, None).await;
    let alice_read = expect_json(app.get(&format!("/Users/{alice}")).await, StatusCode::OK).await;
    assert_eq!(alice_read["groups"], json!([]));
}

#[tokio::test]
async fn put_replaces_members_and_unknown_members_are_refused() {
    let app = spawn_app().await;
    let u1 = id_of(&app.create_user("u1@example.com").await);
    let u2 = id_of(&app.create_user("u2@example.com").await);
    let created = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Ops", "members": [{"value": u1}]}),
        )
        .await;
    let group = expect_json(created, StatusCode::CREATED).await;
    let gid = id_of(&group);
    assert_eq!(group["members"][0]["value"], json!(u1));

    // App-wizard style PUT with the full member list.
    let mut body = group.clone();
    body["members"] = json!([{"value": u2, "display": "u2"}]);
    let put = expect_json(app.put(&format!("/Groups/{gid}"), &body).await, StatusCode::OK).await;
    assert_eq!(put["members"].as_array().unwrap().len(), 1);
    assert_eq!(put["members"][0]["value"], json!(u2));

    // A member that is not a user of this tenant: 400 and nothing changes.
    let bad = patch_body(json!([
        {"op": "replace", "value": {"displayName": "Ops renamed"}},
        {"op": "add", "path": "members", "value": [{"value": "no-such-user"}]}
    ]));
    expect_error(
        app.patch(&format!("/Groups/{gid}"), &bad).await,
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    )
    .await;
    let unchanged = expect_json(app.get(&format!("/Groups/{gid}")).await, StatusCode::OK).await;
    assert_eq!(unchanged["displayName"], "Ops");
    assert_eq!(unchanged["meta"]["version"], put["meta"]["version"]);
}

#[tokio::test]
async fn group_patch_can_answer_without_a_body() {
    let app = spawn_app_with(|s| s.group_patch_no_content = true).await;
    let gid = id_of(&app.create_group("Quiet").await);
    let uid = id_of(&app.create_user("q@example.com").await);
    let add = patch_body(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    let response = app.patch(&format!("/Groups/{gid}"), &add).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers()["etag"], "W/\"2\"");
    assert!(response.text().await.unwrap().is_empty());
    let group = expect_json(app.get(&format!("/Groups/{gid}")).await, StatusCode::OK).await;
    assert_eq!(group["members"][0]["value"], json!(uid));
    // Users still get the resource back.
    let deactivate = patch_body(json!([{"op": "replace", "path": "active", "value": false}]));
    let user =
        expect_json(app.patch(&format!("/Users/{uid}"), &deactivate).await, StatusCode::OK).await;
    assert_eq!(user["active"], false);
}

/// Memberships whose member row is gone (a user or group deleted while it was being added).
fn dangling_memberships(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.db.conn().unwrap();
    diesel::sql_query(
        "SELECT COUNT(*) AS n FROM group_members m \
         WHERE NOT EXISTS (SELECT 1 FROM scim_users u WHERE u.id = m.member_id) \
         AND NOT EXISTS (SELECT 1 FROM scim_groups g WHERE g.id = m.member_id)",
    )
    .get_result::<Count>(&mut *conn)
    .unwrap()
    .n
}

#[tokio::test]
async fn deleting_a_user_while_it_is_added_to_a_group_leaves_no_dangling_membership() {
    // Issue 17 item 25: on PostgreSQL the add checked the member with an unlocked read and the
    // delete read memberships before the add committed, so most races left a row behind.
    let app = spawn_app_with(|s| s.db_pool_size = 8).await;
    let gid = id_of(&app.create_group("Racers").await);
    let rounds = 60;
    let mut deleted = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let uid = id_of(&app.create_user(&format!("racer{round}@example.com")).await);
        let add = patch_body(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
        let group_path = format!("/Groups/{gid}");
        let user_path = format!("/Users/{uid}");
        let (patched, removed) = tokio::join!(app.patch(&group_path, &add), app.delete(&user_path));
        assert_eq!(removed.status(), StatusCode::NO_CONTENT, "round {round}");
        // Either the add came first (and the delete took the membership with it) or the user
        // was already gone: a 400 naming the missing member. Never a 500.
        let status = patched.status();
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "round {round}: PATCH answered {status}: {}",
            patched.text().await.unwrap_or_default()
        );
        deleted.push(uid);
    }
    assert_eq!(dangling_memberships(&app), 0);
    let group = expect_json(app.get(&format!("/Groups/{gid}")).await, StatusCode::OK).await;
    assert!(
        group.get("members").is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{group}"
    );
    for uid in &deleted {
        let filter = urlencode(&format!("members.value eq \"{uid}\""));
        let found =
            expect_json(app.get(&format!("/Groups?filter={filter}")).await, StatusCode::OK).await;
        assert_eq!(found["totalResults"], 0, "{uid} still matches: {found}");
    }
}

#[tokio::test]
async fn the_schema_refuses_a_membership_of_a_missing_member() {
    // The foreign keys make a dangling membership impossible whatever the code does.
    use diesel::prelude::*;
    let app = spawn_app().await;
    let gid = id_of(&app.create_group("Keyed").await);
    let uid = id_of(&app.create_user("keyed@example.com").await);
    let slug = app.tenant.clone();
    let mut conn = app.db.conn().unwrap();
    let insert = |conn: &mut scimd::db::DbConnection, member: &str, kind: &str| {
        diesel::sql_query(format!(
            "INSERT INTO group_members (group_id, member_id, tenant_id, member_type, \
             member_user_id, member_group_id) SELECT '{gid}', '{member}', id, '{kind}', {}, {} FROM tenants \
             WHERE slug = '{slug}'",
            if kind == "User" { format!("'{member}'") } else { "NULL".into() },
            if kind == "Group" { format!("'{member}'") } else { "NULL".into() },
        ))
        .execute(conn)
    };
    assert!(insert(&mut conn, "no-such-user", "User").is_err());
    assert!(insert(&mut conn, "no-such-group", "Group").is_err());
    insert(&mut conn, &uid, "User").expect("a real member is accepted");
    drop(conn);
    // Deleting the user row takes its membership with it, even outside the service.
    let mut conn = app.db.conn().unwrap();
    diesel::sql_query(format!("DELETE FROM scim_users WHERE id = '{uid}'"))
        .execute(&mut *conn)
        .unwrap();
    drop(conn);
    assert_eq!(dangling_memberships(&app), 0);
}
