//! A tenant's own OAuth clients, for Microsoft Entra's gallery rules: the client-credentials
//! grant with several expiring secrets (a customer rotates without downtime), or workload
//! identity federation (Entra's signed assertion, trusted by issuer, subject and audience). Each
//! client is bound to its tenant by a standing grant created with it; its tokens carry that
//! grant, so they never reach another tenant and die with it. Any client, vendor-wide ones too,
//! can switch to `private_key_jwt` (`set_jwks`).

use serde::Serialize;

use super::client_auth::{JWT_AUTH, SECRET_AUTH};
use super::client_grant::GRANT_TYPE;
use super::clients::secret_row;
use super::jwks_cache::JwksCache;
use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::{client_credentials as repo, oauth, tenants};
use crate::db::rows::{AssertionTrustRow, ClientRow, ClientSecretRow, GrantRow};
use crate::db::{Database, DbConnection};
use crate::oauth::assertion::KeySet;
use crate::oauth::{scope, secret};
use crate::service::OperatorError;
use crate::service::delivery::outbox;

const DAY_MS: i64 = 86_400_000;
/// Microsoft's rule: secrets expire after one to three years. Shorter is allowed (tests,
/// cautious customers); longer is not.
pub const DEFAULT_SECRET_DAYS: u32 = 730;
pub const MAX_SECRET_DAYS: u32 = 1095;
/// Microsoft's rule for access tokens: 60 minutes to 6 hours; we allow from 5 minutes.
pub const DEFAULT_ACCESS_TTL_MINUTES: u32 = 60;
pub const ACCESS_TTL_MINUTES: std::ops::RangeInclusive<u32> = 5..=360;
/// The longest issuer, subject or audience we store.
const MAX_CLAIM_CHARS: usize = 512;
/// The largest inline JWKS we store.
const MAX_INLINE_JWKS_BYTES: usize = 64 * 1024;

/// What an operator asks for when creating a tenant's client.
#[derive(Debug, Clone, Default)]
pub struct NewTenantClient<'a> {
    pub tenant: &'a str,
    pub name: &'a str,
    pub access_ttl_minutes: Option<u32>,
    /// The scopes its tokens carry (default `scim:read scim:write`).
    pub scope: Option<&'a str>,
}

/// The federation fields a customer admin copies from Entra.
#[derive(Debug, Clone)]
pub struct Federation<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub audience: &'a str,
    pub jwks_uri: &'a str,
}

/// A client-credentials client as created: the only time its secret exists outside it.
#[derive(Debug, Serialize)]
pub struct IssuedTenantClient {
    pub client_id: String,
    pub client_secret: String,
    pub secret_id: String,
    pub secret_expires_at: Option<String>,
    pub tenant: String,
    pub name: String,
    pub access_ttl_minutes: u32,
    pub scope: String,
}

/// A federated client as created (it has no secret).
#[derive(Debug, Serialize)]
pub struct FederatedClient {
    pub client_id: String,
    pub tenant: String,
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audience: String,
    pub jwks_uri: String,
    pub access_ttl_minutes: u32,
    pub scope: String,
}

/// A secret as added: shown once.
#[derive(Debug, Serialize)]
pub struct IssuedSecret {
    pub client_id: String,
    pub client_secret: String,
    pub secret_id: String,
    pub secret_expires_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretView {
    pub secret_id: String,
    /// The secret's last characters.
    pub hint: String,
    pub created: String,
    pub expires: Option<String>,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
    /// `active`, `expiring` (within 30 days), `expired` or `revoked`.
    pub status: &'static str,
    #[serde(skip)]
    pub expires_at: Option<i64>,
}

/// Secrets expiring within this long are flagged.
pub const EXPIRING_WITHIN_MS: i64 = 30 * DAY_MS;

impl SecretView {
    pub fn of(row: &ClientSecretRow, now: i64) -> SecretView {
        let status = match (row.revoked_at, row.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(at)) if at <= now => "expired",
            (None, Some(at)) if at - now <= EXPIRING_WITHIN_MS => "expiring",
            _ => "active",
        };
        SecretView {
            secret_id: row.id.clone(),
            hint: row.hint.clone(),
            created: to_rfc3339(row.created_at),
            expires: row.expires_at.map(to_rfc3339),
            last_used: row.last_used_at.map(to_rfc3339),
            revoked: row.revoked_at.map(to_rfc3339),
            status,
            expires_at: row.expires_at,
        }
    }
}

