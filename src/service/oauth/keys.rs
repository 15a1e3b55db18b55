//! Signing keys shared through the database, and the per-node caches that keep verification off
//! the database: decoding keys by `kid`, and tokens already verified (by hash, until `exp`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use jsonwebtoken::DecodingKey;
use serde::Serialize;

use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::keys;
use crate::db::rows::SigningKeyRow;
use crate::db::{Database, DbConnection, StoreError};
use crate::oauth::jwt::AccessClaims;
use crate::oauth::keys as crypto;
use crate::service::OperatorError;

/// A node re-reads the key table on an unknown `kid` at most this often (ms).
const RELOAD_INTERVAL: i64 = 1_000;
/// Retired keys stay published this long past the access-token lifetime, covering the
/// verification leeway and clock skew between nodes.
const KEY_GRACE: i64 = 60_000;
/// Verified tokens remembered per node.
const VERIFIED_CAPACITY: usize = 50_000;

#[derive(Debug, Serialize)]
pub struct KeyView {
    pub kid: String,
    pub alg: String,
    pub created: String,
    pub retired: Option<String>,
    /// Whether `/oauth/jwks.json` still publishes it.
    pub published: bool,
}

/// Caches that make verifying a JWT cost microseconds. Only signature results are cached:
/// expiry, issuer, audience and revocation are checked on every request.
#[derive(Default)]
pub struct TokenRuntime {
    decoding: RwLock<DecodingKeys>,
    verified: Mutex<HashMap<[u8; 32], Arc<AccessClaims>>>,
}

#[derive(Default)]
struct DecodingKeys {
    by_kid: HashMap<String, Arc<DecodingKey>>,
    loaded_at: Option<i64>,
}

impl TokenRuntime {
    pub fn new() -> TokenRuntime {
        TokenRuntime::default()
    }

    /// The decoding key for `kid`, reloading the table once if it is new to this node.
    pub fn decoding_key(
        &self,
        db: &Database,
        now: i64,
        kid: &str,
    ) -> Result<Option<Arc<DecodingKey>>, StoreError> {
        if let Ok(cache) = self.decoding.read() {
            if let Some(key) = cache.by_kid.get(kid) {
                return Ok(Some(key.clone()));
            }
            if cache.loaded_at.is_some_and(|at| now - at < RELOAD_INTERVAL && now >= at) {
                return Ok(None);
            }
        }
        let rows = keys::all(&mut *db.conn()?)?;
        let mut by_kid = HashMap::new();
        for row in rows {
            match crypto::decoding_key(&row.public_key) {
                Ok(key) => {
                    by_kid.insert(row.kid, Arc::new(key));
                }
                Err(e) => tracing::error!(kid = %row.kid, error = %e, "unusable signing key"),
            }
        }
        let found = by_kid.get(kid).cloned();
        if let Ok(mut cache) = self.decoding.write() {
            *cache = DecodingKeys { by_kid, loaded_at: Some(now) };
        }
        Ok(found)
    }

    pub fn verified(&self, hash: &[u8; 32]) -> Option<Arc<AccessClaims>> {
        self.verified.lock().ok()?.get(hash).cloned()
    }

    pub fn remember(&self, hash: [u8; 32], claims: Arc<AccessClaims>, now_secs: i64) {
        let Ok(mut map) = self.verified.lock() else { return };
        if map.len() >= VERIFIED_CAPACITY {
            map.retain(|_, c| c.exp > now_secs);
            if map.len() >= VERIFIED_CAPACITY {
                map.clear();
            }
        }
        map.insert(hash, claims);
    }
}

fn insert_new_key(conn: &mut DbConnection, now: i64) -> Result<SigningKeyRow, OperatorError> {
    let generated = crypto::generate().map_err(|e| OperatorError::Invalid(e.to_string()))?;
    let row = SigningKeyRow {
        kid: generated.kid,
        alg: crypto::ALG.to_owned(),
        private_key: generated.private_pkcs8,
        public_key: generated.public_x,
        created_at: now,
        retired_at: None,
    };
    keys::insert(conn, &row)?;
    Ok(row)
}

/// Creates the first signing key when there is none (first start of a fresh database).
pub fn ensure_signing_key(db: &Database, clock: &dyn Clock) -> Result<(), OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        if keys::active(conn)?.is_none() {
            let row = insert_new_key(conn, now)?;
            audit::record(
                conn,
                db.audit_counts(),
                now,
                Event::new(Kind::KeyCreated, &Actor::System).detail("kid", row.kid),
            )?;
        }
        Ok(())
    })
}

/// The key that signs new tokens, read inside the caller's transaction so all nodes switch to a
/// rotated key at once.
pub fn signing_key(conn: &mut DbConnection) -> Result<SigningKeyRow, StoreError> {
    keys::active(conn)?.ok_or_else(|| {
        StoreError::Invariant("no active signing key; run `scimd keys rotate`".into())
    })
}

/// Adds a new signing key and retires the current ones. Retired keys stay published until every
/// token they signed has expired (`access_ttl_ms` after retirement), then are deleted.
/// `actor` is `operator` (CLI) or `operator:<id>` (console).
pub fn rotate(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    access_ttl_ms: i64,
) -> Result<KeyView, OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        let row = insert_new_key(conn, now)?;
        let retired = keys::retire_all_except(conn, &row.kid, now)?;
        let deleted = keys::delete_retired_before(conn, now - access_ttl_ms - KEY_GRACE)?;
        let event = Event::new(Kind::KeyRotated, actor)
            .detail("kid", row.kid.clone())
            .detail("retired", retired)
            .detail("deleted", deleted);
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(view(row, now, access_ttl_ms))
    })
}

fn published(row: &SigningKeyRow, now: i64, access_ttl_ms: i64) -> bool {
    row.retired_at.is_none_or(|at| now < at + access_ttl_ms + KEY_GRACE)
}

fn view(row: SigningKeyRow, now: i64, access_ttl_ms: i64) -> KeyView {
    KeyView {
        published: published(&row, now, access_ttl_ms),
        kid: row.kid,
        alg: row.alg,
        created: to_rfc3339(row.created_at),
        retired: row.retired_at.map(to_rfc3339),
    }
}

pub fn list(
    db: &Database,
    clock: &dyn Clock,
    access_ttl_ms: i64,
) -> Result<Vec<KeyView>, OperatorError> {
    let now = clock.now();
    Ok(keys::all(&mut *db.conn()?)?.into_iter().map(|row| view(row, now, access_ttl_ms)).collect())
}

/// The JWK Set: the active key and retired keys whose tokens may still be live.
pub fn jwks(
    db: &Database,
    clock: &dyn Clock,
    access_ttl_ms: i64,
) -> Result<serde_json::Value, StoreError> {
    let now = clock.now();
    let rows = keys::all(&mut *db.conn()?)?;
    let keys: Vec<_> = rows
        .iter()
        .filter(|row| published(row, now, access_ttl_ms))
        .map(|row| crypto::jwk(&row.kid, &row.public_key))
        .collect();
    Ok(serde_json::json!({ "keys": keys }))
}
