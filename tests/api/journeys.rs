//! The console's main journeys in headless Chromium, as people click through them: an operator
//! creates a tenant and a token, a customer admin revokes a grant, a reviewer filters the audit
//! log. Skipped without chromium/chromedriver unless SCIMD_REQUIRE_BROWSER is set (CI sets it).

use reqwest::StatusCode;

use crate::support::okta;
use crate::support::webdriver::{in_browser, sign_in_operator, wait_for_page};
use crate::support::*;

/// The `value` attribute of the input with this id in `html`.
fn input_value(html: &str, id: &str) -> String {
    let start = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}: {html}"));
    let rest = &html[start..];
    let value = rest.find("value=\"").unwrap() + "value=\"".len();
    rest[value..value + rest[value..].find('"').unwrap()].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_creates_a_tenant_and_a_token_in_the_browser() {
    let app = spawn_app().await;
    create_operator(&app);
    let address = app.address.clone();
    let Some(token) = in_browser(move |browser| {
        sign_in_operator(browser, &address);
        // The stylesheet loaded under the CSP (no inline style is allowed).
        let color = browser
            .execute("return getComputedStyle(document.querySelector('nav.top')).backgroundColor")
            .unwrap();
        assert_eq!(color, "rgb(29, 35, 48)");
        browser.type_into("#slug", "initech").unwrap();
        browser.type_into("#name", "Initech LLC").unwrap();
        browser.click("#create-tenant").unwrap();
        wait_for_page(browser, "Tenant created.");
        browser.type_into("#label", "okta-production").unwrap();
        browser.click("#issue-token").unwrap();
        let page = wait_for_page(browser, "data-copy=\"secret\"");
        // The copy button works (progressive enhancement: the script is allowed by the CSP).
        browser.click("button[data-copy]").unwrap();
        wait_for_page(browser, ">Copied<");
        input_value(&page, "secret")
    })
    .await
    else {
        return;
    };
    assert!(token.starts_with("scimd_st_"), "{token}");
    let response = app.get_as(&token, "/Users").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        scimd::service::tenancy::tenants::by_slug(&app.db, "initech").unwrap().name,
        "Initech LLC"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_admin_revokes_a_grant_in_the_browser() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let jwt = app.jwt_client(&fx).await;
    assert_eq!(jwt.get("/Users").await.status(), StatusCode::OK);
    let grant = scimd::service::oauth::grants::list(&app.db, Some("acme")).unwrap()[0].id.clone();
    let address = app.address.clone();
    let done = in_browser(move |browser| {
        browser.goto(&format!("{address}/account")).unwrap();
        wait_for_page(browser, "id=\"sign-in\"");
        browser.type_into("#email", okta::ADMIN_EMAIL).unwrap();
        browser.type_into("#password", okta::ADMIN_PASSWORD).unwrap();
        browser.click("#sign-in").unwrap();
        let page = wait_for_page(browser, "id=\"grants\"");
        assert!(page.contains("Okta") && page.contains(okta::ADMIN_EMAIL), "{page}");
        browser.click(&format!("#revoke-{grant}")).unwrap();
        let page = wait_for_page(browser, "id=\"notice\"");
        assert!(page.contains("revoked"), "{page}");
    })
    .await;
    if done.is_none() {
        return;
    }
    let refused = jwt.get("/Users").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(okta::challenge(&refused).contains("revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewer_filters_the_audit_log_in_the_browser() {
    let app = spawn_app().await;
    create_operator(&app);
    let fx = okta::setup(&app);
    let tokens = okta::authorize_and_exchange(&app, &fx, &[]).await;
    okta::tokens(
        okta::refresh(
            &app,
            &fx,
            okta::ClientAuth::Basic,
            tokens["refresh_token"].as_str().unwrap(),
        )
        .await,
    )
    .await;
    app.other_tenant("globex");
    let address = app.address.clone();
    let Some((filtered, lineage)) = in_browser(move |browser| {
        sign_in_operator(browser, &address);
        browser.goto(&format!("{address}/admin/audit")).unwrap();
        wait_for_page(browser, "id=\"audit-filters\"");
        browser.click("#tenant option[value=\"acme\"]").unwrap();
        browser.click("#event option[value=\"token.refreshed\"]").unwrap();
        browser.type_into("#since", "1h").unwrap();
        browser.click("#apply-filters").unwrap();
        browser
            .wait_for_url(
                |u| u.contains("event=token.refreshed"),
                std::time::Duration::from_secs(15),
            )
            .unwrap();
        let filtered = wait_for_page(browser, "id=\"events\"");
        // From the event to the grant's token lineage.
        browser.click("#events a").unwrap();
        let lineage = wait_for_page(browser, "id=\"family\"");
        (filtered, lineage)
    })
    .await
    else {
        return;
    };
    assert_eq!(filtered.matches("<td>token.refreshed</td>").count(), 1, "{filtered}");
    assert!(!filtered.contains("<td>token.issued</td>") && !filtered.contains("<td>globex</td>"));
    assert!(lineage.contains("retired") || lineage.contains("used"), "{lineage}");
    assert!(lineage.contains(okta::ADMIN_EMAIL));
}

/// An operator sees a failing tenant first on the dashboard, follows its failure to the request
/// inspector, filters the failures, and opens the request to read both bodies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_follows_a_failing_tenant_to_the_request_that_failed() {
    let app = spawn_app().await;
    create_operator(&app);
    expect_json(app.post("/Users", &okta_user("ada@acme.test")).await, StatusCode::CREATED).await;
    let mut bad = okta_user("bob@acme.test");
    bad["emails"] = serde_json::json!("not a list of emails");
    bad["password"] = serde_json::json!("never-shown-secret");
    app.post("/Users", &bad).await;
    // A revoked token: the connection itself fails, which the dashboard flags.
    let tokens = crate::support::cli::scimd(
        &app.settings.database_url,
        &["token", "list", "--tenant", "acme"],
    );
    let id = tokens["tokens"][0]["id"].as_str().unwrap().to_owned();
    crate::support::cli::scimd(&app.settings.database_url, &["token", "revoke", &id]);
    app.refused_within_a_second(&app.address, &app.token, std::time::Instant::now()).await;
    // The inspector writes its queue every half second: wait until the three requests are in.
    for _ in 0..100 {
        let recorded = app
            .db
            .read(|conn| {
                let n = scimd::db::repo::request_log::count(conn)?;
                Ok::<_, scimd::db::StoreError>(n)
            })
            .unwrap();
        if recorded >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let address = app.address.clone();
    let Some(body) = in_browser(move |browser| {
        sign_in_operator(browser, &address);
        let dashboard = wait_for_page(browser, "id=\"tenants\"");
        browser.screenshot_if_asked("dashboard").unwrap();
        assert!(dashboard.contains(">failing<"), "the revoked token makes acme fail");
        browser.click("tr.attention a[href*='/requests']").unwrap();
        // The link opens the inspector filtered to the failures.
        let failures = wait_for_page(browser, "id=\"requests\"");
        assert!(failures.contains("401") && !failures.contains(">201<"), "only failures");
        browser.screenshot_if_asked("inspector-failures").unwrap();
        browser.click("#requests a").unwrap();
        let detail = wait_for_page(browser, "id=\"response-body\"");
        browser.screenshot_if_asked("inspector-request").unwrap();
        detail
    })
    .await
    else {
        return;
    };
    assert!(body.contains("401") && body.contains("response-body"));
    assert!(!body.contains("never-shown-secret"));
}
