//! A fake Okta for the OAuth tests: a browser with a cookie jar that walks the real login and
//! consent forms, and a back end that exchanges codes and refreshes tokens. The same cookie-jar
//! browser carries the operator and tenant-admin sessions of `clients.rs`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use scimd::audit::Actor;
use scimd::service::accounts::tenant_admins;
use scimd::service::oauth::clients;

use super::app::TestApp;

pub const CALLBACK: &str = "http://127.0.0.1:9/oauth/callback";
pub const ADMIN_EMAIL: &str = "admin@acme.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// A registered client and a tenant admin who can consent.
pub struct Fixture {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    Basic,
    Post,
}

pub fn setup(app: &TestApp) -> Fixture {
    setup_with(app, false)
}

pub fn setup_with(app: &TestApp, require_pkce: bool) -> Fixture {
    tenant_admins::create(
        &app.db,
        app.clock.as_ref(),
        &Actor::Cli,
        &app.tenant,
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
    )
    .expect("admin");
    let new = clients::NewClient {
        name: "Okta",
        redirect_uris: &[CALLBACK.to_owned()],
        okta_app: Some("acme_scim"),
        okta_http_callback: false,
        require_pkce,
    };
    let c = clients::create(&app.db, app.clock.as_ref(), &Actor::Cli, &new).expect("client");
    Fixture { client_id: c.client_id, client_secret: c.client_secret }
}

pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub const VERIFIER: &str = "a-verifier-of-at-least-forty-three-characters-0123456789";

/// The admin's browser.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

pub fn browser(app: &TestApp) -> Browser {
    super::app::install_crypto_provider();
    Browser {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .unwrap(),
        base: app.address.clone(),
    }
}

/// The value of a hidden input in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start =
        html.find(&marker).unwrap_or_else(|| panic!("no {name} in page: {html}")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    unescape(&html[start..end])
}

pub fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
}

/// The consent form's action.
pub fn consent_action(html: &str) -> String {
    let marker = "<form method=\"post\" action=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    unescape(&html[start..end])
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location: {response:?}"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// A query parameter of a URL.
pub fn param(url: &str, key: &str) -> Option<String> {
    let parsed = url::Url::parse(url).unwrap();
    parsed.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

pub fn authorize_query(fx: &Fixture, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", &fx.client_id)
        .append_pair("redirect_uri", CALLBACK);
    q.append_pair("state", "okta-state-123");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    q.finish()
}

impl Browser {
    pub async fn get(&self, path: &str) -> Response {
        self.http.get(format!("{}{path}", self.base)).send().await.unwrap()
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http.post(format!("{}{path}", self.base)).form(form).send().await.unwrap()
    }

    /// GET /oauth/authorize?query: the login page (or the consent page when signed in).
    pub async fn authorize(&self, query: &str) -> Response {
        self.get(&format!("/oauth/authorize?{query}")).await
    }

    /// Submits the login form found on `login_html`.
    pub async fn login(&self, login_html: &str, email: &str, password: &str) -> Response {
        let csrf = hidden(login_html, "csrf");
        let return_to = hidden(login_html, "return_to");
        self.post_form(
            "/oauth/login",
            &[("email", email), ("password", password), ("csrf", &csrf), ("return_to", &return_to)],
        )
        .await
    }

    /// Logs in from the authorize URL and returns the consent page's HTML.
    pub async fn consent_page(&self, query: &str) -> String {
        let page = self.authorize(query).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        if html.contains("id=\"allow\"") {
            return html;
        }
        let response = self.login(&html, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{}",
            response.text().await.unwrap_or_default()
        );
        let next = location(&response);
        let consent = self.get(&next).await;
        assert_eq!(consent.status(), StatusCode::OK);
        consent.text().await.unwrap()
    }

    /// Clicks Allow or Deny; returns the redirect to the client.
    pub async fn decide(&self, consent_html: &str, decision: &str) -> Response {
        let action = consent_action(consent_html);
        let csrf = hidden(consent_html, "csrf");
        self.post_form(&action, &[("csrf", &csrf), ("decision", decision)]).await
    }

    /// The whole browser leg: login, Allow, and the code from the callback.
    pub async fn code(&self, fx: &Fixture, extra: &[(&str, &str)]) -> String {
        let html = self.consent_page(&authorize_query(fx, extra)).await;
        let response = self.decide(&html, "allow").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let callback = location(&response);
        assert!(callback.starts_with(CALLBACK), "{callback}");
        assert_eq!(param(&callback, "state").as_deref(), Some("okta-state-123"));
        param(&callback, "code").expect("code")
    }
}

/// POST /oauth/token as Okta's back end.
pub async fn token_request(
    app: &TestApp,
    fx: &Fixture,
    auth: ClientAuth,
    form: &[(&str, &str)],
) -> Response {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let request = app.client.post(format!("{}/oauth/token", app.address));
    let request = match auth {
        ClientAuth::Basic => request.basic_auth(&fx.client_id, Some(&fx.client_secret)),
        ClientAuth::Post => {
            form.push(("client_id", &fx.client_id));
            form.push(("client_secret", &fx.client_secret));
            request
        }
    };
    request.form(&form).send().await.unwrap()
}

pub async fn exchange(
    app: &TestApp,
    fx: &Fixture,
    auth: ClientAuth,
    code: &str,
    verifier: Option<&str>,
) -> Response {
    let mut form =
        vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CALLBACK)];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    token_request(app, fx, auth, &form).await
}

