//! OAuth2 endpoints: /oauth/authorize (login and consent pages), /oauth/login, /oauth/logout,
//! /oauth/token, /oauth/revoke, /oauth/introspect, /oauth/jwks.json and the RFC 8414 metadata.
//! Handlers parse and shape responses; every decision is made in `service::oauth`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::error::PageError;
use super::error::oauth::{no_store, oauth_error, storage_failure};
use super::extractors::{NUL_DETAIL, client_ip, origin, query_pairs};
use super::limits::{BodyError, read_body};
use super::nul;
use super::ui::{self, ConsentPage, LoginPage, SESSION_COOKIE};
use super::web_session::{refused, sign_in, sign_in_csrf, with_csrf_cookie};
use super::{AppState, State};
use crate::db::StoreError;
use crate::db::rows::ClientRow;
use crate::oauth::error::OAuthError;
use crate::oauth::{assertion, scope, secret};
use crate::service::accounts;
use crate::service::accounts::tenant_admins::{self as login, TenantAdminSession as Session};
use crate::service::oauth::access_tokens;
use crate::service::oauth::keys;
use crate::service::oauth::{
    self as flow, AuthMethod, AuthorizeOutcome, ClientCredentials, ConsentDecision, ConsentRequest,
    GrantRequest, OAuthEnv, Params,
};
use crate::service::operations::rate_limit::{self, Decision, Limit};
use crate::service::verdict::{Decided, Verdict};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/oauth/authorize")
            .route(web::get().to(authorize_get))
            .route(web::post().to(authorize_post)),
    )
    .route("/oauth/login", web::post().to(login_post))
    .route("/oauth/logout", web::post().to(logout_post))
    .route("/oauth/token", web::post().to(token))
    .route("/oauth/revoke", web::post().to(revoke))
    .route("/oauth/introspect", web::post().to(introspect))
    .route("/oauth/jwks.json", web::get().to(jwks))
    .route("/.well-known/oauth-authorization-server", web::get().to(metadata));
}

/// Everything a blocking OAuth task needs, owned so it can move to the blocking pool.
struct Ctx {
    state: web::Data<AppState>,
    issuer: String,
    ip: Option<String>,
}

impl Ctx {
    fn new(req: &HttpRequest, state: &web::Data<AppState>) -> Ctx {
        Ctx { state: state.clone(), issuer: origin(req, state), ip: client_ip(req, state) }
    }

    fn env(&self) -> OAuthEnv<'_> {
        OAuthEnv {
            db: &self.state.db,
            clock: self.state.clock.as_ref(),
            settings: &self.state.settings,
            issuer: &self.issuer,
            ip: self.ip.clone(),
            passwords: &self.state.passwords,
            sealer: &self.state.sealer,
            jwks: &self.state.jwks,
            signers: &self.state.signers,
        }
    }
}

fn redirect(status: StatusCode, location: &str) -> HttpResponse {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut builder = HttpResponse::build(status);
            builder
                .insert_header((header::LOCATION, value))
                .insert_header((header::CACHE_CONTROL, "no-store"));
            builder.finish()
        }
        Err(_) => PageError::internal("redirect location is not a valid header").error_response(),
    }
}

fn host_of(uri: &str) -> String {
    url::Url::parse(uri).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
}

/// The login page for the authorize request whose query is `return_to`, setting a fresh
/// double-submit CSRF cookie when the browser has none.
fn login_page(
    req: &HttpRequest,
    state: &AppState,
    consent: &ConsentRequest,
    return_to: &str,
    status: StatusCode,
    error: Option<String>,
    email: &str,
) -> HttpResponse {
    let csrf = sign_in_csrf(req, state);
    let page =
        LoginPage { client_name: &consent.client_name, error, email, csrf: &csrf, return_to };
    with_csrf_cookie(ui::render(status, &page), req, state, csrf)
}

