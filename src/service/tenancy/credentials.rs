//! Static per-tenant bearer tokens (Okta's "HTTP Header" mode): issued once, stored as SHA-256,
//! revocable at once; and turning an `Authorization` header into a `Principal` or a precise reason.

use serde::Serialize;

use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, Millis, to_rfc3339};
use crate::db::repo::{tenants, tokens};
use crate::db::rows::StaticTokenRow;
use crate::db::{Database, StoreError};
use crate::oauth::jwt::JwtFailure;
use crate::oauth::scope::Access;
use crate::oauth::secret;
use crate::service::OperatorError;
use crate::service::delivery::outbox::{self, Connection};
use crate::service::verdict::{Decided, Verdict};

/// Every static token starts with this, so leaked tokens are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "scimd_st_";
/// `last_used_at` is refreshed at most this often, so reads don't turn into writes.
const LAST_USED_GRANULARITY: Millis = 60_000;

/// Who is calling: the tenant every query is scoped to and the credential that proved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: String,
    pub tenant_slug: String,
    /// `st:<id>` for a static token, `grant:<id>` for a JWT access token.
    pub credential_id: String,
    /// What the credential may do: static tokens may do everything, JWTs what their scope says.
    pub access: Access,
    /// When the credential stops being valid on its own (a JWT's `exp`, in ms), for caches.
    pub valid_until_ms: Option<i64>,
}

/// Why a request was not authenticated; each becomes a distinct 401 description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    NotBearer,
    Malformed,
    Unknown,
    Revoked,
    TenantDisabled,
    /// A JWT access token that failed verification.
    Token(JwtFailure),
    /// A JWT access token whose grant has been revoked.
    GrantRevoked,
    /// A vendor API key (`scimd_ak_…`): a credential for `/api/v1`, never for SCIM.
    ApiKey,
}

impl AuthFailure {
    pub fn description(self) -> &'static str {
        match self {
            AuthFailure::Missing => "no Authorization header; send 'Authorization: Bearer <token>'",
            AuthFailure::NotBearer => "the Authorization header must use the Bearer scheme",
            AuthFailure::Malformed => "the bearer token is malformed",
            AuthFailure::Unknown => "the bearer token is not recognised",
            AuthFailure::Revoked => "the bearer token has been revoked",
            AuthFailure::TenantDisabled => "the tenant of this token is disabled",
            AuthFailure::Token(failure) => failure.description(),
            AuthFailure::GrantRevoked => {
                "the access token's grant has been revoked; a tenant admin must authorize again"
            }
            AuthFailure::ApiKey => {
                "this is a scimd API key, which works on /api/v1 only; SCIM needs a static SCIM token or an OAuth access token"
            }
        }
    }

    /// The RFC 6750 error code: a missing credential carries none.
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            AuthFailure::Missing => None,
            AuthFailure::NotBearer | AuthFailure::Malformed => Some("invalid_request"),
            _ => Some("invalid_token"),
        }
    }
}

/// SHA-256 of the token, hex. Tokens carry 256 random bits, so a fast hash is enough.
pub fn hash_token(token: &str) -> String {
    secret::sha256_hex(token)
}

fn new_token() -> String {
    secret::generate(TOKEN_PREFIX)
}

/// Extracts the token from an `Authorization` header value.
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthFailure> {
    let header = header.ok_or(AuthFailure::Missing)?.trim();
    let (scheme, token) = header.split_once(' ').ok_or(AuthFailure::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthFailure::NotBearer);
    }
    well_formed(token.trim())
}

/// The SCIM credential of an `Authorization` header: a bearer token, or a static token sent
/// bare. Okta's OIN "Header" mode sends `Authorization: {API token}` with no scheme; a static
/// token is recognisable by its prefix, so it is accepted as is. Anything else without a scheme
/// (a bare JWT, a Basic credential) is still `NotBearer`.
pub fn scim_token(header: Option<&str>) -> Result<&str, AuthFailure> {
    match header.map(str::trim) {
        Some(bare) if bare.starts_with(TOKEN_PREFIX) && !bare.contains(' ') => well_formed(bare),
        _ => bearer_token(header),
    }
}

fn well_formed(token: &str) -> Result<&str, AuthFailure> {
    let ok = !token.is_empty()
        && token.len() <= 4096
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b));
    if ok { Ok(token) } else { Err(AuthFailure::Malformed) }
}

/// Authenticates a static token. The lookup is by hash, so no secret is ever compared directly.
pub fn authenticate(
    db: &Database,
    clock: &dyn Clock,
    token: &str,
) -> Decided<Principal, AuthFailure> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(Verdict::Refused(AuthFailure::Unknown));
    }
    let mut conn = db.conn()?;
    let Some((row, tenant)) = tokens::find_by_hash(&mut conn, &hash_token(token))? else {
        return Ok(Verdict::Refused(AuthFailure::Unknown));
    };
    if row.revoked_at.is_some() {
        return Ok(Verdict::Refused(AuthFailure::Revoked));
    }
    if tenant.disabled {
        return Ok(Verdict::Refused(AuthFailure::TenantDisabled));
    }
    let now = clock.now();
    if row.last_used_at.is_none_or(|last| now - last >= LAST_USED_GRANULARITY) {
        drop(conn);
        db.write(|conn| tokens::touch(conn, &row.id, now).map_err(StoreError::from))?;
    }
    Ok(Verdict::Granted(Principal {
        tenant_id: tenant.id,
        tenant_slug: tenant.slug,
        credential_id: format!("st:{}", row.id),
        access: Access::FULL,
        valid_until_ms: None,
    }))
}

