//! Signed-in browser pages (operator console, customer account pages): the session extractors,
//! CSRF checks on every form post, and the HTML error type their handlers return.
//!
//! A realm names its cookie, its sign-in page and its kind of session; `sign_in_post::<R>` and
//! `sign_out::<R>` are its sign-in and sign-out forms, the same for every realm. GET handlers
//! take `Signed<R>` (no session: a redirect to the sign-in page); POST handlers take
//! `SignedForm<R>`, which also reads the form and refuses it unless its `csrf` field equals the
//! session's token (synchronizer token, compared in constant time).

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use super::AppState;
use super::error::PageError;
use super::extractors::client_ip;
use super::limits::{BodyError, read_body};
use super::nul;
use super::ui;
use super::ui::see_other;
use crate::clock::Clock;
use crate::db::Database;
use crate::oauth::secret;
use crate::service::accounts;
use crate::service::accounts::sign_in::{self, Attempt, LoginFailure};
use crate::service::accounts::{NewSession, Session};
use crate::service::operations::rate_limit::Limit;
use crate::service::verdict::Decided;

/// Largest form body the pages accept.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// One kind of signed-in page: whose session it needs and where that session's cookie lives.
pub trait Realm: 'static {
    type Session: Session;
    /// The session cookie's name.
    const COOKIE: &'static str;
    /// The paths the session cookie is sent to.
    const COOKIE_PATH: &'static str;
    /// Where to send a browser without a session, and where signing out lands.
    const SIGN_IN: &'static str;
    /// The realm's home page, where its security page links back to.
    const HOME: &'static str;
}

/// The signed-in session of realm `R`.
pub struct Signed<R: Realm> {
    pub session: R::Session,
    /// The cookie value, so a page can tell the current session from the account's others.
    pub cookie: String,
    _realm: PhantomData<R>,
}

/// A form post from the signed-in session of realm `R`, its CSRF token verified.
pub struct SignedForm<R: Realm> {
    pub session: R::Session,
    /// The cookie value, for sign-out.
    pub cookie: String,
    pub form: HashMap<String, String>,
    _realm: PhantomData<R>,
}

impl<R: Realm> SignedForm<R> {
    pub fn field(&self, name: &str) -> &str {
        self.form.get(name).map_or("", String::as_str)
    }
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, PageError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| PageError::internal("application state missing"))
}

async fn lookup<R: Realm>(req: &HttpRequest) -> Result<Option<(R::Session, String)>, PageError> {
    let state = app_state(req)?;
    let Some(cookie) = ui::cookie_value(req, R::COOKIE) else { return Ok(None) };
    let c = cookie.clone();
    let session =
        web::block(move || R::Session::lookup(&state.db, state.clock.as_ref(), &c)).await??;
    Ok(session.map(|s| (s, cookie)))
}

impl<R: Realm> FromRequest for Signed<R> {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match lookup::<R>(&req).await? {
                Some((session, cookie)) => Ok(Signed { session, cookie, _realm: PhantomData }),
                None => {
                    let here = match req.query_string() {
                        "" => req.path().to_owned(),
                        q => format!("{}?{q}", req.path()),
                    };
                    let next: String =
                        url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
                    Err(PageError::Redirect(format!("{}?next={next}", R::SIGN_IN)))
                }
            }
        })
    }
}

/// Reads an `application/x-www-form-urlencoded` body of at most `MAX_FORM_BYTES`.
pub async fn read_form<S>(payload: &mut S) -> Result<HashMap<String, String>, PageError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    let body = read_body(payload, MAX_FORM_BYTES).await.map_err(|e| match e {
        BodyError::TooLarge => {
            PageError::Page(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large".into())
        }
        BodyError::TimedOut => {
            PageError::Page(StatusCode::REQUEST_TIMEOUT, "The form did not arrive in time.".into())
        }
        BodyError::Broken => PageError::bad_request("the form could not be read"),
    })?;
    let form: HashMap<String, String> =
        url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if nul::in_pairs(form.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        return Err(PageError::bad_request("The form contains a NUL character (U+0000)."));
    }
    Ok(form)
}

