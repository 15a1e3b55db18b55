//! The audit trail's vocabulary. Every event is written by the service that makes the change, in
//! the same transaction, so the trail never claims what did not happen nor misses what did.

use serde_json::{Value, json};

use crate::db::DbConnection;
use crate::db::repo::audit::{self as repo, AuditCounts};
use crate::db::rows::AuditEventRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    TenantCreated,
    TenantRenamed,
    TenantDisabled,
    TenantEnabled,
    TenantAdminCreated,
    TenantAdminPasswordReset,
    TenantAdminDisabled,
    TenantAdminEnabled,
    OperatorCreated,
    OperatorDisabled,
    OperatorEnabled,
    OperatorPasswordReset,
    PasswordChanged,
    SignedOutEverywhere,
    LoginSucceeded,
    LoginFailed,
    Logout,
    ConsentGranted,
    ConsentDenied,
    CodeIssued,
    CodeRedeemed,
    CodeReused,
    CodeRejected,
    TokenIssued,
    TokenRefreshed,
    RefreshRetried,
    RefreshReuseDetected,
    RefreshRejected,
    GrantRevoked,
    ClientCreated,
    ClientSecretRotated,
    ClientDeleted,
    ClientAuthFailed,
    ClientPkceChanged,
    ClientSecretAdded,
    ClientSecretRevoked,
    ClientSecretExpired,
    ClientFederated,
    ClientJwksSet,
    ClientAssertionRefused,
    ClientAssertionAccepted,
    ClientCredentialsIssued,
    KeyCreated,
    KeyRotated,
    KeyRevoked,
    StaticTokenIssued,
    StaticTokenRevoked,
    ApiKeyCreated,
    ApiKeyRevoked,
    ScimAuthFailed,
    WebhookCreated,
    WebhookDeleted,
    WebhookSecretRotated,
    WebhookDisabled,
    WebhookEnabled,
    WebhookReplayed,
    CsrfRejected,
}

