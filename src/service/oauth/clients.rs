//! OAuth clients (in practice: one per identity provider integration, e.g. the vendor's Okta OIN
//! app). The secret is shown once and stored as argon2id; redirect URIs are matched exactly.

use serde::Serialize;

use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::oauth;
use crate::db::rows::ClientRow;
use crate::db::{Database, StoreError};
use crate::oauth::{password, redirect, secret};
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

/// Registers a client with explicit redirect URIs and/or the five callbacks of an Okta app.
pub fn create(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    name: &str,
    explicit_uris: &[String],
    okta_app: Option<&str>,
    require_pkce: bool,
) -> Result<IssuedClient, OperatorError> {
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
        uris.extend(redirect::okta_callbacks(app));
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
    let secret_hash =
        password::hash(&client_secret).map_err(|e| OperatorError::Invalid(e.to_string()))?;
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
    let secret_hash =
        password::hash(&client_secret).map_err(|e| OperatorError::Invalid(e.to_string()))?;
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

/// Checks a client's credentials. Unknown clients cost one argon2 verification too.
pub fn authenticate(
    db: &Database,
    client_id: &str,
    client_secret: &str,
) -> Result<Option<ClientRow>, StoreError> {
    let row = oauth::find_client(&mut *db.conn()?, client_id)?;
    match row {
        Some(row) if password::verify(client_secret, &row.secret_hash) => Ok(Some(row)),
        Some(_) => Ok(None),
        None => {
            password::verify_dummy(client_secret);
            Ok(None)
        }
    }
}