/// A tenant's client as lists and the console show it.
#[derive(Debug, Clone, Serialize)]
pub struct TenantClientView {
    pub client_id: String,
    pub name: String,
    pub tenant: Option<String>,
    pub grant_type: String,
    /// `secret` or `private_key_jwt`.
    pub auth_method: String,
    pub access_ttl_minutes: Option<i64>,
    pub scope: Option<String>,
    pub created: String,
    /// Whether its standing grant was revoked (its tokens are refused).
    pub revoked: bool,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub audience: Option<String>,
    pub jwks_uri: Option<String>,
    pub inline_jwks: bool,
    pub secrets: Vec<SecretView>,
}

fn invalid(message: impl Into<String>) -> OperatorError {
    OperatorError::Invalid(message.into())
}

fn check_name(name: &str) -> Result<String, OperatorError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("a client name must be 1-100 characters"));
    }
    Ok(name.to_owned())
}

fn check_ttl(minutes: Option<u32>) -> Result<u32, OperatorError> {
    let minutes = minutes.unwrap_or(DEFAULT_ACCESS_TTL_MINUTES);
    if !ACCESS_TTL_MINUTES.contains(&minutes) {
        return Err(invalid(format!(
            "the access-token lifetime must be {}-{} minutes (Entra requires 60-360)",
            ACCESS_TTL_MINUTES.start(),
            ACCESS_TTL_MINUTES.end()
        )));
    }
    Ok(minutes)
}

fn check_scope(requested: Option<&str>) -> Result<String, OperatorError> {
    let Some(requested) = requested else { return Ok(scope::ALL.join(" ")) };
    let words: Vec<&str> = requested.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    if let Some(unknown) = words.iter().find(|w| !scope::ALL.contains(*w)) {
        return Err(invalid(format!("unknown scope '{unknown}'; use scim:read and/or scim:write")));
    }
    let canonical = scope::canonical(&words.join(" "));
    if canonical.is_empty() {
        return Err(invalid("give at least one scope: scim:read and/or scim:write"));
    }
    Ok(canonical)
}

/// Expiry of a new secret, `days` from now (1 to 1095; default 730).
fn secret_expiry(now: i64, days: Option<u32>) -> Result<i64, OperatorError> {
    let days = days.unwrap_or(DEFAULT_SECRET_DAYS);
    if !(1..=MAX_SECRET_DAYS).contains(&days) {
        return Err(invalid(format!(
            "a secret must expire within 1-{MAX_SECRET_DAYS} days (Entra requires 1-3 years)"
        )));
    }
    Ok(now + i64::from(days) * DAY_MS)
}

fn check_claim(label: &str, value: &str) -> Result<String, OperatorError> {
    let value = value.trim();
    if value.is_empty()
        || value.chars().count() > MAX_CLAIM_CHARS
        || value.contains(char::is_control)
    {
        return Err(invalid(format!(
            "the {label} must be 1-{MAX_CLAIM_CHARS} printable characters"
        )));
    }
    Ok(value.to_owned())
}

/// Inserts the client and its standing grant, with the audit event, in the caller's transaction.
fn insert_tenant_client(
    conn: &mut DbConnection,
    db: &Database,
    row: &ClientRow,
    tenant_id: &str,
    now: i64,
    event: Event,
) -> Result<(), OperatorError> {
    oauth::insert_client(conn, row)?;
    let grant = GrantRow {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: tenant_id.to_owned(),
        admin_id: None,
        client_id: row.id.clone(),
        scope: row.scope.clone().unwrap_or_default(),
        created_at: now,
        revoked_at: None,
        revoked_reason: None,
    };
    oauth::insert_grant(conn, &grant)?;
    let connection =
        outbox::Connection::Grant { id: &grant.id, client_id: &row.id, scope: &grant.scope };
    outbox::connection_changed(conn, tenant_id, now, connection, None)?;
    audit::record(conn, db.audit_counts(), now, event.detail("grant_id", grant.id.clone()))?;
    Ok(())
}