impl Kind {
    /// Every kind, for filters that offer them.
    pub const ALL: &'static [Kind] = &[
        Kind::TenantCreated,
        Kind::TenantRenamed,
        Kind::TenantDisabled,
        Kind::TenantEnabled,
        Kind::TenantAdminCreated,
        Kind::TenantAdminPasswordReset,
        Kind::TenantAdminDisabled,
        Kind::TenantAdminEnabled,
        Kind::OperatorCreated,
        Kind::OperatorDisabled,
        Kind::OperatorEnabled,
        Kind::OperatorPasswordReset,
        Kind::PasswordChanged,
        Kind::SignedOutEverywhere,
        Kind::LoginSucceeded,
        Kind::LoginFailed,
        Kind::Logout,
        Kind::ConsentGranted,
        Kind::ConsentDenied,
        Kind::CodeIssued,
        Kind::CodeRedeemed,
        Kind::CodeReused,
        Kind::CodeRejected,
        Kind::TokenIssued,
        Kind::TokenRefreshed,
        Kind::RefreshRetried,
        Kind::RefreshReuseDetected,
        Kind::RefreshRejected,
        Kind::GrantRevoked,
        Kind::ClientCreated,
        Kind::ClientSecretRotated,
        Kind::ClientDeleted,
        Kind::ClientAuthFailed,
        Kind::ClientPkceChanged,
        Kind::ClientSecretAdded,
        Kind::ClientSecretRevoked,
        Kind::ClientSecretExpired,
        Kind::ClientFederated,
        Kind::ClientJwksSet,
        Kind::ClientAssertionRefused,
        Kind::ClientAssertionAccepted,
        Kind::ClientCredentialsIssued,
        Kind::KeyCreated,
        Kind::KeyRotated,
        Kind::KeyRevoked,
        Kind::StaticTokenIssued,
        Kind::StaticTokenRevoked,
        Kind::ApiKeyCreated,
        Kind::ApiKeyRevoked,
        Kind::ScimAuthFailed,
        Kind::WebhookCreated,
        Kind::WebhookDeleted,
        Kind::WebhookSecretRotated,
        Kind::WebhookDisabled,
        Kind::WebhookEnabled,
        Kind::WebhookReplayed,
        Kind::CsrfRejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TenantCreated => "tenant.created",
            Kind::TenantRenamed => "tenant.renamed",
            Kind::TenantDisabled => "tenant.disabled",
            Kind::TenantEnabled => "tenant.enabled",
            Kind::TenantAdminCreated => "admin.created",
            Kind::TenantAdminPasswordReset => "admin.password_reset",
            Kind::TenantAdminDisabled => "admin.disabled",
            Kind::TenantAdminEnabled => "admin.enabled",
            Kind::OperatorCreated => "operator.created",
            Kind::OperatorDisabled => "operator.disabled",
            Kind::OperatorEnabled => "operator.enabled",
            Kind::OperatorPasswordReset => "operator.password_reset",
            Kind::PasswordChanged => "password.changed",
            Kind::SignedOutEverywhere => "login.signed_out_everywhere",
            Kind::LoginSucceeded => "login.succeeded",
            Kind::LoginFailed => "login.failed",
            Kind::Logout => "login.logout",
            Kind::ConsentGranted => "consent.granted",
            Kind::ConsentDenied => "consent.denied",
            Kind::CodeIssued => "code.issued",
            Kind::CodeRedeemed => "code.redeemed",
            Kind::CodeReused => "code.reused",
            Kind::CodeRejected => "code.rejected",
            Kind::TokenIssued => "token.issued",
            Kind::TokenRefreshed => "token.refreshed",
            Kind::RefreshRetried => "token.refresh_retried",
            Kind::RefreshReuseDetected => "token.reuse_detected",
            Kind::RefreshRejected => "token.refresh_rejected",
            Kind::GrantRevoked => "grant.revoked",
            Kind::ClientCreated => "client.created",
            Kind::ClientSecretRotated => "client.secret_rotated",
            Kind::ClientDeleted => "client.deleted",
            Kind::ClientAuthFailed => "client.auth_failed",
            Kind::ClientPkceChanged => "client.pkce_changed",
            Kind::ClientSecretAdded => "client.secret_added",
            Kind::ClientSecretRevoked => "client.secret_revoked",
            Kind::ClientSecretExpired => "client.secret_expired",
            Kind::ClientFederated => "client.federated",
            Kind::ClientJwksSet => "client.jwks_set",
            Kind::ClientAssertionRefused => "client.assertion_refused",
            Kind::ClientAssertionAccepted => "client.assertion_accepted",
            Kind::ClientCredentialsIssued => "token.client_credentials",
            Kind::KeyCreated => "key.created",
            Kind::KeyRotated => "key.rotated",
            Kind::KeyRevoked => "key.revoked",
            Kind::StaticTokenIssued => "static_token.issued",
            Kind::StaticTokenRevoked => "static_token.revoked",
            Kind::ApiKeyCreated => "api_key.created",
            Kind::ApiKeyRevoked => "api_key.revoked",
            Kind::ScimAuthFailed => "scim.auth_failed",
            Kind::WebhookCreated => "webhook.created",
            Kind::WebhookDeleted => "webhook.deleted",
            Kind::WebhookSecretRotated => "webhook.secret_rotated",
            Kind::WebhookDisabled => "webhook.disabled",
            Kind::WebhookEnabled => "webhook.enabled",
            Kind::WebhookReplayed => "webhook.replayed",
            Kind::CsrfRejected => "csrf.rejected",
        }
    }

    /// Refusals anyone can provoke without credentials: identical ones within
    /// [`REPEAT_WINDOW_MS`] share one row that counts them, so a flood cannot grow the trail.
    fn aggregates(self) -> bool {
        matches!(
            self,
            Kind::ClientAuthFailed
                | Kind::ClientAssertionRefused
                | Kind::LoginFailed
                | Kind::ScimAuthFailed
                | Kind::CsrfRejected
        )
    }
}

