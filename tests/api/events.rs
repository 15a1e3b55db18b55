//! The event log and `GET /api/v1/events`: what each SCIM write records, in order, exactly once;
//! nothing for a write that failed; paging, long-polling, retention, isolation; two nodes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use reqwest::StatusCode;
use scimd::audit::Actor;
use scimd::service::delivery::sequencer::apply_retention;
use scimd::service::tenancy::{api_keys, tenants};
use serde_json::{Value, json};

use crate::support::*;

/// A reader of the feed with an API key.
struct Feed {
    address: String,
    key: String,
    client: reqwest::Client,
}

impl Feed {
    fn new(app: &TestApp, tenant: Option<&str>, scopes: Option<&str>) -> Feed {
        let key =
            api_keys::create(&app.db, app.clock.as_ref(), &Actor::Cli, "feed", tenant, scopes)
                .expect("create API key")
                .key;
        Feed { address: app.address.clone(), key, client: app.client.clone() }
    }

    async fn get(&self, query: &str) -> reqwest::Response {
        let url = format!("{}/api/v1/events?{query}", self.address);
        self.client.get(url).bearer_auth(&self.key).send().await.expect("request")
    }

    async fn page(&self, query: &str) -> Value {
        let response = self.get(query).await;
        let status = response.status();
        let body: Value = response.json().await.expect("JSON body");
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Follows `next_cursor` from `after` until `has_more` is false; returns the events and the
    /// cursor to continue from.
    async fn drain(&self, after: &str, extra: &str) -> (Vec<Value>, String) {
        let (mut all, mut cursor) = (Vec::new(), after.to_owned());
        loop {
            let after = if cursor.is_empty() { String::new() } else { format!("after={cursor}&") };
            let page = self.page(&format!("{after}limit=7{extra}")).await;
            all.extend(page["data"].as_array().unwrap().iter().cloned());
            cursor = page["next_cursor"].as_str().unwrap().to_owned();
            if page["has_more"] == false {
                return (all, cursor);
            }
        }
    }

    /// Waits (long-polling) until at least `n` events after `after` are in the feed.
    async fn at_least(&self, after: &str, n: usize, extra: &str) -> (Vec<Value>, String) {
        let (mut all, mut cursor) = (Vec::new(), after.to_owned());
        for _ in 0..100 {
            let (more, next) = self.drain(&cursor, extra).await;
            all.extend(more);
            cursor = next;
            if all.len() >= n {
                return (all, cursor);
            }
            let after = if cursor.is_empty() { String::new() } else { format!("after={cursor}&") };
            self.get(&format!("{after}wait=1{extra}")).await;
        }
        panic!("only {} of {n} events arrived", all.len());
    }
}

fn types(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
}

const DIRECTORY: &str = "&types=user.*,group.*";

#[tokio::test]
async fn okta_provisioning_produces_exactly_its_events_in_order() {
    let app = spawn_app().await;
    let feed = Feed::new(&app, None, None);
    let (setup, start) = feed.at_least("", 2, "").await;
    assert_eq!(types(&setup), ["tenant.created", "connection.authorized"]);
    assert_eq!(setup[0]["tenant"], "acme");
    assert_eq!(setup[1]["data"]["kind"], "static_token");

    let user = app.create_user("ada@acme.test").await;
    let uid = id_of(&user);
    let rename = patch_body(json!([{"op": "replace", "path": "displayName", "value": "Ada L"}]));
    expect_json(app.patch(&format!("/Users/{uid}"), &rename).await, StatusCode::OK).await;
    let off = patch_body(json!([{"op": "replace", "value": {"active": false}}]));
    expect_json(app.patch(&format!("/Users/{uid}"), &off).await, StatusCode::OK).await;
    let on = patch_body(json!([{"op": "replace", "path": "active", "value": true}]));
    expect_json(app.patch(&format!("/Users/{uid}"), &on).await, StatusCode::OK).await;
    // Okta repeats the whole user unchanged: a no-op PUT records nothing.
    let current = expect_json(app.get(&format!("/Users/{uid}")).await, StatusCode::OK).await;
    expect_json(app.put(&format!("/Users/{uid}"), &current).await, StatusCode::OK).await;

    let group = app.create_group("Engineering").await;
    let gid = id_of(&group);
    let add = patch_body(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    app.patch(&format!("/Groups/{gid}"), &add).await;
    // Adding a member twice changes nothing.
    app.patch(&format!("/Groups/{gid}"), &add).await;
    let remove =
        patch_body(json!([{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]));
    app.patch(&format!("/Groups/{gid}"), &remove).await;
    app.patch(&format!("/Groups/{gid}"), &add).await;
    let rename = patch_body(json!([{"op": "replace", "path": "displayName", "value": "Eng"}]));
    app.patch(&format!("/Groups/{gid}"), &rename).await;
    assert_eq!(app.delete(&format!("/Users/{uid}")).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&format!("/Groups/{gid}")).await.status(), StatusCode::NO_CONTENT);

    let (events, _) = feed.at_least(&start, 12, DIRECTORY).await;
    let doc = openapi();
    let page = json!({"data": events, "next_cursor": "c0", "has_more": false});
    check_against_openapi(&doc, "/api/v1/events", &page);
    assert_eq!(
        types(&events),
        [
            "user.created",
            "user.updated",
            "user.deactivated",
            "user.reactivated",
            "group.created",
            "group.member_added",
            "group.member_removed",
            "group.member_added",
            "group.updated",
            "group.member_removed",
            "user.deleted",
            "group.deleted",
        ]
    );
    let created = &events[0];
    assert!(created["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(created["tenant"], "acme");
    assert_eq!(created["resource_id"], uid.as_str());
    assert_eq!(created["version"], 1);
    assert_eq!(created["data"]["user_name"], "ada@acme.test");
    assert_eq!(created["data"]["emails"][0]["value"], "ada@acme.test");
    assert_eq!(created["data"]["raw"]["userName"], "ada@acme.test");
    assert!(created["data"]["raw"].get("password").is_none(), "never a password");
    assert_eq!(events[1]["data"]["changed_attributes"], json!(["displayName"]));
    assert_eq!(events[1]["version"], 2);
    assert_eq!(events[2]["data"]["active"], false);
    assert_eq!(events[2]["data"]["changed_attributes"], json!(["active"]));
    let added = &events[5]["data"];
    assert_eq!(added["group"], json!({"id": gid, "name": "Engineering"}));
    assert_eq!(added["member"], json!({"id": uid, "type": "user", "name": "Ada L"}));
    // The user's view shows the group it belonged to when it was deleted.
    assert_eq!(events[10]["data"]["groups"], json!([{"id": gid, "name": "Eng"}]));
    assert_eq!(events[9]["data"]["group"]["name"], "Eng");
    // Every event of one resource carries a higher version than the one before.
    let mut last: HashMap<String, i64> = HashMap::new();
    for event in &events {
        let id = event["resource_id"].as_str().unwrap().to_owned();
        let version = event["version"].as_i64().unwrap();
        let before = last.insert(id, version).unwrap_or(0);
        assert!(version >= before, "{event}");
    }
}

#[tokio::test]
async fn a_write_that_fails_records_nothing_and_bulk_records_what_it_did() {
    let app = spawn_app().await;
    let feed = Feed::new(&app, Some("acme"), Some("events:read"));
    let (_, start) = feed.at_least("", 2, "").await;
    let user = app.create_user("bo@acme.test").await;
    let uid = id_of(&user);
    // Conflict, precondition failure, a member that does not exist: all refused, none recorded.
    assert_eq!(app.post("/Users", &okta_user("bo@acme.test")).await.status(), StatusCode::CONFLICT);
    let stale = app
        .client
        .patch(app.url(&format!("/Users/{uid}")))
        .bearer_auth(&app.token)
        .header("If-Match", "W/\"99\"")
        .json(&patch_body(json!([{"op": "replace", "path": "title", "value": "x"}])))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let bad_group =
        json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": "nope"}]});
    assert_eq!(app.post("/Groups", &bad_group).await.status(), StatusCode::BAD_REQUEST);
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": okta_user("cy@acme.test")},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": okta_user("bo@acme.test")},
            {"method": "DELETE", "path": format!("/Users/{uid}")},
        ]
    });
    expect_json(app.post("/Bulk", &bulk).await, StatusCode::OK).await;
    let (events, _) = feed.at_least(&start, 3, "").await;
    assert_eq!(types(&events), ["user.created", "user.created", "user.deleted"]);
    assert_eq!(events[1]["data"]["user_name"], "cy@acme.test");
    assert_eq!(events[2]["resource_id"], uid.as_str());
}

