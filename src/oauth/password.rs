//! Password and client-secret hashing: argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1).
//! Verification is slow on purpose; callers run it off the async runtime.

use std::sync::OnceLock;

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

/// Spends the same time as a real verification, for unknown accounts and clients, so response
/// times do not reveal which emails or client ids exist.
pub fn verify_dummy(secret: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("scimd dummy password").unwrap_or_default());
    let _ = verify(secret, stored);
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
    }
}
