//! Operator sign-in and sign-out.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::COOKIE;
use crate::http::AppState;
use crate::http::extractors::client_ip;
use crate::http::ui::{self, CSRF_COOKIE};
use crate::http::web_session::{PageError, read_form, see_other};
use crate::oauth::secret;
use crate::service::login::{Attempt, LoginFailure};
use crate::service::operators;
use crate::service::rate_limit::Limit;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/login").route(web::get().to(login_page)).route(web::post().to(login)),
    )
    .route("/admin/logout", web::post().to(logout));
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage<'a> {
    error: Option<String>,
    email: &'a str,
    csrf: &'a str,
    next: &'a str,
}

/// Only a console path may follow sign-in (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| {
        n.starts_with("/admin") && !n.starts_with("//") && n.bytes().all(|b| b.is_ascii_graphic())
    })
    .unwrap_or("/admin")
    .to_owned()
}

fn render_login(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    email: &str,
    next: &str,
) -> HttpResponse {
    let csrf = ui::cookie_value(req, CSRF_COOKIE).unwrap_or_else(|| secret::generate(""));
    let mut response = ui::render(status, &LoginPage { error, email, csrf: &csrf, next });
    let _ = response.add_cookie(&ui::cookie(CSRF_COOKIE, csrf.clone(), ui::is_secure(req, state)));
    response
}

async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Next>,
) -> HttpResponse {
    render_login(&req, &state, StatusCode::OK, None, "", &safe_next(query.next.as_deref()))
}

#[derive(Debug, serde::Deserialize)]
struct Next {
    next: Option<String>,
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form = read_form(&mut payload).await?;
    let field = |k: &str| form.get(k).map_or("", String::as_str).to_owned();
    let next = safe_next(form.get("next").map(String::as_str));
    let csrf_ok =
        ui::cookie_value(&req, CSRF_COOKIE).is_some_and(|c| secret::equal(&c, &field("csrf")));
    if !csrf_ok {
        return Err(PageError::forbidden(
            "The sign-in form could not be verified (cookies must be enabled). Reload the page and sign in again.",
        ));
    }
    let (email, password) = (field("email"), field("password"));
    let ip = client_ip(&req, &state);
    let st = state.clone();
    let email2 = email.clone();
    let outcome = web::block(move || {
        let attempt = Attempt {
            email: &email2,
            password: &password,
            ip: ip.as_deref(),
            ip_limit: Limit::per_minute(st.settings.rate_limits.login_per_ip),
        };
        let ttl = i64::try_from(st.settings.session_ttl_secs).unwrap_or(3600) * 1000;
        operators::login(&st.db, st.clock.as_ref(), ttl, &attempt)
    })
    .await??;
    match outcome {
        Ok(new) => {
            let mut response = see_other(&next);
            let _ = response.add_cookie(&ui::session_cookie(
                COOKIE,
                "/admin",
                new.cookie,
                ui::is_secure(&req, &state),
            ));
            Ok(response)
        }
        Err(LoginFailure::Invalid) => Ok(render_login(
            &req,
            &state,
            StatusCode::UNAUTHORIZED,
            Some("Incorrect email or password.".into()),
            &email,
            &next,
        )),
        Err(LoginFailure::Throttled { retry_after }) => {
            let message = format!(
                "Too many sign-in attempts. Try again in {} minute(s).",
                (retry_after + 59_999) / 60_000
            );
            let mut response = render_login(
                &req,
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                Some(message),
                &email,
                &next,
            );
            ui::set_retry_after(&mut response, retry_after);
            Ok(response)
        }
    }
}

async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: super::OperatorForm,
) -> Result<HttpResponse, PageError> {
    let ip = client_ip(&req, &state);
    let st = state.clone();
    let (session, cookie) = (form.session.clone(), form.cookie.clone());
    web::block(move || {
        operators::logout(&st.db, st.clock.as_ref(), &session, &cookie, ip.as_deref())
    })
    .await??;
    let mut response = see_other("/admin/login");
    let _ = response.add_cookie(&ui::expired_session_cookie(
        COOKIE,
        "/admin",
        ui::is_secure(&req, &state),
    ));
    Ok(response)
}