#[tokio::test]
async fn pages_follow_the_cursor_and_latest_starts_at_the_head() {
    let app = spawn_app().await;
    let feed = Feed::new(&app, None, None);
    for n in 0..10 {
        app.create_user(&format!("u{n}@acme.test")).await;
    }
    let (events, cursor) = feed.at_least("", 12, "").await;
    let ids: HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "no event twice");
    let page = feed.page("limit=3").await;
    check_against_openapi(&openapi(), "/api/v1/events", &page);
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    assert_eq!(page["has_more"], true);
    let next =
        feed.page(&format!("after={}&limit=1000", page["next_cursor"].as_str().unwrap())).await;
    assert_eq!(next["data"][0]["id"], events[3]["id"]);
    let latest = feed.page("after=latest").await;
    assert_eq!(latest["data"], json!([]));
    assert_eq!(latest["next_cursor"], cursor.as_str());
    let only_users = feed.page("types=user.created").await;
    assert!(types(only_users["data"].as_array().unwrap()).iter().all(|t| t == "user.created"));
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_an_event_commits() {
    let app = spawn_app().await;
    let feed = Feed::new(&app, None, None);
    let (_, cursor) = feed.at_least("", 2, "").await;
    let query = format!("after={cursor}&wait=30");
    let waiting = feed.get(&query);
    let writer = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        app.create_user("late@acme.test").await
    };
    let (response, _) = tokio::join!(waiting, writer);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["data"][0]["type"], "user.created");
    assert_eq!(page["data"][0]["data"]["user_name"], "late@acme.test");
}