fn consent_page(req: &HttpRequest, consent: &ConsentRequest, session: &Session) -> HttpResponse {
    let return_to = req.query_string().to_owned();
    let action = format!("/oauth/authorize?{return_to}");
    let page = ConsentPage {
        client_name: &consent.client_name,
        tenant_name: &session.tenant_name,
        email: &session.email,
        scope_lines: scope::describe(&consent.scope),
        redirect_host: &host_of(&consent.redirect_uri),
        action: &action,
        csrf: &session.csrf_token,
        return_to: &return_to,
    };
    ui::render(StatusCode::OK, &page)
}

/// Runs the authorization request (and the admin's decision, if any) off the async runtime.
async fn run_authorize(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    params: Params,
    decision: Option<ConsentDecision>,
    csrf: Option<String>,
) -> Result<(AuthorizeOutcome, Option<Session>), PageError> {
    let ctx = Ctx::new(req, state);
    let cookie = ui::cookie_value(req, SESSION_COOKIE);
    let pair = web::block(move || {
        let session = match cookie {
            Some(cookie) => login::session(&ctx.state.db, ctx.state.clock.as_ref(), &cookie)?,
            None => None,
        };
        // A decision needs a live session and its CSRF token; otherwise just show the page.
        let decision = decision.filter(|_| {
            session
                .as_ref()
                .zip(csrf.as_deref())
                .is_some_and(|(s, c)| secret::equal(&s.csrf_token, c))
        });
        let outcome = flow::authorize(&ctx.env(), &params, session.as_ref(), decision)?;
        Ok::<_, StoreError>((outcome, session))
    })
    .await??;
    Ok(pair)
}

async fn authorize_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let params = authorize_params(&req)?;
    Ok(match run_authorize(&req, &state, params, None, None).await? {
        (AuthorizeOutcome::ErrorPage(message), _) => ui::error_page(
            StatusCode::BAD_REQUEST,
            "This authorization request is invalid",
            &message,
        ),
        (AuthorizeOutcome::Redirect(location), _) => redirect(StatusCode::FOUND, &location),
        (AuthorizeOutcome::Pending(consent), Some(session)) => {
            consent_page(&req, &consent, &session)
        }
        (AuthorizeOutcome::Pending(consent), None) => {
            login_page(&req, &state, &consent, req.query_string(), StatusCode::OK, None, "")
        }
    })
}

/// The authorize request's query. One with U+0000 is refused with a page before its client is
/// looked up: nothing is trusted yet to redirect to.
fn authorize_params(req: &HttpRequest) -> Result<Params, PageError> {
    let pairs = query_pairs(req);
    if nul::in_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        return Err(PageError::bad_request("The request contains a NUL character (U+0000)."));
    }
    Ok(Params::from_pairs(pairs))
}

