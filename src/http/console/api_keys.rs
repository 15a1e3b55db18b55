//! API keys of the vendor's application: the list, creating one (shown once) and revoking.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::tenants::SecretPage;
use super::{Done, Nav, Operator, OperatorForm};
use crate::http::AppState;
use crate::http::error::{PageError, blocking};
use crate::http::ui::{self, see_other};
use crate::service::tenancy::api_keys::{self, ApiKeyView, Scope};
use crate::service::tenancy::tenants::{self, TenantView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/api-keys", web::get().to(list))
        .route("/admin/api-keys", web::post().to(create))
        .route("/admin/api-keys/{id}/revoke", web::post().to(revoke));
}

#[derive(Template)]
#[template(path = "console/api_keys.html")]
struct ApiKeysPage {
    nav: Nav,
    keys: Vec<ApiKeyView>,
    tenants: Vec<TenantView>,
    /// Every scope, with whether a new key gets it unless unticked.
    scopes: Vec<(&'static str, bool)>,
    max_label: usize,
}

async fn list(
    state: web::Data<AppState>,
    op: Operator,
    query: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let st = state.clone();
    let (keys, tenants) =
        blocking(move || Ok((api_keys::list(&st.db, None)?, tenants::list(&st.db)?))).await?;
    let defaults = api_keys::Scopes::default_set();
    let page = ApiKeysPage {
        nav: Nav::new(&op.session, query.done.as_deref()),
        keys,
        tenants,
        scopes: Scope::ALL.iter().map(|s| (s.as_str(), defaults.contains(*s))).collect(),
        max_label: api_keys::MAX_LABEL,
    };
    Ok(ui::render(actix_web::http::StatusCode::OK, &page))
}

/// Each scope is its own checkbox, `scope:<name>`.
async fn create(state: web::Data<AppState>, form: OperatorForm) -> Result<HttpResponse, PageError> {
    let actor = form.session.actor();
    let label = form.field("label").to_owned();
    let tenant = Some(form.field("tenant").trim().to_owned()).filter(|t| !t.is_empty());
    let scopes: Vec<&str> = Scope::ALL
        .iter()
        .map(|s| s.as_str())
        .filter(|s| !form.field(&format!("scope:{s}")).is_empty())
        .collect();
    let scopes = scopes.join(",");
    let st = state.clone();
    let issued = blocking(move || {
        api_keys::create(
            &st.db,
            st.clock.as_ref(),
            &actor,
            &label,
            tenant.as_deref(),
            Some(&scopes),
        )
    })
    .await?;
    let sees =
        issued.tenant.as_deref().map_or("every tenant".to_owned(), |t| format!("tenant {t}"));
    let page = SecretPage {
        nav: Nav::new(&form.session, None),
        title: format!("API key '{}' created", issued.label),
        message: format!(
            "It sees {sees} with the scopes {}. Your application sends it as 'Authorization: Bearer <key>' to /api/v1.",
            issued.scopes.join(", ")
        ),
        secret: issued.key,
        back: "/admin/api-keys".into(),
    };
    Ok(ui::render(actix_web::http::StatusCode::OK, &page))
}

async fn revoke(
    state: web::Data<AppState>,
    form: OperatorForm,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (actor, st, id) = (form.session.actor(), state.clone(), id.into_inner());
    blocking(move || api_keys::revoke(&st.db, st.clock.as_ref(), &actor, &id)).await?;
    Ok(see_other("/admin/api-keys?done=api-key-revoked"))
}
