//! A tenant's catalog of roles and entitlements, read-only: what the tenant's IdP reads at each
//! catalog endpoint (vendor-wide items and the tenant's own), and how many users hold each.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::{Nav, Operator, check_slug};
use crate::http::AppState;
use crate::http::error::{PageError, blocking};
use crate::http::ui;
use crate::service::catalog::items::{self, SHOWN_PER_TYPE, TypeListing};
use crate::service::tenancy::tenants::{self, TenantView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{slug}/catalog", web::get().to(show));
}

#[derive(Template)]
#[template(path = "console/catalog.html")]
struct CatalogPage {
    nav: Nav,
    tenant: TenantView,
    types: Vec<TypeListing>,
    shown_per_type: i64,
}

async fn show(
    state: web::Data<AppState>,
    op: Operator,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let slug = slug.into_inner();
    check_slug(&slug)?;
    let (tenant, types) = blocking(move || {
        let tenant = tenants::by_slug(&state.db, &slug)?;
        let types = items::tenant_view(&state.db, &state.schemas, &tenant.id)?;
        Ok((TenantView::from(tenant), types))
    })
    .await?;
    let page = CatalogPage {
        nav: Nav::new(&op.session, None),
        tenant,
        types,
        shown_per_type: SHOWN_PER_TYPE,
    };
    Ok(ui::render(StatusCode::OK, &page))
}
