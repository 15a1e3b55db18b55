//! OAuth clients (in practice: one per identity provider integration, e.g. the vendor's Okta OIN
//! app). The secret is shown once and stored as SHA-256: it is 256 random bits from us, so a slow
//! hash adds nothing but a memory cost any caller could make us pay. Secrets stored as argon2id
//! by earlier versions still work (through the node's argon2 gate) and are rehashed on first use.
//! Redirect URIs are matched exactly.

use serde::Serialize;

use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::oauth;
use crate::db::rows::ClientRow;
use crate::db::{Database, StoreError};
use crate::oauth::password::{self, Busy};
use crate::oauth::{redirect, secret};
use crate::service::OperatorError;

/// A client as created or re-keyed: the only time the secret exists outside the client.
#[derive(Debug, Serialize)]
pub struct IssuedClient {
    pub client_id: String,
    pub client_secret: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub require_pkce: bool,
}

#[derive(Debug, Serialize)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub require_pkce: bool,
    pub created: String,
    pub secret_rotated: Option<String>,
}

pub fn redirect_uris(row: &ClientRow) -> Vec<String> {
    serde_json::from_str(&row.redirect_uris).unwrap_or_default()
}

impl From<ClientRow> for ClientView {
    fn from(row: ClientRow) -> Self {
        ClientView {
            redirect_uris: redirect_uris(&row),
            client_id: row.id,
            name: row.name,
            require_pkce: row.require_pkce,
            created: to_rfc3339(row.created_at),
            secret_rotated: row.secret_rotated_at.map(to_rfc3339),
        }
    }
}

/// What an operator asks for when registering a client.
#[derive(Debug, Clone, Default)]
pub struct NewClient<'a> {
    pub name: &'a str,
    /// Exact redirect URIs (https, or http on a loopback host).
    pub redirect_uris: &'a [String],
    /// An Okta OIN app name: its https callbacks are registered.
    pub okta_app: Option<&'a str>,
    /// Also Okta's plain-http `okta1.com:1802` callback of that app (only on request).
    pub okta_http_callback: bool,
    pub require_pkce: bool,
}

/// Registers a client with explicit redirect URIs and/or the callbacks of an Okta app.
pub fn create(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    new: &NewClient<'_>,
) -> Result<IssuedClient, OperatorError> {
    let NewClient {
        name,
        redirect_uris: explicit_uris,
        okta_app,
        okta_http_callback,
        require_pkce,
    } = *new;
    if okta_http_callback && okta_app.is_none() {
        return Err(OperatorError::Invalid(
            "the plain-http Okta callback needs an Okta app name (--okta-app)".into(),
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(OperatorError::Invalid("a client name must be 1-100 characters".into()));
    }
    let mut uris: Vec<String> = Vec::new();
    if let Some(app) = okta_app {
        if !redirect::valid_app_name(app) {
            return Err(OperatorError::Invalid(format!(
                "'{app}' is not an Okta app name (letters, digits, '_' and '-')"
            )));
        }
        uris.extend(redirect::okta_callbacks(app, okta_http_callback));
    }
    for uri in explicit_uris {
        redirect::validate(uri).map_err(|e| OperatorError::Invalid(e.to_string()))?;
        if !uris.contains(uri) {
            uris.push(uri.clone());
        }
    }
    if uris.is_empty() {
        return Err(OperatorError::Invalid(
            "give at least one --redirect-uri or --okta-app".into(),
        ));
    }
    let client_id = secret::identifier(secret::CLIENT_ID_PREFIX);
    let client_secret = secret::generate(secret::CLIENT_SECRET_PREFIX);
    let secret_hash = secret::sha256_hex(&client_secret);
    let now = clock.now();
    let row = ClientRow {
        id: client_id.clone(),
        name: name.to_owned(),
        secret_hash,
        redirect_uris: serde_json::Value::from(uris.clone()).to_string(),
        require_pkce,
        created_at: now,
        secret_rotated_at: None,
    };
    db.write(|conn| {
        oauth::insert_client(conn, &row)?;
        let event = Event::new(Kind::ClientCreated, actor)
            .client(client_id.clone())
            .detail("name", name)
            .detail("redirect_uris", uris.clone())
            .detail("require_pkce", require_pkce);
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok::<_, OperatorError>(())
    })?;
    Ok(IssuedClient {
        client_id,
        client_secret,
        name: name.to_owned(),
        redirect_uris: uris,
        require_pkce,
    })
}

/// Requires PKCE (S256) of a client's authorization requests, or makes it optional again. Codes
/// issued before keep what they were issued with.
pub fn set_require_pkce(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    client_id: &str,
    require_pkce: bool,
) -> Result<ClientView, OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        let mut row = oauth::find_client(conn, client_id)?
            .ok_or_else(|| OperatorError::NotFound(format!("client '{client_id}'")))?;
        if row.require_pkce != require_pkce {
            oauth::set_client_require_pkce(conn, client_id, require_pkce)?;
            let event = Event::new(Kind::ClientPkceChanged, actor)
                .client(client_id)
                .detail("require_pkce", require_pkce);
            audit::record(conn, db.audit_counts(), now, event)?;
            row.require_pkce = require_pkce;
        }
        Ok(ClientView::from(row))
    })
}

pub fn list(db: &Database) -> Result<Vec<ClientView>, OperatorError> {
    let mut conn = db.conn()?;
    Ok(oauth::list_clients(&mut conn)?.into_iter().map(ClientView::from).collect())
}

