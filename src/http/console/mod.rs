//! The operator console at /admin: server-rendered askama pages that work without JavaScript.
//! Every page needs an operator session (a table of its own: tenant admins cannot sign in here);
//! every form post carries the session's CSRF token; every change is one audited transaction.

mod api_keys;
mod audit;
mod browse;
mod catalog;
mod clients;
mod connect;
mod connect_entra;
mod operators;
pub mod requests;
mod sign_in;
mod tenants;
mod webhooks;

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;

use super::AppState;
use super::error::{PageError, blocking};
use super::ui;
use super::web_session::{Realm, Signed, SignedForm};
pub use super::{Page, State};
use crate::audit::Actor;
use crate::service::OperatorError;
use crate::service::accounts::operators::OperatorSession;

pub const COOKIE: &str = "scimd_operator";
/// The operator's cookie goes to console pages only.
pub const COOKIE_PATH: &str = "/admin";

pub struct Operators;

impl Realm for Operators {
    type Session = OperatorSession;
    const COOKIE: &'static str = COOKIE;
    const COOKIE_PATH: &'static str = COOKIE_PATH;
    const SIGN_IN: &'static str = "/admin/login";
    const HOME: &'static str = "/admin";
}

pub type Operator = Signed<Operators>;
pub type OperatorForm = SignedForm<Operators>;

impl Operator {
    /// The layout's data, with the notice a post/redirect/get asked for.
    pub fn nav(&self, done: &Done) -> Nav {
        Nav::new(&self.session, done.done.as_deref())
    }
}

impl OperatorForm {
    /// The layout's data for the page a post answers with.
    pub fn nav(&self) -> Nav {
        Nav::new(&self.session, None)
    }

    /// Runs `action` off the async runtime, attributed to this operator.
    pub async fn act<T: Send + 'static>(
        &self,
        state: &State,
        action: impl FnOnce(&AppState, &Actor) -> Result<T, OperatorError> + Send + 'static,
    ) -> Result<T, PageError> {
        let (st, actor) = (state.clone(), self.session.actor());
        blocking(move || action(&st, &actor)).await
    }
}

/// Runs `read` off the async runtime.
pub async fn read<T: Send + 'static>(
    state: &State,
    read: impl FnOnce(&AppState) -> Result<T, OperatorError> + Send + 'static,
) -> Result<T, PageError> {
    let st = state.clone();
    blocking(move || read(&st)).await
}

/// A page answered with 200.
pub fn ok(page: &impl Template) -> Page {
    Ok(ui::render(StatusCode::OK, page))
}

/// A secret shown once (a static token, a generated password, a client secret), with the way
/// back to where it belongs.
#[derive(Template)]
#[template(path = "console/secret.html")]
pub struct SecretPage {
    pub nav: Nav,
    pub title: String,
    pub message: String,
    pub secret: String,
    pub back: String,
}

impl SecretPage {
    /// The page answering `form`'s post.
    pub fn answer(
        form: &OperatorForm,
        title: String,
        message: String,
        secret: String,
        back: String,
    ) -> Page {
        ok(&SecretPage { nav: form.nav(), title, message, secret, back })
    }
}

/// What the layout shows on every console page.
pub struct Nav {
    pub email: String,
    pub csrf: String,
    pub notice: Option<&'static str>,
}

impl Nav {
    pub fn new(session: &OperatorSession, done: Option<&str>) -> Nav {
        Nav {
            email: session.email.clone(),
            csrf: session.csrf_token.clone(),
            notice: done.and_then(notice),
        }
    }
}

/// Post/redirect/get lands on a page with `?done=<code>`; only these fixed texts can appear,
/// so a crafted link cannot put words in the console's mouth.
fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "tenant-created" => "Tenant created.",
        "tenant-renamed" => "Tenant renamed.",
        "tenant-disabled" => "Tenant disabled: its tokens and sessions no longer work.",
        "tenant-enabled" => "Tenant enabled.",
        "token-revoked" => "Token revoked: it no longer works.",
        "admin-disabled" => "Admin disabled and signed out everywhere.",
        "admin-enabled" => "Admin enabled.",
        "operator-disabled" => "Operator disabled and signed out everywhere.",
        "operator-enabled" => "Operator enabled.",
        "grant-revoked" => "Grant revoked: its refresh and access tokens no longer work.",
        "key-rotated" => {
            "New signing key published: it signs tokens 15 s from now, once every node knows it."
        }
        "pkce-changed" => "PKCE requirement changed: new authorization requests follow it.",
        "api-key-revoked" => "API key revoked: it no longer works.",
        "webhook-disabled" => "Webhook endpoint disabled: events wait until it is enabled.",
        "webhook-enabled" => "Webhook endpoint enabled: deliveries resume where they stopped.",
        "webhook-deleted" => "Webhook endpoint deleted.",
        "webhook-replayed" => "Replay queued: the events are sent again shortly.",
        "secret-revoked" => {
            "Secret revoked: it no longer works; tokens already issued with it live out their lifetime."
        }
        _ => return None,
    })
}

/// `?done=` and friends from a query string.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    pub done: Option<String>,
}

impl Done {
    /// No notice.
    pub const NONE: Done = Done { done: None };
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    sign_in::routes(cfg);
    tenants::routes(cfg);
    browse::routes(cfg);
    catalog::routes(cfg);
    requests::routes(cfg);
    connect::routes(cfg);
    connect_entra::routes(cfg);
    audit::routes(cfg);
    clients::routes(cfg);
    webhooks::routes(cfg);
    api_keys::routes(cfg);
    operators::routes(cfg);
    crate::http::security::routes::<Operators>(cfg);
}

/// A tenant slug from a path, or 404 before any query runs.
fn check_slug(slug: &str) -> Result<(), PageError> {
    crate::service::tenancy::tenants::validate_slug(slug)
        .map_err(|_| PageError::not_found("no such tenant"))
}
