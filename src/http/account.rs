//! Customer self-service at /account (ASVS 10.4.9): a tenant admin signs in and sees every grant
//! their organisation's admins gave (client, scopes, who, when, last used) and can revoke any of
//! them. Sessions are the consent page's: one sign-in serves both.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::extractors::client_ip;
use super::ui::{self, CSRF_COOKIE, SESSION_COOKIE};
use super::web_session::{PageError, Realm, Signed, SignedForm, blocking, read_form, see_other};
use crate::clock::Clock;
use crate::db::{Database, StoreError};
use crate::oauth::secret;
use crate::service::grants::{self, GrantSummary};
use crate::service::login::{self, Attempt, LoginFailure, Session};
use crate::service::rate_limit::Limit;

pub struct TenantAdmins;

impl Realm for TenantAdmins {
    type Session = Session;
    const COOKIE: &'static str = SESSION_COOKIE;
    const PATH: &'static str = "/";
    const SIGN_IN: &'static str = "/account/login";
    fn lookup(
        db: &Database,
        clock: &dyn Clock,
        cookie: &str,
    ) -> Result<Option<Session>, StoreError> {
        login::session(db, clock, cookie)
    }
    fn csrf(session: &Session) -> &str {
        &session.csrf_token
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account", web::get().to(grants_page))
        .service(
            web::resource("/account/login")
                .route(web::get().to(login_page))
                .route(web::post().to(login_post)),
        )
        .route("/account/logout", web::post().to(logout))
        .route("/account/grants/{id}/revoke", web::post().to(revoke));
}

#[derive(Template)]
#[template(path = "account/login.html")]
struct LoginPage<'a> {
    error: Option<String>,
    email: &'a str,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "account/grants.html")]
struct GrantsPage {
    tenant_name: String,
    email: String,
    csrf: String,
    notice: Option<&'static str>,
    grants: Vec<GrantSummary>,
    show_lineage: bool,
    revoke_base: &'static str,
}

fn render_login(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    email: &str,
) -> HttpResponse {
    let csrf = ui::cookie_value(req, CSRF_COOKIE).unwrap_or_else(|| secret::generate(""));
    let mut response = ui::render(status, &LoginPage { error, email, csrf: &csrf });
    let _ = response.add_cookie(&ui::cookie(CSRF_COOKIE, csrf.clone(), ui::is_secure(req, state)));
    response
}

async fn login_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    render_login(&req, &state, StatusCode::OK, None, "")
}

async fn login_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form = read_form(&mut payload).await?;
    let field = |k: &str| form.get(k).map_or("", String::as_str).to_owned();
    if !ui::cookie_value(&req, CSRF_COOKIE).is_some_and(|c| secret::equal(&c, &field("csrf"))) {
        return Err(PageError::forbidden(
            "The sign-in form could not be verified (cookies must be enabled). Reload the page and sign in again.",
        ));
    }
    let (email, password) = (field("email"), field("password"));
    let (ip, st, email2) = (client_ip(&req, &state), state.clone(), email.clone());
    let outcome = web::block(move || {
        let attempt = Attempt {
            email: &email2,
            password: &password,
            ip: ip.as_deref(),
            ip_limit: Limit::per_minute(st.settings.rate_limits.login_per_ip),
        };
        let ttl = i64::try_from(st.settings.session_ttl_secs).unwrap_or(3600) * 1000;
        login::login(&st.db, st.clock.as_ref(), ttl, &attempt)
    })
    .await??;
    Ok(match outcome {
        Ok(new) => {
            let mut response = see_other("/account");
            let _ = response.add_cookie(&ui::cookie(
                SESSION_COOKIE,
                new.cookie,
                ui::is_secure(&req, &state),
            ));
            response
        }
        Err(LoginFailure::Invalid) => render_login(
            &req,
            &state,
            StatusCode::UNAUTHORIZED,
            Some("Incorrect email or password.".into()),
            &email,
        ),
        Err(LoginFailure::Throttled { retry_after }) => {
            let message = format!(
                "Too many sign-in attempts. Try again in {} minute(s).",
                (retry_after + 59_999) / 60_000
            );
            let mut response =
                render_login(&req, &state, StatusCode::TOO_MANY_REQUESTS, Some(message), &email);
            ui::set_retry_after(&mut response, retry_after);
            response
        }
    })
}

#[derive(Debug, serde::Deserialize)]
struct Done {
    done: Option<String>,
}

async fn grants_page(
    state: web::Data<AppState>,
    admin: Signed<TenantAdmins>,
    query: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let st = state.clone();
    let tenant_id = admin.session.tenant_id.clone();
    let grants = blocking(move || grants::for_tenant(&st.db, &tenant_id)).await?;
    let page = GrantsPage {
        tenant_name: admin.session.tenant_name.clone(),
        email: admin.session.email.clone(),
        csrf: admin.session.csrf_token.clone(),
        notice: (query.done.as_deref() == Some("grant-revoked"))
            .then_some("Access revoked: that application can no longer reach your directory."),
        grants,
        show_lineage: false,
        revoke_base: "/account/grants",
    };
    Ok(ui::render(StatusCode::OK, &page))
}

async fn revoke(
    state: web::Data<AppState>,
    form: SignedForm<TenantAdmins>,
    grant_id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let st = state.clone();
    let session = form.session.clone();
    let id = grant_id.into_inner();
    blocking(move || {
        let actor = format!("admin:{}", session.admin_id);
        let reason = format!("revoked by tenant admin {}", session.email);
        grants::revoke_as(&st.db, st.clock.as_ref(), &actor, Some(&session.tenant_id), &id, &reason)
    })
    .await?;
    Ok(see_other("/account?done=grant-revoked"))
}

async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<TenantAdmins>,
) -> Result<HttpResponse, PageError> {
    let (ip, st, cookie) = (client_ip(&req, &state), state.clone(), form.cookie.clone());
    web::block(move || login::logout(&st.db, st.clock.as_ref(), &cookie, ip.as_deref())).await??;
    let mut response = see_other("/account/login");
    let _ = response.add_cookie(&ui::expired_cookie(SESSION_COOKIE, ui::is_secure(&req, &state)));
    Ok(response)
}
