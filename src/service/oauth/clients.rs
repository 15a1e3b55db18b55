//! Vendor-wide OAuth clients (in practice: the vendor's Okta OIN app, authorization code, the
//! tenant chosen at consent). The secret is shown once and stored as SHA-256: it is 256 random
//! bits from us, so a slow hash adds nothing but a memory cost any caller could make us pay.
//! Redirect URIs are matched exactly. Per-tenant clients (client credentials, federation) are
//! `tenant_clients`; checking any client's credentials is `client_auth`.

use serde::Serialize;

use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::Database;
use crate::db::repo::{client_credentials, oauth};
use crate::db::rows::{ClientRow, ClientSecretRow};
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
    let mut row = ClientRow::authorization_code(
        client_id.clone(),
        name.to_owned(),
        serde_json::Value::from(uris.clone()).to_string(),
        now,
    );
    row.require_pkce = require_pkce;
    // Also on the client row, which the previous release reads (rolling upgrades).
    row.secret_hash = secret_hash.clone();
    let secret_row = secret_row(&client_id, &client_secret, now, None);
    db.write(|conn| {
        oauth::insert_client(conn, &row)?;
        client_credentials::insert_secret(conn, &secret_row)?;
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

/// A secret's row: its SHA-256, an id to name it by, and its last characters as a hint.
pub(super) fn secret_row(
    client_id: &str,
    client_secret: &str,
    now: i64,
    expires_at: Option<i64>,
) -> ClientSecretRow {
    // Generated secrets are ASCII (base64url after the prefix).
    let hint = client_secret.get(client_secret.len().saturating_sub(4)..).unwrap_or("").to_owned();
    ClientSecretRow {
        id: secret::identifier("sec_"),
        client_id: client_id.to_owned(),
        secret_hash: secret::sha256_hex(client_secret),
        hint,
        created_at: now,
        expires_at,
        last_used_at: None,
        revoked_at: None,
        expiry_recorded_at: None,
    }
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

/// The vendor-wide clients (Okta's OIN apps); a tenant's own clients are listed by
/// `tenant_clients::list`.
pub fn list(db: &Database) -> Result<Vec<ClientView>, OperatorError> {
    let mut conn = db.conn()?;
    Ok(oauth::list_clients(&mut conn)?
        .into_iter()
        .filter(|row| row.tenant_id.is_none())
        .map(ClientView::from)
        .collect())
}

/// A new secret; the old ones stop working at once (`tenant_clients::add_secret` adds one beside
/// them instead). Grants and tokens are unaffected, so the
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
        client_credentials::revoke_all_secrets(conn, client_id, now)?;
        client_credentials::insert_secret(conn, &secret_row(client_id, &client_secret, now, None))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::db::scratch::ScratchDatabase;

    #[test]
    fn a_rotation_replaces_every_secret_and_keeps_the_row_hash_for_the_previous_release() {
        let scratch = ScratchDatabase::new("clients", 1);
        let clock = ManualClock::new(1_800_000_000_000);
        let uris = ["https://idp.test/cb".to_owned()];
        let new = NewClient { name: "Okta", redirect_uris: &uris, ..NewClient::default() };
        let issued = create(&scratch.db, clock.as_ref(), &Actor::Cli, &new).unwrap();
        let mut conn = scratch.db.conn().unwrap();
        let row = oauth::find_client(&mut conn, &issued.client_id).unwrap().unwrap();
        assert_eq!(row.secret_hash, secret::sha256_hex(&issued.client_secret));
        let secrets = client_credentials::secrets_of(&mut conn, &issued.client_id).unwrap();
        assert_eq!(secrets.len(), 1);
        assert_eq!(secrets[0].secret_hash, row.secret_hash);
        assert!(issued.client_secret.ends_with(&secrets[0].hint));
        drop(conn);
        let rotated =
            rotate_secret(&scratch.db, clock.as_ref(), &Actor::Cli, &issued.client_id).unwrap();
        let mut conn = scratch.db.conn().unwrap();
        let secrets = client_credentials::secrets_of(&mut conn, &issued.client_id).unwrap();
        let live: Vec<_> = secrets.iter().filter(|s| s.revoked_at.is_none()).collect();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].secret_hash, secret::sha256_hex(&rotated.client_secret));
        let row = oauth::find_client(&mut conn, &issued.client_id).unwrap().unwrap();
        assert_eq!(row.secret_hash, live[0].secret_hash);
    }
}
