//! Vendor API keys: the credential of the vendor's own backend on `/api/v1` (never on SCIM).
//! Issued once and stored as SHA-256 like static tokens; each key has scopes and sees one tenant
//! or, without one, every tenant. Admission (credential, budget, scope) is decided here.

use serde::Serialize;

use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, Millis, to_rfc3339};
use crate::db::repo::api_keys;
use crate::db::rows::ApiKeyRow;
use crate::db::{Database, StoreError};
use crate::oauth::secret;
use crate::service::OperatorError;
use crate::service::operations::rate_limit::{BatchedLimiter, Limit};
use crate::service::tenancy::credentials::{self, AuthFailure};
use crate::service::tenancy::tenants::{self, slugs_by_id};
use crate::service::verdict::{Decided, Verdict};

/// Every API key starts with this, so a leaked key is easy to recognise and scan for.
pub const KEY_PREFIX: &str = "scimd_ak_";
/// `last_used_at` is refreshed at most this often, so reads don't turn into writes.
const LAST_USED_GRANULARITY: Millis = 60_000;
/// Labels are for people: short.
pub const MAX_LABEL: usize = 100;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    DirectoryRead,
    EventsRead,
    WebhooksWrite,
    CatalogWrite,
}

impl Scope {
    pub const ALL: [Scope; 4] =
        [Scope::DirectoryRead, Scope::EventsRead, Scope::WebhooksWrite, Scope::CatalogWrite];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::DirectoryRead => "directory:read",
            Scope::EventsRead => "events:read",
            Scope::WebhooksWrite => "webhooks:write",
            Scope::CatalogWrite => "catalog:write",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A key's scopes: a set, kept sorted and without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// What a key gets when none are named: reading the directory and the event feed.
    pub fn default_set() -> Scopes {
        Scopes(vec![Scope::DirectoryRead, Scope::EventsRead])
    }

    /// Scopes separated by commas or spaces; an unknown one is an error that names it and the
    /// valid ones; nothing named is an error too.
    pub fn parse(text: &str) -> Result<Scopes, String> {
        let mut scopes = Vec::new();
        for word in text.split([',', ' ']).map(str::trim).filter(|w| !w.is_empty()) {
            let scope = Scope::parse(word).ok_or_else(|| {
                let valid: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                let shown: String = word.chars().take(40).collect();
                format!("unknown scope '{shown}'; valid scopes: {}", valid.join(", "))
            })?;
            scopes.push(scope);
        }
        if scopes.is_empty() {
            return Err("name at least one scope".into());
        }
        scopes.sort();
        scopes.dedup();
        Ok(Scopes(scopes))
    }

    /// Stored scopes; unknown words (from a newer version) are ignored rather than trusted.
    fn from_stored(text: &str) -> Scopes {
        let mut scopes: Vec<Scope> = text.split(' ').filter_map(Scope::parse).collect();
        scopes.sort();
        scopes.dedup();
        Scopes(scopes)
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// Space-separated, as stored and shown.
    pub fn to_text(&self) -> String {
        self.0.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|s| s.as_str()).collect()
    }
}

/// The tenant a key is confined to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTenant {
    pub id: String,
    pub slug: String,
}

/// Who is calling `/api/v1`: a key, the tenant it is confined to (`None`: every tenant), its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPrincipal {
    pub key_id: String,
    pub tenant: Option<KeyTenant>,
    pub scopes: Scopes,
}

impl ApiPrincipal {
    /// Whether this key may read tenant `slug`. A confined key is refused every other slug,
    /// whether it exists or not, so the refusal tells nothing about other tenants.
    pub fn may_see(&self, slug: &str) -> bool {
        self.tenant.as_ref().is_none_or(|t| t.slug == slug)
    }
}

/// Why a request to `/api/v1` was not authenticated; each becomes a distinct 401 description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFailure {
    /// The `Authorization` header is missing, not Bearer, or malformed.
    Header(AuthFailure),
    Unknown,
    Revoked,
    TenantDisabled,
    /// A SCIM credential (static token or JWT access token) presented to `/api/v1`.
    ScimCredential,
}

