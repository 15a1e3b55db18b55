//! Operator sign-in and sign-out.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{COOKIE, COOKIE_PATH};
use crate::http::AppState;
use crate::http::extractors::client_ip;
use crate::http::ui;
use crate::http::web_session::{
    PageError, refused, see_other, sign_in, sign_in_csrf, with_csrf_cookie,
};
use crate::service::accounts::operators;

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
    let csrf = sign_in_csrf(req);
    let response = ui::render(status, &LoginPage { error, email, csrf: &csrf, next });
    with_csrf_cookie(response, req, state, csrf)
}

#[derive(Debug, serde::Deserialize)]
struct Next {
    next: Option<String>,
}

async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Next>,
) -> HttpResponse {
    render_login(&req, &state, StatusCode::OK, None, "", &safe_next(query.next.as_deref()))
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let (post, outcome) = sign_in(&req, &state, &mut payload, operators::login).await?;
    let next = safe_next(post.form.get("next").map(String::as_str));
    Ok(match outcome {
        Ok(new) => {
            let mut response = see_other(&next);
            let secure = ui::is_secure(&req, &state);
            let _ =
                response.add_cookie(&ui::session_cookie(COOKIE, COOKIE_PATH, new.cookie, secure));
            response
        }
        Err(failure) => refused(failure, |status, message| {
            render_login(&req, &state, status, Some(message), &post.email, &next)
        }),
    })
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
        COOKIE_PATH,
        ui::is_secure(&req, &state),
    ));
    Ok(response)
}
