//! Signing keys shared through the database, and the per-node caches that keep verification off
//! the database: decoding keys by `kid`, and tokens already verified (by hash, until `exp`).
//!
//! Trust follows publication: a token verifies only against a key `/oauth/jwks.json` publishes
//! (the signing key, or one retired less than the access-token lifetime plus `KEY_GRACE` ago).
//! Each node re-reads the key table at least every `KEY_CACHE_MAX_AGE`, so a revoked (deleted) key
//! stops verifying everywhere within that delay, cached verifications included. A new key is
//! published `PUBLISH_LEAD` before it signs (longer than any node's cache age), so every node knows
//! it before the first token signed with it arrives; an unknown `kid` therefore never needs a
//! reload, and a made-up one cannot delay a real one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use jsonwebtoken::DecodingKey;
use serde::Serialize;

use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::keys;
use crate::db::rows::SigningKeyRow;
use crate::db::{Database, DbConnection, StoreError};
use crate::oauth::jwt::{AccessClaims, Signer};
use crate::oauth::keys as crypto;
use crate::oauth::seal::Sealer;
use crate::service::OperatorError;

/// A node's copy of the key table is at most this old (ms): the bound on how long a revoked key
/// still verifies on some node.
pub const KEY_CACHE_MAX_AGE: i64 = 5_000;
/// A rotated-in key signs this long after it was published (ms); the key it replaces signs until
/// then. Longer than `KEY_CACHE_MAX_AGE` plus clock skew between nodes.
pub const PUBLISH_LEAD: i64 = 15_000;
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
    /// Whether it signs new tokens now.
    pub signing: bool,
}

/// Caches that make verifying a JWT cost microseconds. Only signature results are cached:
/// expiry, issuer, audience, revocation and the key's publication are checked on every request.
pub struct TokenRuntime {
    access_ttl_ms: i64,
    decoding: RwLock<DecodingKeys>,
    verified: Mutex<HashMap<[u8; 32], Verified>>,
}

struct Verified {
    claims: Arc<AccessClaims>,
    kid: String,
}

#[derive(Default)]
struct DecodingKeys {
    by_kid: HashMap<String, (Arc<DecodingKey>, Option<i64>)>,
    loaded_at: Option<i64>,
}

impl DecodingKeys {
    fn fresh(&self, now: i64) -> bool {
        self.loaded_at.is_some_and(|at| now >= at && now - at < KEY_CACHE_MAX_AGE)
    }
}

impl TokenRuntime {
    /// `access_ttl_ms`: how long retired keys stay trusted.
    pub fn new(access_ttl_ms: i64) -> TokenRuntime {
        TokenRuntime { access_ttl_ms, decoding: RwLock::default(), verified: Mutex::default() }
    }

    /// The decoding key for `kid` if it is published now, from a copy of the key table at most
    /// `KEY_CACHE_MAX_AGE` old.
    pub fn decoding_key(
        &self,
        db: &Database,
        now: i64,
        kid: &str,
    ) -> Result<Option<Arc<DecodingKey>>, StoreError> {
        let published = |cache: &DecodingKeys| {
            cache.by_kid.get(kid).and_then(|(key, retired_at)| {
                is_published(*retired_at, now, self.access_ttl_ms).then(|| key.clone())
            })
        };
        if let Ok(cache) = self.decoding.read()
            && cache.fresh(now)
        {
            return Ok(published(&cache));
        }
        let mut by_kid = HashMap::new();
        for row in keys::all(&mut *db.conn()?)? {
            match crypto::decoding_key(&row.public_key) {
                Ok(key) => {
                    by_kid.insert(row.kid, (Arc::new(key), row.retired_at));
                }
                Err(e) => tracing::error!(kid = %row.kid, error = %e, "unusable signing key"),
            }
        }
        let cache = DecodingKeys { by_kid, loaded_at: Some(now) };
        let found = published(&cache);
        if let Ok(mut slot) = self.decoding.write() {
            *slot = cache;
        }
        Ok(found)
    }

    /// A token verified before, while its key is still published; otherwise it is forgotten.
    pub fn verified(
        &self,
        db: &Database,
        now: i64,
        hash: &[u8; 32],
    ) -> Result<Option<Arc<AccessClaims>>, StoreError> {
        let Some((claims, kid)) = self
            .verified
            .lock()
            .ok()
            .and_then(|map| map.get(hash).map(|v| (v.claims.clone(), v.kid.clone())))
        else {
            return Ok(None);
        };
        if self.decoding_key(db, now, &kid)?.is_some() {
            return Ok(Some(claims));
        }
        if let Ok(mut map) = self.verified.lock() {
            map.retain(|_, v| v.kid != kid);
        }
        Ok(None)
    }