/// Largest form body of an OAuth endpoint; real ones are a few hundred bytes.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The form body of a page of the consent flow.
async fn page_body(mut payload: web::Payload) -> Result<web::Bytes, PageError> {
    read_body(&mut payload, MAX_FORM_BYTES).await.map_err(|e| match e {
        BodyError::TooLarge => {
            PageError::Page(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large".into())
        }
        BodyError::TimedOut => {
            PageError::Page(StatusCode::REQUEST_TIMEOUT, "The form did not arrive in time.".into())
        }
        BodyError::Broken => PageError::bad_request("the form could not be read"),
    })
}

/// The form body of a client's request, or its RFC 6749 `invalid_request` answer.
async fn client_body(mut payload: web::Payload) -> Result<web::Bytes, HttpResponse> {
    read_body(&mut payload, MAX_FORM_BYTES).await.map_err(|e| {
        let description = match e {
            BodyError::TooLarge => "the request body is too large",
            BodyError::TimedOut => "the request body did not arrive in time",
            BodyError::Broken => "the request body could not be read (malformed transfer encoding)",
        };
        oauth_error(&OAuthError::invalid_request(description), false)
    })
}

fn form_params(body: &web::Bytes) -> Params {
    Params::from_pairs(
        url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
    )
}

async fn authorize_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form = form_params(&page_body(payload).await?);
    let params = authorize_params(&req)?;
    let decision = match form.get("decision") {
        Some("allow") => Some(ConsentDecision::Allow),
        Some("deny") => Some(ConsentDecision::Deny),
        _ => None,
    };
    let csrf = form.get("csrf").map(str::to_owned);
    let Some(wanted) = decision else {
        return Ok(ui::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid form",
            "The form carried no decision.",
        ));
    };
    Ok(match run_authorize(&req, &state, params, Some(wanted), csrf).await? {
        (AuthorizeOutcome::ErrorPage(message), _) => ui::error_page(
            StatusCode::BAD_REQUEST,
            "This authorization request is invalid",
            &message,
        ),
        (AuthorizeOutcome::Redirect(location), _) => redirect(StatusCode::SEE_OTHER, &location),
        // No decision was taken: the session is live, so the CSRF token did not match.
        (AuthorizeOutcome::Pending(_), Some(session)) => {
            let ctx = Ctx::new(&req, &state);
            web::block(move || {
                accounts::record_csrf_rejection(
                    &ctx.state.db,
                    ctx.state.clock.as_ref(),
                    &session.actor(),
                    ctx.ip.as_deref(),
                    "/oauth/authorize",
                )
            })
            .await??;
            ui::error_page(
                StatusCode::FORBIDDEN,
                "The form expired",
                "The consent form is no longer valid. Go back, reload the page and decide again.",
            )
        }
        (AuthorizeOutcome::Pending(consent), None) => login_page(
            &req,
            &state,
            &consent,
            req.query_string(),
            StatusCode::UNAUTHORIZED,
            Some("Your session has expired. Sign in again.".into()),
            "",
        ),
    })
}

/// The authorize query a login or logout form carries back; it only ever becomes the query of
/// our own /oauth/authorize, so it cannot redirect anywhere else.
fn return_to(field: Option<&str>) -> String {
    field.filter(|q| q.bytes().all(|b| b.is_ascii_graphic())).unwrap_or("").to_owned()
}

/// The consent page's sign-in, on the shared sign-in path (CSRF check, throttling, wording);
/// what is its own is where it goes next: back to the authorize request, or that request's
/// login page again with why.
async fn login_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let (post, outcome) = sign_in(&req, &state, &mut payload, SESSION_COOKIE, login::login).await?;
    let return_to = return_to(post.form.get("return_to").map(String::as_str));
    let failure = match outcome {
        Ok(new) => {
            let location = format!("/oauth/authorize?{return_to}");
            let mut response = redirect(StatusCode::SEE_OTHER, &location);
            let secure = ui::is_secure(&req, &state);
            let _ = response.add_cookie(&ui::cookie(SESSION_COOKIE, new.cookie, secure));
            return Ok(response);
        }
        Err(failure) => failure,
    };
    let Some(consent) = pending_consent(&req, &state, &return_to).await? else {
        return Ok(ui::error_page(
            StatusCode::BAD_REQUEST,
            "This authorization request is invalid",
            "Start again from your identity provider.",
        ));
    };
    Ok(refused(failure, |status, message| {
        login_page(&req, &state, &consent, &return_to, status, Some(message), &post.email)
    }))
}

/// The authorize request a sign-in form came from, while it still awaits the admin.
async fn pending_consent(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    return_to: &str,
) -> Result<Option<ConsentRequest>, PageError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(return_to.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if nul::in_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        return Ok(None);
    }
    let params = Params::from_pairs(pairs);
    let ctx = Ctx::new(req, state);
    let outcome = web::block(move || flow::authorize(&ctx.env(), &params, None, None)).await??;
    Ok(match outcome {
        AuthorizeOutcome::Pending(consent) => Some(consent),
        _ => None,
    })
}

