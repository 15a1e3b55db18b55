//! RFC 7523 client assertions (`private_key_jwt`, and Microsoft Entra's workload identity
//! federation, where the assertion is a token Entra issued): the JWT's header, the key set it is
//! verified against, and every check of its claims, each failure with a precise reason.
//!
//! Pure: the service fetches the key set (by `kid`) and stores the replay key.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// `client_assertion_type` of RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The signing algorithms we accept (asymmetric only: `none` and HMAC never).
pub const ALGORITHMS: [&str; 3] = ["RS256", "PS256", "ES256"];
/// Clock skew allowed on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: i64 = 60;
/// An assertion longer than this is refused before it is parsed.
pub const MAX_ASSERTION_BYTES: usize = 16 * 1024;
/// A key set with more keys than this is refused (a JWKS is a handful of keys).
pub const MAX_KEYS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionFailure {
    #[error("the client_assertion is not a signed JWT ({0})")]
    Malformed(&'static str),
    #[error("the client_assertion is longer than {MAX_ASSERTION_BYTES} bytes")]
    TooLarge,
    #[error("the client_assertion's alg '{0}' is not accepted (RS256, PS256 or ES256)")]
    Algorithm(String),
    #[error("the client_assertion's header has no kid")]
    NoKeyId,
    #[error("no key with kid '{0}' in the client's JWKS")]
    UnknownKey(String),
    #[error("the key with kid '{0}' cannot verify {1}")]
    KeyMismatch(String, &'static str),
    #[error("the client_assertion's signature does not verify")]
    Signature,
    #[error("the client_assertion has no {0} claim")]
    MissingClaim(&'static str),
    #[error("the client_assertion's {claim} is '{found}', expected '{expected}'")]
    WrongClaim { claim: &'static str, found: String, expected: String },
    #[error("the client_assertion's aud does not name '{0}'")]
    WrongAudience(String),
    #[error("the client_assertion expired at {0} (unix seconds)")]
    Expired(i64),
    #[error("the client_assertion is not valid before {0} (unix seconds)")]
    NotYetValid(i64),
    #[error("the client_assertion was issued in the future ({0}, unix seconds)")]
    IssuedInFuture(i64),
    #[error("the client_assertion lives {0} s, longer than the {1} s allowed")]
    TooLongLived(i64, i64),
    #[error("the client_assertion has no jti (needed to refuse a replay)")]
    NoJti,
}

/// The parts of the header the service needs before it has a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionHeader {
    pub alg: Algorithm,
    pub kid: String,
}

/// Reads the header without trusting it: the algorithm must be one of ours and a `kid` present.
pub fn header(assertion: &str) -> Result<AssertionHeader, AssertionFailure> {
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(AssertionFailure::TooLarge);
    }
    let mut parts = assertion.split('.');
    let (Some(head), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AssertionFailure::Malformed("three base64url parts expected"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|_| AssertionFailure::Malformed("the header is not base64url"))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|_| AssertionFailure::Malformed("the header is not JSON"))?;
    let alg =
        value.get("alg").and_then(Value::as_str).ok_or(AssertionFailure::Malformed("no alg"))?;
    let alg = match alg {
        "RS256" => Algorithm::RS256,
        "PS256" => Algorithm::PS256,
        "ES256" => Algorithm::ES256,
        other => return Err(AssertionFailure::Algorithm(bounded(other))),
    };
    let kid = value
        .get("kid")
        .and_then(Value::as_str)
        .filter(|kid| !kid.is_empty())
        .ok_or(AssertionFailure::NoKeyId)?;
    Ok(AssertionHeader { alg, kid: bounded(kid) })
}

/// The `sub` claim read without verifying anything: only to learn which client an assertion
/// without `client_id` claims to be (RFC 7523 §3), which is then verified as that client.
pub fn unverified_subject(assertion: &str) -> Option<String> {
    if assertion.len() > MAX_ASSERTION_BYTES {
        return None;
    }
    let payload = assertion.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let sub = claims.get("sub")?.as_str()?;
    (!sub.is_empty() && sub.len() <= 256).then(|| sub.to_owned())
}

/// A client's key set, by `kid`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, Jwk>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySetError {
    #[error("the JWKS is not a JSON Web Key Set: {0}")]
    Invalid(String),
    #[error("the JWKS has more than {MAX_KEYS} keys")]
    TooMany,
    #[error("the JWKS has no RSA or P-256 key with a kid")]
    NoUsableKey,
}

impl KeySet {
    /// Keeps the RSA and P-256 keys that have a `kid` and are for signatures; others are ignored.
    pub fn parse(json: &[u8]) -> Result<KeySet, KeySetError> {
        let set: JwkSet = serde_json::from_slice(json)
            .map_err(|e| KeySetError::Invalid(bounded(&e.to_string())))?;
        if set.keys.len() > MAX_KEYS {
            return Err(KeySetError::TooMany);
        }
        let keys: HashMap<String, Jwk> = set
            .keys
            .into_iter()
            .filter(usable)
            .filter_map(|jwk| jwk.common.key_id.clone().map(|kid| (kid, jwk)))
            .collect();
        if keys.is_empty() {
            return Err(KeySetError::NoUsableKey);
        }
        Ok(KeySet { keys })
    }

    pub fn get(&self, kid: &str) -> Option<&Jwk> {
        self.keys.get(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn usable(jwk: &Jwk) -> bool {
    let for_signing =
        !matches!(jwk.common.public_key_use, Some(jsonwebtoken::jwk::PublicKeyUse::Encryption));
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => true,
        AlgorithmParameters::EllipticCurve(ec) => ec.curve == EllipticCurve::P256,
        _ => false,
    };
    for_signing && kind
}

/// What the assertion must say: who issued it, about whom, for whom.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    /// Any one of these in `aud` will do.
    pub audiences: &'a [String],
}

/// The clock and the lifetime bound the claims are checked against.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub now_secs: i64,
    pub max_lifetime_secs: i64,
}

/// An accepted assertion: what the replay check stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// SHA-256 (hex) of the issuer and the assertion's id: used once, on every node.
    pub replay_key: String,
    pub jti: String,
    /// Until when a replay must be refused (unix seconds, leeway included).
    pub remember_until_secs: i64,
}

