//! A real browser on the consent pages: headless Chromium signs in and clicks Allow. Needs
//! Debian's `chromium` and `chromium-driver`; `.ci/run` installs them and sets
//! SCIMD_REQUIRE_BROWSER=1 so that a missing browser fails CI instead of skipping.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::okta::{self, ClientAuth};
use crate::support::webdriver::{in_browser, wait_for_page};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_and_allows() {
    let app = spawn_app().await;
    let fx = okta::setup(&app);
    let url = format!("{}/oauth/authorize?{}", app.address, okta::authorize_query(&fx, &[]));
    let callback = in_browser(move |browser| {
        browser.goto(&url).unwrap();
        assert!(browser.title().unwrap().contains("Sign in"));
        browser.type_into("#email", okta::ADMIN_EMAIL).unwrap();
        browser.type_into("#password", okta::ADMIN_PASSWORD).unwrap();
        browser.click("#sign-in").unwrap();
        let consent = wait_for_page(browser, "id=\"allow\"");
        assert!(consent.contains("Acme Inc"), "{consent}");
        browser.click("#allow").unwrap();
        browser.wait_for_url(|u| u.contains("code="), Duration::from_secs(15)).unwrap()
    })
    .await;
    let Some(callback) = callback else { return };
    assert!(callback.starts_with(okta::CALLBACK), "{callback}");
    assert_eq!(okta::param(&callback, "state").as_deref(), Some("okta-state-123"));
    let code = okta::param(&callback, "code").unwrap();
    let body = okta::tokens(okta::exchange(&app, &fx, ClientAuth::Basic, &code, None).await).await;
    let response = app.get_as(body["access_token"].as_str().unwrap(), "/Users").await;
    assert_eq!(response.status(), StatusCode::OK);
}