fn tenant_client_row(
    client_id: &str,
    name: &str,
    tenant_id: &str,
    ttl_minutes: u32,
    scope: &str,
    auth_method: &str,
    now: i64,
) -> ClientRow {
    let mut row =
        ClientRow::authorization_code(client_id.to_owned(), name.to_owned(), "[]".into(), now);
    row.tenant_id = Some(tenant_id.to_owned());
    row.grant_type = GRANT_TYPE.into();
    row.scope = Some(scope.to_owned());
    row.access_ttl_secs = Some(i64::from(ttl_minutes) * 60);
    row.auth_method = auth_method.into();
    row
}

/// Creates a client-credentials client of `tenant` with its first secret.
pub fn create(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    new: &NewTenantClient<'_>,
    secret_expires_in_days: Option<u32>,
) -> Result<IssuedTenantClient, OperatorError> {
    let name = check_name(new.name)?;
    let ttl = check_ttl(new.access_ttl_minutes)?;
    let scope = check_scope(new.scope)?;
    let now = clock.now();
    let expires_at = secret_expiry(now, secret_expires_in_days)?;
    let client_id = secret::identifier(secret::CLIENT_ID_PREFIX);
    let client_secret = secret::generate(secret::CLIENT_SECRET_PREFIX);
    let secret = secret_row(&client_id, &client_secret, now, Some(expires_at));
    let tenant = db.write(|conn| {
        let tenant = tenants::find_by_slug(conn, new.tenant)?
            .ok_or_else(|| OperatorError::NotFound(format!("tenant '{}'", new.tenant)))?;
        let row = tenant_client_row(&client_id, &name, &tenant.id, ttl, &scope, SECRET_AUTH, now);
        let event = Event::new(Kind::ClientCreated, actor)
            .tenant(tenant.id.clone())
            .client(client_id.clone())
            .detail("name", name.clone())
            .detail("grant_type", GRANT_TYPE)
            .detail("access_ttl_minutes", ttl)
            .detail("scope", scope.clone())
            .detail("secret_id", secret.id.clone())
            .detail("secret_expires_at", expires_at);
        insert_tenant_client(conn, db, &row, &tenant.id, now, event)?;
        repo::insert_secret(conn, &secret)?;
        Ok::<_, OperatorError>(tenant)
    })?;
    Ok(IssuedTenantClient {
        client_id,
        client_secret,
        secret_id: secret.id,
        secret_expires_at: Some(to_rfc3339(expires_at)),
        tenant: tenant.slug,
        name,
        access_ttl_minutes: ttl,
        scope,
    })
}

/// Creates a client of `tenant` that authenticates with assertions Entra signs (workload
/// identity federation): no secret, trust by issuer, subject and audience, keys from the JWKS URL.
pub fn federate(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    new: &NewTenantClient<'_>,
    federation: &Federation<'_>,
    allow_insecure_jwks: bool,
) -> Result<FederatedClient, OperatorError> {
    let name = check_name(new.name)?;
    let ttl = check_ttl(new.access_ttl_minutes)?;
    let scope = check_scope(new.scope)?;
    let issuer = check_claim("issuer", federation.issuer)?;
    let subject = check_claim("subject", federation.subject)?;
    let audience = check_claim("audience", federation.audience)?;
    let jwks_uri = JwksCache::check_uri(federation.jwks_uri.trim(), allow_insecure_jwks)
        .map_err(invalid)?
        .to_string();
    let now = clock.now();
    let client_id = secret::identifier(secret::CLIENT_ID_PREFIX);
    let tenant = db.write(|conn| {
        let tenant = tenants::find_by_slug(conn, new.tenant)?
            .ok_or_else(|| OperatorError::NotFound(format!("tenant '{}'", new.tenant)))?;
        let row = tenant_client_row(&client_id, &name, &tenant.id, ttl, &scope, JWT_AUTH, now);
        let event = Event::new(Kind::ClientFederated, actor)
            .tenant(tenant.id.clone())
            .client(client_id.clone())
            .detail("name", name.clone())
            .detail("issuer", issuer.clone())
            .detail("subject", subject.clone())
            .detail("audience", audience.clone())
            .detail("jwks_uri", jwks_uri.clone())
            .detail("access_ttl_minutes", ttl)
            .detail("scope", scope.clone());
        insert_tenant_client(conn, db, &row, &tenant.id, now, event)?;
        repo::set_trust(
            conn,
            &AssertionTrustRow {
                client_id: client_id.clone(),
                issuer: Some(issuer.clone()),
                subject: Some(subject.clone()),
                audience: Some(audience.clone()),
                jwks_uri: Some(jwks_uri.clone()),
                jwks: None,
            },
        )?;
        Ok::<_, OperatorError>(tenant)
    })?;
    Ok(FederatedClient {
        client_id,
        tenant: tenant.slug,
        name,
        issuer,
        subject,
        audience,
        jwks_uri,
        access_ttl_minutes: ttl,
        scope,
    })
}