impl<R: Realm> FromRequest for SignedForm<R> {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let form = read_form(&mut payload).await?;
            let Some((session, cookie)) = lookup::<R>(&req).await? else {
                return Err(PageError::forbidden(
                    "Your session has expired. Sign in again and repeat the action.",
                ));
            };
            let sent = form.get("csrf").map_or("", String::as_str);
            if !secret::equal(session.csrf_token(), sent) {
                let state = app_state(&req)?;
                let (ip, path) = (client_ip(&req, &state), req.path().to_owned());
                let actor = session.actor();
                web::block(move || {
                    accounts::record_csrf_rejection(
                        &state.db,
                        state.clock.as_ref(),
                        &actor,
                        ip.as_deref(),
                        &path,
                    )
                })
                .await??;
                return Err(PageError::forbidden(
                    "The form could not be verified. Reload the page and try again.",
                ));
            }
            Ok(SignedForm { session, cookie, form, _realm: PhantomData })
        })
    }
}

/// A realm with a sign-in page of its own, whose form posts to `sign_in_post::<R>`.
pub trait SignInRealm: Realm {
    /// Verifies credentials and opens a session.
    const LOGIN: SignInFn<NewSession<Self::Session>>;
    /// Where a browser lands once signed in, given the form's `next` field.
    fn landing(next: Option<&str>) -> String;
    /// The sign-in page with what it shows.
    fn page(status: StatusCode, form: SignInView<'_>) -> HttpResponse;
}

/// What a sign-in page shows: after a refusal the `error`, and the `email` as typed.
pub struct SignInView<'a> {
    pub error: Option<String>,
    pub email: &'a str,
    pub csrf: &'a str,
    /// Where the browser goes once signed in.
    pub next: &'a str,
}

/// The sign-in page of realm `R` with its double-submit token (see `sign_in_csrf`).
pub fn sign_in_page<R: SignInRealm>(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    email: &str,
    next: &str,
) -> HttpResponse {
    let csrf = sign_in_csrf(req, state);
    let response = R::page(status, SignInView { error, email, csrf: &csrf, next });
    with_csrf_cookie(response, req, state, csrf)
}

/// The sign-in form of realm `R`: a session cookie and on to the landing page, or the page again
/// with why not.
pub async fn sign_in_post<R: SignInRealm>(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let (post, outcome) = sign_in(&req, &state, &mut payload, R::COOKIE, R::LOGIN).await?;
    let next = R::landing(post.form.get("next").map(String::as_str));
    Ok(match outcome {
        Ok(new) => signed_in::<R>(&req, &state, &next, new.cookie),
        Err(failure) => refused(failure, |status, message| {
            sign_in_page::<R>(&req, &state, status, Some(message), &post.email, &next)
        }),
    })
}

/// Where a successful sign-in to realm `R` lands, with the new session's cookie.
fn signed_in<R: Realm>(
    req: &HttpRequest,
    state: &AppState,
    location: &str,
    cookie: String,
) -> HttpResponse {
    let mut response = see_other(location);
    let secure = ui::is_secure(req, state);
    let _ = response.add_cookie(&ui::session_cookie(R::COOKIE, R::COOKIE_PATH, cookie, secure));
    response
}

/// The sign-out form of realm `R`: ends the session, removes its cookie and lands on the
/// sign-in page.
pub async fn sign_out<R: Realm>(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: SignedForm<R>,
) -> Result<HttpResponse, PageError> {
    let (ip, st) = (client_ip(&req, &state), state.clone());
    let (session, cookie) = (form.session, form.cookie);
    web::block(move || session.sign_out(&st.db, st.clock.as_ref(), &cookie, ip.as_deref()))
        .await??;
    let mut response = see_other(R::SIGN_IN);
    let secure = ui::is_secure(&req, &state);
    let _ = response.add_cookie(&ui::expired_session_cookie(R::COOKIE, R::COOKIE_PATH, secure));
    Ok(response)
}

/// The double-submit token of a sign-in page: the browser's CSRF cookie if this server minted
/// it, or a fresh one that the page sets with `with_csrf_cookie`.
pub fn sign_in_csrf(req: &HttpRequest, state: &AppState) -> String {
    ui::cookie_value(req, ui::CSRF_COOKIE)
        .filter(|token| state.sign_in_csrf.is_ours(token))
        .unwrap_or_else(|| state.sign_in_csrf.mint())
}

