//! Tenants: the list, one tenant's page (rename, disable, static tokens, admins, grants) and
//! the actions on them.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::{Done, Nav, Operator, OperatorForm, check_slug};
use crate::http::AppState;
use crate::http::error::{PageError, blocking};
use crate::http::ui;
use crate::http::ui::see_other;
use crate::service::accounts::generate_password;
use crate::service::accounts::tenant_admins::{self, TenantAdminView};
use crate::service::oauth::grants::{self, GrantSummary};
use crate::service::tenancy::credentials::{self, TokenView};
use crate::service::tenancy::tenants::{self, TenantView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(list))
        .route("/admin/tenants", web::get().to(list))
        .route("/admin/tenants", web::post().to(create))
        .route("/admin/tenants/{slug}", web::get().to(show))
        .route("/admin/tenants/{slug}/rename", web::post().to(rename))
        .route("/admin/tenants/{slug}/{switch:disable|enable}", web::post().to(set_disabled))
        .route("/admin/tenants/{slug}/tokens", web::post().to(issue_token))
        .route("/admin/tenants/{slug}/tokens/{id}/revoke", web::post().to(revoke_token))
        .route("/admin/tenants/{slug}/admins", web::post().to(create_tenant_admin))
        .route("/admin/tenants/{slug}/admins/{id}/reset", web::post().to(reset_tenant_admin))
        .route(
            "/admin/tenants/{slug}/admins/{id}/{switch:disable|enable}",
            web::post().to(set_tenant_admin_disabled),
        )
        .route("/admin/tenants/{slug}/grants/{id}/revoke", web::post().to(revoke_grant))
        .route("/admin/grants/{id}/revoke", web::post().to(revoke_any_grant));
}

#[derive(Template)]
#[template(path = "console/tenants.html")]
struct TenantsPage {
    nav: Nav,
    tenants: Vec<TenantView>,
}

#[derive(Template)]
#[template(path = "console/tenant.html")]
struct TenantPage {
    nav: Nav,
    tenant: TenantView,
    tokens: Vec<TokenView>,
    admins: Vec<TenantAdminView>,
    grants: Vec<GrantSummary>,
    show_lineage: bool,
    revoke_base: String,
    csrf: String,
}

/// A secret shown once (a static token, a generated password, a client secret).
#[derive(Template)]
#[template(path = "console/secret.html")]
pub struct SecretPage {
    pub nav: Nav,
    pub title: String,
    pub message: String,
    pub secret: String,
    pub back: String,
}

async fn list(
    state: web::Data<AppState>,
    op: Operator,
    query: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let st = state.clone();
    let tenants = blocking(move || tenants::list(&st.db)).await?;
    let page = TenantsPage { nav: Nav::new(&op.session, query.done.as_deref()), tenants };
    Ok(ui::render(actix_web::http::StatusCode::OK, &page))
}

async fn create(state: web::Data<AppState>, form: OperatorForm) -> Result<HttpResponse, PageError> {
    let actor = form.session.actor();
    let (slug, name) = (form.field("slug").trim().to_owned(), form.field("name").to_owned());
    let st = state.clone();
    let tenant =
        blocking(move || tenants::create(&st.db, st.clock.as_ref(), &actor, &slug, Some(&name)))
            .await?;
    Ok(see_other(&format!("/admin/tenants/{}?done=tenant-created", tenant.slug)))
}

async fn show(
    state: web::Data<AppState>,
    op: Operator,
    slug: web::Path<String>,
    query: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    check_slug(&slug)?;
    let st = state.clone();
    let slug = slug.into_inner();
    let (tenant, tokens, admins, grants) = blocking(move || {
        let tenant = tenants::by_slug(&st.db, &slug)?;
        let tokens = credentials::list(&st.db, &slug)?;
        let admins = tenant_admins::list(&st.db, &slug)?;
        let grants = grants::for_tenant(&st.db, &tenant.id)?;
        Ok((TenantView::from(tenant), tokens, admins, grants))
    })
    .await?;
    let revoke_base = format!("/admin/tenants/{}/grants", tenant.slug);
    let page = TenantPage {
        nav: Nav::new(&op.session, query.done.as_deref()),
        csrf: op.session.csrf_token.clone(),
        tenant,
        tokens,
        admins,
        grants,
        show_lineage: true,
        revoke_base,
    };
    Ok(ui::render(actix_web::http::StatusCode::OK, &page))
}

fn back_to(slug: &str, done: &str) -> HttpResponse {
    see_other(&format!("/admin/tenants/{slug}?done={done}"))
}

async fn rename(
    state: web::Data<AppState>,
    form: OperatorForm,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    check_slug(&slug)?;
    let (actor, name, st) = (form.session.actor(), form.field("name").to_owned(), state.clone());
    let s = slug.clone();
    blocking(move || tenants::rename(&st.db, st.clock.as_ref(), &actor, &s, &name)).await?;
    Ok(back_to(&slug, "tenant-renamed"))
}

/// The last segment of a disable or enable form's path.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Switch {
    Disable,
    Enable,
}

