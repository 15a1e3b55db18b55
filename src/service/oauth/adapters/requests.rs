//! The authorize and token requests as oxide-auth reads them: the first from raw parameters, the
//! second from the grant already parsed at the edge.

use std::borrow::Cow;

use oxide_auth::code_grant::accesstoken::{self, Authorization as ClientAuth};
use oxide_auth::code_grant::{authorization, refresh};

use crate::service::oauth::{ClientCredentials, GrantRequest, Params};

pub struct AuthorizeRequest<'p>(pub &'p Params);

impl authorization::Request for AuthorizeRequest<'_> {
    fn valid(&self) -> bool {
        self.0.repeated().is_none()
    }
    fn client_id(&self) -> Option<Cow<'_, str>> {
        self.0.cow("client_id")
    }
    fn scope(&self) -> Option<Cow<'_, str>> {
        self.0.cow("scope")
    }
    fn redirect_uri(&self) -> Option<Cow<'_, str>> {
        self.0.cow("redirect_uri")
    }
    fn state(&self) -> Option<Cow<'_, str>> {
        self.0.cow("state")
    }
    fn response_type(&self) -> Option<Cow<'_, str>> {
        self.0.cow("response_type")
    }
    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        self.0.cow(key)
    }
}

/// Credentials are always offered as a (client, secret) pair whichever way they came, which is
/// how body credentials reach the refresh flow.
pub struct TokenRequest<'r> {
    pub grant: &'r GrantRequest,
    pub creds: &'r ClientCredentials,
}

impl TokenRequest<'_> {
    fn credentials(&self) -> (Cow<'_, str>, Cow<'_, [u8]>) {
        (Cow::Borrowed(self.creds.client_id.as_str()), Cow::Borrowed(self.creds.proof.as_bytes()))
    }
}

impl accesstoken::Request for TokenRequest<'_> {
    fn valid(&self) -> bool {
        true
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        match self.grant {
            GrantRequest::AuthorizationCode { code, .. } => Some(Cow::Borrowed(code)),
            GrantRequest::RefreshToken { .. } | GrantRequest::ClientCredentials { .. } => None,
        }
    }
    fn authorization(&self) -> ClientAuth<'_> {
        let (id, secret) = self.credentials();
        ClientAuth::UsernamePassword(id, secret)
    }
    fn client_id(&self) -> Option<Cow<'_, str>> {
        None
    }
    fn redirect_uri(&self) -> Option<Cow<'_, str>> {
        match self.grant {
            GrantRequest::AuthorizationCode { redirect_uri, .. } => {
                Some(Cow::Borrowed(redirect_uri))
            }
            GrantRequest::RefreshToken { .. } | GrantRequest::ClientCredentials { .. } => None,
        }
    }
    fn grant_type(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.grant.grant_type()))
    }
    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        match self.grant {
            GrantRequest::AuthorizationCode { code_verifier: Some(v), .. }
                if key == "code_verifier" =>
            {
                Some(Cow::Borrowed(v))
            }
            _ => None,
        }
    }
}

impl refresh::Request for TokenRequest<'_> {
    fn valid(&self) -> bool {
        true
    }
    fn refresh_token(&self) -> Option<Cow<'_, str>> {
        match self.grant {
            GrantRequest::RefreshToken { refresh_token, .. } => Some(Cow::Borrowed(refresh_token)),
            GrantRequest::AuthorizationCode { .. } | GrantRequest::ClientCredentials { .. } => None,
        }
    }
    fn scope(&self) -> Option<Cow<'_, str>> {
        match self.grant {
            GrantRequest::RefreshToken { scope, .. } => scope.as_deref().map(Cow::Borrowed),
            GrantRequest::AuthorizationCode { .. } | GrantRequest::ClientCredentials { .. } => None,
        }
    }
    fn grant_type(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.grant.grant_type()))
    }
    fn authorization(&self) -> Option<(Cow<'_, str>, Cow<'_, [u8]>)> {
        Some(self.credentials())
    }
    fn extension(&self, _: &str) -> Option<Cow<'_, str>> {
        None
    }
}
