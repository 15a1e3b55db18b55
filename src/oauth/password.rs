//! Human passwords: argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1). Verification is
//! slow and memory-hard on purpose, so it runs off the async runtime and only through a `Gate`:
//! a burst of sign-ins costs at most `limit` × 19 MiB, never one allocation per request.
//! (Server-generated client secrets are random and need no slow hash: `secret::sha256_hex`.)

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

fn hasher() -> Argon2<'static> {
    // The parameters are constants within argon2's documented ranges, so `new` cannot fail;
    // falling back to the crate default (also argon2id) keeps this free of panics regardless.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashing failed inside argon2 (it does not for our constant parameters and salt length).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HashError(argon2::password_hash::Error);

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) to store.
pub fn hash(secret: &str) -> Result<String, HashError> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(HashError)?;
    hasher().hash_password(secret.as_bytes(), &salt).map(|h| h.to_string()).map_err(HashError)
}

/// True when `secret` matches the stored PHC string. A malformed hash never matches.
pub fn verify(secret: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher().verify_password(secret.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// True when `stored` is an argon2 PHC string (rather than, say, a SHA-256 hex digest).
pub fn is_phc(stored: &str) -> bool {
    stored.starts_with("$argon2")
}

/// Spends the same time as a real verification, for unknown accounts, so response times do not
/// reveal which emails exist.
pub fn verify_dummy(secret: &str) {
    // A constant, derived once per process: it guards timing, not configuration.
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("scimd dummy password").unwrap_or_default());
    let _ = verify(secret, stored);
}

/// Every argon2 verification slot of this node is taken: answer "busy, retry" instead of
/// allocating another 19 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password verifications at once; retry in {retry_after_secs} s")]
pub struct Busy {
    pub retry_after_secs: u64,
}

/// Seconds a refused caller is told to wait: about one verification's time, rounded up.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// The node's bound on concurrent argon2 verifications (one per core by default). It never
/// queues: a caller over the limit gets `Busy` at once, so waiting requests hold no memory and no
/// blocking thread.
#[derive(Debug)]
pub struct Gate {
    limit: usize,
    in_use: AtomicUsize,
    peak: AtomicUsize,
    refused: AtomicU64,
}

/// A taken slot; dropping it frees the slot.
struct Permit<'g>(&'g Gate);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    /// At most `limit` verifications at once (at least one).
    pub fn new(limit: usize) -> Gate {
        Gate {
            limit: limit.max(1),
            in_use: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// One slot per core: argon2 is CPU-bound, more at once only queue inside the kernel.
    pub fn per_core() -> Gate {
        Gate::new(std::thread::available_parallelism().map_or(2, usize::from))
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The most verifications that ever ran at once on this node (memory ≈ peak × 19 MiB).
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Acquire)
    }

    /// How many callers were turned away busy.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Acquire)
    }

    fn acquire(&self) -> Result<Permit<'_>, Busy> {
        let taken = self.in_use.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < self.limit).then_some(n + 1)
        });
        match taken {
            Ok(before) => {
                self.peak.fetch_max(before + 1, Ordering::AcqRel);
                Ok(Permit(self))
            }
            Err(_) => {
                self.refused.fetch_add(1, Ordering::AcqRel);
                Err(Busy { retry_after_secs: BUSY_RETRY_AFTER_SECS })
            }
        }
    }

    /// `verify`, in a slot.
    pub fn verify(&self, secret: &str, stored: &str) -> Result<bool, Busy> {
        let _permit = self.acquire()?;
        Ok(verify(secret, stored))
    }

    /// `verify_dummy`, in a slot: an unknown account costs what a known one does.
    pub fn verify_dummy(&self, secret: &str) -> Result<(), Busy> {
        let _permit = self.acquire()?;
        verify_dummy(secret);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_argon2id_and_owasp_parameters() {
        let stored = hash("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify("correct horse", &stored));
        assert!(!verify("correct horse!", &stored));
        assert!(!verify("correct horse", "not a phc string"));
        assert_ne!(stored, hash("correct horse").unwrap(), "salted");
        assert!(is_phc(&stored));
        assert!(!is_phc("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    }

    #[test]
    fn the_gate_turns_callers_away_beyond_its_limit_and_frees_slots() {
        let gate = Gate::new(2);
        let a = gate.acquire().unwrap();
        let b = gate.acquire().unwrap();
        assert_eq!(gate.acquire().err(), Some(Busy { retry_after_secs: BUSY_RETRY_AFTER_SECS }));
        drop(a);
        let c = gate.acquire().unwrap();
        drop((b, c));
        assert_eq!((gate.peak(), gate.refused()), (2, 1));
        assert_eq!(Gate::new(0).limit(), 1, "never zero slots");
        assert_eq!(gate.verify("x", "not a phc string"), Ok(false));
    }
}