impl KeyFailure {
    pub fn description(self) -> &'static str {
        match self {
            KeyFailure::Header(AuthFailure::Missing) => {
                "no Authorization header; send 'Authorization: Bearer scimd_ak_...'"
            }
            KeyFailure::Header(failure) => failure.description(),
            KeyFailure::Unknown => "the API key is not recognised",
            KeyFailure::Revoked => "the API key has been revoked",
            KeyFailure::TenantDisabled => "the tenant of this API key is disabled",
            KeyFailure::ScimCredential => {
                "this is a SCIM credential (static token or OAuth access token) and works on /scim/v2 only; /api/v1 needs an API key (scimd_ak_...)"
            }
        }
    }

    /// The RFC 6750 error code: a missing credential carries none.
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            KeyFailure::Header(failure) => failure.error_code(),
            _ => Some("invalid_token"),
        }
    }
}

/// What admission needs from the application.
pub struct Gate<'a> {
    pub db: &'a Database,
    pub clock: &'a dyn Clock,
    pub limiter: &'a BatchedLimiter,
    /// Requests per key and minute (0: no limit).
    pub per_minute: u64,
}

/// The answer to an `/api/v1` request at the door.
#[derive(Debug)]
pub enum Admission {
    Admitted(ApiPrincipal),
    Refused(KeyFailure),
    RateLimited { retry_after_secs: u64 },
    InsufficientScope { needed: Scope },
}

/// Decides whether a request carrying `header` (the `Authorization` value) may do what `needed`
/// covers: credential first, then the key's budget, then its scope.
/// Admits a key that holds one of the scopes `needed` (the first is named when it holds none).
pub fn admit(
    gate: &Gate<'_>,
    header: Option<&str>,
    needed: &[Scope],
) -> Result<Admission, StoreError> {
    let key = match credentials::bearer_token(header) {
        Ok(key) => key,
        Err(failure) => return Ok(Admission::Refused(KeyFailure::Header(failure))),
    };
    let principal = match authenticate(gate.db, gate.clock, key)? {
        Verdict::Granted(principal) => principal,
        Verdict::Refused(failure) => return Ok(Admission::Refused(failure)),
    };
    let limit = Limit::per_minute(gate.per_minute);
    let checked =
        gate.limiter.check(&format!("api_key:{}", principal.key_id), limit, gate.clock.now());
    if let Some(retry_after_secs) = gate.limiter.settle(gate.db, &checked)?.retry_after_secs() {
        return Ok(Admission::RateLimited { retry_after_secs });
    }
    if !needed.iter().any(|scope| principal.scopes.contains(*scope)) {
        let needed = needed.first().copied().unwrap_or(Scope::DirectoryRead);
        return Ok(Admission::InsufficientScope { needed });
    }
    Ok(Admission::Admitted(principal))
}

/// SHA-256 of the key, hex. Keys carry 256 random bits, so a fast hash is enough.
pub fn hash_key(key: &str) -> String {
    secret::sha256_hex(key)
}

/// Authenticates an API key by the hash of it, so no secret is compared directly.
pub fn authenticate(
    db: &Database,
    clock: &dyn Clock,
    key: &str,
) -> Decided<ApiPrincipal, KeyFailure> {
    if !key.starts_with(KEY_PREFIX) {
        // A static SCIM token, or a JWT (three base64url parts): say which surface it is for.
        let jwt_like = key.split('.').count() == 3;
        let scim = key.starts_with(credentials::TOKEN_PREFIX) || jwt_like;
        return Ok(Verdict::Refused(if scim {
            KeyFailure::ScimCredential
        } else {
            KeyFailure::Unknown
        }));
    }
    let mut conn = db.conn()?;
    let Some((row, tenant)) = api_keys::find_by_hash(&mut conn, &hash_key(key))? else {
        return Ok(Verdict::Refused(KeyFailure::Unknown));
    };
    if row.revoked_at.is_some() {
        return Ok(Verdict::Refused(KeyFailure::Revoked));
    }
    let tenant = match (row.tenant_id.as_ref(), tenant) {
        (None, _) => None,
        (Some(_), Some(tenant)) if tenant.disabled => {
            return Ok(Verdict::Refused(KeyFailure::TenantDisabled));
        }
        (Some(_), Some(tenant)) => Some(KeyTenant { id: tenant.id, slug: tenant.slug }),
        // The foreign key cascades; a confined key without its tenant is not a key.
        (Some(_), None) => return Ok(Verdict::Refused(KeyFailure::Unknown)),
    };
    let now = clock.now();
    if row.last_used_at.is_none_or(|last| now - last >= LAST_USED_GRANULARITY) {
        drop(conn);
        db.write(|conn| api_keys::touch(conn, &row.id, now).map_err(StoreError::from))?;
    }
    Ok(Verdict::Granted(ApiPrincipal {
        key_id: row.id,
        tenant,
        scopes: Scopes::from_stored(&row.scopes),
    }))
}