#[tokio::test]
async fn bad_parameters_and_expired_cursors_get_json_errors() {
    let (app, clock) = spawn_app_manual(|_| {}).await;
    let feed = Feed::new(&app, None, None);
    for (query, code) in [
        ("after=zzz", "invalid_request"),
        ("limit=0", "invalid_request"),
        ("limit=1001", "invalid_request"),
        ("wait=31", "invalid_request"),
        ("types=user.create", "invalid_request"),
        ("tenant=nope", "not_found"),
    ] {
        let response = feed.get(query).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], code, "{query}: {body}");
        assert!(status.is_client_error(), "{query}");
    }
    let (_, cursor) = feed.at_least("", 2, "").await;
    app.create_user("old@acme.test").await;
    feed.at_least(&cursor, 1, "").await;
    clock.advance(31 * 86_400_000);
    let deleted =
        apply_retention(&app.db, app.clock.now(), app.settings.event_retention_ms()).unwrap();
    assert_eq!(deleted, 3);
    let response = feed.get(&format!("after={cursor}")).await;
    assert_eq!(response.status(), StatusCode::GONE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "cursor_expired");
    // Reading from the start is not an expired cursor: it reads what is kept (nothing now).
    assert_eq!(feed.page("").await["data"], json!([]));
}

#[tokio::test]
async fn keys_see_only_their_tenant_and_scim_credentials_are_refused() {
    let app = spawn_app().await;
    tenants::create(&app.db, app.clock.as_ref(), &Actor::Cli, "globex", None).unwrap();
    let globex = Feed::new(&app, Some("globex"), None);
    let everyone = Feed::new(&app, None, None);
    app.create_user("ada@acme.test").await;
    everyone.at_least("", 4, "").await;
    let (seen, _) = globex.drain("", "").await;
    assert_eq!(types(&seen), ["tenant.created"]);
    assert!(seen.iter().all(|e| e["tenant"] == "globex"));
    let response = globex.get("tenant=acme").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "tenant_forbidden");
    let acme_only = everyone.page("tenant=acme").await;
    assert!(acme_only["data"].as_array().unwrap().iter().all(|e| e["tenant"] == "acme"));

    let directory_only = Feed::new(&app, None, Some("directory:read"));
    let response = directory_only.get("").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "insufficient_scope");
    let scim = Feed { key: app.token.clone(), ..Feed::new(&app, None, None) };
    assert_eq!(scim.get("").await.status(), StatusCode::UNAUTHORIZED);
}