/// The longest text the trail keeps of any one value: identifiers such as a claimed
/// `client_id`, a sign-in email or a request path come from unauthenticated callers.
pub const MAX_STORED_CHARS: usize = 256;
/// The most items of one list in an event's detail.
const MAX_DETAIL_ITEMS: usize = 64;
/// Identical aggregated refusals within this long of the first are one row (`repeats`,
/// `last_at` in its detail).
pub const REPEAT_WINDOW_MS: i64 = 60_000;

/// `text` as stored: unchanged up to [`MAX_STORED_CHARS`]; longer, its first 64 characters and
/// the SHA-256 of the whole, so it stays recognisable and comparable at a bounded size.
pub fn bounded(text: &str) -> String {
    if text.chars().count() <= MAX_STORED_CHARS {
        return text.to_owned();
    }
    let head: String = text.chars().take(64).collect();
    format!("{head}…sha256:{}", crate::oauth::secret::sha256_hex(text))
}

/// Every string of a detail bounded, and every list cut to [`MAX_DETAIL_ITEMS`].
fn bounded_detail(value: Value) -> Value {
    match value {
        Value::String(s) if s.chars().count() > MAX_STORED_CHARS => Value::String(bounded(&s)),
        Value::Array(items) => {
            Value::Array(items.into_iter().take(MAX_DETAIL_ITEMS).map(bounded_detail).collect())
        }
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (bounded(&k), bounded_detail(v))).collect())
        }
        other => other,
    }
}

/// Who acted, stored in the audit trail as `operator` (the CLI), `operator:<id>` (a console
/// operator), `admin:<id>` (a tenant admin), `client:<id>`, `system` or `anonymous`: those strings
/// are in stored events and in filters people type, so they never change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// Whoever runs the `scimd` command line (they hold the database, so they are an operator).
    Cli,
    /// scimd itself (e.g. the first signing key at startup).
    System,
    Operator(String),
    TenantAdmin(String),
    Client(String),
    Anonymous,
}