fn new_key() -> String {
    secret::generate(KEY_PREFIX)
}

/// A freshly created key: the only time the secret exists outside the vendor's backend.
#[derive(Debug, Serialize)]
pub struct IssuedKey {
    pub id: String,
    pub key: String,
    pub label: String,
    /// The tenant's slug, `null` for a key that sees every tenant.
    pub tenant: Option<String>,
    pub scopes: Vec<&'static str>,
}

/// A key as listed: never the secret.
#[derive(Debug, Serialize)]
pub struct ApiKeyView {
    pub id: String,
    pub label: String,
    pub tenant: Option<String>,
    pub scopes: Vec<&'static str>,
    pub hint: String,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
}

impl ApiKeyView {
    fn of(row: ApiKeyRow, tenant_slug: Option<String>) -> ApiKeyView {
        ApiKeyView {
            id: row.id,
            label: row.label,
            tenant: tenant_slug,
            scopes: Scopes::from_stored(&row.scopes).names(),
            hint: row.hint,
            created: to_rfc3339(row.created_at),
            last_used: row.last_used_at.map(to_rfc3339),
            revoked: row.revoked_at.map(to_rfc3339),
        }
    }
}

/// Creates a key on behalf of `actor`, for one tenant or (no slug) every tenant; `scopes` as
/// the operator typed them, `None` for the default set. The key is shown this once.
pub fn create(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    label: &str,
    tenant_slug: Option<&str>,
    scopes: Option<&str>,
) -> Result<IssuedKey, OperatorError> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL {
        return Err(OperatorError::Invalid(format!(
            "a key label must be 1-{MAX_LABEL} characters"
        )));
    }
    let scopes = match scopes {
        Some(text) => Scopes::parse(text).map_err(OperatorError::Invalid)?,
        None => Scopes::default_set(),
    };
    let key = new_key();
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock.now();
    let tenant = db.write(|conn| {
        let tenant = tenants::optional_by_slug(conn, tenant_slug)?;
        api_keys::insert(
            conn,
            &ApiKeyRow {
                id: id.clone(),
                label: label.to_owned(),
                tenant_id: tenant.as_ref().map(|t| t.id.clone()),
                scopes: scopes.to_text(),
                key_hash: hash_key(&key),
                hint: format!("{}…", &key[..KEY_PREFIX.len() + 4]),
                created_at: now,
                last_used_at: None,
                revoked_at: None,
            },
        )?;
        let mut event = Event::new(Kind::ApiKeyCreated, actor)
            .detail("key_id", id.clone())
            .detail("label", label)
            .detail("scopes", scopes.to_text());
        if let Some(tenant) = &tenant {
            event = event.tenant(tenant.id.clone());
        }
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok::<_, OperatorError>(tenant)
    })?;
    Ok(IssuedKey {
        id,
        key,
        label: label.to_owned(),
        tenant: tenant.map(|t| t.slug),
        scopes: scopes.names(),
    })
}

