//! OAuth clients (register, rotate a secret) and JWT signing keys (rotate).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::tenants::SecretPage;
use super::{Done, Nav, Operator, OperatorForm};
use crate::http::AppState;
use crate::http::error::{PageError, blocking};
use crate::http::ui;
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

async fn list(
    state: web::Data<AppState>,
    op: Operator,
    query: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let st = state.clone();
    let (clients, keys) = blocking(move || {
        Ok((
            clients::list(&st.db)?,
            keys::list(&st.db, st.clock.as_ref(), st.settings.access_token_ttl_ms())?,
        ))
    })
    .await?;
    let page = ClientsPage { nav: Nav::new(&op.session, query.done.as_deref()), clients, keys };
    Ok(ui::render(StatusCode::OK, &page))
}

fn shown_once(form: &OperatorForm, title: String, issued: &IssuedClient) -> HttpResponse {
    let page = SecretPage {
        nav: Nav::new(&form.session, None),
        title,
        message: format!(
            "Client id {} ({}). Enter this secret in the OIN submission (or Okta app) together with the client id.",
            issued.client_id, issued.name
        ),
        secret: issued.client_secret.clone(),
        back: "/admin/clients".into(),
    };
    ui::render(StatusCode::OK, &page)
}

async fn create(state: web::Data<AppState>, form: OperatorForm) -> Result<HttpResponse, PageError> {
    let name = form.field("name").to_owned();
    let okta_app = Some(form.field("okta_app").trim().to_owned()).filter(|s| !s.is_empty());
    let uris: Vec<String> = Some(form.field("redirect_uri").trim().to_owned())
        .filter(|s| !s.is_empty())
        .into_iter()
        .collect();
    let okta_http_callback = form.field("okta_http_callback") == "on";
    let require_pkce = form.field("require_pkce") == "on";
    let (st, actor) = (state.clone(), form.session.actor());
    let issued = blocking(move || {
        let new = clients::NewClient {
            name: &name,
            redirect_uris: &uris,
            okta_app: okta_app.as_deref(),
            okta_http_callback,
            require_pkce,
        };
        clients::create(&st.db, st.clock.as_ref(), &actor, &new)
    })
    .await?;
    Ok(shown_once(&form, format!("Client '{}' registered", issued.name), &issued))
}

async fn rotate(
    state: web::Data<AppState>,
    form: OperatorForm,
    client_id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (st, actor) = (state.clone(), form.session.actor());
    let id = client_id.into_inner();
    let issued =
        blocking(move || clients::rotate_secret(&st.db, st.clock.as_ref(), &actor, &id)).await?;
    Ok(shown_once(&form, format!("New secret for '{}'", issued.name), &issued))
}

/// Requires PKCE of a client (`require_pkce=on`) or makes it optional.
async fn set_pkce(
    state: web::Data<AppState>,
    form: OperatorForm,
    client_id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let require = form.field("require_pkce") == "on";
    let (st, actor) = (state.clone(), form.session.actor());
    let id = client_id.into_inner();
    blocking(move || clients::set_require_pkce(&st.db, st.clock.as_ref(), &actor, &id, require))
        .await?;
    Ok(see_other("/admin/clients?done=pkce-changed"))
}

async fn rotate_key(
    state: web::Data<AppState>,
    form: OperatorForm,
) -> Result<HttpResponse, PageError> {
    let (st, actor) = (state.clone(), form.session.actor());
    blocking(move || {
        let ttl = st.settings.access_token_ttl_ms();
        keys::rotate(&st.db, st.clock.as_ref(), &actor, ttl, &st.sealer)
    })
    .await?;
    Ok(see_other("/admin/clients?done=key-rotated"))
}