impl Actor {
    /// The stored form back as an actor; `None` for strings no actor is stored as.
    pub fn parse(stored: &str) -> Option<Actor> {
        let actor = match stored {
            "operator" => Actor::Cli,
            "system" => Actor::System,
            "anonymous" => Actor::Anonymous,
            _ => {
                let (kind, id) = stored.split_once(':')?;
                let id = id.to_owned();
                match kind {
                    "operator" => Actor::Operator(id),
                    "admin" => Actor::TenantAdmin(id),
                    "client" => Actor::Client(id),
                    _ => return None,
                }
            }
        };
        Some(actor)
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Cli => f.write_str("operator"),
            Actor::System => f.write_str("system"),
            Actor::Operator(id) => write!(f, "operator:{id}"),
            Actor::TenantAdmin(id) => write!(f, "admin:{id}"),
            Actor::Client(id) => write!(f, "client:{id}"),
            Actor::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// One event, built up with the facts that apply. `detail` never holds a secret.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: Kind,
    pub actor: String,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub grant_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Value,
}

impl Event {
    /// `actor` says who acted; the event keeps its stored form.
    pub fn new(kind: Kind, actor: &Actor) -> Event {
        Event {
            kind,
            actor: actor.to_string(),
            tenant_id: None,
            client_id: None,
            grant_id: None,
            ip: None,
            detail: json!({}),
        }
    }
    pub fn tenant(mut self, tenant_id: impl Into<String>) -> Event {
        self.tenant_id = Some(tenant_id.into());
        self
    }
    pub fn client(mut self, client_id: impl Into<String>) -> Event {
        self.client_id = Some(client_id.into());
        self
    }
    pub fn grant(mut self, grant_id: impl Into<String>) -> Event {
        self.grant_id = Some(grant_id.into());
        self
    }
    pub fn ip(mut self, ip: Option<String>) -> Event {
        self.ip = ip;
        self
    }
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Event {
        if let Value::Object(map) = &mut self.detail {
            map.insert(key.to_owned(), value.into());
        }
        self
    }
}

/// Appends `event` inside the caller's transaction, and counts it in `counts` (the
/// `audit_counts` of the database handle `conn` came from; see `metrics::events`): a transaction
/// rolled back later has still been counted. Every stored string is [`bounded`]; an aggregated
/// refusal identical to one recorded within [`REPEAT_WINDOW_MS`] adds to that row's `repeats`
/// instead of a row of its own (still counted once per occurrence in the metrics).
pub fn record(
    conn: &mut DbConnection,
    counts: &AuditCounts,
    now: i64,
    event: Event,
) -> diesel::QueryResult<()> {
    let kind = event.kind;
    let bound = |v: Option<String>| v.map(|s| bounded(&s));
    let mut row = AuditEventRow {
        id: uuid::Uuid::now_v7().to_string(),
        at: now,
        tenant_id: bound(event.tenant_id),
        event: event.kind.as_str().to_owned(),
        actor: bounded(&event.actor),
        client_id: bound(event.client_id),
        grant_id: bound(event.grant_id),
        ip: bound(event.ip),
        detail: bounded_detail(event.detail).to_string(),
        fingerprint: None,
    };
    if kind.aggregates() {
        let fingerprint = fingerprint(&row);
        if let Some(first) = repo::find_repeat(conn, &fingerprint, now - REPEAT_WINDOW_MS)? {
            repo::set_detail(conn, &first.id, &repeated(&first.detail, now))?;
            counts.add(kind.as_str());
            return Ok(());
        }
        row.fingerprint = Some(fingerprint);
    }
    repo::insert(conn, &row)?;
    counts.add(kind.as_str());
    Ok(())
}

/// What makes two refusals identical: every stored fact but the time.
fn fingerprint(row: &AuditEventRow) -> String {
    let facts = json!([
        row.event,
        row.actor,
        row.tenant_id,
        row.client_id,
        row.grant_id,
        row.ip,
        row.detail
    ]);
    crate::oauth::secret::sha256_hex(&facts.to_string())
}

/// The first row's detail with one more repeat: `repeats` counts every occurrence, the first
/// included; `last_at` is the latest.
fn repeated(detail: &str, now: i64) -> String {
    let mut value: Value = serde_json::from_str(detail).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut value {
        let repeats = map.get("repeats").and_then(Value::as_i64).unwrap_or(1);
        map.insert("repeats".to_owned(), json!(repeats.saturating_add(1)));
        map.insert("last_at".to_owned(), json!(now));
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::{Actor, MAX_STORED_CHARS, bounded, bounded_detail, repeated};
    use serde_json::json;

    #[test]
    fn long_values_are_bounded_and_still_distinct() {
        let short = "a".repeat(MAX_STORED_CHARS);
        assert_eq!(bounded(&short), short);
        let long = "é".repeat(200_000);
        let other = format!("{long}x");
        assert!(bounded(&long).chars().count() < 160, "{}", bounded(&long));
        assert_ne!(bounded(&long), bounded(&other));
        let detail = bounded_detail(json!({"email": long, "scopes": vec!["s"; 1000]}));
        assert!(detail.to_string().len() < 1200, "{detail}");
    }

    #[test]
    fn repeats_count_every_occurrence() {
        let once = repeated(r#"{"reason":"x"}"#, 5);
        let value: serde_json::Value = serde_json::from_str(&once).unwrap();
        assert_eq!(value, json!({"last_at": 5, "reason": "x", "repeats": 2}));
        assert!(repeated(&once, 9).contains(r#""repeats":3"#));
    }

    #[test]
    fn actors_are_stored_as_before() {
        let cases = [
            (Actor::Cli, "operator"),
            (Actor::System, "system"),
            (Actor::Operator("o1".into()), "operator:o1"),
            (Actor::TenantAdmin("a1".into()), "admin:a1"),
            (Actor::Client("c1".into()), "client:c1"),
            (Actor::Anonymous, "anonymous"),
        ];
        for (actor, stored) in cases {
            assert_eq!(actor.to_string(), stored);
            assert_eq!(Actor::parse(stored), Some(actor));
        }
    }

    #[test]
    fn strings_no_actor_is_stored_as_do_not_parse() {
        for stored in ["", "admin", "tenant:x", "Operator", "client"] {
            assert_eq!(Actor::parse(stored), None, "{stored}");
        }
    }
}