/// Verifies the signature with `jwk`, then every claim.
pub fn verify(
    assertion: &str,
    header: &AssertionHeader,
    jwk: &Jwk,
    expected: &Expected<'_>,
    window: Window,
) -> Result<Accepted, AssertionFailure> {
    let fits = match (&jwk.algorithm, header.alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256 | Algorithm::PS256) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        _ => false,
    };
    let declared = jwk.common.key_algorithm.map(|a| format!("{a:?}"));
    let alg_name = match header.alg {
        Algorithm::RS256 => "RS256",
        Algorithm::PS256 => "PS256",
        _ => "ES256",
    };
    if !fits || declared.is_some_and(|d| d != alg_name) {
        return Err(AssertionFailure::KeyMismatch(header.kid.clone(), alg_name));
    }
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|_| AssertionFailure::KeyMismatch(header.kid.clone(), alg_name))?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => AssertionFailure::Signature,
            _ => AssertionFailure::Malformed("the payload is not a JSON object"),
        })?
        .claims;
    check_claims(&claims, expected, window)
}

/// The claims of RFC 7523 §3, after the signature held.
pub fn check_claims(
    claims: &Value,
    expected: &Expected<'_>,
    window: Window,
) -> Result<Accepted, AssertionFailure> {
    let text = |name: &'static str| {
        claims.get(name).and_then(Value::as_str).ok_or(AssertionFailure::MissingClaim(name))
    };
    let number = |name: &'static str| claims.get(name).and_then(Value::as_i64);
    let issuer = text("iss")?;
    if issuer != expected.issuer {
        return Err(wrong("iss", issuer, expected.issuer));
    }
    let subject = text("sub")?;
    if subject != expected.subject {
        return Err(wrong("sub", subject, expected.subject));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Err(AssertionFailure::MissingClaim("aud")),
    };
    if !audiences.iter().any(|aud| expected.audiences.iter().any(|e| e == aud)) {
        let wanted = expected.audiences.first().cloned().unwrap_or_default();
        return Err(AssertionFailure::WrongAudience(wanted));
    }
    let now = window.now_secs;
    let exp = number("exp").ok_or(AssertionFailure::MissingClaim("exp"))?;
    if exp + LEEWAY_SECS <= now {
        return Err(AssertionFailure::Expired(exp));
    }
    if let Some(nbf) = number("nbf")
        && nbf - LEEWAY_SECS > now
    {
        return Err(AssertionFailure::NotYetValid(nbf));
    }
    let iat = number("iat");
    if let Some(iat) = iat
        && iat - LEEWAY_SECS > now
    {
        return Err(AssertionFailure::IssuedInFuture(iat));
    }
    let start = iat.or(number("nbf")).unwrap_or(now);
    let lifetime = exp - start;
    if lifetime > window.max_lifetime_secs {
        return Err(AssertionFailure::TooLongLived(lifetime, window.max_lifetime_secs));
    }
    // Entra's tokens name their id `uti`, which Microsoft documents as the equivalent of `jti`.
    let jti = claims
        .get("jti")
        .or_else(|| claims.get("uti"))
        .and_then(Value::as_str)
        .filter(|jti| !jti.is_empty())
        .ok_or(AssertionFailure::NoJti)?;
    Ok(Accepted {
        replay_key: crate::oauth::secret::sha256_hex(&format!("{issuer}\n{jti}")),
        jti: bounded(jti),
        remember_until_secs: exp + LEEWAY_SECS,
    })
}

