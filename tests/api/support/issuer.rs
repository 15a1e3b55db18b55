//! A fake Microsoft Entra issuer for workload identity federation: signing keys made with
//! aws-lc-rs (RS256, PS256, ES256, independent of the server's verifier), a JWKS served on
//! loopback over plain HTTP that the test can rotate or take down, and assertions minted with
//! whatever claims a test wants.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub const ISSUER: &str =
    "https://login.microsoftonline.com/ce5f061f-abe6-4e40-9615-301f87bcb7f0/v2.0";
pub const SUBJECT: &str = "sync-fabric-workload-identity";
pub const AUDIENCE: &str = "api://b5ba7a93-4452-4522-aeb4-a2b5da870c16";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Ps256,
    Es256,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

pub struct SigningKey {
    pub kid: String,
    pair: Pair,
}

impl SigningKey {
    pub fn rsa(kid: &str) -> SigningKey {
        SigningKey {
            kid: kid.into(),
            pair: Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap()),
        }
    }

    pub fn ec(kid: &str) -> SigningKey {
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap();
        SigningKey { kid: kid.into(), pair: Pair::Ec(pair) }
    }

    pub fn jwk(&self) -> Value {
        match &self.pair {
            Pair::Rsa(pair) => {
                let public = pair.public_key();
                json!({"kty": "RSA", "kid": self.kid, "use": "sig",
                       "n": b64(public.modulus().big_endian_without_leading_zero()),
                       "e": b64(public.exponent().big_endian_without_leading_zero())})
            }
            Pair::Ec(pair) => {
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
                       "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
        }
    }

    /// A JWT over `header` and `claims`, signed as `alg` says.
    pub fn sign(&self, alg: Alg, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let signature = match (&self.pair, alg) {
            (Pair::Rsa(pair), Alg::Rs256 | Alg::Ps256) => {
                let encoding: &'static dyn signature::RsaEncoding = if alg == Alg::Rs256 {
                    &signature::RSA_PKCS1_SHA256
                } else {
                    &signature::RSA_PSS_SHA256
                };
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(encoding, &rng, input.as_bytes(), &mut out).unwrap();
                out
            }
            (Pair::Ec(pair), Alg::Es256) => {
                pair.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec()
            }
            _ => panic!("{alg:?} does not fit this key"),
        };
        format!("{input}.{}", b64(&signature))
    }

    pub fn mint(&self, alg: Alg, claims: &Value) -> String {
        let name = match alg {
            Alg::Rs256 => "RS256",
            Alg::Ps256 => "PS256",
            Alg::Es256 => "ES256",
        };
        self.sign(alg, &json!({"alg": name, "kid": self.kid, "typ": "JWT"}), claims)
    }
}

/// Claims like Entra's (its tokens carry `uti`, not `jti`), valid for an hour from `now_secs`.
pub fn entra_claims(now_secs: i64) -> Value {
    json!({
        "aud": AUDIENCE, "iss": ISSUER, "sub": SUBJECT,
        "iat": now_secs, "nbf": now_secs, "exp": now_secs + 3900,
        "appid": "b5ba7a93-4452-4522-aeb4-a2b5da870c16",
        "tid": "ce5f061f-abe6-4e40-9615-301f87bcb7f0", "ver": "2.0",
        "uti": uuid::Uuid::new_v4().to_string(),
    })
}

/// The issuer's JWKS endpoint on loopback.
pub struct JwksServer {
    pub url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    down: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    pub fn start(keys: &[&SigningKey]) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://127.0.0.1:{}/discovery/v2.0/keys",
            listener.local_addr().unwrap().port()
        );
        let served = Arc::new(Mutex::new(keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()));
        let down = Arc::new(AtomicBool::new(false));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (keys_t, down_t, fetches_t) = (served.clone(), down.clone(), fetches.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                // Read the head; a GET has no body.
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                fetches_t.fetch_add(1, Ordering::SeqCst);
                let mut stream = stream;
                let (status, body) = if down_t.load(Ordering::SeqCst) {
                    ("503 Service Unavailable", String::from("down"))
                } else {
                    ("200 OK", json!({"keys": *keys_t.lock().unwrap()}).to_string())
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        JwksServer { url, keys: served, down, fetches }
    }

    /// The issuer now publishes these keys (a rotation).
    pub fn publish(&self, keys: &[&SigningKey]) {
        *self.keys.lock().unwrap() = keys.iter().map(|k| k.jwk()).collect();
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}