    pub fn remember(&self, hash: [u8; 32], claims: Arc<AccessClaims>, kid: String, now_secs: i64) {
        let Ok(mut map) = self.verified.lock() else { return };
        if map.len() >= VERIFIED_CAPACITY {
            map.retain(|_, v| v.claims.exp > now_secs);
            if map.len() >= VERIFIED_CAPACITY {
                map.clear();
            }
        }
        map.insert(hash, Verified { claims, kid });
    }
}

fn insert_new_key(
    conn: &mut DbConnection,
    sealer: &Sealer,
    now: i64,
) -> Result<SigningKeyRow, OperatorError> {
    let generated = crypto::generate().map_err(|e| OperatorError::Invalid(e.to_string()))?;
    let private_key = sealer
        .seal(&generated.kid, &generated.private_pkcs8)
        .map_err(|e| OperatorError::Invalid(e.to_string()))?;
    let row = SigningKeyRow {
        kid: generated.kid,
        alg: crypto::ALG.to_owned(),
        private_key,
        public_key: generated.public_x,
        created_at: now,
        retired_at: None,
    };
    keys::insert(conn, &row)?;
    Ok(row)
}

/// The key that signs at `now` among `rows` (newest first): the newest one published at least
/// `PUBLISH_LEAD` ago and not retired; else the key a rotation is replacing (retirement
/// scheduled), the one known longest; else (a fresh database, a revoked signing key) the newest
/// not retired, which nobody can have been told about earlier anyway.
fn choose_signing(rows: &[SigningKeyRow], now: i64) -> Option<&SigningKeyRow> {
    let unretired = || rows.iter().filter(|r| r.retired_at.is_none_or(|at| at > now));
    unretired()
        .find(|r| r.created_at.saturating_add(PUBLISH_LEAD) <= now)
        .or_else(|| unretired().filter(|r| r.retired_at.is_some()).min_by_key(|r| r.created_at))
        .or_else(|| unretired().next())
}

/// Creates the first signing key when none can sign (first start of a fresh database), and
/// checks that this server can open the one that signs (fails at start-up, not at the first
/// token request, when the sealing secret is missing or wrong).
pub fn ensure_signing_key(
    db: &Database,
    clock: &dyn Clock,
    sealer: &Sealer,
) -> Result<(), OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        if let Some(row) = choose_signing(&keys::all(conn)?, now) {
            sealer
                .open(&row.kid, &row.private_key)
                .map_err(|e| OperatorError::Invalid(e.to_string()))?;
        } else {
            let row = insert_new_key(conn, sealer, now)?;
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

/// A node's signers of the stored keys, by `kid`. A key's private part never changes, so its
/// signer is made once (the key opened with the sealer and parsed) and kept while the key is in
/// the table; which key signs is still read from the table for every token.
#[derive(Debug, Default)]
pub struct Signers(Mutex<HashMap<String, Arc<Signer>>>);

impl Signers {
    /// The signer of `row`, one of `rows` (the whole table: signers of deleted keys are dropped).
    fn of(
        &self,
        row: &SigningKeyRow,
        rows: &[SigningKeyRow],
        sealer: &Sealer,
    ) -> Result<Arc<Signer>, StoreError> {
        let mut signers = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(signer) = signers.get(&row.kid) {
            return Ok(signer.clone());
        }
        let private = sealer
            .open(&row.kid, &row.private_key)
            .map_err(|e| StoreError::Invariant(e.to_string()))?;
        let signer = Arc::new(
            crypto::signer(&row.kid, &private).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
        signers.retain(|kid, _| rows.iter().any(|r| &r.kid == kid));
        signers.insert(row.kid.clone(), signer.clone());
        Ok(signer)
    }
}

/// The signer of the key that signs new tokens at `now`, read inside the caller's transaction.
pub fn signing_key(
    conn: &mut DbConnection,
    sealer: &Sealer,
    signers: &Signers,
    now: i64,
) -> Result<Arc<Signer>, StoreError> {
    let rows = keys::all(conn)?;
    let row = choose_signing(&rows, now)
        .ok_or_else(|| StoreError::Invariant("no signing key; run `scimd keys rotate`".into()))?;
    signers.of(row, &rows, sealer)
}

/// Publishes a new signing key, which signs from `PUBLISH_LEAD` on; the current keys sign until
/// then and are retired at that moment. Retired keys stay published until every token they
/// signed has expired (`access_ttl_ms` after retirement), then are deleted.
/// `actor` is `operator` (CLI) or `operator:<id>` (console).
pub fn rotate(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    access_ttl_ms: i64,
    sealer: &Sealer,
) -> Result<KeyView, OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        let row = insert_new_key(conn, sealer, now)?;
        let retired = keys::retire_all_except(conn, &row.kid, now + PUBLISH_LEAD)?;
        let deleted = keys::delete_retired_before(conn, now - access_ttl_ms - KEY_GRACE)?;
        let event = Event::new(Kind::KeyRotated, actor)
            .detail("kid", row.kid.clone())
            .detail("signs_from", to_rfc3339(now + PUBLISH_LEAD))
            .detail("retired", retired)
            .detail("deleted", deleted);
        audit::record(conn, db.audit_counts(), now, event)?;
        let rows = keys::all(conn)?;
        let signing = choose_signing(&rows, now).map(|r| r.kid.clone());
        Ok(view(row, now, access_ttl_ms, signing.as_deref()))
    })
}