/// A freshly issued token: the only time the secret exists outside the client.
#[derive(Debug, Serialize)]
pub struct IssuedToken {
    pub id: String,
    pub tenant: String,
    pub label: String,
    pub token: String,
}

/// A token as listed: never the secret.
#[derive(Debug, Serialize)]
pub struct TokenView {
    pub id: String,
    pub label: String,
    pub hint: String,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
}

impl From<StaticTokenRow> for TokenView {
    fn from(row: StaticTokenRow) -> Self {
        TokenView {
            id: row.id,
            label: row.label,
            hint: row.hint,
            created: to_rfc3339(row.created_at),
            last_used: row.last_used_at.map(to_rfc3339),
            revoked: row.revoked_at.map(to_rfc3339),
        }
    }
}

/// Issues a static token for a tenant on behalf of `actor`; the token is shown this once.
pub fn issue(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    tenant_slug: &str,
    label: &str,
) -> Result<IssuedToken, OperatorError> {
    let label = label.trim();
    if label.is_empty() || label.len() > 100 {
        return Err(OperatorError::Invalid("a token label must be 1-100 characters".into()));
    }
    let token = new_token();
    let id = uuid::Uuid::now_v7().to_string();
    db.write(|conn| {
        let tenant = tenants::find_by_slug(conn, tenant_slug)?
            .ok_or_else(|| OperatorError::NotFound(format!("tenant '{tenant_slug}'")))?;
        tokens::insert(
            conn,
            &StaticTokenRow {
                id: id.clone(),
                tenant_id: tenant.id.clone(),
                label: label.to_owned(),
                token_hash: hash_token(&token),
                hint: format!("{}…", &token[..TOKEN_PREFIX.len() + 4]),
                created_at: clock.now(),
                last_used_at: None,
                revoked_at: None,
            },
        )?;
        let event = Event::new(Kind::StaticTokenIssued, actor)
            .tenant(tenant.id.clone())
            .detail("token_id", id.clone())
            .detail("label", label);
        audit::record(conn, db.audit_counts(), clock.now(), event)?;
        let token = Connection::StaticToken { id: &id, label };
        outbox::connection_changed(conn, &tenant.id, clock.now(), token, None)?;
        Ok::<_, OperatorError>(())
    })?;
    Ok(IssuedToken { id, tenant: tenant_slug.to_owned(), label: label.to_owned(), token })
}

pub fn list(db: &Database, tenant_slug: &str) -> Result<Vec<TokenView>, OperatorError> {
    let mut conn = db.conn()?;
    let tenant = tenants::find_by_slug(&mut conn, tenant_slug)?
        .ok_or_else(|| OperatorError::NotFound(format!("tenant '{tenant_slug}'")))?;
    Ok(tokens::list_for_tenant(&mut conn, &tenant.id)?.into_iter().map(TokenView::from).collect())
}

/// Revokes a token on behalf of `actor`: refused by this node from the next request on, by every
/// node within `credential_cache::FRESH_FOR`. With `tenant_id`, a token of another tenant is not found.
pub fn revoke(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    tenant_id: Option<&str>,
    token_id: &str,
) -> Result<TokenView, OperatorError> {
    db.write(|conn| {
        let row = tokens::find(conn, token_id)?
            .filter(|row| tenant_id.is_none_or(|t| t == row.tenant_id))
            .ok_or_else(|| OperatorError::NotFound(format!("token '{token_id}'")))?;
        if row.revoked_at.is_none() {
            tokens::revoke(conn, token_id, clock.now())?;
            let event = Event::new(Kind::StaticTokenRevoked, actor)
                .tenant(row.tenant_id.clone())
                .detail("token_id", token_id);
            audit::record(conn, db.audit_counts(), clock.now(), event)?;
            let token = Connection::StaticToken { id: token_id, label: &row.label };
            let reason = Some("revoked by an operator");
            outbox::connection_changed(conn, &row.tenant_id, clock.now(), token, reason)?;
        }
        let row = tokens::find(conn, token_id)?
            .ok_or_else(|| OperatorError::NotFound(format!("token '{token_id}'")))?;
        Ok(TokenView::from(row))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing_names_each_failure() {
        assert_eq!(bearer_token(None), Err(AuthFailure::Missing));
        assert_eq!(bearer_token(Some("Basic abc")), Err(AuthFailure::NotBearer));
        assert_eq!(bearer_token(Some("Bearer")), Err(AuthFailure::NotBearer));
        assert_eq!(bearer_token(Some("Bearer  ")), Err(AuthFailure::NotBearer));
        assert_eq!(bearer_token(Some("Bearer a\"b")), Err(AuthFailure::Malformed));
        assert_eq!(bearer_token(Some("bearer scimd_st_x")), Ok("scimd_st_x"));
    }

    #[test]
    fn a_bare_static_token_is_a_scim_credential() {
        assert_eq!(scim_token(Some("scimd_st_abc")), Ok("scimd_st_abc"));
        assert_eq!(scim_token(Some(" scimd_st_abc ")), Ok("scimd_st_abc"));
        assert_eq!(scim_token(Some("Bearer scimd_st_abc")), Ok("scimd_st_abc"));
        assert_eq!(scim_token(Some("scimd_st_a\"b")), Err(AuthFailure::Malformed));
        // Only a static token may go without a scheme; API keys and JWTs still need Bearer.
        assert_eq!(scim_token(Some("eyJhbGciOi.x.y")), Err(AuthFailure::NotBearer));
        assert_eq!(scim_token(Some("scimd_ak_abc")), Err(AuthFailure::NotBearer));
        assert_eq!(bearer_token(Some("scimd_st_abc")), Err(AuthFailure::NotBearer));
    }

    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
