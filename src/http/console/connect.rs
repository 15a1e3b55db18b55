//! "Connect Okta": the exact values to paste into Okta for either authentication mode, a token
//! generated on demand (shown once), and the live status line from the tenant's last requests.

use actix_web::{HttpRequest, web};
use askama::Template;

use super::{Done, Nav, Operator, OperatorForm, Page, State, check_slug, ok, read};
use crate::http::extractors::origin;
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
    state: &State,
    nav: Nav,
    slug: String,
    token: Option<String>,
) -> Page {
    let (tenant, status, clients, admin_count) = read(state, move |st| {
        let tenant = tenants::by_slug(&st.db, &slug)?;
        let status = activity::view(&st.db, &tenant.id)?;
        let clients = clients::list(&st.db)?;
        let admin_count =
            tenant_admins::list(&st.db, &slug)?.iter().filter(|a| !a.disabled).count();
        Ok((TenantView::from(tenant), status, clients, admin_count))
    })
    .await?;
    let origin = origin(req, state);
    ok(&ConnectPage {
        nav,
        tenant,
        base_url: format!("{origin}/scim/v2"),
        origin,
        token,
        status,
        clients,
        admin_count,
    })
}

async fn show(req: HttpRequest, state: State, op: Operator, slug: web::Path<String>) -> Page {
    check_slug(&slug)?;
    render(&req, &state, op.nav(&Done::NONE), slug.into_inner(), None).await
}

async fn generate_token(
    req: HttpRequest,
    state: State,
    form: OperatorForm,
    slug: web::Path<String>,
) -> Page {
    check_slug(&slug)?;
    let s = slug.clone();
    // A label that tells tokens generated here apart in the token list.
    let label = format!("okta-{}", &secret::generate("")[..6]);
    let issued = form
        .act(&state, move |st, actor| {
            credentials::issue(&st.db, st.clock.as_ref(), actor, &s, &label)
        })
        .await?;
    render(&req, &state, form.nav(), slug.into_inner(), Some(issued.token)).await
}
