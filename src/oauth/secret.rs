//! Random bearer secrets (256 bits, base64url, with a prefix that names their kind) and the SHA-256
//! hashes they are stored as. A random 256-bit secret needs no slow hash: it cannot be guessed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const REFRESH_PREFIX: &str = "scimd_rt_";
pub const CODE_PREFIX: &str = "scimd_ac_";
pub const CLIENT_SECRET_PREFIX: &str = "scimd_cs_";
pub const CLIENT_ID_PREFIX: &str = "scimd_ci_";
pub const SESSION_PREFIX: &str = "scimd_ws_";

/// `prefix` + 43 characters of base64url carrying 256 random bits.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A shorter random identifier (128 bits), for values that are public, like a client id.
pub fn identifier(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Lower-case hex SHA-256: how random tokens are stored and looked up.
pub fn sha256_hex(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    out
}

/// Raw SHA-256, the key of in-memory caches.
pub fn sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Constant-time string comparison, for CSRF tokens and other secrets compared in memory.
pub fn equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_distinct_and_prefixed() {
        let a = generate(REFRESH_PREFIX);
        let b = generate(REFRESH_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with(REFRESH_PREFIX));
        assert_eq!(a.len(), REFRESH_PREFIX.len() + 43);
        assert_eq!(identifier(CLIENT_ID_PREFIX).len(), CLIENT_ID_PREFIX.len() + 22);
    }

    #[test]
    fn sha256_hex_matches_a_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn equal_compares_whole_strings() {
        assert!(equal("abc", "abc"));
        assert!(!equal("abc", "abd"));
        assert!(!equal("abc", "abcd"));
        assert!(!equal("", "a"));
    }
}
