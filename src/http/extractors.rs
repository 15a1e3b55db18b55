//! Request extractors: the authenticated `Principal`, a SCIM JSON body (content type, size limit,
//! syntax), query parameters as pairs, and the base URL resources are located under.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use super::limits::{BodyError, read_body};
use super::{forwarded, nul};
use crate::scim::error::ScimError;
use crate::service::provisioning::admission::{self, Admission, Gate, Knock, Remembered};
use crate::service::tenancy::credentials::{self, AuthFailure, Principal};

/// The application state, which every app registers; its absence is a wiring bug.
pub(crate) fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::from(ScimError::internal("application state missing")))
}

/// The caller, authenticated by its bearer token. Failing requests get a 401 that names the reason.
pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned).map_err(|_| AuthFailure::Malformed));
        let state = state(req);
        let issuer = state.as_ref().map(|s| origin(req, s)).unwrap_or_default();
        let peer = state.as_ref().ok().and_then(|s| client_ip(req, s));
        let request = req.clone();
        // Reads (including POST …/.search) need scim:read; everything else needs scim:write.
        let is_search = *req.method() == Method::POST && req.path().ends_with("/.search");
        let writes = !matches!(*req.method(), Method::GET | Method::HEAD) && !is_search;
        Box::pin(async move {
            let state = state?;
            let token = match header.transpose() {
                Ok(h) => credentials::scim_token(h.as_deref()).map(str::to_owned),
                Err(failure) => Err(failure),
            };
            let path = request.path().to_owned();
            // A credential this node verified a moment ago is admitted here, on the async worker:
            // the request's one trip to the blocking pool is then its use case's.
            let remembered = admission::admit_remembered(
                &gate(&state),
                &Knock {
                    token: token.as_deref().map_err(|failure| *failure),
                    issuer: &issuer,
                    peer: peer.clone(),
                    path: &path,
                    writes,
                },
            );
            let admission = match remembered {
                Some(Remembered::Decided(admission)) => admission,
                Some(Remembered::Settle(principal, checked)) => {
                    let st = state.clone();
                    web::block(move || admission::settle(&gate(&st), writes, principal, &checked))
                        .await?
                        .map_err(ScimError::from)?
                }
                None => {
                    let (st, peer) = (state.clone(), peer.clone());
                    web::block(move || {
                        let token = token.as_deref().map_err(|failure| *failure);
                        let knock = Knock { token, issuer: &issuer, peer, path: &path, writes };
                        admission::admit(&gate(&st), &knock)
                    })
                    .await?
                    .map_err(ScimError::from)?
                }
            };
            answer(&request, admission, peer)
        })
    }
}

/// What SCIM admission needs from the application.
fn gate(state: &AppState) -> Gate<'_> {
    Gate {
        db: &state.db,
        clock: state.clock.as_ref(),
        tokens: &state.tokens,
        credentials: &state.credentials,
        limiter: &state.scim_limiter,
        per_minute: state.settings.rate_limits.scim_per_tenant,
        failures_per_ip: state.settings.rate_limits.scim_auth_failures_per_ip,
    }
}

/// Leaves the request's tenant on it for the middlewares, and turns a refusal into its answer.
fn answer(
    request: &HttpRequest,
    admission: Admission,
    peer: Option<String>,
) -> Result<Authenticated, ApiError> {
    let tenant_of = |principal: &Principal| RequestTenant {
        id: principal.tenant_id.clone(),
        slug: Some(principal.tenant_slug.clone()),
        credential: Some(principal.credential_id.clone()),
    };
    match admission {
        Admission::Admitted(principal) => {
            request.extensions_mut().insert(tenant_of(&principal));
            Ok(Authenticated(principal))
        }
        Admission::Refused { failure, tenant } => {
            let path = request.path();
            tracing::info!(reason = failure.description(), ?peer, %path, "SCIM authentication failed");
            if let Some(id) = tenant {
                request.extensions_mut().insert(RequestTenant { id, slug: None, credential: None });
            }
            Err(ApiError::from(failure))
        }
        Admission::AddressLimited { retry_after_secs } => {
            tracing::info!(?peer, "SCIM authentication failures from this address limited");
            Err(ApiError::rate_limited(retry_after_secs))
        }
        Admission::RateLimited { principal, retry_after_secs } => {
            request.extensions_mut().insert(tenant_of(&principal));
            tracing::info!(tenant = %principal.tenant_slug, "SCIM rate limit reached");
            Err(ApiError::rate_limited(retry_after_secs))
        }
        Admission::InsufficientScope { principal, needed } => {
            request.extensions_mut().insert(tenant_of(&principal));
            Err(ApiError::insufficient_scope(needed))
        }
    }
}

/// The tenant a SCIM request was made for, once its credential is known, left on the request
/// for the middlewares that read it back from the answered request: the activity status line and
/// the metrics' `tenant` label. A refused credential that is authentically a tenant's (a revoked
/// static token) still names the tenant's id, but no slug: the metrics label stays empty.
#[derive(Debug, Clone)]
pub struct RequestTenant {
    pub id: String,
    pub slug: Option<String>,
    /// The credential that made the request (`st:<id>`, `grant:<id>`), once admitted.
    pub credential: Option<String>,
}

/// The raw body a SCIM request carried, left on it for the request inspector.
#[derive(Debug, Clone)]
pub struct RecordedBody(pub web::Bytes);

/// A JSON request body as SCIM clients send it: `application/scim+json` or `application/json`
/// (with or without charset), at most `max_body_bytes`, syntactically valid JSON.
pub struct ScimBody(pub Value);

