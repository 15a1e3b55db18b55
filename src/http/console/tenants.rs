//! Tenants: the list, one tenant's page (rename, disable, static tokens, admins, grants) and
//! the actions on them.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::{Done, Nav, Operator, OperatorForm, Page, SecretPage, State, check_slug, ok, read};
use crate::audit::Actor;
use crate::http::AppState;
use crate::http::error::PageError;
use crate::http::ui::see_other;
use crate::service::OperatorError;
use crate::service::accounts::generate_password;
use crate::service::accounts::tenant_admins::{self, TenantAdminView};
use crate::service::oauth::grants::{self, GrantSummary};
use crate::service::oauth::tenant_clients::{self, ExpiringSecretView};
use crate::service::tenancy::credentials::{self, TokenView};
use crate::service::tenancy::health::{self, Connection, TenantHealth};
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
    rows: Vec<HealthRow>,
    q: String,
    total: usize,
    first: usize,
    last: usize,
    prev: Option<usize>,
    next: Option<usize>,
    expiring: Vec<ExpiringSecretView>,
}

/// One tenant on the dashboard, ready to show.
struct HealthRow {
    t: TenantHealth,
    status: &'static str,
    attention: bool,
    chart: String,
}

#[derive(Debug, serde::Deserialize)]
struct Dashboard {
    done: Option<String>,
    q: Option<String>,
    start: Option<usize>,
}

/// The last day's requests (grey) and errors (red) per hour as a small inline SVG: numbers only
/// go into it, so it needs no escaping, and no script or external resource (the CSP holds).
fn chart(hourly: &[(i64, i64)]) -> String {
    let (width, height) = (4, 24);
    let max = hourly.iter().map(|h| h.0).max().unwrap_or(0).max(1);
    let mut bars = String::new();
    for (i, (requests, errors)) in hourly.iter().enumerate() {
        let x = i * width;
        let h = |n: i64| (n * height / max).max(i64::from(n > 0));
        let (r, e) = (h(*requests), h(*errors));
        bars.push_str(&format!(
            "<rect x=\"{x}\" y=\"{}\" width=\"3\" height=\"{r}\" fill=\"#98a2b3\"/>",
            height - r
        ));
        if *errors > 0 {
            bars.push_str(&format!(
                "<rect x=\"{x}\" y=\"{}\" width=\"3\" height=\"{e}\" fill=\"#d92d20\"/>",
                height - e
            ));
        }
    }
    let total: i64 = hourly.iter().map(|h| h.0).sum();
    let failed: i64 = hourly.iter().map(|h| h.1).sum();
    format!(
        "<svg class=\"chart\" width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\" role=\"img\" \
         aria-label=\"{total} requests, {failed} failed, last 24 hours\">{bars}</svg>",
        hourly.len() * width,
        hourly.len() * width
    )
}

fn status_label(status: Connection) -> &'static str {
    match status {
        Connection::Failing => "failing",
        Connection::NeverConnected => "never connected",
        Connection::Idle => "idle",
        Connection::Working => "working",
        Connection::Disabled => "disabled",
    }
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
    expiring: Vec<ExpiringSecretView>,
}

/// The most expiring client secrets a page lists (soonest first).
const EXPIRING_SHOWN: i64 = 50;

/// The fleet dashboard: every tenant's connection at a glance, the ones needing attention first.
async fn list(state: State, op: Operator, query: web::Query<Dashboard>) -> Page {
    let query = query.into_inner();
    let q: String = query.q.unwrap_or_default().chars().take(100).collect();
    let start = query.start.unwrap_or(0);
    let needle = q.clone();
    let (page, expiring) = read(&state, move |st| {
        let page = health::page(&st.db, st.clock.as_ref(), &needle, start, health::PAGE)?;
        let expiring = tenant_clients::expiring(&st.db, st.clock.as_ref(), None, EXPIRING_SHOWN)?;
        Ok((page, expiring))
    })
    .await?;
    let shown = page.tenants.len();
    let rows = page
        .tenants
        .into_iter()
        .map(|t| HealthRow {
            status: status_label(t.status),
            attention: matches!(t.status, Connection::Failing | Connection::NeverConnected),
            chart: chart(&t.hourly),
            t,
        })
        .collect();
    ok(&TenantsPage {
        nav: op.nav(&Done { done: query.done }),
        rows,
        q,
        total: page.total,
        first: start + 1,
        last: start + shown,
        prev: (start > 0).then(|| start.saturating_sub(health::PAGE)),
        next: (start + shown < page.total).then_some(start + shown),
        expiring,
    })
}

