//! A tenant's catalog of roles and entitlements, read-only: what the tenant's IdP reads at each
//! catalog endpoint (vendor-wide items and the tenant's own), and how many users hold each.

use actix_web::web;
use askama::Template;

use super::{Done, Nav, Operator, Page, State, check_slug, ok, read};
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

async fn show(state: State, op: Operator, slug: web::Path<String>) -> Page {
    let slug = slug.into_inner();
    check_slug(&slug)?;
    let (tenant, types) = read(&state, move |st| {
        let tenant = tenants::by_slug(&st.db, &slug)?;
        let types = items::tenant_view(&st.db, &st.schemas, &tenant.id)?;
        Ok((TenantView::from(tenant), types))
    })
    .await?;
    let nav = op.nav(&Done::NONE);
    ok(&CatalogPage { nav, tenant, types, shown_per_type: SHOWN_PER_TYPE })
}
