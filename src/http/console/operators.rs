//! The vendor's operators: the list, disabling (their sessions end) and enabling, and a password
//! reset (a new random password shown once, their sessions ended). Each post is audited.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::tenants::SecretPage;
use super::{Done, Nav, Operator, OperatorForm};
use crate::http::AppState;
use crate::http::error::{PageError, blocking};
use crate::http::ui::{self, see_other};
use crate::service::accounts::operators::{self, OperatorView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/operators", web::get().to(list))
        .route("/admin/operators/{id}/disable", web::post().to(disable))
        .route("/admin/operators/{id}/enable", web::post().to(enable))
        .route("/admin/operators/{id}/reset-password", web::post().to(reset_password));
}

#[derive(Template)]
#[template(path = "console/operators.html")]
struct OperatorsPage {
    nav: Nav,
    operators: Vec<OperatorView>,
    me: String,
}

async fn list(
    state: web::Data<AppState>,
    op: Operator,
    query: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let st = state.clone();
    let operators = blocking(move || operators::list(&st.db)).await?;
    let page = OperatorsPage {
        nav: Nav::new(&op.session, query.done.as_deref()),
        operators,
        me: op.session.operator_id.clone(),
    };
    Ok(ui::render(actix_web::http::StatusCode::OK, &page))
}

async fn set_disabled(
    state: web::Data<AppState>,
    form: OperatorForm,
    id: String,
    disabled: bool,
) -> Result<HttpResponse, PageError> {
    let (actor, st) = (form.session.actor(), state.clone());
    blocking(move || operators::set_disabled(&st.db, st.clock.as_ref(), &actor, &id, disabled))
        .await?;
    let done = if disabled { "operator-disabled" } else { "operator-enabled" };
    Ok(see_other(&format!("/admin/operators?done={done}")))
}

async fn disable(
    state: web::Data<AppState>,
    form: OperatorForm,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    set_disabled(state, form, id.into_inner(), true).await
}

async fn enable(
    state: web::Data<AppState>,
    form: OperatorForm,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    set_disabled(state, form, id.into_inner(), false).await
}

async fn reset_password(
    state: web::Data<AppState>,
    form: OperatorForm,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (actor, st, id) = (form.session.actor(), state.clone(), id.into_inner());
    let issued =
        blocking(move || operators::reset_password(&st.db, st.clock.as_ref(), &actor, &id)).await?;
    let page = SecretPage {
        nav: Nav::new(&form.session, None),
        title: format!("New password for {}", issued.operator.email),
        message: "Their sessions have ended. Give them this password; they can change it on their security page.".into(),
        secret: issued.password,
        back: "/admin/operators".into(),
    };
    Ok(ui::render(actix_web::http::StatusCode::OK, &page))
}