async fn set_disabled(
    state: web::Data<AppState>,
    form: OperatorForm,
    path: web::Path<(String, Switch)>,
) -> Result<HttpResponse, PageError> {
    let (slug, switch) = path.into_inner();
    let disabled = matches!(switch, Switch::Disable);
    check_slug(&slug)?;
    let (actor, st, s) = (form.session.actor(), state.clone(), slug.clone());
    blocking(move || tenants::set_disabled(&st.db, st.clock.as_ref(), &actor, &s, disabled))
        .await?;
    Ok(back_to(&slug, if disabled { "tenant-disabled" } else { "tenant-enabled" }))
}

async fn issue_token(
    state: web::Data<AppState>,
    form: OperatorForm,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    check_slug(&slug)?;
    let (actor, label, st, s) =
        (form.session.actor(), form.field("label").to_owned(), state.clone(), slug.clone());
    let issued =
        blocking(move || credentials::issue(&st.db, st.clock.as_ref(), &actor, &s, &label)).await?;
    let page = SecretPage {
        nav: Nav::new(&form.session, None),
        title: format!("Token '{}' issued", issued.label),
        message: format!(
            "Paste it into Okta as the Authorization header value for tenant {} (Provisioning → Integration → HTTP Header).",
            issued.tenant
        ),
        secret: issued.token,
        back: format!("/admin/tenants/{slug}"),
    };
    Ok(ui::render(actix_web::http::StatusCode::OK, &page))
}

async fn revoke_token(
    state: web::Data<AppState>,
    form: OperatorForm,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (slug, token_id) = path.into_inner();
    check_slug(&slug)?;
    let (actor, st, s) = (form.session.actor(), state.clone(), slug.clone());
    blocking(move || {
        let tenant = tenants::by_slug(&st.db, &s)?;
        credentials::revoke(&st.db, st.clock.as_ref(), &actor, Some(&tenant.id), &token_id)
    })
    .await?;
    Ok(back_to(&slug, "token-revoked"))
}

async fn create_tenant_admin(
    state: web::Data<AppState>,
    form: OperatorForm,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    check_slug(&slug)?;
    let (actor, email, st, s) =
        (form.session.actor(), form.field("email").to_owned(), state.clone(), slug.clone());
    let password = generate_password();
    let p = password.clone();
    let admin =
        blocking(move || tenant_admins::create(&st.db, st.clock.as_ref(), &actor, &s, &email, &p))
            .await?;
    let page = SecretPage {
        nav: Nav::new(&form.session, None),
        title: format!("Admin {} created", admin.email),
        message: "Give them this one-time password over a channel you trust; they sign in with it on the consent page or at /account.".into(),
        secret: password,
        back: format!("/admin/tenants/{slug}"),
    };
    Ok(ui::render(actix_web::http::StatusCode::OK, &page))
}

async fn reset_tenant_admin(
    state: web::Data<AppState>,
    form: OperatorForm,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (slug, admin_id) = path.into_inner();
    check_slug(&slug)?;
    let (actor, st, s) = (form.session.actor(), state.clone(), slug.clone());
    let issued = blocking(move || {
        let tenant = tenants::by_slug(&st.db, &s)?;
        tenant_admins::reset_password(&st.db, st.clock.as_ref(), &actor, &tenant.id, &admin_id)
    })
    .await?;
    let page = SecretPage {
        nav: Nav::new(&form.session, None),
        title: format!("New password for {}", issued.admin.email),
        message: "Their sessions were ended. Give them this password over a channel you trust."
            .into(),
        secret: issued.password,
        back: format!("/admin/tenants/{slug}"),
    };
    Ok(ui::render(actix_web::http::StatusCode::OK, &page))
}

async fn set_tenant_admin_disabled(
    state: web::Data<AppState>,
    form: OperatorForm,
    path: web::Path<(String, String, Switch)>,
) -> Result<HttpResponse, PageError> {
    let (slug, admin_id, switch) = path.into_inner();
    let disabled = matches!(switch, Switch::Disable);
    check_slug(&slug)?;
    let (actor, st, s) = (form.session.actor(), state.clone(), slug.clone());
    blocking(move || {
        let tenant = tenants::by_slug(&st.db, &s)?;
        tenant_admins::set_disabled(
            &st.db,
            st.clock.as_ref(),
            &actor,
            &tenant.id,
            &admin_id,
            disabled,
        )
    })
    .await?;
    Ok(back_to(&slug, if disabled { "admin-disabled" } else { "admin-enabled" }))
}

async fn revoke_grant(
    state: web::Data<AppState>,
    form: OperatorForm,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (slug, grant_id) = path.into_inner();
    check_slug(&slug)?;
    let (actor, st, s) = (form.session.actor(), state.clone(), slug.clone());
    blocking(move || {
        let tenant = tenants::by_slug(&st.db, &s)?;
        grants::revoke(
            &st.db,
            st.clock.as_ref(),
            &actor,
            Some(&tenant.id),
            &grant_id,
            "revoked by an operator",
        )
    })
    .await?;
    Ok(back_to(&slug, "grant-revoked"))
}

/// From the lineage page, which is not under a tenant.
async fn revoke_any_grant(
    state: web::Data<AppState>,
    form: OperatorForm,
    grant_id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (actor, st) = (form.session.actor(), state.clone());
    let id = grant_id.clone();
    blocking(move || {
        grants::revoke(&st.db, st.clock.as_ref(), &actor, None, &id, "revoked by an operator")
    })
    .await?;
    Ok(see_other(&format!("/admin/grants/{grant_id}?done=grant-revoked")))
}
