//! The authorization endpoint's hooks: the consent recorder behind oxide-auth's `Authorizer`,
//! and the PKCE `Extension` that checks the challenge.

use oxide_auth::code_grant::authorization;
use oxide_auth::primitives::authorizer::Authorizer;
use oxide_auth::primitives::grant::{Extensions, Grant, Value};

use crate::db::StoreError;
use crate::oauth::pkce::{self, PkceError};
use crate::service::accounts::tenant_admins::TenantAdminSession;
use crate::service::oauth::OAuthEnv;
use crate::service::oauth::authorize::record_consent;

/// Records the consent as a grant and issues its code. oxide-auth only learns that it failed;
/// the storage error waits in `failure` for the caller.
pub struct ConsentRecorder<'e> {
    pub env: &'e OAuthEnv<'e>,
    pub session: Option<&'e TenantAdminSession>,
    pub failure: Option<StoreError>,
}

impl Authorizer for ConsentRecorder<'_> {
    fn authorize(&mut self, grant: Grant) -> Result<String, ()> {
        let Some(session) = self.session else {
            self.failure = Some(StoreError::Invariant("consent without a session".into()));
            return Err(());
        };
        record_consent(self.env, session, &grant).map_err(|e| {
            self.failure = Some(e);
        })
    }
    fn extract(&mut self, _: &str) -> Result<Option<Grant>, ()> {
        Err(())
    }
}

/// PKCE at /authorize: S256 only, required when the client says so. The refusal's reason waits
/// in `error` for the redirect's `error_description`.
pub struct PkceChallenge {
    pub require: bool,
    pub error: Option<PkceError>,
}

impl authorization::Extension for PkceChallenge {
    fn extend(&mut self, request: &dyn authorization::Request) -> Result<Extensions, ()> {
        let method = request.extension("code_challenge_method");
        let challenge = request.extension("code_challenge");
        match pkce::challenge(self.require, method.as_deref(), challenge.as_deref()) {
            Ok(stored) => {
                let mut extensions = Extensions::new();
                if let Some(stored) = stored {
                    extensions.set_raw("pkce".into(), Value::private(Some(stored)));
                }
                Ok(extensions)
            }
            Err(refusal) => {
                self.error = Some(refusal);
                Err(())
            }
        }
    }
}