/// Where a `private_key_jwt` client's keys are.
#[derive(Debug, Clone)]
pub enum JwksSource {
    Uri(String),
    Inline(String),
}

/// Switches any client to `private_key_jwt` (RFC 7523 §2.2: `iss` and `sub` are the client
/// id, `aud` our token endpoint): its secrets stop being accepted.
pub fn set_jwks(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    client_id: &str,
    source: &JwksSource,
    allow_insecure_jwks: bool,
) -> Result<TenantClientView, OperatorError> {
    let (jwks_uri, jwks) = match source {
        JwksSource::Uri(uri) => (
            Some(
                JwksCache::check_uri(uri.trim(), allow_insecure_jwks).map_err(invalid)?.to_string(),
            ),
            None,
        ),
        JwksSource::Inline(text) => {
            if text.len() > MAX_INLINE_JWKS_BYTES {
                return Err(invalid(format!(
                    "a JWKS must be at most {MAX_INLINE_JWKS_BYTES} bytes"
                )));
            }
            KeySet::parse(text.as_bytes()).map_err(|e| invalid(e.to_string()))?;
            (None, Some(text.trim().to_owned()))
        }
    };
    let now = clock.now();
    db.write(|conn| {
        let row = oauth::find_client(conn, client_id)?
            .ok_or_else(|| OperatorError::NotFound(format!("client '{client_id}'")))?;
        let previous = repo::trust_of(conn, client_id)?;
        let trust = AssertionTrustRow {
            client_id: client_id.to_owned(),
            // A federated client keeps what it trusts; only its keys move.
            issuer: previous.as_ref().and_then(|p| p.issuer.clone()),
            subject: previous.as_ref().and_then(|p| p.subject.clone()),
            audience: previous.as_ref().and_then(|p| p.audience.clone()),
            jwks_uri: jwks_uri.clone(),
            jwks: jwks.clone(),
        };
        repo::set_trust(conn, &trust)?;
        oauth::set_client_auth_method(conn, client_id, JWT_AUTH)?;
        let mut event = Event::new(Kind::ClientJwksSet, actor)
            .client(client_id)
            .detail("jwks_uri", jwks_uri.clone())
            .detail("inline_jwks", jwks.is_some());
        if let Some(tenant_id) = &row.tenant_id {
            event = event.tenant(tenant_id.clone());
        }
        audit::record(conn, db.audit_counts(), now, event)?;
        view(conn, ClientRow { auth_method: JWT_AUTH.into(), ..row }, now)
    })
}

/// Adds a secret beside the client's others (rotation without downtime).
pub fn add_secret(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    client_id: &str,
    expires_in_days: Option<u32>,
) -> Result<IssuedSecret, OperatorError> {
    let now = clock.now();
    let expires_at = secret_expiry(now, expires_in_days)?;
    let client_secret = secret::generate(secret::CLIENT_SECRET_PREFIX);
    let secret = secret_row(client_id, &client_secret, now, Some(expires_at));
    db.write(|conn| {
        let row = oauth::find_client(conn, client_id)?
            .ok_or_else(|| OperatorError::NotFound(format!("client '{client_id}'")))?;
        if row.auth_method == JWT_AUTH {
            return Err(invalid(
                "this client authenticates with private_key_jwt; it has no secrets",
            ));
        }
        repo::insert_secret(conn, &secret)?;
        let mut event = Event::new(Kind::ClientSecretAdded, actor)
            .client(client_id)
            .detail("secret_id", secret.id.clone())
            .detail("secret_expires_at", expires_at);
        if let Some(tenant_id) = &row.tenant_id {
            event = event.tenant(tenant_id.clone());
        }
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(())
    })?;
    Ok(IssuedSecret {
        client_id: client_id.to_owned(),
        client_secret,
        secret_id: secret.id,
        secret_expires_at: Some(to_rfc3339(expires_at)),
    })
}