/// Deletes a key at once (it leaked): tokens it signed stop verifying on every node within
/// `KEY_CACHE_MAX_AGE`. When it was the one signing, the newest other key signs from now on, or
/// a new one (other nodes learn of it within the same delay).
pub fn revoke(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    kid: &str,
    access_ttl_ms: i64,
    sealer: &Sealer,
) -> Result<KeyView, OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        let rows = keys::all(conn)?;
        let row = rows
            .iter()
            .find(|r| r.kid == kid)
            .cloned()
            .ok_or_else(|| OperatorError::NotFound(format!("signing key '{kid}'")))?;
        keys::delete(conn, kid)?;
        let mut event = Event::new(Kind::KeyRevoked, actor).detail("kid", kid);
        if choose_signing(&keys::all(conn)?, now).is_none() {
            let new = insert_new_key(conn, sealer, now)?;
            event = event.detail("new_kid", new.kid);
        }
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(KeyView { published: false, signing: false, ..view(row, now, access_ttl_ms, None) })
    })
}

fn is_published(retired_at: Option<i64>, now: i64, access_ttl_ms: i64) -> bool {
    retired_at.is_none_or(|at| now < at.saturating_add(access_ttl_ms).saturating_add(KEY_GRACE))
}

fn view(row: SigningKeyRow, now: i64, access_ttl_ms: i64, signing: Option<&str>) -> KeyView {
    KeyView {
        published: is_published(row.retired_at, now, access_ttl_ms),
        signing: signing == Some(row.kid.as_str()),
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
    let rows = keys::all(&mut *db.conn()?)?;
    let signing = choose_signing(&rows, now).map(|r| r.kid.clone());
    Ok(rows.into_iter().map(|row| view(row, now, access_ttl_ms, signing.as_deref())).collect())
}

/// The JWK Set: the signing key, keys about to sign, and retired keys whose tokens may still be
/// live.
pub fn jwks(
    db: &Database,
    clock: &dyn Clock,
    access_ttl_ms: i64,
) -> Result<serde_json::Value, StoreError> {
    let now = clock.now();
    let rows = keys::all(&mut *db.conn()?)?;
    let keys: Vec<_> = rows
        .iter()
        .filter(|row| is_published(row.retired_at, now, access_ttl_ms))
        .map(|row| crypto::jwk(&row.kid, &row.public_key))
        .collect();
    Ok(serde_json::json!({ "keys": keys }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, created_at: i64, retired_at: Option<i64>) -> SigningKeyRow {
        SigningKeyRow {
            kid: kid.into(),
            alg: crypto::ALG.into(),
            private_key: String::new(),
            public_key: String::new(),
            created_at,
            retired_at,
        }
    }

    #[test]
    fn a_new_key_signs_only_after_the_publish_lead() {
        let t = 1_000_000;
        // Rotation at t: the new key is published, the old one signs until t + lead.
        let rows = [key("new", t, None), key("old", 0, Some(t + PUBLISH_LEAD))];
        let signing = |now| choose_signing(&rows, now).map(|r| r.kid.as_str());
        assert_eq!(signing(t), Some("old"));
        assert_eq!(signing(t + PUBLISH_LEAD - 1), Some("old"));
        assert_eq!(signing(t + PUBLISH_LEAD), Some("new"));
        // A fresh database's first key signs at once; so does the survivor of a revocation.
        assert_eq!(
            choose_signing(&[key("first", t, None)], t).map(|r| r.kid.as_str()),
            Some("first")
        );
        assert!(choose_signing(&[key("gone", 0, Some(t))], t).is_none());
        // Rotated right after the first start: the first key signs until the lead has passed.
        let young = [key("new", t, None), key("first", t, Some(t + PUBLISH_LEAD))];
        assert_eq!(choose_signing(&young, t).map(|r| r.kid.as_str()), Some("first"));
        assert_eq!(choose_signing(&young, t + PUBLISH_LEAD).map(|r| r.kid.as_str()), Some("new"));
    }

    #[test]
    fn retired_keys_stay_published_for_the_access_lifetime_and_grace() {
        assert!(is_published(None, 5, 1_000));
        assert!(is_published(Some(100), 100 + 1_000 + KEY_GRACE - 1, 1_000));
        assert!(!is_published(Some(100), 100 + 1_000 + KEY_GRACE, 1_000));
    }
}
