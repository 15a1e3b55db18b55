//! oxide-auth's primitives on our storage: the Registrar (one known client), the endpoints that
//! bundle our adapters for each flow, and (in the submodules) requests, consent and token store.

mod consent;
mod requests;
mod token_store;

use std::borrow::Cow;

use oxide_auth::code_grant::{accesstoken, authorization, refresh};
use oxide_auth::primitives::authorizer::Authorizer;
use oxide_auth::primitives::issuer::Issuer;
use oxide_auth::primitives::registrar::{
    BoundClient, ClientUrl, ExactUrl, PreGrant, RegisteredUrl, Registrar, RegistrarError,
};
use oxide_auth::primitives::scope::Scope;

pub use consent::{ConsentRecorder, PkceChallenge};
pub use requests::{AuthorizeRequest, TokenRequest};
pub use token_store::{Failure, TokenStore};

use crate::db::rows::ClientRow;
use crate::oauth::{scope, secret};
use crate::service::oauth::clients;

/// One client, loaded before the state machine runs (and, at the token endpoint, already
/// authenticated outside the transaction).
pub struct KnownClient {
    pub row: Option<ClientRow>,
    pub authenticated: Option<(String, String)>,
}

impl Registrar for KnownClient {
    fn bound_redirect<'a>(&self, bound: ClientUrl<'a>) -> Result<BoundClient<'a>, RegistrarError> {
        let row = self
            .row
            .as_ref()
            .filter(|r| r.id == bound.client_id)
            .ok_or(RegistrarError::Unspecified)?;
        let registered = clients::redirect_uris(row);
        let chosen = match &bound.redirect_uri {
            Some(uri) => registered.iter().find(|r| r.as_str() == uri.as_str()),
            None if registered.len() == 1 => registered.first(),
            None => None,
        }
        .ok_or(RegistrarError::Unspecified)?;
        let exact = ExactUrl::new(chosen.clone()).map_err(|_| RegistrarError::Unspecified)?;
        Ok(BoundClient {
            client_id: bound.client_id,
            redirect_uri: Cow::Owned(RegisteredUrl::Exact(exact)),
        })
    }

    fn negotiate(
        &self,
        bound: BoundClient,
        requested: Option<Scope>,
    ) -> Result<PreGrant, RegistrarError> {
        let requested = requested.map(|s| s.to_string());
        // Unspecified: oxide-auth redirects with `invalid_scope`.
        let granted =
            scope::negotiate(requested.as_deref()).map_err(|_| RegistrarError::Unspecified)?;
        Ok(PreGrant {
            client_id: bound.client_id.into_owned(),
            redirect_uri: bound.redirect_uri.into_owned(),
            scope: granted.parse().map_err(|_| RegistrarError::PrimitiveError)?,
        })
    }

    fn check(&self, client_id: &str, passphrase: Option<&[u8]>) -> Result<(), RegistrarError> {
        match (&self.authenticated, passphrase) {
            (Some((id, secret_text)), Some(pass))
                if id == client_id
                    && secret::equal(secret_text, &String::from_utf8_lossy(pass)) =>
            {
                Ok(())
            }
            _ => Err(RegistrarError::Unspecified),
        }
    }
}

pub struct AuthorizeEndpoint<'e> {
    pub registrar: KnownClient,
    pub authorizer: ConsentRecorder<'e>,
    pub pkce: PkceChallenge,
}

impl authorization::Endpoint for AuthorizeEndpoint<'_> {
    fn registrar(&self) -> &dyn Registrar {
        &self.registrar
    }
    fn authorizer(&mut self) -> &mut dyn Authorizer {
        &mut self.authorizer
    }
    fn extension(&mut self) -> &mut dyn authorization::Extension {
        &mut self.pkce
    }
}

pub struct TokenEndpoint<'c, 'e> {
    pub registrar: KnownClient,
    pub store: TokenStore<'c, 'e>,
}

impl accesstoken::Endpoint for TokenEndpoint<'_, '_> {
    fn registrar(&self) -> &dyn Registrar {
        &self.registrar
    }
    fn authorizer(&mut self) -> &mut dyn Authorizer {
        &mut self.store
    }
    fn issuer(&mut self) -> &mut dyn Issuer {
        &mut self.store
    }
    fn extension(&mut self) -> &mut dyn accesstoken::Extension {
        &mut self.store
    }
}

impl refresh::Endpoint for TokenEndpoint<'_, '_> {
    fn registrar(&self) -> &dyn Registrar {
        &self.registrar
    }
    fn issuer(&mut self) -> &mut dyn Issuer {
        &mut self.store
    }
}