/// Revokes one secret at once; tokens already issued with it live out their (short) lifetime.
pub fn revoke_secret(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    client_id: &str,
    secret_id: &str,
) -> Result<SecretView, OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        let row = oauth::find_client(conn, client_id)?
            .ok_or_else(|| OperatorError::NotFound(format!("client '{client_id}'")))?;
        let secret = repo::find_secret(conn, client_id, secret_id)?.ok_or_else(|| {
            OperatorError::NotFound(format!("secret '{secret_id}' of client '{client_id}'"))
        })?;
        if secret.revoked_at.is_some() {
            return Ok(SecretView::of(&secret, now));
        }
        repo::revoke_secret(conn, secret_id, now)?;
        let mut event = Event::new(Kind::ClientSecretRevoked, actor)
            .client(client_id)
            .detail("secret_id", secret_id);
        if let Some(tenant_id) = &row.tenant_id {
            event = event.tenant(tenant_id.clone());
        }
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(SecretView::of(&ClientSecretRow { revoked_at: Some(now), ..secret }, now))
    })
}

fn view(
    conn: &mut DbConnection,
    row: ClientRow,
    now: i64,
) -> Result<TenantClientView, OperatorError> {
    let secrets = repo::secrets_of(conn, &row.id)?.iter().map(|s| SecretView::of(s, now)).collect();
    let trust = repo::trust_of(conn, &row.id)?;
    let tenant = match &row.tenant_id {
        Some(id) => tenants::find(conn, id)?.map(|t| t.slug),
        None => None,
    };
    let revoked = match &row.tenant_id {
        Some(_) => {
            oauth::standing_grant(conn, &row.id)?.is_none_or(|(g, _)| g.revoked_at.is_some())
        }
        None => false,
    };
    Ok(TenantClientView {
        client_id: row.id,
        name: row.name,
        tenant,
        grant_type: row.grant_type,
        auth_method: row.auth_method,
        access_ttl_minutes: row.access_ttl_secs.map(|s| s / 60),
        scope: row.scope,
        created: to_rfc3339(row.created_at),
        revoked,
        issuer: trust.as_ref().and_then(|t| t.issuer.clone()),
        subject: trust.as_ref().and_then(|t| t.subject.clone()),
        audience: trust.as_ref().and_then(|t| t.audience.clone()),
        jwks_uri: trust.as_ref().and_then(|t| t.jwks_uri.clone()),
        inline_jwks: trust.as_ref().is_some_and(|t| t.jwks.is_some()),
        secrets,
    })
}

/// One client with its secrets and trust (any client).
pub fn show(
    db: &Database,
    clock: &dyn Clock,
    client_id: &str,
) -> Result<TenantClientView, OperatorError> {
    let mut conn = db.conn()?;
    let row = oauth::find_client(&mut conn, client_id)?
        .ok_or_else(|| OperatorError::NotFound(format!("client '{client_id}'")))?;
    view(&mut conn, row, clock.now())
}

/// Every client with its secrets: one tenant's, or all (vendor-wide ones included).
pub fn list(
    db: &Database,
    clock: &dyn Clock,
    tenant: Option<&str>,
) -> Result<Vec<TenantClientView>, OperatorError> {
    let mut conn = db.conn()?;
    let rows = match tenant {
        Some(slug) => {
            let tenant = tenants::find_by_slug(&mut conn, slug)?
                .ok_or_else(|| OperatorError::NotFound(format!("tenant '{slug}'")))?;
            repo::clients_of_tenant(&mut conn, &tenant.id)?
        }
        None => oauth::list_clients(&mut conn)?,
    };
    let now = clock.now();
    rows.into_iter().map(|row| view(&mut conn, row, now)).collect()
}

