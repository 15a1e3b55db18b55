//! Each realm's security page (`/admin/security`, `/account/security`): change one's password
//! (the current one required; other sessions end), see one's sessions, sign out everywhere.
//! Every form carries the session's CSRF token (`SignedForm`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::error::PageError;
use super::extractors::client_ip;
use super::ui::{self, see_other};
use super::web_session::{Realm, Signed, SignedForm};
use crate::service::accounts::security::{self, ChangeRefusal, PasswordChange, SessionView};
use crate::service::accounts::{MIN_PASSWORD_LEN, Session};
use crate::service::verdict::Verdict;

/// The three routes under the realm's home.
pub fn routes<R: Realm>(cfg: &mut web::ServiceConfig) {
    cfg.route(&format!("{}/security", R::HOME), web::get().to(page::<R>))
        .route(&format!("{}/password", R::HOME), web::post().to(change_password::<R>))
        .route(&format!("{}/sessions/end", R::HOME), web::post().to(sign_out_everywhere::<R>));
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    home: &'static str,
    csrf: String,
    sessions: Vec<SessionView>,
    notice: Option<&'static str>,
    error: Option<String>,
    min_len: usize,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Done {
    done: Option<String>,
}

async fn render<R: Realm>(
    state: &web::Data<AppState>,
    session: R::Session,
    cookie: String,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let csrf = session.csrf_token().to_owned();
    let st = state.clone();
    let sessions =
        web::block(move || security::sessions_of(&st.db, st.clock.as_ref(), &session, &cookie))
            .await??;
    let page =
        SecurityPage { home: R::HOME, csrf, sessions, notice, error, min_len: MIN_PASSWORD_LEN };
    Ok(ui::render(status, &page))
}

async fn page<R: Realm>(
    state: web::Data<AppState>,
    signed: Signed<R>,
    query: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let notice = match query.done.as_deref() {
        Some("password-changed") => Some("Password changed; your other sessions have ended."),
        _ => None,
    };
    render::<R>(&state, signed.session, signed.cookie, StatusCode::OK, notice, None).await
}

async fn change_password<R: Realm>(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<R>,
) -> Result<HttpResponse, PageError> {
    let ip = client_ip(&req, &state);
    let (current, new) = (form.field("current").to_owned(), form.field("new").to_owned());
    if new != form.field("confirm") {
        let why = Some("The new passwords do not match.".to_owned());
        return render::<R>(&state, form.session, form.cookie, StatusCode::BAD_REQUEST, None, why)
            .await;
    }
    let (st, session, cookie) = (state.clone(), form.session.clone(), form.cookie.clone());
    let verdict = web::block(move || {
        let change =
            PasswordChange { cookie: &cookie, current: &current, new: &new, ip: ip.as_deref() };
        security::change_password(&st.db, st.clock.as_ref(), &st.passwords, &session, &change)
    })
    .await??;
    let (status, why) = match verdict {
        Verdict::Granted(()) => {
            return Ok(see_other(&format!("{}/security?done=password-changed", R::HOME)));
        }
        Verdict::Refused(ChangeRefusal::WrongPassword) => {
            (StatusCode::FORBIDDEN, "The current password is wrong.".to_owned())
        }
        Verdict::Refused(ChangeRefusal::Unacceptable(why)) => (StatusCode::BAD_REQUEST, why),
        Verdict::Refused(ChangeRefusal::Busy(secs)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("The server is busy checking passwords; try again in {secs} s."),
        ),
    };
    render::<R>(&state, form.session, form.cookie, status, None, Some(why)).await
}

async fn sign_out_everywhere<R: Realm>(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<R>,
) -> Result<HttpResponse, PageError> {
    let (ip, st, session) = (client_ip(&req, &state), state.clone(), form.session);
    web::block(move || {
        security::sign_out_everywhere(&st.db, st.clock.as_ref(), &session, ip.as_deref())
    })
    .await??;
    let mut response = see_other(R::SIGN_IN);
    let secure = ui::is_secure(&req, &state);
    let _ = response.add_cookie(&ui::expired_session_cookie(R::COOKIE, R::COOKIE_PATH, secure));
    Ok(response)
}