/// Keys, oldest first; with a slug, only that tenant's.
pub fn list(db: &Database, tenant_slug: Option<&str>) -> Result<Vec<ApiKeyView>, OperatorError> {
    let mut conn = db.conn()?;
    let tenant = tenants::optional_by_slug(&mut conn, tenant_slug)?;
    let slugs = slugs_by_id(&mut conn)?;
    let rows = api_keys::list(&mut conn, tenant.as_ref().map(|t| t.id.as_str()))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let slug = row.tenant_id.as_ref().and_then(|id| slugs.get(id).cloned());
            ApiKeyView::of(row, slug)
        })
        .collect())
}

/// Revokes a key on behalf of `actor`; effective for the very next request, since every request
/// looks it up. Revoking a revoked key changes nothing and records nothing.
pub fn revoke(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    key_id: &str,
) -> Result<ApiKeyView, OperatorError> {
    let not_found = || {
        OperatorError::NotFound(format!(
            "API key '{}'",
            key_id.chars().take(64).collect::<String>()
        ))
    };
    db.write(|conn| {
        let row = api_keys::find(conn, key_id)?.ok_or_else(not_found)?;
        if row.revoked_at.is_none() {
            api_keys::revoke(conn, key_id, clock.now())?;
            let mut event = Event::new(Kind::ApiKeyRevoked, actor).detail("key_id", key_id);
            if let Some(tenant_id) = &row.tenant_id {
                event = event.tenant(tenant_id.clone());
            }
            audit::record(conn, db.audit_counts(), clock.now(), event)?;
        }
        let row = api_keys::find(conn, key_id)?.ok_or_else(not_found)?;
        let slugs = slugs_by_id(conn)?;
        let slug = row.tenant_id.as_ref().and_then(|id| slugs.get(id).cloned());
        Ok(ApiKeyView::of(row, slug))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_from_commas_or_spaces_and_name_an_unknown_one() {
        let scopes = Scopes::parse("events:read, directory:read events:read").unwrap();
        assert_eq!(scopes, Scopes::default_set());
        assert_eq!(scopes.to_text(), "directory:read events:read");
        let all = Scopes::parse("catalog:write,webhooks:write,directory:read,events:read").unwrap();
        assert!(Scope::ALL.iter().all(|s| all.contains(*s)));
        let err = Scopes::parse("directory:read,directory:write").unwrap_err();
        assert!(err.contains("'directory:write'") && err.contains("events:read"), "{err}");
        assert!(Scopes::parse(" , ").is_err());
        assert!(Scopes::parse("DIRECTORY:READ").is_err(), "scopes are exact");
    }

    #[test]
    fn stored_scopes_ignore_unknown_words() {
        let stored = Scopes::from_stored("directory:read future:thing");
        assert_eq!(stored.names(), vec!["directory:read"]);
        assert!(!stored.contains(Scope::EventsRead));
    }

    #[test]
    fn keys_are_prefixed_random_and_confined_keys_see_one_slug() {
        let (a, b) = (new_key(), new_key());
        assert!(a.starts_with(KEY_PREFIX) && a != b);
        assert_eq!(a.len(), KEY_PREFIX.len() + 43);
        let confined = ApiPrincipal {
            key_id: "k".into(),
            tenant: Some(KeyTenant { id: "t".into(), slug: "acme".into() }),
            scopes: Scopes::default_set(),
        };
        assert!(confined.may_see("acme") && !confined.may_see("globex"));
        assert!(ApiPrincipal { tenant: None, ..confined }.may_see("globex"));
    }

    #[test]
    fn failures_have_distinct_descriptions() {
        let all = [
            KeyFailure::Header(AuthFailure::Missing),
            KeyFailure::Header(AuthFailure::Malformed),
            KeyFailure::Unknown,
            KeyFailure::Revoked,
            KeyFailure::TenantDisabled,
            KeyFailure::ScimCredential,
        ];
        let texts: std::collections::HashSet<&str> = all.iter().map(|f| f.description()).collect();
        assert_eq!(texts.len(), all.len());
        assert_eq!(KeyFailure::Header(AuthFailure::Missing).error_code(), None);
        assert_eq!(KeyFailure::ScimCredential.error_code(), Some("invalid_token"));
    }
}