async fn logout_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let form = form_params(&page_body(payload).await?);
    let location = format!("/oauth/authorize?{}", return_to(form.get("return_to")));
    let Some(cookie) = ui::cookie_value(&req, SESSION_COOKIE) else {
        return Ok(redirect(StatusCode::SEE_OTHER, &location));
    };
    let csrf = form.get("csrf").unwrap_or("").to_owned();
    let ctx = Ctx::new(&req, &state);
    let signed_out = web::block(move || {
        let db = &ctx.state.db;
        let clock = ctx.state.clock.as_ref();
        match login::session(db, clock, &cookie)? {
            Some(session) if secret::equal(&session.csrf_token, &csrf) => {
                login::logout(db, clock, &cookie, ctx.ip.as_deref())?;
                Ok::<_, StoreError>(true)
            }
            _ => Ok(false),
        }
    })
    .await??;
    if !signed_out {
        return Ok(ui::error_page(
            StatusCode::FORBIDDEN,
            "The form expired",
            "Reload the page and try again.",
        ));
    }
    let mut response = redirect(StatusCode::SEE_OTHER, &location);
    let _ = response.add_cookie(&ui::expired_cookie(SESSION_COOKIE, ui::is_secure(&req, &state)));
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// JSON endpoints for clients.

fn json_ok(body: &impl serde::Serialize) -> HttpResponse {
    let mut builder = HttpResponse::Ok();
    no_store(&mut builder);
    builder.json(body)
}

/// `client_id:client_secret` from an `Authorization: Basic` header, each part form-urlencoded
/// (RFC 6749 §2.3.1). `Err` for a malformed header.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let bad = || OAuthError::invalid_client("the Authorization header is not valid HTTP Basic");
    let text = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = text.trim().split_once(' ') else { return Err(bad()) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret_text) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret_text))))
}

/// Parses a client request: form body, then the client's credentials (Basic or body).
fn client_request(
    req: &HttpRequest,
    body: &web::Bytes,
) -> Result<(Params, ClientCredentials), (OAuthError, bool)> {
    let is_form =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err((
            OAuthError::invalid_request("send the parameters as application/x-www-form-urlencoded"),
            false,
        ));
    }
    let params = form_params(body);
    let basic = basic_credentials(req).map_err(|e| (e, true))?;
    let in_body =
        url::form_urlencoded::parse(body).any(|(k, v)| k.contains('\0') || v.contains('\0'));
    let in_basic =
        basic.as_ref().is_some_and(|(id, secret)| nul::in_pairs([(id.as_str(), secret.as_str())]));
    if in_body || in_basic {
        return Err((OAuthError::invalid_request(NUL_DETAIL), basic.is_some()));
    }
    let used_basic = basic.is_some();
    let creds = flow::client_credentials(basic, &params).map_err(|e| (e, used_basic))?;
    Ok((params, creds))
}

/// Shared by /token, /revoke and /introspect: parse the form, authenticate the client (off the
/// async runtime), then `act`; answers in JSON with `Cache-Control: no-store`.
async fn with_client<T, F>(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    act: F,
) -> HttpResponse
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(
            &OAuthEnv<'_>,
            &AppState,
            &Params,
            &ClientCredentials,
            &ClientRow,
        ) -> Decided<T, OAuthError>
        + Send
        + 'static,
{
    let body = match client_body(payload).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let (params, creds) = match client_request(&req, &body) {
        Ok(pair) => pair,
        Err((e, basic)) => return oauth_error(&e, basic),
    };
    let basic = creds.method == AuthMethod::Basic;
    let ctx = Ctx::new(&req, &state);
    let result = web::block(move || {
        let env = ctx.env();
        // Counted before the client's secret is checked, which may be a legacy argon2id hash.
        if let Some(secs) = token_budget(&ctx, &creds.client_id)? {
            return Ok(Verdict::Refused(OAuthError::rate_limited(secs)));
        }
        match flow::authenticate_client(&env, &creds)? {
            Verdict::Granted(client) => act(&env, &ctx.state, &params, &creds, &client),
            Verdict::Refused(e) => Ok(Verdict::Refused(e)),
        }
    })
    .await;
    match result {
        Ok(Ok(Verdict::Granted(body))) => json_ok(&body),
        Ok(Ok(Verdict::Refused(e))) => oauth_error(&e, basic),
        Ok(Err(e)) => storage_failure(&e),
        Err(_) => oauth_error(&OAuthError::server_error(), false),
    }
}

