//! The consent pages: askama templates rendered with security headers that forbid framing
//! (clickjacking on the Allow button), caching and referrers, and the cookies they rely on.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;

pub const SESSION_COOKIE: &str = "scimd_session";
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
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ))
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

/// Cookies are `Secure` whenever we are served over https (the public URL or the connection).
pub fn cookie<'c>(name: &'c str, value: String, secure: bool) -> Cookie<'c> {
    Cookie::build(name, value)
        .path("/oauth")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

pub fn expired_cookie(name: &str, secure: bool) -> Cookie<'_> {
    let mut c = cookie(name, String::new(), secure);
    c.make_removal();
    c
}

pub fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.cookie(name).map(|c| c.value().to_owned()).filter(|v| !v.is_empty() && v.len() <= 200)
}
