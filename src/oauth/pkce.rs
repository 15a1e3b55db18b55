//! PKCE (RFC 7636) on top of oxide-auth's checker: S256 only (`plain` is refused), enforced when a
//! challenge was sent or the client requires it, and a `code_verifier` presented for a code that
//! was issued without a challenge is refused, so an attacker cannot strip PKCE (downgrade).

use std::borrow::Cow;

use oxide_auth::code_grant::extensions::Pkce;

/// Why a PKCE challenge or verifier is refused; the message is the `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error("code_challenge_method without code_challenge")]
    MethodWithoutChallenge,
    #[error("PKCE method plain is not supported; use S256")]
    Plain,
    #[error("code_challenge must be 43 to 128 characters")]
    ChallengeLength,
    #[error("this client must use PKCE (code_challenge with S256)")]
    Required,
    #[error("unsupported code_challenge_method; use S256")]
    UnsupportedMethod,
    /// A verifier for a code issued without a challenge: someone stripped PKCE.
    #[error("code_verifier sent, but the authorization request had no code_challenge")]
    Downgrade,
    #[error("code_verifier is required: the authorization request had a code_challenge")]
    VerifierMissing,
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
    #[error("code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'")]
    VerifierFormat,
}

/// RFC 7636 §4.1: a verifier is 43 to 128 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
pub fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The value stored with the authorization code, or `None` when no challenge was sent.
pub fn challenge(
    require: bool,
    method: Option<&str>,
    challenge: Option<&str>,
) -> Result<Option<String>, PkceError> {
    if challenge.is_none() && method.is_some() {
        return Err(PkceError::MethodWithoutChallenge);
    }
    if method == Some("plain") || (challenge.is_some() && method.is_none()) {
        return Err(PkceError::Plain);
    }
    if challenge.is_some_and(|c| !(43..=128).contains(&c.len())) {
        return Err(PkceError::ChallengeLength);
    }
    let checker = if require { Pkce::required() } else { Pkce::optional() };
    match checker.challenge(method.map(Cow::Borrowed), challenge.map(Cow::Borrowed)) {
        Ok(Some(value)) => Ok(value.into_private_value().ok().flatten()),
        Ok(None) => Ok(None),
        Err(()) if challenge.is_none() => Err(PkceError::Required),
        Err(()) => Err(PkceError::UnsupportedMethod),
    }
}

/// Checks the verifier at the token endpoint against what was stored with the code.
pub fn verify(stored: Option<&str>, verifier: Option<&str>) -> Result<(), PkceError> {
    match (stored, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(PkceError::Downgrade),
        (Some(_), None) => Err(PkceError::VerifierMissing),
        (Some(_), Some(verifier)) if !valid_verifier(verifier) => Err(PkceError::VerifierFormat),
        (Some(stored), Some(verifier)) => {
            let value = oxide_auth::primitives::grant::Value::private(Some(stored.to_owned()));
            Pkce::required()
                .verify(Some(value), Some(Cow::Borrowed(verifier)))
                .map_err(|()| PkceError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::{Digest, Sha256};

    const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K1-aLx5mKqHpRPf7CWzA2t6zKg_0123456789";

    fn s256(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }

    #[test]
    fn s256_round_trip() {
        let stored = challenge(false, Some("S256"), Some(&s256(VERIFIER))).unwrap();
        let stored = stored.unwrap();
        assert!(verify(Some(&stored), Some(VERIFIER)).is_ok());
        assert!(
            verify(Some(&stored), Some("wrong-verifier-wrong-verifier-wrong-verifier")).is_err()
        );
        assert!(verify(Some(&stored), None).is_err());
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn refusals() {
        let c = s256(VERIFIER);
        assert_eq!(challenge(false, Some("plain"), Some(&c)), Err(PkceError::Plain));
        assert_eq!(challenge(false, None, Some(&c)), Err(PkceError::Plain), "default is plain");
        assert_eq!(challenge(false, Some("S512"), Some(&c)), Err(PkceError::UnsupportedMethod));
        assert_eq!(challenge(false, Some("S256"), None), Err(PkceError::MethodWithoutChallenge));
        assert_eq!(challenge(false, Some("S256"), Some("short")), Err(PkceError::ChallengeLength));
        assert_eq!(challenge(true, None, None), Err(PkceError::Required), "required by the client");
        assert_eq!(challenge(false, None, None).unwrap(), None);
        assert_eq!(verify(None, Some(VERIFIER)), Err(PkceError::Downgrade));
        let stored = challenge(false, Some("S256"), Some(&c)).unwrap();
        assert_eq!(verify(stored.as_deref(), Some("short")), Err(PkceError::VerifierFormat));
        for (verifier, valid) in [
            (VERIFIER, true),
            ("a".repeat(43).as_str(), true),
            ("a".repeat(42).as_str(), false),
            ("a".repeat(128).as_str(), true),
            ("a".repeat(129).as_str(), false),
            ("~._-~._-~._-~._-~._-~._-~._-~._-~._-~._-~._", true),
            ("a+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("a aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("é".repeat(22).as_str(), false),
        ] {
            assert_eq!(valid_verifier(verifier), valid, "{verifier}");
        }
        assert!(verify(None, None).is_ok());
    }
}
