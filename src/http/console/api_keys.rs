//! API keys of the vendor's application: the list, creating one (shown once) and revoking.

use actix_web::web;
use askama::Template;

use super::{Done, Nav, Operator, OperatorForm, Page, SecretPage, State, ok, read};
use crate::http::ui::see_other;
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

async fn list(state: State, op: Operator, query: web::Query<Done>) -> Page {
    let (keys, tenants) =
        read(&state, |st| Ok((api_keys::list(&st.db, None)?, tenants::list(&st.db)?))).await?;
    let defaults = api_keys::Scopes::default_set();
    ok(&ApiKeysPage {
        nav: op.nav(&query),
        keys,
        tenants,
        scopes: Scope::ALL.iter().map(|s| (s.as_str(), defaults.contains(*s))).collect(),
        max_label: api_keys::MAX_LABEL,
    })
}

/// Each scope is its own checkbox, `scope:<name>`.
async fn create(state: State, form: OperatorForm) -> Page {
    let label = form.field("label").to_owned();
    let tenant = Some(form.field("tenant").trim().to_owned()).filter(|t| !t.is_empty());
    let scopes: Vec<&str> = Scope::ALL
        .iter()
        .map(|s| s.as_str())
        .filter(|s| !form.field(&format!("scope:{s}")).is_empty())
        .collect();
    let scopes = scopes.join(",");
    let issued = form
        .act(&state, move |st, actor| {
            let clock = st.clock.as_ref();
            api_keys::create(&st.db, clock, actor, &label, tenant.as_deref(), Some(&scopes))
        })
        .await?;
    let sees =
        issued.tenant.as_deref().map_or("every tenant".to_owned(), |t| format!("tenant {t}"));
    let message = format!(
        "It sees {sees} with the scopes {}. Your application sends it as 'Authorization: Bearer <key>' to /api/v1.",
        issued.scopes.join(", ")
    );
    let title = format!("API key '{}' created", issued.label);
    SecretPage::answer(&form, title, message, issued.key, "/admin/api-keys".into())
}

async fn revoke(state: State, form: OperatorForm, id: web::Path<String>) -> Page {
    let id = id.into_inner();
    form.act(&state, move |st, actor| api_keys::revoke(&st.db, st.clock.as_ref(), actor, &id))
        .await?;
    Ok(see_other("/admin/api-keys?done=api-key-revoked"))
}
