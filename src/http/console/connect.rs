//! "Connect Okta": the exact values to paste into Okta for either authentication mode, a token
//! generated on demand (shown once), and the live status line from the tenant's last requests.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Nav, Operator, OperatorForm, check_slug};
use crate::http::AppState;
use crate::http::error::{PageError, blocking};
use crate::http::extractors::origin;
use crate::http::ui;
use crate::oauth::secret;
use crate::service::accounts::tenant_admins;
use crate::service::oauth::clients::{self, ClientView};
use crate::service::operations::activity::{self, ActivityView};
use crate::service::tenancy::credentials;
use crate::service::tenancy::tenants::{self, TenantView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{slug}/connect", web::get().to(show))
        .route("/admin/tenants/{slug}/connect/token", web::post().to(generate_token));
}

#[derive(Template)]
#[template(path = "console/connect.html")]
struct ConnectPage {
    nav: Nav,
    tenant: TenantView,
    origin: String,
    base_url: String,
    token: Option<String>,
    status: ActivityView,
    clients: Vec<ClientView>,
    admin_count: usize,
}

async fn render(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    nav: Nav,
    slug: String,
    token: Option<String>,
) -> Result<HttpResponse, PageError> {
    let st = state.clone();
    let (tenant, status, clients, admin_count) = blocking(move || {
        let tenant = tenants::by_slug(&st.db, &slug)?;
        let status = activity::view(&st.db, &tenant.id)?;
        let clients = clients::list(&st.db)?;
        let admin_count =
            tenant_admins::list(&st.db, &slug)?.iter().filter(|a| !a.disabled).count();
        Ok((TenantView::from(tenant), status, clients, admin_count))
    })
    .await?;
    let origin = origin(req, state);
    let page = ConnectPage {
        nav,
        tenant,
        base_url: format!("{origin}/scim/v2"),
        origin,
        token,
        status,
        clients,
        admin_count,
    };
    Ok(ui::render(StatusCode::OK, &page))
}

async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    op: Operator,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    check_slug(&slug)?;
    render(&req, &state, Nav::new(&op.session, None), slug.into_inner(), None).await
}

async fn generate_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: OperatorForm,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    check_slug(&slug)?;
    let (actor, st, s) = (form.session.actor(), state.clone(), slug.clone());
    // A label that tells tokens generated here apart in the token list.
    let label = format!("okta-{}", &secret::generate("")[..6]);
    let issued =
        blocking(move || credentials::issue(&st.db, st.clock.as_ref(), &actor, &s, &label)).await?;
    render(&req, &state, Nav::new(&form.session, None), slug.into_inner(), Some(issued.token)).await
}