fn wrong(claim: &'static str, found: &str, expected: &str) -> AssertionFailure {
    AssertionFailure::WrongClaim { claim, found: bounded(found), expected: expected.to_owned() }
}

/// What an assertion says is echoed in refusals and the audit trail: bounded first.
fn bounded(text: &str) -> String {
    const MAX: usize = 200;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// An ES256 key as a JWK and a signer over `header.payload`, independent of jsonwebtoken.
    struct EcKey {
        pair: EcdsaKeyPair,
        kid: String,
    }

    impl EcKey {
        fn new(kid: &str) -> EcKey {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                pkcs8.as_ref(),
            )
            .unwrap();
            EcKey { pair, kid: kid.into() }
        }

        fn jwk(&self) -> Value {
            let point = self.pair.public_key().as_ref();
            json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
                   "x": b64(&point[1..33]), "y": b64(&point[33..65])})
        }

        fn sign(&self, header: &Value, claims: &Value) -> String {
            let input = format!(
                "{}.{}",
                b64(header.to_string().as_bytes()),
                b64(claims.to_string().as_bytes())
            );
            let sig = self.pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
            format!("{input}.{}", b64(sig.as_ref()))
        }

        fn mint(&self, claims: &Value) -> String {
            self.sign(&json!({"alg": "ES256", "kid": self.kid, "typ": "JWT"}), claims)
        }
    }

    fn claims() -> Value {
        json!({"iss": "https://login.example/t/v2.0", "sub": "sync-app", "aud": "api://app",
               "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 3590, "jti": "j-1"})
    }

    fn audiences() -> Vec<String> {
        vec!["api://app".to_owned()]
    }

    fn check(key: &EcKey, set: &KeySet, assertion: &str) -> Result<Accepted, AssertionFailure> {
        let header = header(assertion)?;
        let jwk =
            set.get(&header.kid).ok_or_else(|| AssertionFailure::UnknownKey(header.kid.clone()))?;
        let audiences = audiences();
        let expected = Expected {
            issuer: "https://login.example/t/v2.0",
            subject: "sync-app",
            audiences: &audiences,
        };
        let _ = key;
        verify(
            assertion,
            &header,
            jwk,
            &expected,
            Window { now_secs: NOW, max_lifetime_secs: 7200 },
        )
    }

    fn set_of(keys: &[&EcKey]) -> KeySet {
        let jwks = json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()});
        KeySet::parse(jwks.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_good_assertion_is_accepted_with_its_replay_key() {
        let key = EcKey::new("k1");
        let set = set_of(&[&key]);
        let accepted = check(&key, &set, &key.mint(&claims())).unwrap();
        assert_eq!(accepted.jti, "j-1");
        assert_eq!(accepted.remember_until_secs, NOW + 3590 + LEEWAY_SECS);
        assert_eq!(accepted.replay_key.len(), 64);
    }

    #[test]
    fn entra_uti_stands_for_jti_and_an_array_audience_is_searched() {
        let key = EcKey::new("k1");
        let set = set_of(&[&key]);
        let mut c = claims();
        c.as_object_mut().unwrap().remove("jti");
        c["uti"] = json!("u-9");
        c["aud"] = json!(["other", "api://app"]);
        assert_eq!(check(&key, &set, &key.mint(&c)).unwrap().jti, "u-9");
    }

    #[test]
    fn each_wrong_claim_is_named() {
        let key = EcKey::new("k1");
        let set = set_of(&[&key]);
        let with = |name: &str, value: Value| {
            let mut c = claims();
            c[name] = value;
            check(&key, &set, &key.mint(&c)).unwrap_err()
        };
        assert!(matches!(
            with("iss", json!("https://evil")),
            AssertionFailure::WrongClaim { claim: "iss", .. }
        ));
        assert!(matches!(
            with("sub", json!("someone")),
            AssertionFailure::WrongClaim { claim: "sub", .. }
        ));
        assert_eq!(
            with("aud", json!("api://other")),
            AssertionFailure::WrongAudience("api://app".into())
        );
        assert_eq!(with("exp", json!(NOW - 61)), AssertionFailure::Expired(NOW - 61));
        assert!(
            check(
                &key,
                &set,
                &key.mint(&{
                    let mut c = claims();
                    c["exp"] = json!(NOW - 30);
                    c
                })
            )
            .is_ok(),
            "within the leeway"
        );
        assert_eq!(with("nbf", json!(NOW + 600)), AssertionFailure::NotYetValid(NOW + 600));
        assert_eq!(with("iat", json!(NOW + 600)), AssertionFailure::IssuedInFuture(NOW + 600));
        let mut long = claims();
        long["exp"] = json!(NOW + 86_400);
        assert_eq!(
            check(&key, &set, &key.mint(&long)).unwrap_err(),
            AssertionFailure::TooLongLived(86_410, 7200)
        );
        let mut no_jti = claims();
        no_jti.as_object_mut().unwrap().remove("jti");
        assert_eq!(check(&key, &set, &key.mint(&no_jti)).unwrap_err(), AssertionFailure::NoJti);
        let mut no_exp = claims();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            check(&key, &set, &key.mint(&no_exp)).unwrap_err(),
            AssertionFailure::MissingClaim("exp")
        );
    }

    #[test]
    fn signatures_keys_and_algorithms_are_checked() {
        let key = EcKey::new("k1");
        let other = EcKey::new("k1");
        let set = set_of(&[&key]);
        // Signed by another key under the same kid.
        assert_eq!(
            check(&key, &set, &other.mint(&claims())).unwrap_err(),
            AssertionFailure::Signature
        );
        let stranger = EcKey::new("k2");
        assert_eq!(
            check(&key, &set, &stranger.mint(&claims())).unwrap_err(),
            AssertionFailure::UnknownKey("k2".into())
        );
        let unsigned = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","kid":"k1"}"#),
            b64(claims().to_string().as_bytes())
        );
        assert_eq!(
            check(&key, &set, &unsigned).unwrap_err(),
            AssertionFailure::Algorithm("none".into())
        );
        let hmac = key.sign(&json!({"alg": "HS256", "kid": "k1"}), &claims());
        assert_eq!(
            check(&key, &set, &hmac).unwrap_err(),
            AssertionFailure::Algorithm("HS256".into())
        );
        let rsa_claimed = key.sign(&json!({"alg": "RS256", "kid": "k1"}), &claims());
        assert_eq!(
            check(&key, &set, &rsa_claimed).unwrap_err(),
            AssertionFailure::KeyMismatch("k1".into(), "RS256")
        );
        let no_kid = key.sign(&json!({"alg": "ES256"}), &claims());
        assert_eq!(header(&no_kid).unwrap_err(), AssertionFailure::NoKeyId);
        assert_eq!(
            header("a.b").unwrap_err(),
            AssertionFailure::Malformed("three base64url parts expected")
        );
        assert_eq!(
            header(&"a".repeat(MAX_ASSERTION_BYTES + 1)).unwrap_err(),
            AssertionFailure::TooLarge
        );
    }

    #[test]
    fn key_sets_keep_only_signing_keys_with_a_kid() {
        let key = EcKey::new("k1");
        let mut no_kid = key.jwk();
        no_kid.as_object_mut().unwrap().remove("kid");
        let mut encryption = EcKey::new("enc").jwk();
        encryption["use"] = json!("enc");
        let jwks = json!({"keys": [key.jwk(), no_kid, encryption]});
        let set = KeySet::parse(jwks.to_string().as_bytes()).unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.get("k1").is_some());
        assert_eq!(KeySet::parse(br#"{"keys": []}"#).unwrap_err(), KeySetError::NoUsableKey);
        assert!(matches!(KeySet::parse(b"not json").unwrap_err(), KeySetError::Invalid(_)));
        let many = json!({"keys": vec![key.jwk(); MAX_KEYS + 1]});
        assert_eq!(KeySet::parse(many.to_string().as_bytes()).unwrap_err(), KeySetError::TooMany);
    }

    #[test]
    fn reflected_text_is_bounded() {
        let long = "é".repeat(500);
        let bounded = bounded(&long);
        assert!(bounded.len() <= 204);
        assert!(bounded.ends_with('…'));
    }
}