pub fn with_csrf_cookie(
    mut response: HttpResponse,
    req: &HttpRequest,
    state: &AppState,
    csrf: String,
) -> HttpResponse {
    let _ = response.add_cookie(&ui::cookie(ui::CSRF_COOKIE, csrf, ui::is_secure(req, state)));
    response
}

/// A sign-in form post, read and checked against the double-submit cookie (there is no session
/// yet to bind a token to).
pub struct SignInPost {
    pub form: HashMap<String, String>,
    pub email: String,
}

/// One realm's sign-in: verifies credentials and opens a session.
pub type SignInFn<T> = fn(&Database, &dyn Clock, i64, &Attempt<'_>) -> Decided<T, LoginFailure>;

/// Reads a sign-in post and runs `sign_in` off the async runtime with the address's budget and
/// the session lifetime from the settings; the session the browser holds in `cookie` (its
/// realm's) is ended by a successful sign-in.
pub async fn sign_in<T: Send + 'static>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    payload: &mut web::Payload,
    cookie: &str,
    sign_in: SignInFn<T>,
) -> Result<(SignInPost, Result<T, LoginFailure>), PageError> {
    let form = read_form(payload).await?;
    let field = |k: &str| form.get(k).map_or("", String::as_str).to_owned();
    let paired = ui::cookie_value(req, ui::CSRF_COOKIE)
        .is_some_and(|c| state.sign_in_csrf.is_ours(&c) && secret::equal(&c, &field("csrf")));
    if !paired {
        let (ip, st, path) = (client_ip(req, state), state.clone(), req.path().to_owned());
        web::block(move || {
            let limit = Limit::per_minute(st.settings.rate_limits.login_per_ip);
            sign_in::refuse_forged(&st.db, st.clock.as_ref(), ip.as_deref(), limit, &path)
        })
        .await??;
        return Err(PageError::forbidden(
            "The sign-in form could not be verified (cookies must be enabled). Reload the page and sign in again.",
        ));
    }
    let (email, password) = (field("email"), field("password"));
    let (ip, st, typed) = (client_ip(req, state), state.clone(), email.clone());
    let previous = ui::cookie_value(req, cookie);
    let outcome = web::block(move || {
        let attempt = Attempt {
            email: &typed,
            password: &password,
            ip: ip.as_deref(),
            ip_limit: Limit::per_minute(st.settings.rate_limits.login_per_ip),
            gate: &st.passwords,
            replaces: previous.as_deref(),
        };
        let ttl = st.settings.session_ttl_ms();
        sign_in(&st.db, st.clock.as_ref(), ttl, &attempt)
    })
    .await??;
    Ok((SignInPost { form, email }, outcome.into_result()))
}

/// The sign-in page again, with why it failed: 401, or 429 with `Retry-After`. Every sign-in
/// page (console, account, consent) words its refusals here, so they read alike.
pub fn refused(
    failure: LoginFailure,
    render: impl FnOnce(StatusCode, String) -> HttpResponse,
) -> HttpResponse {
    let (what, retry_after) = match failure {
        LoginFailure::Invalid => {
            return render(StatusCode::UNAUTHORIZED, "Incorrect email or password.".into());
        }
        LoginFailure::Busy { retry_after } => {
            let message = "The server is busy checking other sign-ins. Try again in a moment.";
            let mut response = render(StatusCode::SERVICE_UNAVAILABLE, message.into());
            ui::set_retry_after(&mut response, retry_after);
            return response;
        }
        LoginFailure::TenantDisabled => {
            return render(
                StatusCode::FORBIDDEN,
                "Your organisation's access is disabled. Contact the service's operator.".into(),
            );
        }
        LoginFailure::Throttled { retry_after } => ("Too many sign-in attempts", retry_after),
        LoginFailure::Locked { retry_after } => ("Too many failed sign-in attempts", retry_after),
    };
    let minutes = (retry_after + 59_999) / 60_000;
    let message = format!("{what}. Try again in {minutes} minute(s).");
    let mut response = render(StatusCode::TOO_MANY_REQUESTS, message);
    ui::set_retry_after(&mut response, retry_after);
    response
}