/// A secret that needs attention: expiring within 30 days, or expired and not revoked.
#[derive(Debug, Clone, Serialize)]
pub struct ExpiringSecretView {
    pub tenant: Option<String>,
    pub client_id: String,
    pub client_name: String,
    #[serde(flatten)]
    pub secret: SecretView,
}

/// Live secrets expiring within 30 days (or already expired), soonest first: fleet-wide, or of
/// one tenant (by id).
pub fn expiring(
    db: &Database,
    clock: &dyn Clock,
    tenant_id: Option<&str>,
    limit: i64,
) -> Result<Vec<ExpiringSecretView>, OperatorError> {
    let now = clock.now();
    let rows =
        repo::expiring_secrets(&mut *db.conn()?, now + EXPIRING_WITHIN_MS, tenant_id, limit)?;
    Ok(rows
        .into_iter()
        .map(|row| ExpiringSecretView {
            tenant: row.tenant_slug,
            client_id: row.client_id,
            client_name: row.client_name,
            secret: SecretView::of(&row.secret, now),
        })
        .collect())
}

/// Writes each newly expired secret's expiry into the audit trail, once: housekeeping calls it
/// inside its transaction, under its lock, so one node writes each.
pub fn record_expiries(
    conn: &mut DbConnection,
    counts: &crate::db::repo::audit::AuditCounts,
    now: i64,
) -> diesel::QueryResult<usize> {
    let expired = repo::unrecorded_expiries(conn, now, 500)?;
    for (secret, tenant_id) in &expired {
        let mut event = Event::new(Kind::ClientSecretExpired, &Actor::System)
            .client(secret.client_id.clone())
            .detail("secret_id", secret.id.clone())
            .detail("expired_at", secret.expires_at);
        if let Some(tenant_id) = tenant_id {
            event = event.tenant(tenant_id.clone());
        }
        audit::record(conn, counts, now, event)?;
        repo::mark_expiry_recorded(conn, &secret.id, now)?;
    }
    Ok(expired.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_and_scopes_are_bounded() {
        assert_eq!(check_ttl(None).unwrap(), 60);
        assert!(check_ttl(Some(4)).is_err());
        assert_eq!(check_ttl(Some(360)).unwrap(), 360);
        assert!(check_ttl(Some(361)).is_err());
        assert_eq!(check_scope(None).unwrap(), "scim:read scim:write");
        assert_eq!(check_scope(Some("scim:write,scim:read")).unwrap(), "scim:read scim:write");
        assert!(check_scope(Some("admin")).is_err());
        assert!(check_scope(Some("")).is_err());
        assert_eq!(secret_expiry(0, None).unwrap(), 730 * DAY_MS);
        assert!(secret_expiry(0, Some(0)).is_err());
        assert!(secret_expiry(0, Some(1096)).is_err());
        assert!(check_claim("issuer", "").is_err());
        assert!(check_claim("issuer", "a\nb").is_err());
        assert!(check_claim("issuer", &"x".repeat(513)).is_err());
    }

    #[test]
    fn secret_status_follows_revocation_and_expiry() {
        let row = |expires_at, revoked_at| ClientSecretRow {
            id: "s".into(),
            client_id: "c".into(),
            secret_hash: String::new(),
            hint: "abcd".into(),
            created_at: 0,
            expires_at,
            last_used_at: None,
            revoked_at,
            expiry_recorded_at: None,
        };
        let now = 100 * DAY_MS;
        assert_eq!(SecretView::of(&row(None, None), now).status, "active");
        assert_eq!(SecretView::of(&row(Some(now + 31 * DAY_MS), None), now).status, "active");
        assert_eq!(SecretView::of(&row(Some(now + 29 * DAY_MS), None), now).status, "expiring");
        assert_eq!(SecretView::of(&row(Some(now), None), now).status, "expired");
        assert_eq!(SecretView::of(&row(Some(now), Some(1)), now).status, "revoked");
    }
}
