//! Signing keys sealed at rest: AES-256-GCM under a secret supplied outside the database (a file
//! or the environment), so a copy of the database (a backup, a replica, SQL injection) does not
//! hand out the power to mint tokens. The row's `kid` is the associated data: a sealed key cannot
//! be moved to another row. A second, previous secret opens (never seals) during a rotation of the
//! secret; rows stored before sealing was configured stay readable as they are.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

const PREFIX: &str = "sealed:v1:";

/// Why a secret or a sealed key is unusable; never says anything about the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error(
        "the signing-key secret must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)"
    )]
    BadSecret,
    #[error(
        "the signing key {kid} is sealed with a secret this server does not have (id {secret_id})"
    )]
    UnknownSecret { kid: String, secret_id: String },
    #[error("the sealed signing key {0} is damaged or was sealed for another key")]
    Damaged(String),
    #[error("the system random generator failed")]
    Random,
}

struct Secret {
    id: String,
    key: LessSafeKey,
}

impl Secret {
    fn parse(text: &str) -> Result<Secret, SealError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| SealError::BadSecret)?;
        if bytes.len() != 32 {
            return Err(SealError::BadSecret);
        }
        let id = Sha256::digest(&bytes).iter().take(4).map(|b| format!("{b:02x}")).collect();
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| SealError::BadSecret)?;
        Ok(Secret { id, key: LessSafeKey::new(key) })
    }
}

/// The node's sealing secrets: the current one (seals new keys) and a previous one (opens only).
#[derive(Default)]
pub struct Sealer {
    current: Option<Secret>,
    previous: Option<Secret>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = |s: &Option<Secret>| s.as_ref().map(|s| s.id.clone());
        f.debug_struct("Sealer")
            .field("current", &id(&self.current))
            .field("previous", &id(&self.previous))
            .finish()
    }
}

impl Sealer {
    /// Base64 secrets as configured; without `current`, new keys are stored as they are.
    pub fn new(current: Option<&str>, previous: Option<&str>) -> Result<Sealer, SealError> {
        Ok(Sealer {
            current: current.map(Secret::parse).transpose()?,
            previous: previous.map(Secret::parse).transpose()?,
        })
    }

    /// What to store for the private key of `kid`.
    pub fn seal(&self, kid: &str, private_key: &str) -> Result<String, SealError> {
        let Some(secret) = &self.current else { return Ok(private_key.to_owned()) };
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut data = private_key.as_bytes().to_vec();
        secret
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}:{}", secret.id, URL_SAFE_NO_PAD.encode(out)))
    }

    /// The private key of `kid` from what is stored (sealed or not).
    pub fn open(&self, kid: &str, stored: &str) -> Result<String, SealError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_owned()) };
        let damaged = || SealError::Damaged(kid.to_owned());
        let (secret_id, body) = rest.split_once(':').ok_or_else(damaged)?;
        let secret = [&self.current, &self.previous]
            .into_iter()
            .flatten()
            .find(|s| s.id == secret_id)
            .ok_or_else(|| SealError::UnknownSecret {
                kid: kid.to_owned(),
                secret_id: secret_id.to_owned(),
            })?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| damaged())?;
        if bytes.len() < NONCE_LEN {
            return Err(damaged());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| damaged())?;
        let mut data = sealed.to_vec();
        let plain = secret
            .key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut data)
            .map_err(|_| damaged())?;
        String::from_utf8(plain.to_vec()).map_err(|_| damaged())
    }

    /// Whether `stored` is sealed (with any secret).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const B: &str = "HxwdHhscHRobGBkWFxQVEhMQEQ4PDA0KCwgJBgcEBQI=";

    #[test]
    fn sealed_keys_open_with_their_secret_and_for_their_kid_only() {
        let a = Sealer::new(Some(A), None).unwrap();
        let stored = a.seal("kid1", "private pkcs8").unwrap();
        assert!(Sealer::is_sealed(&stored) && !stored.contains("private"), "{stored}");
        assert_ne!(stored, a.seal("kid1", "private pkcs8").unwrap(), "a fresh nonce each time");
        assert_eq!(a.open("kid1", &stored).unwrap(), "private pkcs8");
        assert_eq!(a.open("kid2", &stored), Err(SealError::Damaged("kid2".into())));
        let b = Sealer::new(Some(B), None).unwrap();
        assert!(matches!(b.open("kid1", &stored), Err(SealError::UnknownSecret { .. })));
        // Rotating the secret: B seals, A still opens.
        let rotating = Sealer::new(Some(B), Some(A)).unwrap();
        assert_eq!(rotating.open("kid1", &stored).unwrap(), "private pkcs8");
        assert!(rotating.seal("kid3", "x").unwrap().contains(&b.current.as_ref().unwrap().id));
        let mut tampered = stored.clone();
        tampered.pop();
        tampered.push(if stored.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(a.open("kid1", &tampered), Err(SealError::Damaged("kid1".into())));
    }

    #[test]
    fn without_a_secret_keys_stay_as_they_are_and_bad_secrets_are_refused() {
        let none = Sealer::default();
        assert_eq!(none.seal("k", "plain").unwrap(), "plain");
        assert_eq!(none.open("k", "plain").unwrap(), "plain");
        assert_eq!(Sealer::new(Some(A), None).unwrap().open("k", "plain").unwrap(), "plain");
        for bad in ["", "not base64!", "AAECAwQ="] {
            assert_eq!(Sealer::new(Some(bad), None).err(), Some(SealError::BadSecret), "{bad}");
        }
        assert!(!format!("{:?}", Sealer::new(Some(A), None).unwrap()).contains(A));
    }
}
