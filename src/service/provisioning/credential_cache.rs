//! This node's memory of SCIM credentials it verified: a hit admits a request without touching
//! the database. An answer is reused for at most [`FRESH_FOR`] after the lookup that produced it
//! began, so a token revoked, a grant revoked or a tenant disabled on any node is refused by every
//! node within that time; on the node that committed the revocation at once, because the commit
//! bumps the database handle's revocation epoch and every answer cached under an older epoch is
//! void. A JWT is never admitted past its `exp`. Refusals are never cached: they are recorded.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::service::tenancy::credentials::Principal;

/// How long a verified credential is trusted without asking the database again: the bound, across
/// nodes, between a revocation's commit and its last admitted request (README "Credential cache").
pub const FRESH_FOR: Duration = Duration::from_millis(900);

/// Entries one node keeps; past it, stale entries go, and if none were stale, all of them.
const CAPACITY: usize = 16_384;

/// What a cached answer is filed under: the credential and the issuer it was checked against
/// (a JWT is valid only for the origin that issued it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    pub fn new(token: &str, issuer: &str) -> CacheKey {
        let mut hasher = Sha256::new();
        hasher.update(token.as_bytes());
        hasher.update([0]);
        hasher.update(issuer.as_bytes());
        CacheKey(hasher.finalize().into())
    }
}

/// When a database lookup began, and under which revocation epoch: what its answer is cached
/// under, so a revocation committed meanwhile voids it.
#[derive(Debug, Clone, Copy)]
pub struct Lookup {
    began: Instant,
    epoch: u64,
}

impl Lookup {
    /// Call before reading the credential from the database.
    pub fn begin(epoch: u64) -> Lookup {
        Lookup { began: Instant::now(), epoch }
    }
}

struct Entry {
    principal: Principal,
    epoch: u64,
    fresh_until: Instant,
}

#[derive(Default)]
pub struct CredentialCache {
    entries: RwLock<HashMap<CacheKey, Entry>>,
}

impl CredentialCache {
    /// The principal `key` proved, while the answer is fresh, no revocation was committed on this
    /// node since its lookup began (`epoch`), and the credential itself has not expired by `now_ms`
    /// (the application clock, which JWT expiry is judged by).
    pub fn get(&self, key: &CacheKey, epoch: u64, now_ms: i64) -> Option<Principal> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(key)?;
        let usable = entry.epoch == epoch
            && Instant::now() < entry.fresh_until
            && entry.principal.valid_until_ms.is_none_or(|until| now_ms < until);
        usable.then(|| entry.principal.clone())
    }

    /// Remembers a granted credential, as of `lookup`.
    pub fn put(&self, key: CacheKey, principal: Principal, lookup: Lookup) {
        let fresh_until = lookup.began + FRESH_FOR;
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(&key) {
            let now = Instant::now();
            entries.retain(|_, entry| entry.fresh_until > now);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, Entry { principal, epoch: lookup.epoch, fresh_until });
    }

    /// How many answers are held (fresh or not), for tests.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::scope::Access;

    fn principal(valid_until_ms: Option<i64>) -> Principal {
        Principal {
            tenant_id: "t1".into(),
            tenant_slug: "acme".into(),
            credential_id: "st:1".into(),
            access: Access::FULL,
            valid_until_ms,
        }
    }

    #[test]
    fn a_cached_answer_is_reused_under_its_own_epoch_only() {
        let cache = CredentialCache::default();
        let key = CacheKey::new("scimd_abc", "https://a.example");
        cache.put(key, principal(None), Lookup::begin(7));
        assert_eq!(cache.get(&key, 7, 0), Some(principal(None)));
        assert_eq!(cache.get(&key, 8, 0), None, "a revocation on this node voids it");
    }

    #[test]
    fn the_issuer_is_part_of_the_key() {
        let cache = CredentialCache::default();
        cache.put(CacheKey::new("jwt", "https://a.example"), principal(None), Lookup::begin(0));
        assert_eq!(cache.get(&CacheKey::new("jwt", "https://b.example"), 0, 0), None);
        assert_ne!(CacheKey::new("ab", "c"), CacheKey::new("a", "bc"));
    }

    #[test]
    fn an_answer_goes_stale_after_fresh_for() {
        let cache = CredentialCache::default();
        let key = CacheKey::new("scimd_abc", "");
        let old = Lookup { began: Instant::now() - FRESH_FOR, epoch: 0 };
        cache.put(key, principal(None), old);
        assert_eq!(cache.get(&key, 0, 0), None);
    }

    #[test]
    fn a_jwt_is_not_admitted_past_its_expiry() {
        let cache = CredentialCache::default();
        let key = CacheKey::new("jwt", "");
        cache.put(key, principal(Some(5_000)), Lookup::begin(0));
        assert!(cache.get(&key, 0, 4_999).is_some());
        assert_eq!(cache.get(&key, 0, 5_000), None);
    }

    #[test]
    fn a_full_cache_makes_room() {
        let cache = CredentialCache::default();
        for i in 0..CAPACITY {
            cache.put(CacheKey::new(&i.to_string(), ""), principal(None), Lookup::begin(0));
        }
        assert_eq!(cache.len(), CAPACITY);
        let newest = CacheKey::new("newest", "");
        cache.put(newest, principal(None), Lookup::begin(0));
        assert!(cache.len() <= CAPACITY);
        assert!(cache.get(&newest, 0, 0).is_some());
    }
}
