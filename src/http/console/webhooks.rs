//! Webhook endpoints: the list (health, backlog, next retry), creating one (its secret shown
//! once here), one endpoint's page with its recent deliveries, and the actions on it: disable,
//! enable, rotate the secret, replay one event or a time range, delete.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::{Done, Nav, Operator, OperatorForm};
use crate::http::AppState;
use crate::http::error::{PageError, blocking};
use crate::http::ui::{self, see_other};
use crate::service::OperatorError;
use crate::service::delivery::webhooks::endpoints::{
    self, DeliveryView, EndpointView, NewEndpoint, Replay,
};
use crate::service::operations::audit_log;
use crate::service::tenancy::tenants::{self, TenantView};

/// Delivery attempts shown on an endpoint's page.
const RECENT: i64 = 50;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/webhooks", web::get().to(list))
        .route("/admin/webhooks", web::post().to(create))
        .route("/admin/webhooks/{id}", web::get().to(show))
        .route("/admin/webhooks/{id}/{switch:disable|enable}", web::post().to(switch))
        .route("/admin/webhooks/{id}/rotate", web::post().to(rotate))
        .route("/admin/webhooks/{id}/replay", web::post().to(replay))
        .route("/admin/webhooks/{id}/delete", web::post().to(delete));
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct WebhooksPage {
    nav: Nav,
    endpoints: Vec<EndpointView>,
    tenants: Vec<TenantView>,
}

#[derive(Template)]
#[template(path = "console/webhook.html")]
struct WebhookPage {
    nav: Nav,
    endpoint: EndpointView,
    deliveries: Vec<DeliveryView>,
}

/// The signing secret, shown once (it is stored, since signing needs it, but never displayed
/// again).
#[derive(Template)]
#[template(path = "console/webhook_secret.html")]
struct SecretPage {
    nav: Nav,
    title: String,
    message: String,
    secret: String,
    back: String,
}

async fn list(
    state: web::Data<AppState>,
    op: Operator,
    query: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let st = state.clone();
    let (endpoints, tenants) =
        blocking(move || Ok((endpoints::list(&st.db, st.clock.as_ref())?, tenants::list(&st.db)?)))
            .await?;
    let page =
        WebhooksPage { nav: Nav::new(&op.session, query.done.as_deref()), endpoints, tenants };
    Ok(ui::render(actix_web::http::StatusCode::OK, &page))
}

async fn create(state: web::Data<AppState>, form: OperatorForm) -> Result<HttpResponse, PageError> {
    let actor = form.session.actor();
    let url = form.field("url").to_owned();
    let tenant = Some(form.field("tenant").trim().to_owned()).filter(|t| !t.is_empty());
    let events = form.field("events").to_owned();
    let st = state.clone();
    let issued = blocking(move || {
        let new = NewEndpoint { url: &url, tenant: tenant.as_deref(), events: &events };
        let allow = st.settings.allow_private_webhook_targets;
        endpoints::create(&st.db, st.clock.as_ref(), &actor, &new, allow)
    })
    .await?;
    let page = SecretPage {
        nav: Nav::new(&form.session, None),
        title: "Webhook endpoint created".into(),
        message: format!(
            "{} receives {} events of {}, signed with this secret (Standard Webhooks).",
            issued.url,
            issued.events,
            issued.tenant.as_deref().map_or("every tenant".to_owned(), |t| format!("tenant {t}"))
        ),
        secret: issued.secret,
        back: format!("/admin/webhooks/{}", issued.id),
    };
    Ok(ui::render(actix_web::http::StatusCode::OK, &page))
}

async fn show(
    state: web::Data<AppState>,
    op: Operator,
    id: web::Path<String>,
    query: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let (st, id) = (state.clone(), id.into_inner());
    let (endpoint, deliveries) =
        blocking(move || endpoints::show(&st.db, st.clock.as_ref(), &id, RECENT)).await?;
    let page =
        WebhookPage { nav: Nav::new(&op.session, query.done.as_deref()), endpoint, deliveries };
    Ok(ui::render(actix_web::http::StatusCode::OK, &page))
}

async fn switch(
    state: web::Data<AppState>,
    form: OperatorForm,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, switch) = path.into_inner();
    let (actor, st, target) = (form.session.actor(), state.clone(), id.clone());
    let enable = switch == "enable";
    blocking(move || {
        if enable {
            endpoints::enable(&st.db, st.clock.as_ref(), &actor, &target)
        } else {
            endpoints::disable(
                &st.db,
                st.clock.as_ref(),
                &actor,
                &target,
                "disabled by an operator",
            )
        }
    })
    .await?;
    let done = if enable { "webhook-enabled" } else { "webhook-disabled" };
    Ok(see_other(&format!("/admin/webhooks/{id}?done={done}")))
}

async fn rotate(
    state: web::Data<AppState>,
    form: OperatorForm,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let grace = form.field("grace_hours").trim();
    let grace_hours: u64 = if grace.is_empty() {
        24
    } else {
        grace.parse().map_err(|_| {
            PageError::from(OperatorError::Invalid("the grace period is a number of hours".into()))
        })?
    };
    let (actor, st, id) = (form.session.actor(), state.clone(), id.into_inner());
    let issued = blocking(move || {
        endpoints::rotate_secret(&st.db, st.clock.as_ref(), &actor, &id, grace_hours)
    })
    .await?;
    let message = match &issued.previous_secret_until {
        Some(until) => format!("The previous secret also signs deliveries until {until}."),
        None => "The previous secret no longer signs deliveries.".into(),
    };
    let page = SecretPage {
        nav: Nav::new(&form.session, None),
        title: "New signing secret".into(),
        message,
        secret: issued.secret,
        back: format!("/admin/webhooks/{}", issued.id),
    };
    Ok(ui::render(actix_web::http::StatusCode::OK, &page))
}

async fn replay(
    state: web::Data<AppState>,
    form: OperatorForm,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let event = form.field("event").trim().to_owned();
    let since = form.field("since").trim().to_owned();
    let until = form.field("until").trim().to_owned();
    let (actor, st, target) = (form.session.actor(), state.clone(), id.into_inner());
    let back = target.clone();
    blocking(move || {
        let now = st.clock.now();
        let which = if !event.is_empty() {
            Replay::Event(&event)
        } else if !since.is_empty() {
            let since = audit_log::parse_since(&since, now)?;
            let until = if until.is_empty() { now } else { audit_log::parse_since(&until, now)? };
            Replay::Range { since, until }
        } else {
            return Err(OperatorError::Invalid(
                "give an event id, or a time to replay from".into(),
            ));
        };
        endpoints::replay(&st.db, st.clock.as_ref(), &actor, &target, &which)
    })
    .await?;
    Ok(see_other(&format!("/admin/webhooks/{back}?done=webhook-replayed")))
}

async fn delete(
    state: web::Data<AppState>,
    form: OperatorForm,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (actor, st, id) = (form.session.actor(), state.clone(), id.into_inner());
    blocking(move || endpoints::delete(&st.db, st.clock.as_ref(), &actor, &id)).await?;
    Ok(see_other("/admin/webhooks?done=webhook-deleted"))
}
