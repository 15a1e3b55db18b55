//! The vendor's operators: the list, disabling (their sessions end) and enabling, and a password
//! reset (a new random password shown once, their sessions ended). Each post is audited.

use actix_web::web;
use askama::Template;

use super::{Done, Nav, Operator, OperatorForm, Page, SecretPage, State, ok, read};
use crate::http::ui::see_other;
use crate::service::accounts::operators::{self, OperatorView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/operators", web::get().to(list))
        .route("/admin/operators/{id}/{switch:disable|enable}", web::post().to(switch))
        .route("/admin/operators/{id}/reset-password", web::post().to(reset_password));
}

#[derive(Template)]
#[template(path = "console/operators.html")]
struct OperatorsPage {
    nav: Nav,
    operators: Vec<OperatorView>,
    me: String,
}

async fn list(state: State, op: Operator, query: web::Query<Done>) -> Page {
    let operators = read(&state, |st| operators::list(&st.db)).await?;
    ok(&OperatorsPage { nav: op.nav(&query), operators, me: op.session.operator_id.clone() })
}

/// Disables (their sessions end) or enables an operator.
async fn switch(state: State, form: OperatorForm, path: web::Path<(String, String)>) -> Page {
    let (id, switch) = path.into_inner();
    let disabled = switch == "disable";
    form.act(&state, move |st, actor| {
        operators::set_disabled(&st.db, st.clock.as_ref(), actor, &id, disabled)
    })
    .await?;
    let done = if disabled { "operator-disabled" } else { "operator-enabled" };
    Ok(see_other(&format!("/admin/operators?done={done}")))
}

async fn reset_password(state: State, form: OperatorForm, id: web::Path<String>) -> Page {
    let id = id.into_inner();
    let issued = form
        .act(&state, move |st, actor| {
            operators::reset_password(&st.db, st.clock.as_ref(), actor, &id)
        })
        .await?;
    let title = format!("New password for {}", issued.operator.email);
    let message = "Their sessions have ended. Give them this password; they can change it on their security page.";
    SecretPage::answer(&form, title, message.into(), issued.password, "/admin/operators".into())
}
