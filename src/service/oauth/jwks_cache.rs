//! The key sets of clients that authenticate with signed assertions, fetched from their
//! `jwks_uri` and cached per node by URL. Only the token endpoint waits on a fetch (never SCIM),
//! and only with a timeout and a size limit. Keys rotate at any time: an unknown `kid` refetches,
//! at most once every [`REFETCH_INTERVAL_MS`] per URL, so a made-up `kid` cannot make us hammer
//! the issuer. While the issuer is unreachable, keys we already hold keep working for
//! [`MAX_STALE_MS`]; a `kid` we never saw is refused with the fetch's failure as the reason.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use jsonwebtoken::jwk::Jwk;

use crate::oauth::assertion::KeySet;

/// An unknown `kid` refetches a URL at most this often.
pub const REFETCH_INTERVAL_MS: i64 = 10_000;
/// Keys are refetched when older than this, even if the `kid` is known.
pub const FRESH_MS: i64 = 15 * 60_000;
/// Keys older than this are not used even when the issuer cannot be reached.
pub const MAX_STALE_MS: i64 = 24 * 3_600_000;
/// A JWKS document larger than this is refused.
pub const MAX_JWKS_BYTES: u64 = 256 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksFailure {
    #[error("the client's jwks_uri must be https (set allow_insecure_jwks_uri for http)")]
    Insecure,
    #[error("the client's JWKS at {0} could not be fetched: {1}")]
    Unreachable(String, String),
    #[error("the client's JWKS at {0} is unusable: {1}")]
    Unusable(String, String),
    #[error("no key with kid '{0}' in the client's JWKS")]
    UnknownKey(String),
}

#[derive(Default)]
struct Entry {
    keys: Option<Arc<KeySet>>,
    fetched_at: i64,
    attempted_at: Option<i64>,
    last_error: Option<JwksFailure>,
}

/// One per node, in `AppState`.
pub struct JwksCache {
    allow_insecure: bool,
    entries: Mutex<HashMap<String, Entry>>,
    client: OnceLock<Result<reqwest::blocking::Client, String>>,
}

impl JwksCache {
    pub fn new(allow_insecure: bool) -> JwksCache {
        JwksCache { allow_insecure, entries: Mutex::default(), client: OnceLock::new() }
    }

    /// Whether a `jwks_uri` may be registered at all.
    pub fn check_uri(uri: &str, allow_insecure: bool) -> Result<url::Url, String> {
        let url = url::Url::parse(uri).map_err(|e| format!("'{uri}' is not a URL: {e}"))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_insecure => {}
            "http" => return Err(JwksFailure::Insecure.to_string()),
            other => return Err(format!("'{other}' is not an http(s) scheme")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("'{uri}' has no host"));
        }
        Ok(url)
    }

    /// The key `kid` of the set at `uri`, fetching when it is unknown or the set is old.
    /// Call from a blocking thread (the fetch blocks for up to the timeout).
    pub fn key(&self, uri: &str, kid: &str, now: i64) -> Result<Jwk, JwksFailure> {
        if Self::check_uri(uri, self.allow_insecure).is_err() {
            return Err(JwksFailure::Insecure);
        }
        let due = {
            let mut entries = self.lock();
            let entry = entries.entry(uri.to_owned()).or_default();
            let fresh = now - entry.fetched_at < FRESH_MS;
            if let Some(jwk) = entry.keys.as_ref().and_then(|keys| keys.get(kid)).filter(|_| fresh)
            {
                return Ok(jwk.clone());
            }
            let due = entry.attempted_at.is_none_or(|at| now - at >= REFETCH_INTERVAL_MS);
            if due {
                // Claimed before fetching: concurrent callers use what is cached meanwhile.
                entry.attempted_at = Some(now);
            }
            due
        };
        if due {
            let fetched = self.fetch(uri);
            let mut entries = self.lock();
            let entry = entries.entry(uri.to_owned()).or_default();
            match fetched {
                Ok(keys) => {
                    entry.keys = Some(Arc::new(keys));
                    entry.fetched_at = now;
                    entry.last_error = None;
                }
                Err(failure) => {
                    tracing::warn!(jwks_uri = %uri, error = %failure, "JWKS fetch failed");
                    entry.last_error = Some(failure);
                }
            }
        }
        let mut entries = self.lock();
        let entry = entries.entry(uri.to_owned()).or_default();
        let usable = entry.keys.as_ref().filter(|_| now - entry.fetched_at < MAX_STALE_MS);
        match (usable.and_then(|keys| keys.get(kid)), &entry.last_error) {
            (Some(jwk), _) => Ok(jwk.clone()),
            (None, Some(failure)) => Err(failure.clone()),
            (None, None) => Err(JwksFailure::UnknownKey(kid.to_owned())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fetch(&self, uri: &str) -> Result<KeySet, JwksFailure> {
        let unreachable = |reason: String| JwksFailure::Unreachable(uri.to_owned(), reason);
        let client = self
            .client
            .get_or_init(|| {
                let mut builder = reqwest::blocking::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(TIMEOUT)
                    .connect_timeout(TIMEOUT)
                    .user_agent(concat!("scimd/", env!("CARGO_PKG_VERSION")));
                for cert in crate::service::outbound::system_roots() {
                    builder = builder.add_root_certificate(cert);
                }
                builder.build().map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| unreachable(e.clone()))?;
        let response = client
            .get(uri)
            .header("accept", "application/json")
            .send()
            .map_err(|e| unreachable(crate::service::outbound::describe(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(unreachable(format!("HTTP {}", status.as_u16())));
        }
        let mut body = Vec::with_capacity(4096);
        response
            .take(MAX_JWKS_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| unreachable(e.to_string()))?;
        if body.len() as u64 > MAX_JWKS_BYTES {
            return Err(JwksFailure::Unusable(
                uri.to_owned(),
                format!("larger than {MAX_JWKS_BYTES} bytes"),
            ));
        }
        KeySet::parse(&body).map_err(|e| JwksFailure::Unusable(uri.to_owned(), e.to_string()))
    }
}
