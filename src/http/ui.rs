//! HTML pages (consent, account, console): askama templates rendered with security headers that
//! forbid framing (clickjacking on the Allow button), inline script, caching and referrers, and
//! the cookies they rely on.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;

use super::AppState;
use super::extractors::is_https;

pub const SESSION_COOKIE: &str = "scimd_session";

/// No inline script or style at all: styles and the console's one script come from /static.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";
pub const CSRF_COOKIE: &str = "scimd_csrf";

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub client_name: &'a str,
    pub error: Option<String>,
    pub email: &'a str,
    pub csrf: &'a str,
    pub return_to: &'a str,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub client_name: &'a str,
    pub tenant_name: &'a str,
    pub email: &'a str,
    pub scope_lines: Vec<&'static str>,
    pub redirect_host: &'a str,
    pub action: &'a str,
    pub csrf: &'a str,
    pub return_to: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

/// A response builder with the headers every page carries.
pub fn page(status: StatusCode) -> HttpResponseBuilder {
    let mut builder = HttpResponse::build(status);
    builder
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    builder
}

/// Renders a template into a page response.
pub fn render(status: StatusCode, template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(html) => page(status).body(html),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            page(StatusCode::INTERNAL_SERVER_ERROR).body("internal error")
        }
    }
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    render(status, &ErrorPage { title, message })
}

/// Cookies are `Secure` when the browser talks https to us: over our own TLS or a trusted
/// proxy's, or when the configured public URL is https (a proxy we do not trust may still
/// terminate TLS, and a `Secure` cookie can only be safer).
pub fn is_secure(req: &HttpRequest, state: &AppState) -> bool {
    is_https(req, state)
        || state.settings.public_url.as_deref().is_some_and(|url| url.starts_with("https://"))
}

/// The sign-in form's CSRF cookie and the tenant admin's session cookie (consent and account
/// pages), `Secure` whenever we are served over https.
pub fn cookie(name: &str, value: String, secure: bool) -> Cookie<'static> {
    session_cookie(name, "/", value, secure)
}

/// The name a cookie goes by. Over https it carries the `__Host-` prefix: a browser then takes it
/// only `Secure`, for `Path=/` and without `Domain`, so a sibling subdomain (or a plain-http
/// response) cannot plant one for us ("cookie tossing": a session or sign-in CSRF pair of the
/// attacker's choosing). Plain http (development) cannot use the prefix.
pub fn cookie_name(name: &str, secure: bool) -> String {
    if secure { format!("__Host-{name}") } else { name.to_owned() }
}

/// A session cookie scoped to `path`: HttpOnly, SameSite=Lax (the consent page is reached by a
/// top-level redirect from the identity provider), Secure over https. Over https it is
/// `__Host-`-prefixed, which requires `Path=/`.
pub fn session_cookie(name: &str, path: &str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(cookie_name(name, secure), value)
        .path(if secure { "/".to_owned() } else { path.to_owned() })
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

pub fn expired_session_cookie(name: &str, path: &str, secure: bool) -> Cookie<'static> {
    let mut c = session_cookie(name, path, String::new(), secure);
    c.make_removal();
    c
}

pub fn expired_cookie(name: &str, secure: bool) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), secure);
    c.make_removal();
    c
}

/// The value of cookie `name` as this request's scheme names it: over https only the
/// `__Host-` one counts, so an unprefixed cookie planted by someone else is ignored.
pub fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    let secure =
        req.app_data::<actix_web::web::Data<AppState>>().is_some_and(|state| is_secure(req, state));
    req.cookie(&cookie_name(name, secure))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 200)
}

/// `Retry-After` in whole seconds (at least 1) for a throttled page.
pub fn set_retry_after(response: &mut HttpResponse, retry_after_ms: i64) {
    let secs = (retry_after_ms.max(0) + 999) / 1000;
    if let Ok(value) = header::HeaderValue::from_str(&secs.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
}

/// The stylesheet and the console's one script, compiled in and served from /static with a long
/// cache lifetime (their names change with the binary's version in a future release; for now
/// an hour keeps deploys visible quickly).
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.route("/static/scimd.css", actix_web::web::get().to(stylesheet))
        .route("/static/console.js", actix_web::web::get().to(script));
}

async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", include_str!("../../templates/static/scimd.css"))
}

async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", include_str!("../../templates/static/console.js"))
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

/// 303 See Other: where a successful form post lands (post/redirect/get).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
