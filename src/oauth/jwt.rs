//! JWT access tokens per RFC 9068: header `typ: at+jwt` and `kid`; claims `iss`, `sub`, `aud`,
//! `exp`, `iat`, `jti`, `client_id`, `scope`, plus our `tenant` and `grant` (whose revocation must
//! end the token at once). Signature checks are split from claim checks so a verified token can be
//! cached and its claims still re-checked against the clock on every request.

use aws_lc_rs::signature::Ed25519KeyPair;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const TYP: &str = "at+jwt";
/// Clock skew tolerated between nodes, in seconds.
pub const LEEWAY_SECS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    pub tenant: String,
    pub grant: String,
}

/// Why a token was rejected; each is a distinct 401 description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtFailure {
    Malformed,
    WrongType,
    UnsupportedAlgorithm,
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
}

impl JwtFailure {
    pub fn description(self) -> &'static str {
        match self {
            JwtFailure::Malformed => "the access token is malformed",
            JwtFailure::WrongType => "the token is not an access token (typ must be at+jwt)",
            JwtFailure::UnsupportedAlgorithm => {
                "the access token's signing algorithm is not accepted"
            }
            JwtFailure::UnknownKey => "the access token was signed with an unknown key",
            JwtFailure::BadSignature => "the access token's signature is invalid",
            JwtFailure::Expired => "the access token has expired; refresh it",
            JwtFailure::NotYetValid => "the access token was issued in the future",
            JwtFailure::WrongIssuer => {
                "the access token was issued by another authorization server"
            }
            JwtFailure::WrongAudience => "the access token is for another audience",
        }
    }
}

/// Signing failed: the claims could not be written as JSON.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SignError(#[from] serde_json::Error);

/// One signing key, ready to sign: its parsed key pair and the token header naming it. Parsing a
/// PKCS#8 Ed25519 key derives its public half, a scalar multiplication as costly as the signature
/// itself, so a node makes a signer once per key and keeps it (`service::oauth::keys::Signers`)
/// instead of parsing the key for every token as `jsonwebtoken::encode` would. Tokens are
/// verified with jsonwebtoken (`verify_signature`).
pub struct Signer {
    kid: String,
    pair: Ed25519KeyPair,
    /// `{"typ":"at+jwt","alg":"EdDSA","kid":…}`, base64url: the same for every token of the key.
    header: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Signer {
    pub fn new(kid: &str, pair: Ed25519KeyPair) -> Signer {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TYP.to_owned());
        header.kid = Some(kid.to_owned());
        // A header of strings only always serialises.
        let json = serde_json::to_vec(&header).unwrap_or_default();
        Signer { kid: kid.to_owned(), pair, header: URL_SAFE_NO_PAD.encode(json) }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The compact JWS (RFC 7515 §7.1) of `claims`: header, claims and signature, base64url.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, SignError> {
        let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        let mut token = String::with_capacity(self.header.len() + claims.len() + 90);
        token.push_str(&self.header);
        token.push('.');
        token.push_str(&claims);
        let signature = self.pair.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
        Ok(token)
    }
}

/// The key id a token names, after checking its header's type and algorithm.
pub fn key_id(token: &str) -> Result<String, JwtFailure> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtFailure::Malformed)?;
    let typ_ok = header.typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case(TYP) || t.eq_ignore_ascii_case("application/at+jwt")
    });
    if !typ_ok {
        return Err(JwtFailure::WrongType);
    }
    if header.alg != Algorithm::EdDSA {
        return Err(JwtFailure::UnsupportedAlgorithm);
    }
    header.kid.ok_or(JwtFailure::Malformed)
}

/// Checks the signature with `key` (found by [`key_id`]) and returns the claims, unchecked.
pub fn verify_signature(token: &str, key: &DecodingKey) -> Result<AccessClaims, JwtFailure> {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    match jsonwebtoken::decode::<AccessClaims>(token, key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(e) => Err(match e.kind() {
            ErrorKind::InvalidSignature => JwtFailure::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                JwtFailure::UnsupportedAlgorithm
            }
            _ => JwtFailure::Malformed,
        }),
    }
}

