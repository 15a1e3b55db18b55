//! Customer self-service at /account (ASVS 10.4.9): a tenant admin signs in and sees every grant
//! their organisation's admins gave (client, scopes, who, when, last used) and can revoke any of
//! them. Sessions are the consent page's: one sign-in serves both.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::console::requests;
use super::error::{PageError, blocking};
use super::ui::{self, SESSION_COOKIE, see_other};
use super::web_session::{
    Realm, SignInFn, SignInRealm, SignInView, Signed, SignedForm, sign_in_page, sign_in_post,
    sign_out,
};
use super::{AppState, Page, State};
use crate::service::accounts::NewSession;
use crate::service::accounts::tenant_admins::{self, TenantAdminSession};
use crate::service::oauth::grants::{self, GrantSummary};

pub struct TenantAdmins;

/// A signed-in tenant admin.
type Admin = Signed<TenantAdmins>;

impl Realm for TenantAdmins {
    type Session = TenantAdminSession;
    const COOKIE: &'static str = SESSION_COOKIE;
    const COOKIE_PATH: &'static str = "/";
    const SIGN_IN: &'static str = "/account/login";
    const HOME: &'static str = "/account";
}

impl SignInRealm for TenantAdmins {
    const LOGIN: SignInFn<NewSession<TenantAdminSession>> = tenant_admins::login;
    /// The account pages are one page: sign-in always lands there.
    fn landing(_next: Option<&str>) -> String {
        "/account".to_owned()
    }
    fn page(status: StatusCode, form: SignInView<'_>) -> HttpResponse {
        ui::render(status, &LoginPage { error: form.error, email: form.email, csrf: form.csrf })
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account", web::get().to(grants_page))
        .service(
            web::resource("/account/login")
                .route(web::get().to(login_page))
                .route(web::post().to(sign_in_post::<TenantAdmins>)),
        )
        .route("/account/logout", web::post().to(sign_out::<TenantAdmins>))
        .route("/account/grants/{id}/revoke", web::post().to(revoke))
        .route("/account/requests", web::get().to(requests_page))
        .route("/account/requests/{seq}", web::get().to(request_page));
    super::security::routes::<TenantAdmins>(cfg);
}

#[derive(Template)]
#[template(path = "account/login.html")]
struct LoginPage<'a> {
    error: Option<String>,
    email: &'a str,
    csrf: &'a str,
}

/// What the layout shows on every account page.
struct AccountNav {
    tenant_name: String,
    email: String,
    csrf: String,
}

impl AccountNav {
    fn of(admin: &Signed<TenantAdmins>) -> AccountNav {
        let session = &admin.session;
        AccountNav {
            tenant_name: session.tenant_name.clone(),
            email: session.email.clone(),
            csrf: session.csrf_token.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "account/grants.html")]
struct GrantsPage {
    nav: AccountNav,
    /// For the grants table's revoke forms.
    csrf: String,
    notice: Option<&'static str>,
    grants: Vec<GrantSummary>,
    show_lineage: bool,
    revoke_base: &'static str,
}

async fn login_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    sign_in_page::<TenantAdmins>(&req, &state, StatusCode::OK, None, "", "/account")
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
        nav: AccountNav::of(&admin),
        csrf: admin.session.csrf_token.clone(),
        notice: (query.done.as_deref() == Some("grant-revoked"))
            .then_some("Access revoked: that application can no longer reach your directory."),
        grants,
        show_lineage: false,
        revoke_base: "/account/grants",
    };
    Ok(ui::render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "account/requests.html")]
struct RequestsPage {
    nav: AccountNav,
    base: &'static str,
    listing: requests::Listing,
}

#[derive(Template)]
#[template(path = "account/request.html")]
struct RequestPage {
    nav: AccountNav,
    base: &'static str,
    detail: requests::Detail,
}

/// The tenant's own request log: the same pages as the console's, confined to the session's
/// tenant.
async fn requests_page(state: State, admin: Admin, query: web::Query<requests::Query>) -> Page {
    let tenant_id = admin.session.tenant_id.clone();
    let listing = requests::listing(&state, tenant_id, query.into_inner()).await?;
    let page = RequestsPage { nav: AccountNav::of(&admin), base: "/account/requests", listing };
    Ok(ui::render(StatusCode::OK, &page))
}

async fn request_page(state: State, admin: Admin, seq: web::Path<i64>) -> Page {
    let tenant_id = admin.session.tenant_id.clone();
    let detail = requests::detail(&state, tenant_id, seq.into_inner()).await?;
    let page = RequestPage { nav: AccountNav::of(&admin), base: "/account/requests", detail };
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
        let reason = format!("revoked by tenant admin {}", session.email);
        let actor = session.actor();
        grants::revoke(&st.db, st.clock.as_ref(), &actor, Some(&session.tenant_id), &id, &reason)
    })
    .await?;
    Ok(see_other("/account?done=grant-revoked"))
}
