//! Webhook endpoints: the list (health, backlog, next retry), creating one (its secret shown
//! once here), one endpoint's page with its recent deliveries, and the actions on it: disable,
//! enable, rotate the secret, replay one event or a time range, delete.

use actix_web::web;
use askama::Template;

use super::{Done, Nav, Operator, OperatorForm, Page, State, ok, read};
use crate::http::ui::see_other;
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

/// The secret page answering `form`, leading back to endpoint `id`.
fn shown_once(form: &OperatorForm, title: &str, message: String, secret: String, id: &str) -> Page {
    let back = format!("/admin/webhooks/{id}");
    ok(&SecretPage { nav: form.nav(), title: title.into(), message, secret, back })
}

async fn list(state: State, op: Operator, query: web::Query<Done>) -> Page {
    let (endpoints, tenants) = read(&state, |st| {
        Ok((endpoints::list(&st.db, st.clock.as_ref())?, tenants::list(&st.db)?))
    })
    .await?;
    ok(&WebhooksPage { nav: op.nav(&query), endpoints, tenants })
}

async fn create(state: State, form: OperatorForm) -> Page {
    let url = form.field("url").to_owned();
    let tenant = Some(form.field("tenant").trim().to_owned()).filter(|t| !t.is_empty());
    let events = form.field("events").to_owned();
    let issued = form
        .act(&state, move |st, actor| {
            let new = NewEndpoint { url: &url, tenant: tenant.as_deref(), events: &events };
            let allow = st.settings.allow_private_webhook_targets;
            endpoints::create(&st.db, st.clock.as_ref(), actor, &new, allow)
        })
        .await?;
    let message = format!(
        "{} receives {} events of {}, signed with this secret (Standard Webhooks).",
        issued.url,
        issued.events,
        issued.tenant.as_deref().map_or("every tenant".to_owned(), |t| format!("tenant {t}"))
    );
    shown_once(&form, "Webhook endpoint created", message, issued.secret, &issued.id)
}

async fn show(state: State, op: Operator, id: web::Path<String>, query: web::Query<Done>) -> Page {
    let id = id.into_inner();
    let (endpoint, deliveries) =
        read(&state, move |st| endpoints::show(&st.db, st.clock.as_ref(), &id, RECENT)).await?;
    ok(&WebhookPage { nav: op.nav(&query), endpoint, deliveries })
}

async fn switch(state: State, form: OperatorForm, path: web::Path<(String, String)>) -> Page {
    let (id, switch) = path.into_inner();
    let (target, enable) = (id.clone(), switch == "enable");
    form.act(&state, move |st, actor| {
        let clock = st.clock.as_ref();
        if enable {
            endpoints::enable(&st.db, clock, actor, &target)
        } else {
            endpoints::disable(&st.db, clock, actor, &target, "disabled by an operator")
        }
    })
    .await?;
    let done = if enable { "webhook-enabled" } else { "webhook-disabled" };
    Ok(see_other(&format!("/admin/webhooks/{id}?done={done}")))
}

async fn rotate(state: State, form: OperatorForm, id: web::Path<String>) -> Page {
    let grace = form.field("grace_hours").trim();
    let grace_hours: u64 = if grace.is_empty() {
        24
    } else {
        grace
            .parse()
            .map_err(|_| OperatorError::Invalid("the grace period is a number of hours".into()))?
    };
    let id = id.into_inner();
    let issued = form
        .act(&state, move |st, actor| {
            endpoints::rotate_secret(&st.db, st.clock.as_ref(), actor, &id, grace_hours)
        })
        .await?;
    let message = match &issued.previous_secret_until {
        Some(until) => format!("The previous secret also signs deliveries until {until}."),
        None => "The previous secret no longer signs deliveries.".into(),
    };
    shown_once(&form, "New signing secret", message, issued.secret, &issued.id)
}

/// What a replay form asks for: one event, or a time range (its end defaults to now).
fn replay_of<'a>(
    event: &'a str,
    since: &str,
    until: &str,
    now: i64,
) -> Result<Replay<'a>, OperatorError> {
    if !event.is_empty() {
        return Ok(Replay::Event(event));
    }
    if since.is_empty() {
        return Err(OperatorError::Invalid("give an event id, or a time to replay from".into()));
    }
    let since = audit_log::parse_since(since, now)?;
    let until = if until.is_empty() { now } else { audit_log::parse_since(until, now)? };
    Ok(Replay::Range { since, until })
}

async fn replay(state: State, form: OperatorForm, id: web::Path<String>) -> Page {
    let event = form.field("event").trim().to_owned();
    let since = form.field("since").trim().to_owned();
    let until = form.field("until").trim().to_owned();
    let target = id.into_inner();
    let back = target.clone();
    form.act(&state, move |st, actor| {
        let which = replay_of(&event, &since, &until, st.clock.now())?;
        endpoints::replay(&st.db, st.clock.as_ref(), actor, &target, &which)
    })
    .await?;
    Ok(see_other(&format!("/admin/webhooks/{back}?done=webhook-replayed")))
}

async fn delete(state: State, form: OperatorForm, id: web::Path<String>) -> Page {
    let id = id.into_inner();
    form.act(&state, move |st, actor| endpoints::delete(&st.db, st.clock.as_ref(), actor, &id))
        .await?;
    Ok(see_other("/admin/webhooks?done=webhook-deleted"))
}