async fn create(state: State, form: OperatorForm) -> Page {
    let (slug, name) = (form.field("slug").trim().to_owned(), form.field("name").to_owned());
    let tenant = form
        .act(&state, move |st, actor| {
            tenants::create(&st.db, st.clock.as_ref(), actor, &slug, Some(&name))
        })
        .await?;
    Ok(see_other(&format!("/admin/tenants/{}?done=tenant-created", tenant.slug)))
}

async fn show(
    state: State,
    op: Operator,
    slug: web::Path<String>,
    query: web::Query<Done>,
) -> Page {
    check_slug(&slug)?;
    let slug = slug.into_inner();
    let (tenant, tokens, admins, grants, expiring) = read(&state, move |st| {
        let tenant = tenants::by_slug(&st.db, &slug)?;
        let tokens = credentials::list(&st.db, &slug)?;
        let admins = tenant_admins::list(&st.db, &slug)?;
        let grants = grants::for_tenant(&st.db, &tenant.id)?;
        let expiring =
            tenant_clients::expiring(&st.db, st.clock.as_ref(), Some(&tenant.id), EXPIRING_SHOWN)?;
        Ok((TenantView::from(tenant), tokens, admins, grants, expiring))
    })
    .await?;
    let revoke_base = format!("/admin/tenants/{}/grants", tenant.slug);
    ok(&TenantPage {
        nav: op.nav(&query),
        csrf: op.session.csrf_token.clone(),
        tenant,
        tokens,
        admins,
        grants,
        show_lineage: true,
        revoke_base,
        expiring,
    })
}

fn back_to(slug: &str, done: &str) -> HttpResponse {
    see_other(&format!("/admin/tenants/{slug}?done={done}"))
}

/// Runs an operator's action on the tenant `slug` names, off the async runtime.
async fn on_tenant<T: Send + 'static>(
    state: &State,
    form: &OperatorForm,
    slug: &str,
    action: impl FnOnce(&AppState, &Actor, &str) -> Result<T, OperatorError> + Send + 'static,
) -> Result<T, PageError> {
    check_slug(slug)?;
    let slug = slug.to_owned();
    form.act(state, move |st, actor| action(st, actor, &slug)).await
}

/// The id of the tenant `slug` names, for the services that take one.
fn tenant_id(st: &AppState, slug: &str) -> Result<String, OperatorError> {
    Ok(tenants::by_slug(&st.db, slug)?.id)
}

async fn rename(state: State, form: OperatorForm, slug: web::Path<String>) -> Page {
    let name = form.field("name").to_owned();
    on_tenant(&state, &form, &slug, move |st, actor, slug| {
        tenants::rename(&st.db, st.clock.as_ref(), actor, slug, &name)
    })
    .await?;
    Ok(back_to(&slug, "tenant-renamed"))
}

/// The last segment of a disable or enable form's path.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Switch {
    Disable,
    Enable,
}

async fn set_disabled(state: State, form: OperatorForm, path: web::Path<(String, Switch)>) -> Page {
    let (slug, switch) = path.into_inner();
    let disabled = matches!(switch, Switch::Disable);
    on_tenant(&state, &form, &slug, move |st, actor, slug| {
        tenants::set_disabled(&st.db, st.clock.as_ref(), actor, slug, disabled)
    })
    .await?;
    Ok(back_to(&slug, if disabled { "tenant-disabled" } else { "tenant-enabled" }))
}

/// The page that shows a secret once, with the way back to the tenant.
fn shown_once(
    form: &OperatorForm,
    slug: &str,
    title: String,
    message: &str,
    secret: String,
) -> Page {
    SecretPage::answer(form, title, message.into(), secret, format!("/admin/tenants/{slug}"))
}

