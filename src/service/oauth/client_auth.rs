//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3,
//! RFC 7523 §2.2): a secret (HTTP Basic or the body), checked against every secret the client
//! holds, or a signed assertion (`private_key_jwt`, Entra's workload identity federation),
//! verified against the client's JWKS and used once on every node.
//!
//! A refusal names its reason precisely once the caller has shown it holds the credential (a
//! revoked or expired secret that matched, an assertion whose signature held); before that it
//! says only "unknown client or wrong secret".

use crate::audit::{self, Actor, Event, Kind};
use crate::db::StoreError;
use crate::db::repo::{client_credentials as repo, oauth};
use crate::db::rows::{ClientRow, ClientSecretRow};
use crate::oauth::assertion::{self, AssertionFailure, Expected, Window};
use crate::oauth::error::OAuthError;
use crate::oauth::password::{self, Busy};
use crate::oauth::secret;
use crate::service::oauth::OAuthEnv;
use crate::service::verdict::{Decided, Verdict};

pub const SECRET_AUTH: &str = "secret";
pub const JWT_AUTH: &str = "private_key_jwt";

/// How the client authenticated; exactly one method per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Basic,
    Post,
    PrivateKeyJwt,
}

impl AuthMethod {
    /// The RFC 8414 name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Basic => "client_secret_basic",
            AuthMethod::Post => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// What the client presented.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    /// The secret, or the signed assertion for `PrivateKeyJwt`. oxide-auth is offered this as
    /// the client's passphrase and sees it matched, since we checked it before it runs.
    pub proof: String,
    pub method: AuthMethod,
}

/// Picks the client's credentials from the Basic header, the body's secret or the body's
/// assertion, refusing a request that uses more than one.
pub fn client_credentials(
    basic: Option<(String, String)>,
    params: &super::Params,
) -> Result<ClientCredentials, OAuthError> {
    let assertion_type = params.get("client_assertion_type");
    let assertion_text = params.get("client_assertion");
    if assertion_type.is_some() || assertion_text.is_some() {
        if basic.is_some() || params.get("client_secret").is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: a client_assertion or a client secret, not both",
            ));
        }
        if assertion_type != Some(assertion::ASSERTION_TYPE) {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type must be {}",
                assertion::ASSERTION_TYPE
            )));
        }
        let Some(assertion_text) = assertion_text else {
            return Err(OAuthError::invalid_request("client_assertion is required"));
        };
        let client_id = match params.get("client_id") {
            Some(id) => id.to_owned(),
            // RFC 7523 §3: for client authentication `sub` is the client id.
            None => assertion::unverified_subject(assertion_text).ok_or_else(|| {
                OAuthError::invalid_client("client_id is required with this client_assertion")
            })?,
        };
        return Ok(ClientCredentials {
            client_id,
            proof: assertion_text.to_owned(),
            method: AuthMethod::PrivateKeyJwt,
        });
    }
    let body = (params.get("client_id"), params.get("client_secret"));
    match (basic, body) {
        (Some(_), (_, Some(_))) => Err(OAuthError::invalid_request(
            "use one client authentication method: HTTP Basic or client_secret in the body, not both",
        )),
        (Some((client_id, client_secret)), (body_id, None)) => {
            if body_id.is_some_and(|id| id != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the Basic credentials",
                ));
            }
            Ok(ClientCredentials { client_id, proof: client_secret, method: AuthMethod::Basic })
        }
        (None, (Some(id), Some(secret_text))) => Ok(ClientCredentials {
            client_id: id.to_owned(),
            proof: secret_text.to_owned(),
            method: AuthMethod::Post,
        }),
        (None, _) => Err(OAuthError::invalid_client(
            "client authentication required: HTTP Basic (client_secret_basic), client_id and client_secret in the body (client_secret_post), or a client_assertion (private_key_jwt)",
        )),
    }
}

/// Authenticates the client, outside any transaction (a legacy argon2 hash and a JWKS fetch
/// are slow). Every refusal is in the audit trail.
pub fn authenticate_client(
    env: &OAuthEnv<'_>,
    creds: &ClientCredentials,
) -> Decided<ClientRow, OAuthError> {
    let client = oauth::find_client(&mut *env.db.conn()?, &creds.client_id)?;
    let refusal = match (client, creds.method) {
        (None, _) => Refusal::anonymous(),
        (Some(client), AuthMethod::PrivateKeyJwt) => match check_assertion(env, &client, creds)? {
            Ok(()) => return Ok(Verdict::Granted(client)),
            Err(refusal) => refusal,
        },
        (Some(client), _) => match check_secret(env, &client, &creds.proof)? {
            SecretCheck::Valid { secret_id, last_used_at } => {
                let now = env.clock.now();
                // Written at most once a minute: a write per token request would queue every
                // exchange twice behind SQLite's single writer for a column shown in minutes.
                if repo::touch_due(last_used_at, now) {
                    env.db.write(|conn| {
                        repo::touch_secret(conn, &secret_id, now)
                            .map(drop)
                            .map_err(StoreError::from)
                    })?;
                }
                return Ok(Verdict::Granted(client));
            }
            SecretCheck::Busy(busy) => {
                return Ok(Verdict::Refused(OAuthError::busy(busy.retry_after_secs)));
            }
            SecretCheck::Refused(refusal) => refusal,
        },
    };
    record_refusal(env, creds, &refusal)?;
    Ok(Verdict::Refused(OAuthError::invalid_client(refusal.description)))
}

