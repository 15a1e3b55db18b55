//! Standard Webhooks signing (https://www.standardwebhooks.com): secrets are `whsec_` + base64
//! of 32 random bytes; a signature is `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`
//! keyed with the decoded secret. Pure, so the spec's vector pins it.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret: `whsec_` + base64 of 32 random bytes.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a webhook secret is whsec_ followed by base64")]
pub struct BadSecret;

/// The HMAC key of a stored secret.
fn key(secret: &str) -> Result<hmac::Key, BadSecret> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).ok_or(BadSecret)?;
    let bytes = STANDARD.decode(encoded).map_err(|_| BadSecret)?;
    if bytes.is_empty() {
        return Err(BadSecret);
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
}

/// `v1,<base64 signature>` of one message under one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, BadSecret> {
    let key = key(secret)?;
    let message = format!("{id}.{timestamp}.{body}");
    let tag = hmac::sign(&key, message.as_bytes());
    Ok(format!("v1,{}", STANDARD.encode(tag.as_ref())))
}

/// The `webhook-signature` header: one signature per secret (the current one first, and the
/// previous one during a rotation's grace period), space-separated.
pub fn signature_header(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, BadSecret> {
    let signatures: Result<Vec<String>, BadSecret> =
        secrets.iter().map(|secret| sign(secret, id, timestamp, body)).collect();
    Ok(signatures?.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector of the Standard Webhooks reference libraries' tests.
    #[test]
    fn the_specs_vector_signs_as_published() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let signature =
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#);
        assert_eq!(signature.unwrap(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn generated_secrets_decode_to_32_bytes() {
        let secret = generate_secret();
        let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(STANDARD.decode(encoded).unwrap().len(), 32);
        assert_ne!(secret, generate_secret());
    }

    #[test]
    fn two_secrets_give_two_signatures() {
        let (a, b) = (generate_secret(), generate_secret());
        let header = signature_header(&[&a, &b], "evt_1", 1, "{}").unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&a, "evt_1", 1, "{}").unwrap());
        assert_eq!(parts[1], sign(&b, "evt_1", 1, "{}").unwrap());
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for bad in ["", "whsec_", "secret", "whsec_!!!", "WHSEC_AAAA"] {
            assert_eq!(sign(bad, "id", 1, "{}"), Err(BadSecret), "{bad}");
        }
    }
}
