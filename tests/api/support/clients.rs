//! Clients typed by who is calling: a static SCIM token, a JWT obtained through the real OAuth
//! flow, any other bearer credential, the vendor's operator signed in at /admin, and a tenant
//! admin signed in at /account. A test picks the identity; the client carries the credential.

use std::ops::Deref;

use reqwest::{Response, StatusCode};
use serde_json::Value;

use scimd::service::accounts::operators;

use super::app::TestApp;
use super::okta::{self, Browser, browser, hidden, location};

pub const OPERATOR_EMAIL: &str = "ops@vendor.test";
pub const OPERATOR_PASSWORD: &str = "operator password 123";

/// Creates the vendor's operator (who signs in at /admin) and returns its id.
pub fn create_operator(app: &TestApp) -> String {
    operators::create(&app.db, app.clock.as_ref(), OPERATOR_EMAIL, OPERATOR_PASSWORD).unwrap().id
}

/// A SCIM client holding one bearer credential (a static token or a JWT): requests go to
/// `/scim/v2{path}` with `Authorization: Bearer <token>`, bodies as Okta sends them.
#[derive(Clone)]
pub struct ScimClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ScimClient {
    /// The credential this client sends.
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request carrying the credential, for headers or bodies the helpers below don't send.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).bearer_auth(&self.token).send().await.expect("GET")
    }

    /// A request with a SCIM JSON body and Okta's User-Agent.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .header("Content-Type", "application/scim+json; charset=utf-8")
            .header("User-Agent", "Okta SCIM Client 1.0.0")
            .body(body.to_string())
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(reqwest::Method::POST, path, body).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.send(reqwest::Method::PUT, path, body).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.send(reqwest::Method::PATCH, path, body).await
    }
    pub async fn delete(&self, path: &str) -> Response {
        self.http.delete(self.url(path)).bearer_auth(&self.token).send().await.expect("DELETE")
    }
}

/// A SCIM client whose JWT came out of the real authorization-code flow (login, consent, code
/// exchange), with the whole token response kept for refreshes and claims.
pub struct JwtClient {
    scim: ScimClient,
    /// The token response of `/oauth/token`.
    pub tokens: Value,
}

impl JwtClient {
    pub fn access_token(&self) -> &str {
        self.tokens["access_token"].as_str().expect("access_token")
    }

    pub fn refresh_token(&self) -> &str {
        self.tokens["refresh_token"].as_str().expect("refresh_token")
    }
}

impl Deref for JwtClient {
    type Target = ScimClient;
    fn deref(&self) -> &ScimClient {
        &self.scim
    }
}

/// A signed-in browser session (cookie jar) with the session's CSRF token, which `post` adds
/// to every form. `get` and `post_form` (a form exactly as given) come from the browser.
pub struct Session {
    browser: Browser,
    csrf: String,
}

impl Session {
    /// The session's CSRF token, as the pages' forms carry it.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// A page's HTML after checking its status.
    pub async fn page(&self, path: &str, status: StatusCode) -> String {
        page(&self.browser, path, status).await
    }

    /// Posts a form with the session's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut form = fields.to_vec();
        form.push(("csrf", &self.csrf));
        self.browser.post_form(path, &form).await
    }
}

impl Deref for Session {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.browser
    }
}

/// The vendor's operator, signed in at /admin.
pub struct Operator(Session);

impl Deref for Operator {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

/// A customer's tenant admin, signed in at /account.
pub struct TenantAdmin(Session);

impl Deref for TenantAdmin {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

impl TestApp {
    /// The harness tenant (`acme`) with its static token.
    pub fn static_token_client(&self) -> ScimClient {
        self.bearer_client(&self.token)
    }

    /// Creates tenant `slug` with one static token, and a client holding that token.
    pub fn other_tenant_client(&self, slug: &str) -> ScimClient {
        let token = self.other_tenant(slug);
        self.bearer_client(&token)
    }

    /// Any bearer credential exactly as given: a JWT, a revoked, foreign or forged token.
    pub fn bearer_client(&self, token: &str) -> ScimClient {
        ScimClient { http: self.client.clone(), base: self.url(""), token: token.to_owned() }
    }

    /// Runs the real OAuth flow for `fx` (its tenant admin logs in and allows) and returns a
    /// client with the access token.
    pub async fn jwt_client(&self, fx: &okta::Fixture) -> JwtClient {
        let tokens = okta::authorize_and_exchange(self, fx, &[]).await;
        let token = tokens["access_token"].as_str().expect("access_token");
        JwtClient { scim: self.bearer_client(token), tokens }
    }

    /// Signs the operator (see `create_operator`) in at /admin/login.
    pub async fn operator(&self) -> Operator {
        let (operator, status) = self.operator_sign_in(OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "the operator could not sign in");
        operator
    }

    /// Signs an operator in at /admin/login and says whether it worked (303 when it did).
    pub async fn operator_sign_in(&self, email: &str, password: &str) -> (Operator, StatusCode) {
        let b = browser(self);
        let page = b.get("/admin/login").await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let csrf = hidden(&html, "csrf");
        let response = b
            .post_form(
                "/admin/login",
                &[("email", email), ("password", password), ("csrf", &csrf), ("next", "/admin")],
            )
            .await;
        let status = response.status();
        let csrf = if status == StatusCode::SEE_OTHER {
            assert_eq!(location(&response), "/admin");
            hidden(&page_of(&b, "/admin").await, "csrf")
        } else {
            String::new()
        };
        (Operator(Session { browser: b, csrf }), status)
    }

    /// Signs a tenant admin in at /account and says whether it worked (303 when it did).
    pub async fn tenant_admin_sign_in(
        &self,
        email: &str,
        password: &str,
    ) -> (TenantAdmin, StatusCode) {
        let b = browser(self);
        let html = page(&b, "/account/login", StatusCode::OK).await;
        let csrf = hidden(&html, "csrf");
        let response = b
            .post_form(
                "/account/login",
                &[("email", email), ("password", password), ("csrf", &csrf)],
            )
            .await;
        let status = response.status();
        let csrf = if status == StatusCode::SEE_OTHER {
            hidden(&page_of(&b, "/account").await, "csrf")
        } else {
            String::new()
        };
        (TenantAdmin(Session { browser: b, csrf }), status)
    }

    /// A tenant admin signed in at /account (the sign-in must succeed).
    pub async fn tenant_admin(&self, email: &str, password: &str) -> TenantAdmin {
        let (admin, status) = self.tenant_admin_sign_in(email, password).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "tenant admin {email} could not sign in");
        admin
    }
}

/// The HTML of a page, whatever its status.
async fn page_of(b: &Browser, path: &str) -> String {
    b.get(path).await.text().await.unwrap()
}

/// A page's HTML after checking its status.
pub async fn page(b: &Browser, path: &str, status: StatusCode) -> String {
    let response = b.get(path).await;
    let actual = response.status();
    let html = response.text().await.unwrap();
    assert_eq!(actual, status, "GET {path}: {html}");
    html
}

/// Posts a console form with the session's CSRF token taken from `html`.
pub async fn submit(b: &Browser, html: &str, path: &str, fields: &[(&str, &str)]) -> Response {
    let csrf = hidden(html, "csrf");
    let mut form = fields.to_vec();
    form.push(("csrf", &csrf));
    b.post_form(path, &form).await
}

/// The shown-once value of a secret page (a token, a password, a client secret).
pub fn shown_secret(html: &str) -> String {
    let marker = "id=\"secret\" type=\"text\" readonly value=\"";
    let start = html.find(marker).unwrap_or_else(|| panic!("no secret: {html}")) + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}