/// Time, issuer and audience, checked on every use (also for cached tokens).
pub fn check_claims(
    claims: &AccessClaims,
    issuer: &str,
    audience: &str,
    now_secs: i64,
) -> Result<(), JwtFailure> {
    if claims.exp.saturating_add(LEEWAY_SECS) <= now_secs {
        return Err(JwtFailure::Expired);
    }
    if claims.iat > now_secs.saturating_add(LEEWAY_SECS) {
        return Err(JwtFailure::NotYetValid);
    }
    if claims.iss != issuer {
        return Err(JwtFailure::WrongIssuer);
    }
    if claims.aud != audience {
        return Err(JwtFailure::WrongAudience);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::keys;

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "https://id.example".into(),
            sub: "admin-1".into(),
            aud: "https://id.example/scim/v2".into(),
            exp: 10_000,
            iat: 6_400,
            jti: "j1".into(),
            client_id: "c1".into(),
            scope: "scim:read".into(),
            tenant: "t1".into(),
            grant: "g1".into(),
        }
    }

    fn keypair() -> (String, Signer, DecodingKey) {
        let k = keys::generate().unwrap();
        (
            k.kid.clone(),
            keys::signer(&k.kid, &k.private_pkcs8).unwrap(),
            keys::decoding_key(&k.public_x).unwrap(),
        )
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let (kid, enc, dec) = keypair();
        let token = enc.sign(&claims()).unwrap();
        assert_eq!(key_id(&token).unwrap(), kid);
        assert_eq!(verify_signature(&token, &dec).unwrap(), claims());
        let (_, _, other) = keypair();
        assert_eq!(verify_signature(&token, &other), Err(JwtFailure::BadSignature));
    }

    /// Ed25519 signatures are deterministic: a signer's token is the very token jsonwebtoken
    /// makes from the same header, claims and key.
    #[test]
    fn a_signer_signs_as_jsonwebtoken_does() {
        let k = keys::generate().unwrap();
        let der = base64::engine::general_purpose::STANDARD.decode(&k.private_pkcs8).unwrap();
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TYP.to_owned());
        header.kid = Some(k.kid.clone());
        let theirs =
            jsonwebtoken::encode(&header, &claims(), &jsonwebtoken::EncodingKey::from_ed_der(&der))
                .unwrap();
        let ours = keys::signer(&k.kid, &k.private_pkcs8).unwrap().sign(&claims()).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn tampered_and_forged_tokens_are_refused() {
        let (kid, enc, dec) = keypair();
        let token = enc.sign(&claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        // alg "none", unsigned.
        let none =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{kid}"}}"#));
        assert!(matches!(
            key_id(&format!("{none}.{}.", parts[1])),
            Err(JwtFailure::Malformed | JwtFailure::UnsupportedAlgorithm)
        ));
        // HS256 with the public key as the secret (algorithm confusion).
        let hs =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}"}}"#));
        assert_eq!(
            key_id(&format!("{hs}.{}.{}", parts[1], parts[2])),
            Err(JwtFailure::UnsupportedAlgorithm)
        );
        // Wrong typ (an ID token, say).
        let jwt = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#));
        assert_eq!(key_id(&format!("{jwt}.{}.{}", parts[1], parts[2])), Err(JwtFailure::WrongType));
        // Changed claims, original signature.
        let mut changed = claims();
        changed.scope = "scim:read scim:write".into();
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&changed).unwrap());
        assert_eq!(
            verify_signature(&format!("{}.{body}.{}", parts[0], parts[2]), &dec),
            Err(JwtFailure::BadSignature)
        );
        assert_eq!(key_id("not.a.jwt"), Err(JwtFailure::Malformed));
        assert_eq!(key_id(""), Err(JwtFailure::Malformed));
    }

    #[test]
    fn claim_checks() {
        let c = claims();
        let (iss, aud) = ("https://id.example", "https://id.example/scim/v2");
        assert_eq!(check_claims(&c, iss, aud, 9_000), Ok(()));
        assert_eq!(check_claims(&c, iss, aud, 10_000 + LEEWAY_SECS - 1), Ok(()), "leeway");
        assert_eq!(check_claims(&c, iss, aud, 10_000 + LEEWAY_SECS), Err(JwtFailure::Expired));
        assert_eq!(check_claims(&c, iss, aud, 6_000), Err(JwtFailure::NotYetValid));
        assert_eq!(check_claims(&c, "https://other", aud, 9_000), Err(JwtFailure::WrongIssuer));
        assert_eq!(
            check_claims(&c, iss, "https://other/scim/v2", 9_000),
            Err(JwtFailure::WrongAudience)
        );
    }
}