/// A new secret; the old one stops working at once. Grants and tokens are unaffected, so the
/// identity provider keeps provisioning once its client configuration is updated.
pub fn rotate_secret(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    client_id: &str,
) -> Result<IssuedClient, OperatorError> {
    let client_secret = secret::generate(secret::CLIENT_SECRET_PREFIX);
    let secret_hash = secret::sha256_hex(&client_secret);
    let now = clock.now();
    let row = db.write(|conn| {
        let row = oauth::find_client(conn, client_id)?
            .ok_or_else(|| OperatorError::NotFound(format!("client '{client_id}'")))?;
        oauth::set_client_secret(conn, client_id, &secret_hash, now)?;
        audit::record(
            conn,
            db.audit_counts(),
            now,
            Event::new(Kind::ClientSecretRotated, actor).client(client_id),
        )?;
        Ok::<_, OperatorError>(row)
    })?;
    Ok(IssuedClient {
        client_id: row.id.clone(),
        client_secret,
        redirect_uris: redirect_uris(&row),
        name: row.name,
        require_pkce: row.require_pkce,
    })
}

/// Deletes a client with its grants, codes and refresh tokens: every token it holds dies at once.
pub fn delete(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    client_id: &str,
) -> Result<ClientView, OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        let row = oauth::find_client(conn, client_id)?
            .ok_or_else(|| OperatorError::NotFound(format!("client '{client_id}'")))?;
        oauth::delete_client(conn, client_id)?;
        audit::record(
            conn,
            db.audit_counts(),
            now,
            Event::new(Kind::ClientDeleted, actor)
                .client(client_id)
                .detail("name", row.name.clone()),
        )?;
        Ok(ClientView::from(row))
    })
}

/// What checking a client's credentials found.
#[derive(Debug)]
pub enum ClientCheck {
    Authenticated(Box<ClientRow>),
    /// Unknown client or wrong secret (never says which).
    Refused,
    /// The client's secret is a legacy argon2 hash and every argon2 slot is taken.
    Busy(Busy),
}

/// Checks a client's credentials: SHA-256 and a constant-time comparison, so an unknown or
/// wrong one costs microseconds. A legacy argon2id hash is verified in one of `gate`'s slots
/// and, once it matched, replaced by the SHA-256 of the same secret.
pub fn authenticate(
    db: &Database,
    gate: &password::Gate,
    client_id: &str,
    client_secret: &str,
) -> Result<ClientCheck, StoreError> {
    let Some(row) = oauth::find_client(&mut *db.conn()?, client_id)? else {
        return Ok(ClientCheck::Refused);
    };
    if !password::is_phc(&row.secret_hash) {
        let presented = secret::sha256_hex(client_secret);
        return Ok(if secret::equal(&presented, &row.secret_hash) {
            ClientCheck::Authenticated(Box::new(row))
        } else {
            ClientCheck::Refused
        });
    }
    // Only our own secrets were ever stored: anything else cannot match, so it costs no argon2.
    if !is_generated_secret(client_secret) {
        return Ok(ClientCheck::Refused);
    }
    match gate.verify(client_secret, &row.secret_hash) {
        Err(busy) => Ok(ClientCheck::Busy(busy)),
        Ok(false) => Ok(ClientCheck::Refused),
        Ok(true) => {
            let upgraded = secret::sha256_hex(client_secret);
            // Conditional on the old hash: a rotation meanwhile wins.
            db.write(|conn| {
                oauth::upgrade_client_secret(conn, &row.id, &row.secret_hash, &upgraded)
                    .map_err(StoreError::from)
            })?;
            Ok(ClientCheck::Authenticated(Box::new(ClientRow { secret_hash: upgraded, ..row })))
        }
    }
}

/// A secret of the shape `secret::generate` gives client secrets.
fn is_generated_secret(text: &str) -> bool {
    text.strip_prefix(secret::CLIENT_SECRET_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::db::scratch::ScratchDatabase;

    #[test]
    fn new_secrets_are_sha256_and_legacy_argon2_secrets_are_rehashed_on_use() {
        let scratch = ScratchDatabase::new("clients", 1);
        let clock = ManualClock::new(1_800_000_000_000);
        let uris = ["https://idp.test/cb".to_owned()];
        let new = NewClient { name: "Okta", redirect_uris: &uris, ..NewClient::default() };
        let issued = create(&scratch.db, clock.as_ref(), &Actor::Cli, &new).unwrap();
        let stored = |db: &Database| {
            oauth::find_client(&mut db.conn().unwrap(), &issued.client_id).unwrap().unwrap()
        };
        assert_eq!(stored(&scratch.db).secret_hash, secret::sha256_hex(&issued.client_secret));
        let gate = password::Gate::new(1);
        let check = |s: &str| authenticate(&scratch.db, &gate, &issued.client_id, s).unwrap();
        assert!(matches!(check(&issued.client_secret), ClientCheck::Authenticated(_)));
        assert!(matches!(check("scimd_cs_wrong"), ClientCheck::Refused));
        assert_eq!(gate.peak(), 0, "no argon2 for a SHA-256 secret");

        // As an earlier version stored it.
        let legacy = password::hash(&issued.client_secret).unwrap();
        oauth::set_client_secret(&mut scratch.db.conn().unwrap(), &issued.client_id, &legacy, 0)
            .unwrap();
        let wrong = secret::generate(secret::CLIENT_SECRET_PREFIX);
        assert!(matches!(check(&wrong), ClientCheck::Refused));
        assert_eq!(stored(&scratch.db).secret_hash, legacy, "a wrong secret changes nothing");
        assert!(matches!(check(&issued.client_secret), ClientCheck::Authenticated(_)));
        assert_eq!(stored(&scratch.db).secret_hash, secret::sha256_hex(&issued.client_secret));
        assert_eq!(gate.peak(), 1);
        assert!(matches!(check(&issued.client_secret), ClientCheck::Authenticated(_)));
    }
}
