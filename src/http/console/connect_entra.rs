//! "Connect Entra ID": the values to paste into Microsoft Entra's provisioning settings, the
//! tenant's own OAuth clients (client credentials with expiring secrets, or workload identity
//! federation) and the actions on them. A new secret is shown once, on the page its form posts to;
//! a refused form comes back with the reason and what was typed, never as an error page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;

use super::{Done, Nav, Operator, OperatorForm, Page, State, check_slug, read};
use crate::audit::Actor;
use crate::http::AppState;
use crate::http::extractors::origin;
use crate::http::ui::{self, see_other};
use crate::service::OperatorError;
use crate::service::oauth::client_auth::SECRET_AUTH;
use crate::service::oauth::tenant_clients::{
    self, DEFAULT_ACCESS_TTL_MINUTES, DEFAULT_SECRET_DAYS, Federation, NewTenantClient,
    TenantClientView,
};
use crate::service::operations::activity::{self, ActivityView};
use crate::service::tenancy::tenants::{self, TenantView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{slug}/entra", web::get().to(show))
        .route("/admin/tenants/{slug}/entra/clients", web::post().to(create))
        .route("/admin/tenants/{slug}/entra/federated", web::post().to(federate))
        .route(
            "/admin/tenants/{slug}/entra/clients/{client_id}/secrets",
            web::post().to(add_secret),
        )
        .route(
            "/admin/tenants/{slug}/entra/clients/{client_id}/secrets/{secret_id}/revoke",
            web::post().to(revoke_secret),
        );
}

#[derive(Template)]
#[template(path = "console/connect_entra.html")]
struct EntraPage {
    nav: Nav,
    tenant: TenantView,
    base_url: String,
    token_url: String,
    status: ActivityView,
    clients: Vec<ClientCard>,
    shown: Option<Shown>,
    error: Option<Refusal>,
    fields: Fields,
}

impl EntraPage {
    /// The refusal of the form `form`, shown above that form.
    fn error_for(&self, form: Form) -> Option<&str> {
        self.error.as_ref().filter(|e| e.form == form).map(|e| e.message.as_str())
    }
}

/// The page's forms, so a refusal is shown beside the one that was posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Create,
    Federate,
    AddSecret,
}

/// Why a form was refused.
struct Refusal {
    form: Form,
    message: String,
}

/// One of the tenant's clients, ready to show (its view's fields read through it).
struct ClientCard {
    c: TenantClientView,
    /// Authenticates with secrets (else with signed assertions).
    uses_secrets: bool,
    method: &'static str,
}

impl From<TenantClientView> for ClientCard {
    fn from(c: TenantClientView) -> Self {
        let uses_secrets = c.auth_method == SECRET_AUTH;
        let method = match (uses_secrets, c.issuer.is_some()) {
            (true, _) => "client secret",
            (false, true) => "federated (workload identity)",
            (false, false) => "private_key_jwt",
        };
        ClientCard { c, uses_secrets, method }
    }
}

impl std::ops::Deref for ClientCard {
    type Target = TenantClientView;
    fn deref(&self) -> &TenantClientView {
        &self.c
    }
}

/// What a form's post produced, shown once at the top of the page.
struct Shown {
    title: String,
    client_id: String,
    secret: Option<String>,
    expires: Option<String>,
}

/// The forms' fields as the operator typed them, put back after a refusal.
struct Fields {
    name: String,
    ttl: String,
    days: String,
    fed_name: String,
    fed_ttl: String,
    issuer: String,
    subject: String,
    audience: String,
    jwks_uri: String,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            name: "Microsoft Entra ID".into(),
            ttl: DEFAULT_ACCESS_TTL_MINUTES.to_string(),
            days: DEFAULT_SECRET_DAYS.to_string(),
            fed_name: "Microsoft Entra ID (federated)".into(),
            fed_ttl: DEFAULT_ACCESS_TTL_MINUTES.to_string(),
            issuer: String::new(),
            subject: String::new(),
            audience: String::new(),
            jwks_uri: String::new(),
        }
    }
}

/// What a post adds to the page: a shown-once value or a refusal with the typed fields.
#[derive(Default)]
struct Outcome {
    shown: Option<Shown>,
    error: Option<Refusal>,
    fields: Fields,
}

