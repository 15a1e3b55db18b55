//! The request inspector: every SCIM request of a tenant recorded off the request path, with
//! secrets removed from both bodies, the credential of each write, and retention by count and
//! age; operators read any tenant's, a tenant admin only their own.

use std::time::Duration;

use reqwest::StatusCode;
use scimd::audit::Actor;
use scimd::db::StoreError;
use scimd::db::repo::request_log::{self, RequestRow};
use scimd::service::accounts::tenant_admins;
use scimd::service::operations::inspector::{Retention, apply_retention};
use serde_json::{Value, json};

use crate::support::okta;
use crate::support::*;

/// The tenant's recorded requests, oldest first, once at least `n` are written (the writer
/// flushes every half second).
async fn recorded(app: &TestApp, n: usize) -> Vec<RequestRow> {
    for _ in 0..100 {
        let rows =
            app.db.read(|conn| Ok::<_, StoreError>(request_log::oldest(conn, 10_000)?)).unwrap();
        if rows.len() >= n {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} requests were recorded");
}

#[tokio::test]
async fn requests_are_recorded_with_secrets_removed_and_the_credential_of_each_write() {
    let app = spawn_app().await;
    let mut user = okta_user("ada@acme.test");
    user["password"] = json!("hunter2-secret");
    let created = expect_json(app.post("/Users", &user).await, StatusCode::CREATED).await;
    let id = id_of(&created);
    let reset = patch_body(json!([{"op": "replace", "path": "password", "value": "n3w-secret"}]));
    expect_json(app.patch(&format!("/Users/{id}"), &reset).await, StatusCode::OK).await;
    expect_error(
        app.post("/Users", &okta_user("ada@acme.test")).await,
        StatusCode::CONFLICT,
        Some("uniqueness"),
    )
    .await;
    let stranger = app.bearer_client("scimd_st_not-a-real-token");
    assert_eq!(stranger.get("/Users").await.status(), StatusCode::UNAUTHORIZED);

    let rows = recorded(&app, 3).await;
    assert_eq!(rows.len(), 3, "an unknown credential names no tenant: not recorded");
    let everything = serde_json::to_string(
        &rows.iter().map(|r| (&r.request_body, &r.response_body)).collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(
        !everything.contains("hunter2-secret") && !everything.contains("n3w-secret"),
        "{everything}"
    );
    let create = &rows[0];
    assert_eq!(
        (create.method.as_str(), create.path.as_str(), create.status),
        ("POST", "/scim/v2/Users", 201)
    );
    assert_eq!(create.client, "okta");
    assert!(create.credential.as_deref().is_some_and(|c| c.starts_with("st:")), "{create:?}");
    let body: Value = serde_json::from_str(create.request_body.as_deref().unwrap()).unwrap();
    assert_eq!(
        (body["userName"].as_str(), body["password"].as_str()),
        (Some("ada@acme.test"), Some("[redacted]"))
    );
    assert!(create.response_body.as_deref().unwrap().contains(&id));
    assert!(!create.request_id.is_empty());
    let conflict = &rows[2];
    assert_eq!((conflict.status, conflict.scim_type.as_deref()), (409, Some("uniqueness")));
    assert!(conflict.detail.as_deref().unwrap().contains("ada@acme.test"));

    // The console shows them, filtered, and one with both bodies.
    create_operator(&app);
    let operator = app.operator().await;
    let page = operator.page("/admin/tenants/acme/requests?status=4xx", StatusCode::OK).await;
    assert!(page.contains("409") && !page.contains(">201<"), "only the failure");
    let page = operator
        .page("/admin/tenants/acme/requests?method=patch&client=okta", StatusCode::OK)
        .await;
    assert!(page.contains("PATCH /scim/v2/Users/") && !page.contains("POST /scim/v2/Users"));
    let one = operator
        .page(&format!("/admin/tenants/acme/requests/{}", create.seq), StatusCode::OK)
        .await;
    assert!(one.contains("[redacted]") && one.contains("request-body") && one.contains(&id));
    let bad = operator.page("/admin/tenants/acme/requests?since=yesterday", StatusCode::OK).await;
    assert!(bad.contains("RFC 3339"));

    // A tenant admin sees their own tenant's log and no other.
    let globex = app.other_tenant_client("globex");
    expect_json(globex.post("/Users", &okta_user("zed@globex.test")).await, StatusCode::CREATED)
        .await;
    recorded(&app, 4).await;
    tenant_admins::create(
        &app.db,
        app.clock.as_ref(),
        &Actor::Cli,
        "acme",
        okta::ADMIN_EMAIL,
        okta::ADMIN_PASSWORD,
    )
    .unwrap();
    let admin = app.tenant_admin(okta::ADMIN_EMAIL, okta::ADMIN_PASSWORD).await;
    let own = admin.page("/account/requests", StatusCode::OK).await;
    assert!(own.contains("POST /scim/v2/Users") && !own.contains("zed@globex"));
    let globex_row =
        recorded(&app, 4).await.into_iter().find(|r| r.tenant_id != rows[0].tenant_id).unwrap();
    admin.page(&format!("/account/requests/{}", globex_row.seq), StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn the_log_keeps_at_most_its_count_per_tenant_and_nothing_older_than_its_age() {
    let (app, clock) = spawn_app_manual(|_| {}).await;
    for n in 0..5 {
        expect_json(
            app.post("/Users", &okta_user(&format!("u{n}@acme.test"))).await,
            StatusCode::CREATED,
        )
        .await;
    }
    let before = recorded(&app, 5).await;
    let week = 7 * 86_400_000;
    let pruned = apply_retention(
        &app.db,
        clock.as_ref(),
        Retention { max_age_ms: week, max_per_tenant: 3 },
        None,
    )
    .unwrap();
    assert_eq!(pruned, 2);
    let kept = recorded(&app, 3).await;
    let seqs: Vec<i64> = kept.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, before[2..].iter().map(|r| r.seq).collect::<Vec<_>>(), "the newest stay");
    clock.advance(week + 1);
    apply_retention(
        &app.db,
        clock.as_ref(),
        Retention { max_age_ms: week, max_per_tenant: 3 },
        None,
    )
    .unwrap();
    let left = app.db.read(|conn| Ok::<_, StoreError>(request_log::count(conn)?)).unwrap();
    assert_eq!(left, 0);
}

/// A write's detail page says what it changed, from the events the write recorded: the
/// attributes of an update, the members a group PATCH added, nothing for a repeated PUT, and
/// no such section for a read or a failure.
#[tokio::test]
async fn a_requests_detail_says_what_the_write_changed() {
    let app = spawn_app().await;
    let user =
        expect_json(app.post("/Users", &okta_user("ada@acme.test")).await, StatusCode::CREATED)
            .await;
    let id = id_of(&user);
    let rename =
        patch_body(json!([{"op": "replace", "path": "name.givenName", "value": "Augusta"}]));
    let renamed =
        expect_json(app.patch(&format!("/Users/{id}"), &rename).await, StatusCode::OK).await;
    let group = app.create_group("Engineering").await;
    let add = patch_body(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
    app.patch(&format!("/Groups/{}", id_of(&group)), &add).await;
    // The same PUT twice: the second changes nothing.
    let put = app.put(&format!("/Users/{id}"), &renamed).await;
    assert_eq!(put.status(), StatusCode::OK);
    app.get(&format!("/Users/{id}")).await;
    let rows = recorded(&app, 6).await;
    let seq = |method: &str, path_part: &str| {
        rows.iter()
            .find(|r| r.method == method && r.path.contains(path_part))
            .unwrap_or_else(|| panic!("{method} {path_part}"))
            .seq
    };
    create_operator(&app);
    let operator = app.operator().await;
    let pages = [
        seq("POST", "/Users"),
        seq("PATCH", "/Users/"),
        seq("PATCH", "/Groups/"),
        seq("PUT", "/Users/"),
        seq("GET", "/Users/"),
    ];
    let mut html = Vec::new();
    for seq in pages {
        html.push(
            operator.page(&format!("/admin/tenants/acme/requests/{seq}"), StatusCode::OK).await,
        );
    }
    let [created, patched, membership, repeated, read] = html.try_into().unwrap();
    assert!(created.contains("What changed") && created.contains("user.created"), "{created}");
    assert!(patched.contains("user.updated</code> changed name"), "{patched}");
    assert!(membership.contains("group.member_added") && membership.contains(&id), "{membership}");
    assert!(repeated.contains("Nothing: the directory already held"), "{repeated}");
    assert!(!read.contains("What changed"), "a read changes nothing");
}