fn acceptable_content_type(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return true; // Lenient: some clients omit it; the body must still be JSON.
    };
    let Ok(text) = value.to_str() else { return false };
    let mime = text.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || mime == "application/scim+json" || mime.ends_with("+json")
}

impl FromRequest for ScimBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // /Bulk advertises its own maxPayloadSize; every other body has the general limit.
        let is_bulk = req.path().ends_with("/Bulk");
        let limit = state(req)
            .map(|s| {
                if is_bulk { s.settings.bulk_max_payload_bytes } else { s.settings.max_body_bytes }
            })
            .unwrap_or(1024 * 1024);
        let type_ok = acceptable_content_type(req);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        let recorded = req.clone();
        Box::pin(async move {
            let too_large = || {
                ApiError::from(ScimError::payload_too_large(format!(
                    "request body exceeds the limit of {limit} bytes"
                )))
            };
            if !type_ok {
                return Err(ScimError::unsupported_media_type(
                    "send the body as application/scim+json or application/json",
                )
                .into());
            }
            if declared.is_some_and(|len| len > limit) {
                return Err(too_large());
            }
            let body = read_body(&mut payload, limit).await.map_err(|e| match e {
                BodyError::TooLarge => too_large(),
                BodyError::TimedOut => ScimError::request_timeout(
                    "the request body did not arrive in time; send it at once",
                )
                .into(),
                BodyError::Broken => ScimError::invalid_syntax(
                    "the request body could not be read (malformed transfer encoding)",
                )
                .into(),
            })?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Err(ScimError::invalid_syntax(
                    "the request body is empty; a JSON object is required",
                )
                .into());
            }
            if exceeds_depth(&body, MAX_JSON_DEPTH) {
                return Err(ScimError::invalid_syntax(format!(
                    "the body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"
                ))
                .into());
            }
            // The request inspector records the body as it arrived (secrets removed there).
            recorded.extensions_mut().insert(RecordedBody(body.clone()));
            let value: Value = serde_json::from_slice(&body).map_err(|e| {
                ScimError::invalid_syntax(format!("the body is not valid JSON: {e}"))
            })?;
            if !value.is_object() {
                return Err(ScimError::invalid_syntax("the body must be a JSON object").into());
            }
            if nul::in_json(&value) {
                return Err(ScimError::invalid_value(NUL_DETAIL).into());
            }
            Ok(ScimBody(value))
        })
    }
}

/// Why input with U+0000 is refused (see `http::nul`).
pub const NUL_DETAIL: &str = "strings must not contain the NUL character (U+0000)";

/// Deepest nesting of arrays and objects a body may have. SCIM bodies need fewer than ten levels
/// (a Bulk operation's PATCH value inside `Operations`); the limit keeps parsing, and every
/// recursive walk of the value after it, far from stack trouble.
pub const MAX_JSON_DEPTH: usize = 32;

/// Whether `json` nests deeper than `max`: a single pass over the bytes, before any parsing.
/// Brackets inside strings do not count; malformed input is left for the parser to reject.
pub(crate) fn exceeds_depth(json: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Query parameters in order, decoded; names are compared case-insensitively by their users.
pub fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The client's address: the peer, or, when the peer is one of `trusted_proxies`, the client
/// its `Forwarded`/`X-Forwarded-For` names (login throttling would otherwise count every user as
/// the proxy).
pub fn client_ip(req: &HttpRequest, state: &AppState) -> Option<String> {
    let forwarded = forwarded::from_request(req, &state.settings.trusted_proxies);
    let client = forwarded.and_then(|f| f.client).or_else(|| req.peer_addr().map(|a| a.ip()));
    client.map(|ip| ip.to_canonical().to_string())
}

/// Whether the client reached us over https: our own TLS, or a trusted proxy says so. Security
/// decisions (HSTS, `Secure` cookies, the derived issuer) go through here, never through
/// `connection_info()`, which believes forwarded headers from anyone.
pub fn is_https(req: &HttpRequest, state: &AppState) -> bool {
    req.app_config().secure()
        || forwarded::from_request(req, &state.settings.trusted_proxies)
            .is_some_and(|f| f.proto.as_deref() == Some("https"))
}

/// `https://host/scim/v2`: from the configured public URL, else from this request's Host.
pub fn scim_base(req: &HttpRequest, state: &AppState) -> String {
    format!("{}/scim/v2", origin(req, state))
}

/// Our public origin (`https://host[:port]`): the configured `public_url`, else derived from the
/// request (and a trusted proxy's forwarded host and scheme). It is the OAuth issuer; the SCIM
/// base under it is every access token's audience.
pub fn origin(req: &HttpRequest, state: &AppState) -> String {
    match &state.settings.public_url {
        Some(url) => url.clone(),
        None => {
            let forwarded_host = forwarded::from_request(req, &state.settings.trusted_proxies)
                .and_then(|f| f.host)
                .filter(|h| is_plain_host(h));
            let host = forwarded_host.unwrap_or_else(|| {
                req.headers()
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .filter(|h| is_plain_host(h))
                    .unwrap_or("localhost")
                    .to_owned()
            });
            let scheme = if is_https(req, state) { "https" } else { "http" };
            format!("{scheme}://{host}")
        }
    }
}

/// A host[:port] with nothing that could break out of a URL.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::exceeds_depth;

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        assert!(!exceeds_depth(br#"{"a":[{"b":1}]}"#, 3));
        assert!(exceeds_depth(br#"{"a":[{"b":[1]}]}"#, 3));
        assert!(!exceeds_depth(br#"{"a":"[[[[[[{{{{"}"#, 1));
        assert!(!exceeds_depth(br#"{"a":"\"[[[["}"#, 1));
        assert!(exceeds_depth(&[b'['; 40], 32));
        assert!(!exceeds_depth(b"", 0));
    }
}
