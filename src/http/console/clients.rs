//! OAuth clients (register, rotate a secret) and JWT signing keys (rotate).

use actix_web::web;
use askama::Template;

use super::{Done, Nav, Operator, OperatorForm, Page, SecretPage, State, ok, read};
use crate::http::ui::see_other;
use crate::service::oauth::clients::{self, ClientView, IssuedClient};
use crate::service::oauth::keys::{self, KeyView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/clients", web::get().to(list))
        .route("/admin/clients", web::post().to(create))
        .route("/admin/clients/{id}/rotate", web::post().to(rotate))
        .route("/admin/clients/{id}/pkce", web::post().to(set_pkce))
        .route("/admin/keys/rotate", web::post().to(rotate_key));
}

#[derive(Template)]
#[template(path = "console/clients.html")]
struct ClientsPage {
    nav: Nav,
    clients: Vec<ClientView>,
    keys: Vec<KeyView>,
}

async fn list(state: State, op: Operator, query: web::Query<Done>) -> Page {
    let (clients, keys) = read(&state, |st| {
        let ttl = st.settings.access_token_ttl_ms();
        Ok((clients::list(&st.db)?, keys::list(&st.db, st.clock.as_ref(), ttl)?))
    })
    .await?;
    ok(&ClientsPage { nav: op.nav(&query), clients, keys })
}

fn shown_once(form: &OperatorForm, title: String, issued: IssuedClient) -> Page {
    let message = format!(
        "Client id {} ({}). Enter this secret in the OIN submission (or Okta app) together with the client id.",
        issued.client_id, issued.name
    );
    SecretPage::answer(form, title, message, issued.client_secret, "/admin/clients".into())
}

async fn create(state: State, form: OperatorForm) -> Page {
    let name = form.field("name").to_owned();
    let okta_app = Some(form.field("okta_app").trim().to_owned()).filter(|s| !s.is_empty());
    let uris: Vec<String> = Some(form.field("redirect_uri").trim().to_owned())
        .filter(|s| !s.is_empty())
        .into_iter()
        .collect();
    let okta_http_callback = form.field("okta_http_callback") == "on";
    let require_pkce = form.field("require_pkce") == "on";
    let issued = form
        .act(&state, move |st, actor| {
            let new = clients::NewClient {
                name: &name,
                redirect_uris: &uris,
                okta_app: okta_app.as_deref(),
                okta_http_callback,
                require_pkce,
            };
            clients::create(&st.db, st.clock.as_ref(), actor, &new)
        })
        .await?;
    shown_once(&form, format!("Client '{}' registered", issued.name), issued)
}

async fn rotate(state: State, form: OperatorForm, client_id: web::Path<String>) -> Page {
    let id = client_id.into_inner();
    let issued = form
        .act(&state, move |st, actor| clients::rotate_secret(&st.db, st.clock.as_ref(), actor, &id))
        .await?;
    shown_once(&form, format!("New secret for '{}'", issued.name), issued)
}

/// Requires PKCE of a client (`require_pkce=on`) or makes it optional.
async fn set_pkce(state: State, form: OperatorForm, client_id: web::Path<String>) -> Page {
    let require = form.field("require_pkce") == "on";
    let id = client_id.into_inner();
    form.act(&state, move |st, actor| {
        clients::set_require_pkce(&st.db, st.clock.as_ref(), actor, &id, require)
    })
    .await?;
    Ok(see_other("/admin/clients?done=pkce-changed"))
}

async fn rotate_key(state: State, form: OperatorForm) -> Page {
    form.act(&state, |st, actor| {
        let ttl = st.settings.access_token_ttl_ms();
        keys::rotate(&st.db, st.clock.as_ref(), actor, ttl, &st.sealer)
    })
    .await?;
    Ok(see_other("/admin/clients?done=key-rotated"))
}