/// Counts a request against the client's and the address's budgets; `Some(seconds)` when either
/// is spent.
fn token_budget(ctx: &Ctx, client_id: &str) -> Result<Option<u64>, StoreError> {
    let limits = &ctx.state.settings.rate_limits;
    let now = ctx.state.clock.now();
    let db = &ctx.state.db;
    // The id is only claimed so far: bound what it can add to a bucket name.
    let claimed: String = client_id.chars().take(128).collect();
    let by_client = rate_limit::hit(
        db,
        &format!("token-client:{claimed}"),
        Limit::per_minute(limits.token_per_client),
        now,
    )?;
    let by_ip = match &ctx.ip {
        Some(ip) => rate_limit::hit(
            db,
            &format!("token-ip:{}", crate::cidr::throttle_key(ip)),
            Limit::per_minute(limits.token_per_ip),
            now,
        )?,
        None => Decision::Allowed,
    };
    Ok(by_client.retry_after_secs().max(by_ip.retry_after_secs()))
}

async fn token(req: HttpRequest, state: State, payload: web::Payload) -> HttpResponse {
    // Parsed only once the client is authenticated: a bad secret is `invalid_client` whatever
    // the grant says.
    with_client(req, state, payload, |env, _, params, creds, client| {
        match GrantRequest::parse(params) {
            Ok(grant) => flow::token(env, &grant, creds, client),
            Err(e) => Ok(Verdict::Refused(e)),
        }
    })
    .await
}

/// RFC 7009 revocation and RFC 7662 introspection refuse a request that names no `token`.
fn no_token<T>() -> Verdict<T, OAuthError> {
    Verdict::Refused(OAuthError::invalid_request("the token parameter is required"))
}

async fn revoke(req: HttpRequest, state: State, payload: web::Payload) -> HttpResponse {
    with_client(req, state, payload, |env, state, params, _, client| {
        let Some(token) = params.get("token") else { return Ok(no_token()) };
        access_tokens::revoke(env, &state.tokens, client, token)
            .map(|()| Verdict::Granted(json!({})))
    })
    .await
}

async fn introspect(req: HttpRequest, state: State, payload: web::Payload) -> HttpResponse {
    with_client(req, state, payload, |env, state, params, _, client| {
        let Some(token) = params.get("token") else { return Ok(no_token()) };
        access_tokens::introspect(env, &state.tokens, client, token).map(Verdict::Granted)
    })
    .await
}

async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let ttl = state.settings.access_token_ttl_ms();
    let st = state.clone();
    match web::block(move || keys::jwks(&st.db, st.clock.as_ref(), ttl)).await {
        Ok(Ok(body)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
            .insert_header((header::CONTENT_TYPE, "application/jwk-set+json"))
            .body(body.to_string()),
        Ok(Err(e)) => storage_failure(&e),
        Err(_) => oauth_error(&OAuthError::server_error(), false),
    }
}

/// Every client authentication method the token, revocation and introspection endpoints accept.
const AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "private_key_jwt"];

/// RFC 8414 authorization server metadata. Without `public_url` it is derived from the request's
/// host, so no shared cache may hand one client's copy to another.
async fn metadata(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let issuer = origin(&req, &state);
    let mut response = HttpResponse::Ok();
    if state.settings.public_url.is_some() {
        response.insert_header((header::CACHE_CONTROL, "public, max-age=300"));
    } else {
        response
            .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
            .insert_header((header::VARY, "Host, X-Forwarded-Host, X-Forwarded-Proto, Forwarded"));
    }
    response.json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "jwks_uri": format!("{issuer}/oauth/jwks.json"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "scopes_supported": scope::ALL,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": assertion::ALGORITHMS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion::ALGORITHMS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion::ALGORITHMS,
        "code_challenge_methods_supported": ["S256"],
        "service_documentation": format!("{issuer}/scim/v2/ServiceProviderConfig"),
    }))
}