/// Why a client was refused, and whether the caller proved it holds the credential.
struct Refusal {
    description: String,
    /// A known client refused for a reason only its holder could reach.
    known: bool,
}

impl Refusal {
    fn anonymous() -> Refusal {
        Refusal {
            description: "client authentication failed: unknown client or wrong secret".into(),
            known: false,
        }
    }

    fn known(description: impl Into<String>) -> Refusal {
        Refusal { description: description.into(), known: true }
    }
}

fn record_refusal(
    env: &OAuthEnv<'_>,
    creds: &ClientCredentials,
    refusal: &Refusal,
) -> Result<(), StoreError> {
    let now = env.clock.now();
    let kind = match creds.method {
        AuthMethod::PrivateKeyJwt if refusal.known => Kind::ClientAssertionRefused,
        _ => Kind::ClientAuthFailed,
    };
    let mut event = Event::new(kind, &Actor::Anonymous)
        .client(creds.client_id.clone())
        .ip(env.ip.clone())
        .detail("method", creds.method.as_str());
    if refusal.known {
        event = event.detail("reason", refusal.description.clone());
    }
    env.db.write(|conn| {
        audit::record(conn, env.db.audit_counts(), now, event).map_err(StoreError::from)
    })
}

enum SecretCheck {
    /// The secret's id and when it was last recorded as used.
    Valid {
        secret_id: String,
        last_used_at: Option<i64>,
    },
    Refused(Refusal),
    Busy(Busy),
}

/// Compares the presented secret with each of the client's: SHA-256 and constant-time, so an
/// unknown or wrong secret costs microseconds. A legacy argon2id hash is verified in one of the
/// node's argon2 slots and, once it matched, replaced by the SHA-256 of the same secret.
fn check_secret(
    env: &OAuthEnv<'_>,
    client: &ClientRow,
    presented: &str,
) -> Result<SecretCheck, StoreError> {
    if client.auth_method == JWT_AUTH {
        return Ok(SecretCheck::Refused(Refusal::anonymous()));
    }
    let secrets = repo::secrets_of(&mut *env.db.conn()?, &client.id)?;
    let presented_hash = secret::sha256_hex(presented);
    let mut matched: Option<&ClientSecretRow> = None;
    for row in &secrets {
        if !password::is_phc(&row.secret_hash) && secret::equal(&presented_hash, &row.secret_hash) {
            matched = Some(row);
        }
    }
    if matched.is_none() && is_generated_secret(presented) {
        // Only our own secrets were ever stored: anything else cannot match, so it costs no argon2.
        for row in secrets.iter().filter(|r| password::is_phc(&r.secret_hash)) {
            match env.passwords.verify(presented, &row.secret_hash) {
                Err(busy) => return Ok(SecretCheck::Busy(busy)),
                Ok(false) => {}
                Ok(true) => {
                    env.db.write(|conn| {
                        // Conditional on the old hash: a rotation meanwhile wins.
                        repo::upgrade_secret_hash(conn, &row.id, &row.secret_hash, &presented_hash)
                            .map_err(StoreError::from)
                    })?;
                    matched = Some(row);
                    break;
                }
            }
        }
    }
    let Some(row) = matched else { return Ok(SecretCheck::Refused(Refusal::anonymous())) };
    let now = env.clock.now();
    if let Some(at) = row.revoked_at {
        return Ok(SecretCheck::Refused(Refusal::known(format!(
            "the client secret {} was revoked at {}",
            row.id,
            crate::clock::to_rfc3339(at)
        ))));
    }
    if let Some(at) = row.expires_at.filter(|at| *at <= now) {
        return Ok(SecretCheck::Refused(Refusal::known(format!(
            "the client secret {} expired at {}; add a new secret and update the identity provider",
            row.id,
            crate::clock::to_rfc3339(at)
        ))));
    }
    Ok(SecretCheck::Valid { secret_id: row.id.clone(), last_used_at: row.last_used_at })
}

