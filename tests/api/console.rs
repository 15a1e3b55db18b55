//! The operator console (/admin) and the customer account pages (/account) over HTTP: who may
//! see what, CSRF, the actions and their audit trail, the audit log's filters, paging and
//! export, token lineage, and the "Connect Okta" status line.

use reqwest::StatusCode;
use serde_json::Value;

use scimd::audit::Actor;
use scimd::service::accounts::tenant_admins;

use crate::support::okta::{self, ClientAuth, browser, hidden, location};
use crate::support::*;

#[tokio::test]
async fn console_pages_refuse_anonymous_users_and_tenant_admins() {
    let app = spawn_app().await;
    create_operator(&app);
    tenant_admins::create(
        &app.db,
        app.clock.as_ref(),
        &Actor::Cli,
        "acme",
        okta::ADMIN_EMAIL,
        okta::ADMIN_PASSWORD,
    )
    .unwrap();
    let anonymous = browser(&app);
    let pages = [
        "/admin",
        "/admin/tenants/acme",
        "/admin/tenants/acme/users",
        "/admin/tenants/acme/groups",
        "/admin/tenants/acme/connect",
        "/admin/audit",
        "/admin/audit.jsonl",
        "/admin/clients",
        "/admin/grants/0190b5a0-0000-7000-8000-000000000000",
    ];
    for path in pages {
        let response = anonymous.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&response).starts_with("/admin/login?next="), "{path}");
    }
    // Posts without a session are refused outright.
    let response = anonymous.post_form("/admin/tenants", &[("slug", "evil"), ("csrf", "x")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A tenant admin signed in at /account has no way in either.
    let (customer, status) =
        app.tenant_admin_sign_in(okta::ADMIN_EMAIL, okta::ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    customer.page("/account", StatusCode::OK).await;
    for path in pages {
        assert_eq!(customer.get(path).await.status(), StatusCode::SEE_OTHER, "{path}");
    }
    // Nor does a tenant admin's password work on the operator sign-in.
    let html = customer.page("/admin/login", StatusCode::OK).await;
    let csrf = hidden(&html, "csrf");
    let response = customer
        .post_form(
            "/admin/login",
            &[("email", okta::ADMIN_EMAIL), ("password", okta::ADMIN_PASSWORD), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The sign-in page sends nobody elsewhere than the console.
    let op = browser(&app);
    let html = page(&op, "/admin/login?next=https://evil.test/", StatusCode::OK).await;
    assert_eq!(hidden(&html, "next"), "/admin");
}

#[tokio::test]
async fn forms_without_the_sessions_csrf_token_change_nothing() {
    let app = spawn_app().await;
    create_operator(&app);
    let op = app.operator().await;
    for csrf in ["", "forged"] {
        let response = op.post_form("/admin/tenants", &[("slug", "forged"), ("csrf", csrf)]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    let html = op.page("/admin", StatusCode::OK).await;
    assert!(!html.contains("forged"));
    // The sign-in form itself is CSRF-protected (double-submit cookie).
    let fresh = browser(&app);
    let response = fresh
        .post_form(
            "/admin/login",
            &[("email", OPERATOR_EMAIL), ("password", OPERATOR_PASSWORD), ("csrf", "x")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Signing out ends the session.
    let response = op.post("/admin/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(op.get("/admin").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn operator_creates_a_tenant_issues_and_revokes_a_token() {
    let app = spawn_app().await;
    let operator_id = create_operator(&app);
    let op = app.operator().await;
    op.page("/admin", StatusCode::OK).await;
    let response = op.post("/admin/tenants", &[("slug", "globex"), ("name", "Globex Corp")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let tenant_page = location(&response);
    assert_eq!(tenant_page, "/admin/tenants/globex?done=tenant-created");
    let html = op.page(&tenant_page, StatusCode::OK).await;
    assert!(html.contains("Globex Corp") && html.contains("Tenant created."));
    // A duplicate slug is a clear 409 page, not a 500.
    let response = op.post("/admin/tenants", &[("slug", "globex")]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);

    let response = op.post("/admin/tenants/globex/tokens", &[("label", "okta-prod")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let token = shown_secret(&response.text().await.unwrap());
    assert!(token.starts_with("scimd_st_"));
    assert_eq!(app.get_as(&token, "/Users").await.status(), StatusCode::OK);
    // The list shows a hint and when it was last used, never the token.
    let html = op.page("/admin/tenants/globex", StatusCode::OK).await;
    assert!(!html.contains(&token));
    assert!(html.contains("okta-prod") && html.contains(&token[..13]));
    let token_id = {
        let listed = scimd::service::tenancy::credentials::list(&app.db, "globex").unwrap();
        assert!(listed[0].last_used.is_some());
        listed[0].id.clone()
    };
    // Revoking through another tenant's URL finds nothing.
    let response = op.post(&format!("/admin/tenants/acme/tokens/{token_id}/revoke"), &[]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get_as(&token, "/Users").await.status(), StatusCode::OK);
    let response = op.post(&format!("/admin/tenants/globex/tokens/{token_id}/revoke"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let refused = app.get_as(&token, "/Users").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(okta::challenge(&refused).contains("revoked"));
    // Every change is in the audit trail under the operator's name.
    for event in ["tenant.created", "static_token.issued", "static_token.revoked"] {
        let events = app.audit_events(event);
        assert!(
            events.iter().any(|e| e["actor"] == format!("operator:{operator_id}")),
            "{event}: {events:?}"
        );
    }
}

#[tokio::test]
async fn disabling_a_tenant_stops_its_credentials_at_once() {
    let app = spawn_app().await;
    create_operator(&app);
    let fx = okta::setup(&app);
    let jwt = app.jwt_client(&fx).await;
    assert_eq!(jwt.get("/Users").await.status(), StatusCode::OK);
    let op = app.operator().await;
    op.page("/admin/tenants/acme", StatusCode::OK).await;
    let response = op.post("/admin/tenants/acme/disable", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    for client in [&app.static_token_client(), &*jwt] {
        let refused = client.get("/Users").await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert!(okta::challenge(&refused).contains("disabled"), "{}", okta::challenge(&refused));
    }
    let refresh = okta::refresh(&app, &fx, ClientAuth::Basic, jwt.refresh_token()).await;
    assert_eq!(okta::oauth_error(refresh, StatusCode::BAD_REQUEST).await.0, "invalid_grant");
    let html = op.page("/admin/tenants/acme", StatusCode::OK).await;
    assert!(html.contains("id=\"tenant-disabled\""));
    op.post("/admin/tenants/acme/enable", &[]).await;
    assert_eq!(app.get("/Users").await.status(), StatusCode::OK);
    // Rename changes the display name only.
    let response = op.post("/admin/tenants/acme/rename", &[("name", "Acme Holdings")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(op.page("/admin/tenants/acme", StatusCode::OK).await.contains("Acme Holdings"));
}

#[tokio::test]
async fn operator_manages_tenant_admins() {
    let app = spawn_app().await;
    create_operator(&app);
    let op = app.operator().await;
    op.page("/admin/tenants/acme", StatusCode::OK).await;
    let response = op.post("/admin/tenants/acme/admins", &[("email", "jane@acme.test")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let first_password = shown_secret(&response.text().await.unwrap());
    let (jane, status) = app.tenant_admin_sign_in("jane@acme.test", &first_password).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let admin_id = tenant_admins::list(&app.db, "acme").unwrap()[0].id.clone();

    let response = op.post(&format!("/admin/tenants/acme/admins/{admin_id}/reset"), &[]).await;
    let second_password = shown_secret(&response.text().await.unwrap());
    assert_ne!(first_password, second_password);
    // The reset signed Jane out and her old password no longer works.
    assert_eq!(jane.get("/account").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.tenant_admin_sign_in("jane@acme.test", &first_password).await.1,
        StatusCode::UNAUTHORIZED
    );
    let (jane, status) = app.tenant_admin_sign_in("jane@acme.test", &second_password).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    op.post(&format!("/admin/tenants/acme/admins/{admin_id}/disable"), &[]).await;
    assert_eq!(jane.get("/account").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.tenant_admin_sign_in("jane@acme.test", &second_password).await.1,
        StatusCode::UNAUTHORIZED
    );
    op.post(&format!("/admin/tenants/acme/admins/{admin_id}/enable"), &[]).await;
    assert_eq!(
        app.tenant_admin_sign_in("jane@acme.test", &second_password).await.1,
        StatusCode::SEE_OTHER
    );
    // Another tenant's URL does not reach Jane.
    app.other_tenant("globex");
    let response = op.post(&format!("/admin/tenants/globex/admins/{admin_id}/disable"), &[]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let kinds: Vec<String> =
        ["admin.created", "admin.password_reset", "admin.disabled", "admin.enabled"]
            .iter()
            .filter(|k| app.audit_events(k).is_empty())
            .map(|k| k.to_string())
            .collect();
    assert!(kinds.is_empty(), "missing events {kinds:?}");
}

#[tokio::test]
async fn customer_admins_see_and_revoke_their_own_organisations_grants_only() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let jwt = app.jwt_client(&fx).await;
    // A second organisation with its own admin and grant.
    app.other_tenant("globex");
    tenant_admins::create(
        &app.db,
        app.clock.as_ref(),
        &Actor::Cli,
        "globex",
        "boss@globex.test",
        "globex password 1",
    )
    .unwrap();
    let globex_grant = {
        let b = browser(&app);
        let html = b.authorize(&okta::authorize_query(&fx, &[])).await.text().await.unwrap();
        b.login(&html, "boss@globex.test", "globex password 1").await;
        let consent = b
            .get(&format!("/oauth/authorize?{}", okta::authorize_query(&fx, &[])))
            .await
            .text()
            .await
            .unwrap();
        let callback = location(&b.decide(&consent, "allow").await);
        assert!(okta::param(&callback, "code").is_some());
        scimd::service::oauth::grants::list(&app.db, Some("globex")).unwrap()[0].id.clone()
    };

    let (admin, status) = app.tenant_admin_sign_in(okta::ADMIN_EMAIL, okta::ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let html = admin.page("/account", StatusCode::OK).await;
    assert!(
        html.contains("Okta") && html.contains(okta::ADMIN_EMAIL) && html.contains("scim:read")
    );
    assert!(!html.contains(&globex_grant), "another tenant's grant is invisible");
    let acme_grant =
        scimd::service::oauth::grants::list(&app.db, Some("acme")).unwrap()[0].id.clone();
    // Another organisation's grant cannot be revoked from here.
    let response = admin.post(&format!("/account/grants/{globex_grant}/revoke"), &[]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Without the CSRF token nothing happens.
    let response =
        admin.post_form(&format!("/account/grants/{acme_grant}/revoke"), &[("csrf", "x")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(jwt.get("/Users").await.status(), StatusCode::OK);

    let response = admin.post(&format!("/account/grants/{acme_grant}/revoke"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = admin.page("/account?done=grant-revoked", StatusCode::OK).await;
    assert!(html.contains("Access revoked"));
    let refused = jwt.get("/Users").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(okta::challenge(&refused).contains("revoked"));
    let refresh = okta::refresh(&app, &fx, ClientAuth::Basic, jwt.refresh_token()).await;
    assert_eq!(okta::oauth_error(refresh, StatusCode::BAD_REQUEST).await.0, "invalid_grant");
    let revoked = app.audit_events("grant.revoked");
    assert!(revoked[0]["actor"].as_str().unwrap().starts_with("admin:"), "{revoked:?}");
    assert!(revoked[0]["detail"]["reason"].as_str().unwrap().contains(okta::ADMIN_EMAIL));
}

#[tokio::test]
async fn lineage_shows_the_refresh_family_with_access_tokens_retries_and_reuse() {
    let (app, clock) = spawn_app_manual(|_| {}).await;
    create_operator(&app);
    let fx = okta::setup(&app);
    let first = okta::authorize_and_exchange(&app, &fx, &[]).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let second = okta::tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &rt1).await).await;
    // The response to that refresh was "lost": Okta retries with the same token, after the
    // refresh grace window (within it, both children would coexist).
    clock.advance(61_000);
    let retried = okta::tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &rt1).await).await;
    let rt3 = retried["refresh_token"].as_str().unwrap().to_owned();
    okta::tokens(okta::refresh(&app, &fx, ClientAuth::Basic, &rt3).await).await;
    // The superseded token from the first refresh comes back: reuse.
    let stale =
        okta::refresh(&app, &fx, ClientAuth::Basic, second["refresh_token"].as_str().unwrap())
            .await;
    assert_eq!(okta::oauth_error(stale, StatusCode::BAD_REQUEST).await.0, "invalid_grant");

    let grant = scimd::service::oauth::grants::list(&app.db, Some("acme")).unwrap()[0].id.clone();
    let op = app.operator().await;
    let html = op.page(&format!("/admin/grants/{grant}"), StatusCode::OK).await;
    assert!(html.contains(okta::ADMIN_EMAIL), "who consented");
    for claims in [&first, &second, &retried] {
        let jti = okta::jwt_parts(claims["access_token"].as_str().unwrap()).1["jti"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(html.contains(&jti), "jti {jti} missing");
    }
    assert!(html.contains("retried after loss"), "{html}");
    assert!(html.contains("reuse detected"));
    assert!(html.contains("refresh token reuse detected"), "revocation reason");
    let lineage = scimd::service::oauth::grants::lineage(&app.db, &grant).unwrap();
    assert_eq!(lineage.tokens.len(), 4);
    assert_eq!(lineage.tokens[0].depth, 0);
    assert_eq!(
        lineage.tokens.iter().filter(|t| t.depth == 1).count(),
        2,
        "two children of the retried token"
    );
    assert!(lineage.tokens.iter().all(|t| t.access_jti.is_some()));
    // An unknown grant is a 404 page.
    op.page("/admin/grants/0190b5a0-0000-7000-8000-000000000000", StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn audit_log_filters_pages_and_exports() {
    let app = spawn_app().await;
    create_operator(&app);
    app.other_tenant("globex");
    for i in 0..130 {
        scimd::service::tenancy::credentials::issue(
            &app.db,
            app.clock.as_ref(),
            &Actor::Cli,
            "acme",
            &format!("t{i}"),
        )
        .unwrap();
    }
    let op = app.operator().await;
    let html = op.page("/admin/audit?tenant=acme&event=static_token.issued", StatusCode::OK).await;
    assert_eq!(html.matches("<td>static_token.issued</td>").count(), 100, "a page of 100");
    let older = {
        let marker = "id=\"older\" href=\"";
        let start = html.find(marker).unwrap() + marker.len();
        okta::unescape(&html[start..start + html[start..].find('"').unwrap()])
    };
    let html = op.page(&older, StatusCode::OK).await;
    // 130 for acme plus the one from the harness' own token.
    assert_eq!(html.matches("<td>static_token.issued</td>").count(), 31);
    assert!(!html.contains("id=\"older\""));
    let html =
        op.page("/admin/audit?tenant=globex&event=static_token.issued", StatusCode::OK).await;
    assert_eq!(html.matches("<td>static_token.issued</td>").count(), 1);
    // Filters that cannot be parsed are a 400 with a message, not a 500.
    let html = op.page("/admin/audit?since=yesterday", StatusCode::BAD_REQUEST).await;
    assert!(html.contains("id=\"error\""));
    op.page("/admin/audit?tenant=nosuch", StatusCode::BAD_REQUEST).await;
    op.page("/admin/audit?before=garbage", StatusCode::BAD_REQUEST).await;

    let response = op.get("/admin/audit.jsonl?tenant=acme&event=static_token.issued").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/jsonl"));
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 131);
    assert!(lines.windows(2).all(|w| w[0]["at"].as_str() <= w[1]["at"].as_str()), "oldest first");
    assert!(lines.iter().all(|e| e["tenant"] == "acme" && e["event"] == "static_token.issued"));
    assert!(!text.contains("scimd_st_"), "no secret in the export");
    assert_eq!(op.get("/admin/audit.jsonl?since=bad").await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn audit_cursors_break_ties_within_a_millisecond() {
    use scimd::service::operations::audit_log::{self, AuditQuery};
    use scimd::service::tenancy::credentials;
    let (app, clock) = spawn_app_manual(|_| {}).await;
    // Seven events in each of five milliseconds: pages of three end inside a tie, so the cursor
    // must carry on within the same millisecond by id, in both directions.
    for _ in 0..5 {
        for i in 0..7 {
            credentials::issue(&app.db, app.clock.as_ref(), &Actor::Cli, "acme", &format!("t{i}"))
                .unwrap();
        }
        clock.advance(1);
    }
    let query = AuditQuery { event: Some("static_token.issued".into()), ..Default::default() };
    let all = audit_log::page(&app.db, app.clock.as_ref(), &query, None, false, 1000).unwrap();
    let oldest_first: Vec<String> = all.events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(oldest_first.len(), 36, "35 and the harness' own token");
    for backwards in [false, true] {
        let (mut seen, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let page = audit_log::page(
                &app.db,
                app.clock.as_ref(),
                &query,
                cursor.as_deref(),
                backwards,
                3,
            )
            .unwrap();
            seen.extend(page.events.into_iter().map(|e| e.id));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut expected = oldest_first.clone();
        if backwards {
            expected.reverse();
        }
        assert_eq!(seen, expected, "backwards: {backwards}");
    }
}

#[tokio::test]
async fn connect_page_gives_okta_values_a_fresh_token_and_live_status() {
    let app = spawn_app().await;
    create_operator(&app);
    let op = app.operator().await;
    let html = op.page("/admin/tenants/acme/connect", StatusCode::OK).await;
    assert!(html.contains(&format!("{}/scim/v2", app.address)));
    assert!(html.contains("userName") && html.contains("HTTP Header"));
    assert!(html.contains("/oauth/authorize") && html.contains("/oauth/token"));
    assert!(html.contains("no SCIM request seen yet"));
    let response = op.post("/admin/tenants/acme/connect/token", &[]).await;
    let token = shown_secret(&response.text().await.unwrap());
    assert_eq!(app.get_as(&token, "/Users").await.status(), StatusCode::OK);
    let html = op.page("/admin/tenants/acme/connect", StatusCode::OK).await;
    assert!(html.contains("working") && html.contains("last success"), "{html}");
    // A revoked token's failures are attributed to its tenant, with the reason.
    let token_id = scimd::service::tenancy::credentials::list(&app.db, "acme")
        .unwrap()
        .last()
        .unwrap()
        .id
        .clone();
    scimd::service::tenancy::credentials::revoke(
        &app.db,
        app.clock.as_ref(),
        &Actor::Cli,
        None,
        &token_id,
    )
    .unwrap();
    assert_eq!(app.get_as(&token, "/Users").await.status(), StatusCode::UNAUTHORIZED);
    let html = op.page("/admin/tenants/acme/connect", StatusCode::OK).await;
    assert!(html.contains("failing"), "{html}");
    assert!(
        html.contains("HTTP 401") && html.contains("the bearer token has been revoked"),
        "{html}"
    );
    // So is a SCIM error, e.g. a uniqueness conflict.
    app.create_user("dup@acme.test").await;
    app.post("/Users", &okta_user("dup@acme.test")).await;
    let html = op.page("/admin/tenants/acme/connect", StatusCode::OK).await;
    assert!(html.contains("HTTP 409"), "{html}");
}

#[tokio::test]
async fn users_and_groups_browser_searches_and_pages() {
    let app = spawn_app().await;
    create_operator(&app);
    for i in 0..60 {
        app.create_user(&format!("user{i:02}@acme.test")).await;
    }
    let group = app.create_group("Engineering").await;
    let other = app.other_tenant_client("globex");
    other.post("/Users", &okta_user("secret@globex.test")).await;
    let op = app.operator().await;
    let html = op.page("/admin/tenants/acme/users", StatusCode::OK).await;
    assert!(html.contains("60 match(es), showing 1–50"));
    assert!(!html.contains("secret@globex.test"));
    let html = op.page("/admin/tenants/acme/users?start=51", StatusCode::OK).await;
    assert!(
        html.contains("showing 51–60")
            && html.contains("id=\"prev\"")
            && !html.contains("id=\"next\"")
    );
    let html = op.page("/admin/tenants/acme/users?q=user07", StatusCode::OK).await;
    assert!(html.contains("1 match(es)") && html.contains("user07@acme.test"));
    let html = op.page("/admin/tenants/acme/users?q=userName+sw+%22user1%22", StatusCode::OK).await;
    assert!(html.contains("10 match(es)"));
    let html = op.page("/admin/tenants/acme/users?q=userName+eq+%22", StatusCode::OK).await;
    assert!(html.contains("Invalid search"));
    let html = op.page("/admin/tenants/acme/groups?q=engin", StatusCode::OK).await;
    assert!(html.contains("Engineering"));
    let html =
        op.page(&format!("/admin/tenants/acme/groups/{}", id_of(&group)), StatusCode::OK).await;
    assert!(
        html.contains("Engineering")
            && html.contains("urn:ietf:params:scim:schemas:core:2.0:Group")
    );
    op.page(&format!("/admin/tenants/globex/groups/{}", id_of(&group)), StatusCode::NOT_FOUND)
        .await;
    op.page("/admin/tenants/nosuch/users", StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn clients_and_keys_are_managed_from_the_console() {
    let app = spawn_app().await;
    create_operator(&app);
    let op = app.operator().await;
    op.page("/admin/clients", StatusCode::OK).await;
    let response = op.post("/admin/clients", &[("name", "Okta"), ("okta_app", "acme_scim")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let secret = shown_secret(&response.text().await.unwrap());
    assert!(secret.starts_with("scimd_cs_"));
    let html = op.page("/admin/clients", StatusCode::OK).await;
    assert!(html.contains("system-admin.okta.com/admin/app/cpc/acme_scim/oauth/callback"));
    assert!(!html.contains(&secret));
    let keys_before = html.matches("<td>current</td>").count();
    assert_eq!(keys_before, 1);
    let response = op.post("/admin/keys/rotate", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = op.page("/admin/clients?done=key-rotated", StatusCode::OK).await;
    assert!(html.contains("New signing key published") && html.matches("<code>").count() >= 2);
    assert_eq!(html.matches("<td>signing</td>").count(), 1, "the old key signs for 15 s more");
    for event in ["client.created", "key.rotated"] {
        let events = app.audit_events(event);
        assert!(events[0]["actor"].as_str().unwrap().starts_with("operator:"), "{events:?}");
    }
}