impl Outcome {
    fn refused(form: Form, message: String, fields: Fields) -> Outcome {
        Outcome { error: Some(Refusal { form, message }), fields, shown: None }
    }
}

async fn render(
    req: &HttpRequest,
    state: &State,
    nav: Nav,
    slug: String,
    outcome: Outcome,
) -> Page {
    let (tenant, status, clients) = read(state, move |st| {
        let tenant = tenants::by_slug(&st.db, &slug)?;
        let status = activity::view(&st.db, &tenant.id)?;
        let clients = tenant_clients::list(&st.db, st.clock.as_ref(), Some(&slug))?;
        Ok((TenantView::from(tenant), status, clients))
    })
    .await?;
    let origin = origin(req, state);
    let code = if outcome.error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = EntraPage {
        nav,
        tenant,
        base_url: format!("{origin}/scim/v2"),
        token_url: format!("{origin}/oauth/token"),
        status,
        clients: clients.into_iter().map(ClientCard::from).collect(),
        shown: outcome.shown,
        error: outcome.error,
        fields: outcome.fields,
    };
    Ok(ui::render(code, &page))
}

async fn show(
    req: HttpRequest,
    state: State,
    op: Operator,
    slug: web::Path<String>,
    query: web::Query<Done>,
) -> Page {
    check_slug(&slug)?;
    render(&req, &state, op.nav(&query), slug.into_inner(), Outcome::default()).await
}

/// A whole number from a form field; empty means the service's default.
fn number(value: &str, what: &str) -> Result<Option<u32>, OperatorError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| OperatorError::Invalid(format!("the {what} must be a whole number")))
}

/// One of the page's forms, posted: where it was posted and what was typed into it.
struct Post<'a> {
    req: &'a HttpRequest,
    state: &'a State,
    form: &'a OperatorForm,
    slug: String,
    which: Form,
    fields: Fields,
}

impl Post<'_> {
    /// Runs the form's action off the async runtime and answers with the page: what the action
    /// produced shown once, or its refusal (`Invalid`) beside the form with the typed fields kept;
    /// any other failure is the usual error page.
    async fn answer<T: Send + 'static>(
        self,
        action: impl FnOnce(&AppState, &Actor) -> Result<T, OperatorError> + Send + 'static,
        shown: impl FnOnce(T) -> Shown,
    ) -> Page {
        let result = self
            .form
            .act(self.state, move |st, actor| match action(st, actor) {
                Err(OperatorError::Invalid(message)) => Ok(Err(message)),
                other => other.map(Ok),
            })
            .await?;
        let outcome = match result {
            Ok(done) => Outcome { shown: Some(shown(done)), ..Outcome::default() },
            Err(message) => Outcome::refused(self.which, message, self.fields),
        };
        render(self.req, self.state, self.form.nav(), self.slug, outcome).await
    }
}

impl Shown {
    /// A client's new secret, with its expiry.
    fn secret(title: String, client_id: String, secret: String, expires: Option<String>) -> Shown {
        Shown { title, client_id, secret: Some(secret), expires }
    }
}

/// Refuses (404) a client that is not one of `slug`'s own: the path names another tenant's.
fn own_client(st: &AppState, slug: &str, client_id: &str) -> Result<(), OperatorError> {
    let client = tenant_clients::show(&st.db, st.clock.as_ref(), client_id)?;
    if client.tenant.as_deref() != Some(slug) {
        return Err(OperatorError::NotFound(format!("client '{client_id}' of tenant '{slug}'")));
    }
    Ok(())
}

async fn create(
    req: HttpRequest,
    state: State,
    form: OperatorForm,
    slug: web::Path<String>,
) -> Page {
    check_slug(&slug)?;
    let fields = Fields {
        name: form.field("name").to_owned(),
        ttl: form.field("access_ttl_minutes").to_owned(),
        days: form.field("secret_days").to_owned(),
        ..Fields::default()
    };
    let s = slug.clone();
    let (name, ttl, days) = (fields.name.clone(), fields.ttl.clone(), fields.days.clone());
    let post = Post {
        req: &req,
        state: &state,
        form: &form,
        slug: slug.into_inner(),
        which: Form::Create,
        fields,
    };
    post.answer(
        move |st, actor| {
            let access_ttl_minutes = number(&ttl, "access-token lifetime")?;
            let new = NewTenantClient { tenant: &s, name: &name, access_ttl_minutes, scope: None };
            let days = number(&days, "secret expiry")?;
            tenant_clients::create(&st.db, st.clock.as_ref(), actor, &new, days)
        },
        |issued| {
            let title = format!("Client '{}' created", issued.name);
            Shown::secret(title, issued.client_id, issued.client_secret, issued.secret_expires_at)
        },
    )
    .await
}