pub async fn refresh(
    app: &TestApp,
    fx: &Fixture,
    auth: ClientAuth,
    refresh_token: &str,
) -> Response {
    token_request(
        app,
        fx,
        auth,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
    )
    .await
}

pub async fn refresh_with_scope(
    app: &TestApp,
    fx: &Fixture,
    refresh_token: &str,
    scope: &str,
) -> Response {
    let form =
        [("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("scope", scope)];
    token_request(app, fx, ClientAuth::Basic, &form).await
}

/// A successful token response's JSON, after checking RFC 6749 §5.1's shape and headers.
pub async fn tokens(response: Response) -> Value {
    let status = response.status();
    let cache = response.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(cache.as_deref(), Some("no-store"));
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    assert!(body["refresh_token"].as_str().unwrap().starts_with("scimd_rt_"));
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    body
}

/// An OAuth error response's `error` code, after checking status and shape.
pub async fn oauth_error(response: Response, status: StatusCode) -> (String, String) {
    let actual = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(actual, status, "{body}");
    (
        body["error"].as_str().unwrap().to_owned(),
        body["error_description"].as_str().unwrap_or("").to_owned(),
    )
}

/// A refresh that must fail with `invalid_grant`; returns the error description.
pub async fn refresh_fails(app: &TestApp, fx: &Fixture, token: &str) -> String {
    let (error, description) =
        oauth_error(refresh(app, fx, ClientAuth::Basic, token).await, StatusCode::BAD_REQUEST)
            .await;
    assert_eq!(error, "invalid_grant", "{description}");
    description
}

/// A form POST to `path` authenticated as the OAuth client (introspection, revocation).
pub async fn client_post(
    app: &TestApp,
    fx: &Fixture,
    path: &str,
    form: &[(&str, &str)],
) -> Response {
    app.client
        .post(format!("{}{path}", app.address))
        .basic_auth(&fx.client_id, Some(&fx.client_secret))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Login, consent and code exchange in one go: the token response.
pub async fn authorize_and_exchange(app: &TestApp, fx: &Fixture, extra: &[(&str, &str)]) -> Value {
    let code = browser(app).code(fx, extra).await;
    tokens(exchange(app, fx, ClientAuth::Basic, &code, None).await).await
}

/// The decoded (unverified) header and claims of a JWT.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    let decode = |p: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    (decode(parts[0]), decode(parts[1]))
}

/// The `WWW-Authenticate` header of a response.
pub fn challenge(response: &Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}