/// A secret of the shape `secret::generate` gives client secrets.
pub(super) fn is_generated_secret(text: &str) -> bool {
    text.strip_prefix(secret::CLIENT_SECRET_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Verifies a `private_key_jwt` assertion against what the client registered, then records it
/// as used (a replay on any node is refused).
fn check_assertion(
    env: &OAuthEnv<'_>,
    client: &ClientRow,
    creds: &ClientCredentials,
) -> Result<Result<(), Refusal>, StoreError> {
    if client.auth_method != JWT_AUTH {
        // Says nothing the client id alone does not: this client has secrets.
        return Ok(Err(Refusal::known(
            "this client authenticates with a client secret, not a client_assertion",
        )));
    }
    let refused = |failure: &dyn std::fmt::Display| Ok(Err(Refusal::known(failure.to_string())));
    let header = match assertion::header(&creds.proof) {
        Ok(header) => header,
        Err(failure) => return refused(&failure),
    };
    let now = env.clock.now();
    let Some(trust) = repo::trust_of(&mut *env.db.conn()?, &client.id)? else {
        return refused(&"the client has no JWKS registered");
    };
    let jwk = match (&trust.jwks, &trust.jwks_uri) {
        (Some(inline), _) => match assertion::KeySet::parse(inline.as_bytes()) {
            Ok(set) => match set.get(&header.kid) {
                Some(jwk) => jwk.clone(),
                None => return refused(&AssertionFailure::UnknownKey(header.kid.clone())),
            },
            Err(e) => return refused(&e),
        },
        (None, Some(uri)) => match env.jwks.key(uri, &header.kid, now) {
            Ok(jwk) => jwk,
            Err(failure) => return refused(&failure),
        },
        (None, None) => return refused(&"the client has no JWKS registered"),
    };
    let audiences = match &trust.audience {
        Some(audience) => vec![audience.clone()],
        // RFC 7523 §3: our identity, as the token endpoint's URL or the issuer.
        None => vec![format!("{}/oauth/token", env.issuer), env.issuer.to_owned()],
    };
    let expected = Expected {
        issuer: trust.issuer.as_deref().unwrap_or(&client.id),
        subject: trust.subject.as_deref().unwrap_or(&client.id),
        audiences: &audiences,
    };
    let window = Window {
        now_secs: now.div_euclid(1000),
        max_lifetime_secs: i64::try_from(env.settings.client_assertion_max_lifetime_secs)
            .unwrap_or(i64::MAX),
    };
    let accepted = match assertion::verify(&creds.proof, &header, &jwk, &expected, window) {
        Ok(accepted) => accepted,
        Err(failure) => return refused(&failure),
    };
    let first_use = env.db.write(|conn| {
        let first =
            repo::use_assertion(conn, &accepted.replay_key, accepted.remember_until_secs * 1000)?;
        if first {
            let mut event =
                Event::new(Kind::ClientAssertionAccepted, &Actor::Client(client.id.clone()))
                    .client(client.id.clone())
                    .ip(env.ip.clone())
                    .detail("iss", expected.issuer)
                    .detail("sub", expected.subject)
                    .detail("jti", accepted.jti.clone())
                    .detail("kid", header.kid.clone());
            if let Some(tenant_id) = &client.tenant_id {
                event = event.tenant(tenant_id.clone());
            }
            audit::record(conn, env.db.audit_counts(), now, event)?;
        }
        Ok::<_, StoreError>(first)
    })?;
    if !first_use {
        return refused(&format!("the client_assertion was already used (jti '{}')", accepted.jti));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> super::super::Params {
        super::super::Params::from_pairs(
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        )
    }

    #[test]
    fn one_authentication_method_per_request() {
        let basic = || Some(("c".to_owned(), "s".to_owned()));
        let creds = client_credentials(basic(), &params(&[])).unwrap();
        assert_eq!((creds.client_id.as_str(), creds.method), ("c", AuthMethod::Basic));
        let creds =
            client_credentials(None, &params(&[("client_id", "c"), ("client_secret", "s")]))
                .unwrap();
        assert_eq!(creds.method, AuthMethod::Post);
        let assertion = [
            ("client_id", "c"),
            ("client_assertion_type", assertion::ASSERTION_TYPE),
            ("client_assertion", "a.b.c"),
        ];
        let creds = client_credentials(None, &params(&assertion)).unwrap();
        assert_eq!((creds.proof.as_str(), creds.method), ("a.b.c", AuthMethod::PrivateKeyJwt));
        assert!(client_credentials(basic(), &params(&assertion)).is_err());
        let mut with_secret = assertion.to_vec();
        with_secret.push(("client_secret", "s"));
        assert!(client_credentials(None, &params(&with_secret)).is_err());
        let wrong_type =
            [("client_id", "c"), ("client_assertion_type", "x"), ("client_assertion", "a")];
        assert!(client_credentials(None, &params(&wrong_type)).is_err());
        let no_assertion =
            [("client_id", "c"), ("client_assertion_type", assertion::ASSERTION_TYPE)];
        assert!(client_credentials(None, &params(&no_assertion)).is_err());
        assert!(client_credentials(None, &params(&[("client_id", "c")])).is_err());
        assert!(
            client_credentials(basic(), &params(&[("client_secret", "s")])).is_err(),
            "Basic and a body secret"
        );
    }

    #[test]
    fn generated_secrets_have_one_shape() {
        let made = secret::generate(secret::CLIENT_SECRET_PREFIX);
        assert!(is_generated_secret(&made));
        assert!(!is_generated_secret("scimd_cs_short"));
        assert!(!is_generated_secret(&made.replace("scimd_cs_", "other_")));
    }
}