/// Concurrent writers on two nodes, a reader following the feed while they write: the reader
/// sees every committed event exactly once, and each resource's events in version order.
#[tokio::test]
async fn concurrent_writers_on_two_nodes_lose_and_repeat_nothing() {
    let app = Arc::new(spawn_app().await);
    let nodes = [app.address.clone(), app.second_node().await];
    let feed = Feed::new(&app, Some("acme"), None);
    let (_, start) = feed.at_least("", 2, "").await;
    let group = id_of(&app.create_group("Everyone").await);
    let mut writers = Vec::new();
    for w in 0..8 {
        let (app, node, group) = (app.clone(), nodes[w % 2].clone(), group.clone());
        writers.push(tokio::spawn(async move {
            for n in 0..12 {
                let user = app
                    .client
                    .post(format!("{node}/scim/v2/Users"))
                    .bearer_auth(&app.token)
                    .json(&okta_user(&format!("w{w}n{n}@acme.test")))
                    .send()
                    .await
                    .unwrap();
                let uid = id_of(&expect_json(user, StatusCode::CREATED).await);
                let add = patch_body(
                    json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]),
                );
                let patched = app
                    .client
                    .patch(format!("{node}/scim/v2/Groups/{group}"))
                    .bearer_auth(&app.token)
                    .json(&add)
                    .send()
                    .await
                    .unwrap();
                assert!(patched.status().is_success());
            }
        }));
    }
    let expected = 1 + 8 * 12 * 2;
    let reader = async {
        let (mut seen, mut cursor) = (Vec::new(), start.clone());
        while seen.len() < expected {
            let page = feed.page(&format!("after={cursor}&wait=2&limit=5")).await;
            seen.extend(page["data"].as_array().unwrap().iter().cloned());
            cursor = page["next_cursor"].as_str().unwrap().to_owned();
        }
        seen
    };
    let (seen, ..) = tokio::join!(reader, async {
        for writer in writers {
            writer.await.unwrap();
        }
    });
    let ids: HashSet<&str> = seen.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), expected, "every event exactly once");
    let (all, _) = feed.drain(&start, "").await;
    assert_eq!(
        seen.iter().map(|e| &e["id"]).collect::<Vec<_>>(),
        all.iter().map(|e| &e["id"]).collect::<Vec<_>>(),
        "the reader saw the feed in the order it has"
    );
    let mut group_versions: Vec<i64> = seen
        .iter()
        .filter(|e| e["type"] == "group.member_added")
        .map(|e| e["version"].as_i64().unwrap())
        .collect();
    let in_order = group_versions.clone();
    group_versions.sort();
    assert_eq!(in_order, group_versions, "a group's events arrive in version (commit) order");
    group_versions.dedup();
    assert_eq!(group_versions.len(), 96);
}

/// Okta's group push sends the whole member list with PUT: the events name only the difference.
#[tokio::test]
async fn a_group_put_records_only_the_members_that_changed() {
    let app = spawn_app().await;
    let feed = Feed::new(&app, None, None);
    let [a, b, c] = [
        id_of(&app.create_user("a@acme.test").await),
        id_of(&app.create_user("b@acme.test").await),
        id_of(&app.create_user("c@acme.test").await),
    ];
    let group = |members: &[&String]| {
        let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
        json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": members})
    };
    let created =
        expect_json(app.post("/Groups", &group(&[&a, &c])).await, StatusCode::CREATED).await;
    let gid = id_of(&created);
    let (setup, cursor) = feed.at_least("", 8, "").await;
    assert_eq!(types(&setup[5..]), ["group.created", "group.member_added", "group.member_added"]);
    expect_json(app.put(&format!("/Groups/{gid}"), &group(&[&a, &b])).await, StatusCode::OK).await;
    // The same list again changes nothing.
    expect_json(app.put(&format!("/Groups/{gid}"), &group(&[&a, &b])).await, StatusCode::OK).await;
    app.create_user("marker@acme.test").await;
    let (events, _) = feed.at_least(&cursor, 3, "").await;
    assert_eq!(types(&events), ["group.member_added", "group.member_removed", "user.created"]);
    assert_eq!(events[0]["data"]["member"]["id"], b.as_str());
    assert_eq!(events[1]["data"]["member"]["id"], c.as_str());
    assert_eq!(events[0]["version"], events[1]["version"], "one write, one new version");
}
