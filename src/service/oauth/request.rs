//! Request parameters as the endpoints receive them, and the token request parsed into one typed
//! grant at the edge, so the flow never compares `grant_type` strings.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::oauth::{pkce, scope};

/// Request parameters (query string or form body). RFC 6749 §3.1/§3.2: a parameter sent twice
/// makes the request invalid.
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: HashMap<String, String>,
    repeated: Option<String>,
}

impl Params {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        let mut params = Params::default();
        for (key, value) in pairs {
            match params.map.entry(key) {
                Entry::Occupied(seen) => {
                    params.repeated.get_or_insert_with(|| seen.key().clone());
                }
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
            }
        }
        params
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn repeated(&self) -> Option<&str> {
        self.repeated.as_deref()
    }

    pub(super) fn cow(&self, key: &str) -> Option<Cow<'_, str>> {
        self.get(key).map(Cow::Borrowed)
    }
}

/// A token request by grant type (RFC 6749 §4.1.3, §6), its required parameters present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: String,
        code_verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        /// Only our scopes, canonical: others (Okta may repeat `offline_access`) are ignored
        /// rather than failing the refresh with `invalid_scope`.
        scope: Option<String>,
    },
    /// RFC 6749 §4.4: a tenant's own client asks for a token for itself. `scope` as sent.
    ClientCredentials {
        scope: Option<String>,
    },
}

impl GrantRequest {
    /// Refuses repeated parameters, then a missing or unsupported `grant_type`, then a missing
    /// required parameter, with the errors oxide-auth gives for the same faults.
    pub fn parse(params: &Params) -> Result<GrantRequest, OAuthError> {
        if let Some(key) = params.repeated() {
            return Err(OAuthError::invalid_request(format!(
                "the parameter '{key}' appears more than once"
            )));
        }
        let required = |key: &str| params.get(key).map(str::to_owned).ok_or_else(missing);
        match params.get("grant_type") {
            None => Err(OAuthError::invalid_request("grant_type is required")),
            Some("authorization_code") => {
                let code_verifier = params.get("code_verifier").map(str::to_owned);
                if code_verifier.as_deref().is_some_and(|v| !pkce::valid_verifier(v)) {
                    return Err(OAuthError::invalid_request(
                        pkce::PkceError::VerifierFormat.to_string(),
                    ));
                }
                Ok(GrantRequest::AuthorizationCode {
                    redirect_uri: required("redirect_uri")?,
                    code: required("code")?,
                    code_verifier,
                })
            }
            Some("refresh_token") => Ok(GrantRequest::RefreshToken {
                refresh_token: required("refresh_token")?,
                scope: params.get("scope").map(scope::canonical).filter(|s| !s.is_empty()),
            }),
            Some("client_credentials") => Ok(GrantRequest::ClientCredentials {
                scope: params.get("scope").map(str::to_owned),
            }),
            Some(_) => Err(generic(OAuthErrorCode::UnsupportedGrantType)),
        }
    }

    /// The wire name, for oxide-auth's own check of the flow it runs.
    pub fn grant_type(&self) -> &'static str {
        match self {
            GrantRequest::AuthorizationCode { .. } => "authorization_code",
            GrantRequest::RefreshToken { .. } => "refresh_token",
            GrantRequest::ClientCredentials { .. } => "client_credentials",
        }
    }
}

fn missing() -> OAuthError {
    generic(OAuthErrorCode::InvalidRequest)
}

/// An error with the description we give when oxide-auth names only the code.
pub(super) fn generic(code: OAuthErrorCode) -> OAuthError {
    OAuthError::new(code, generic_description(code))
}

fn generic_description(code: OAuthErrorCode) -> &'static str {
    match code {
        OAuthErrorCode::InvalidRequest => {
            "the request is missing a required parameter or repeats one"
        }
        OAuthErrorCode::InvalidGrant => {
            "the grant is invalid, or was issued for another client or redirect_uri"
        }
        OAuthErrorCode::InvalidScope => "the requested scope exceeds the scope originally granted",
        OAuthErrorCode::UnsupportedGrantType => {
            "grant_type must be authorization_code, refresh_token or client_credentials"
        }
        OAuthErrorCode::InvalidClient => "client authentication failed",
        _ => "the request was refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[test]
    fn grants_parse_into_their_variant() {
        let code = params(&[
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("redirect_uri", "https://x/cb"),
            ("code_verifier", "v".repeat(43).as_str()),
        ]);
        assert_eq!(
            GrantRequest::parse(&code),
            Ok(GrantRequest::AuthorizationCode {
                code: "c".into(),
                redirect_uri: "https://x/cb".into(),
                code_verifier: Some("v".repeat(43)),
            })
        );
        let refresh = params(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "r"),
            ("scope", "offline_access scim:read"),
        ]);
        let parsed = GrantRequest::parse(&refresh);
        assert_eq!(
            parsed,
            Ok(GrantRequest::RefreshToken {
                refresh_token: "r".into(),
                scope: Some(scope::canonical("offline_access scim:read")),
            })
        );
        let foreign_only = params(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "r"),
            ("scope", "offline_access"),
        ]);
        assert_eq!(
            GrantRequest::parse(&foreign_only),
            Ok(GrantRequest::RefreshToken { refresh_token: "r".into(), scope: None })
        );
    }

    /// A form, and the error code and description it gets.
    type Refusal = (Vec<(&'static str, &'static str)>, OAuthErrorCode, &'static str);

    #[test]
    fn refusals_keep_their_codes_and_descriptions() {
        let missing = "the request is missing a required parameter or repeats one";
        let cases: Vec<Refusal> = vec![
            (vec![("code", "x")], OAuthErrorCode::InvalidRequest, "grant_type is required"),
            (
                vec![("grant_type", "password"), ("username", "a")],
                OAuthErrorCode::UnsupportedGrantType,
                "grant_type must be authorization_code, refresh_token or client_credentials",
            ),
            (
                vec![("grant_type", "refresh_token"), ("grant_type", "refresh_token")],
                OAuthErrorCode::InvalidRequest,
                "the parameter 'grant_type' appears more than once",
            ),
            (
                vec![("grant_type", "password"), ("code", "a"), ("code", "b")],
                OAuthErrorCode::InvalidRequest,
                "the parameter 'code' appears more than once",
            ),
            (vec![("grant_type", "refresh_token")], OAuthErrorCode::InvalidRequest, missing),
            (
                vec![("grant_type", "authorization_code"), ("code", "x")],
                OAuthErrorCode::InvalidRequest,
                missing,
            ),
            (
                vec![("grant_type", "authorization_code"), ("redirect_uri", "https://x/cb")],
                OAuthErrorCode::InvalidRequest,
                missing,
            ),
            (vec![("grant_type", "")], OAuthErrorCode::InvalidRequest, "grant_type is required"),
        ];
        for (pairs, code, description) in cases {
            let error = GrantRequest::parse(&params(&pairs)).err();
            assert_eq!(error, Some(OAuthError::new(code, description)), "{pairs:?}");
        }
    }
}