async fn issue_token(state: State, form: OperatorForm, slug: web::Path<String>) -> Page {
    let label = form.field("label").to_owned();
    let issued = on_tenant(&state, &form, &slug, move |st, actor, slug| {
        credentials::issue(&st.db, st.clock.as_ref(), actor, slug, &label)
    })
    .await?;
    let message = format!(
        "Paste it into Okta as the Authorization header value for tenant {} (Provisioning → Integration → HTTP Header).",
        issued.tenant
    );
    shown_once(&form, &slug, format!("Token '{}' issued", issued.label), &message, issued.token)
}

async fn revoke_token(state: State, form: OperatorForm, path: web::Path<(String, String)>) -> Page {
    let (slug, token_id) = path.into_inner();
    on_tenant(&state, &form, &slug, move |st, actor, slug| {
        let tenant = tenant_id(st, slug)?;
        credentials::revoke(&st.db, st.clock.as_ref(), actor, Some(&tenant), &token_id)
    })
    .await?;
    Ok(back_to(&slug, "token-revoked"))
}

async fn create_tenant_admin(state: State, form: OperatorForm, slug: web::Path<String>) -> Page {
    let email = form.field("email").to_owned();
    let password = generate_password();
    let p = password.clone();
    let admin = on_tenant(&state, &form, &slug, move |st, actor, slug| {
        tenant_admins::create(&st.db, st.clock.as_ref(), actor, slug, &email, &p)
    })
    .await?;
    let message = "Give them this one-time password over a channel you trust; they sign in with it on the consent page or at /account.";
    shown_once(&form, &slug, format!("Admin {} created", admin.email), message, password)
}

async fn reset_tenant_admin(
    state: State,
    form: OperatorForm,
    path: web::Path<(String, String)>,
) -> Page {
    let (slug, admin_id) = path.into_inner();
    let issued = on_tenant(&state, &form, &slug, move |st, actor, slug| {
        let tenant = tenant_id(st, slug)?;
        tenant_admins::reset_password(&st.db, st.clock.as_ref(), actor, &tenant, &admin_id)
    })
    .await?;
    let message = "Their sessions were ended. Give them this password over a channel you trust.";
    let title = format!("New password for {}", issued.admin.email);
    shown_once(&form, &slug, title, message, issued.password)
}

async fn set_tenant_admin_disabled(
    state: State,
    form: OperatorForm,
    path: web::Path<(String, String, Switch)>,
) -> Page {
    let (slug, admin_id, switch) = path.into_inner();
    let disabled = matches!(switch, Switch::Disable);
    on_tenant(&state, &form, &slug, move |st, actor, slug| {
        let tenant = tenant_id(st, slug)?;
        tenant_admins::set_disabled(&st.db, st.clock.as_ref(), actor, &tenant, &admin_id, disabled)
    })
    .await?;
    Ok(back_to(&slug, if disabled { "admin-disabled" } else { "admin-enabled" }))
}

async fn revoke_grant(state: State, form: OperatorForm, path: web::Path<(String, String)>) -> Page {
    let (slug, grant_id) = path.into_inner();
    on_tenant(&state, &form, &slug, move |st, actor, slug| {
        let tenant = tenant_id(st, slug)?;
        grants::revoke(&st.db, st.clock.as_ref(), actor, Some(&tenant), &grant_id, REVOKED_BY)
    })
    .await?;
    Ok(back_to(&slug, "grant-revoked"))
}

/// The reason recorded when an operator revokes a grant.
const REVOKED_BY: &str = "revoked by an operator";

/// From the lineage page, which is not under a tenant.
async fn revoke_any_grant(state: State, form: OperatorForm, grant_id: web::Path<String>) -> Page {
    let id = grant_id.clone();
    form.act(&state, move |st, actor| {
        grants::revoke(&st.db, st.clock.as_ref(), actor, None, &id, REVOKED_BY)
    })
    .await?;
    Ok(see_other(&format!("/admin/grants/{grant_id}?done=grant-revoked")))
}
