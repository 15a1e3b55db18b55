//! The sign-in forms' CSRF token. There is no session yet to bind a token to, so the form and a
//! cookie carry the same value (double submit), and the value is `nonce.tag` with the tag an
//! HMAC of the nonce under a key all nodes share: a value this server did not mint (one an
//! attacker made up and planted as a cookie) is refused, however well cookie and form agree.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::oauth::secret;

pub struct SignInCsrf {
    key: hmac::Key,
}

impl SignInCsrf {
    pub fn new(key: &str) -> SignInCsrf {
        SignInCsrf { key: hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()) }
    }

    fn tag(&self, nonce: &str) -> String {
        let message = format!("scimd sign-in csrf {nonce}");
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, message.as_bytes()).as_ref())
    }

    /// A fresh token.
    pub fn mint(&self) -> String {
        let nonce = secret::generate("");
        let tag = self.tag(&nonce);
        format!("{nonce}.{tag}")
    }

    /// Whether `token` is one this server minted (its tag compared in constant time).
    pub fn is_ours(&self, token: &str) -> bool {
        token.split_once('.').is_some_and(|(nonce, tag)| secret::equal(&self.tag(nonce), tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_minted_tokens_are_ours() {
        let csrf = SignInCsrf::new("key");
        let token = csrf.mint();
        assert!(csrf.is_ours(&token));
        assert!(!SignInCsrf::new("other key").is_ours(&token));
        assert!(!csrf.is_ours("attacker"));
        assert!(!csrf.is_ours(&format!("{}x", token)));
        let (nonce, _) = token.split_once('.').unwrap();
        assert!(!csrf.is_ours(&format!("{nonce}.{}", "A".repeat(43))));
    }
}