async fn federate(
    req: HttpRequest,
    state: State,
    form: OperatorForm,
    slug: web::Path<String>,
) -> Page {
    check_slug(&slug)?;
    let fields = Fields {
        fed_name: form.field("name").to_owned(),
        fed_ttl: form.field("access_ttl_minutes").to_owned(),
        issuer: form.field("issuer").to_owned(),
        subject: form.field("subject").to_owned(),
        audience: form.field("audience").to_owned(),
        jwks_uri: form.field("jwks_uri").to_owned(),
        ..Fields::default()
    };
    let s = slug.clone();
    let typed = (
        fields.fed_name.clone(),
        fields.fed_ttl.clone(),
        fields.issuer.clone(),
        fields.subject.clone(),
        fields.audience.clone(),
        fields.jwks_uri.clone(),
    );
    let post = Post {
        req: &req,
        state: &state,
        form: &form,
        slug: slug.into_inner(),
        which: Form::Federate,
        fields,
    };
    post.answer(
        move |st, actor| {
            let (name, ttl, issuer, subject, audience, jwks_uri) = typed;
            let access_ttl_minutes = number(&ttl, "access-token lifetime")?;
            let new = NewTenantClient { tenant: &s, name: &name, access_ttl_minutes, scope: None };
            let federation = Federation {
                issuer: &issuer,
                subject: &subject,
                audience: &audience,
                jwks_uri: &jwks_uri,
            };
            let insecure = st.settings.allow_insecure_jwks_uri;
            tenant_clients::federate(&st.db, st.clock.as_ref(), actor, &new, &federation, insecure)
        },
        |client| Shown {
            title: format!("Federated client '{}' created", client.name),
            client_id: client.client_id,
            secret: None,
            expires: None,
        },
    )
    .await
}

async fn add_secret(
    req: HttpRequest,
    state: State,
    form: OperatorForm,
    path: web::Path<(String, String)>,
) -> Page {
    let (slug, client_id) = path.into_inner();
    check_slug(&slug)?;
    let s = slug.clone();
    let days = form.field("secret_days").to_owned();
    let fields = Fields::default();
    let post = Post { req: &req, state: &state, form: &form, slug, which: Form::AddSecret, fields };
    post.answer(
        move |st, actor| {
            own_client(st, &s, &client_id)?;
            let days = number(&days, "secret expiry")?;
            tenant_clients::add_secret(&st.db, st.clock.as_ref(), actor, &client_id, days)
        },
        |issued| {
            let title = "New secret added".into();
            Shown::secret(title, issued.client_id, issued.client_secret, issued.secret_expires_at)
        },
    )
    .await
}

async fn revoke_secret(
    state: State,
    form: OperatorForm,
    path: web::Path<(String, String, String)>,
) -> Page {
    let (slug, client_id, secret_id) = path.into_inner();
    check_slug(&slug)?;
    let s = slug.clone();
    form.act(&state, move |st, actor| {
        own_client(st, &s, &client_id)?;
        tenant_clients::revoke_secret(&st.db, st.clock.as_ref(), actor, &client_id, &secret_id)
    })
    .await?;
    Ok(see_other(&format!("/admin/tenants/{slug}/entra?done=secret-revoked")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_whole_or_left_to_the_default() {
        assert_eq!(number("", "x").unwrap(), None);
        assert_eq!(number(" 60 ", "x").unwrap(), Some(60));
        for bad in ["sixty", "-1", "1.5"] {
            let err = number(bad, "secret expiry").unwrap_err();
            assert!(
                matches!(err, OperatorError::Invalid(m) if m.contains("secret expiry")),
                "{bad}"
            );
        }
    }
}
