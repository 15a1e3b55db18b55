//! Operator sign-in and sign-out.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::Operators;
use crate::http::web_session::{
    SignInFn, SignInRealm, SignInView, sign_in_page, sign_in_post, sign_out,
};
use crate::http::{AppState, ui};
use crate::service::accounts::NewSession;
use crate::service::accounts::operators::{self, OperatorSession};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/login")
            .route(web::get().to(login_page))
            .route(web::post().to(sign_in_post::<Operators>)),
    )
    .route("/admin/logout", web::post().to(sign_out::<Operators>));
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

impl SignInRealm for Operators {
    const LOGIN: SignInFn<NewSession<OperatorSession>> = operators::login;
    fn landing(next: Option<&str>) -> String {
        safe_next(next)
    }
    fn page(status: StatusCode, form: SignInView<'_>) -> HttpResponse {
        let SignInView { error, email, csrf, next } = form;
        ui::render(status, &LoginPage { error, email, csrf, next })
    }
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
    let next = safe_next(query.next.as_deref());
    sign_in_page::<Operators>(&req, &state, StatusCode::OK, None, "", &next)
}
