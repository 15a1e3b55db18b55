//! The caller of `/api/v1`: an `ApiRequest` carries the `Authorization` header to
//! `service::tenancy::api_keys::admit` (credential, the key's budget, scope) and runs the use
//! case on the blocking pool once admitted.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use crate::http::AppState;
use crate::http::error::V1Error;
use crate::http::extractors::NUL_DETAIL;
use crate::http::nul;
use crate::service::tenancy::api_keys::{self, Admission, ApiPrincipal, Gate, KeyFailure, Scope};
use crate::service::tenancy::credentials::AuthFailure;

pub struct ApiRequest {
    pub req: HttpRequest,
    pub state: web::Data<AppState>,
}

impl FromRequest for ApiRequest {
    type Error = V1Error;
    type Future = Ready<Result<Self, V1Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        ready(match state {
            Some(state) => Ok(ApiRequest { req: req.clone(), state }),
            None => Err(V1Error::from(crate::db::StoreError::Invariant(
                "application state missing".into(),
            ))),
        })
    }
}

impl ApiRequest {
    /// Admits the request for `needed`, then runs `call` with the key's principal off the
    /// async runtime.
    pub async fn run<T: Send + 'static>(
        &self,
        needed: Scope,
        call: impl FnOnce(&AppState, &ApiPrincipal) -> Result<T, V1Error> + Send + 'static,
    ) -> Result<T, V1Error> {
        self.run_with_any(&[needed], call).await
    }

    /// As `run`, for a key holding any one of the scopes `needed`.
    pub async fn run_with_any<T: Send + 'static>(
        &self,
        needed: &[Scope],
        call: impl FnOnce(&AppState, &ApiPrincipal) -> Result<T, V1Error> + Send + 'static,
    ) -> Result<T, V1Error> {
        let header = match self.req.headers().get(header::AUTHORIZATION).map(|v| v.to_str()) {
            None => None,
            Some(Ok(value)) => Some(value.to_owned()),
            Some(Err(_)) => return Err(KeyFailure::Header(AuthFailure::Malformed).into()),
        };
        if nul::in_raw(self.req.path()) || nul::in_raw(self.req.query_string()) {
            return Err(V1Error::invalid(NUL_DETAIL));
        }
        let state = self.state.clone();
        let needed = needed.to_vec();
        web::block(move || {
            let gate = Gate {
                db: &state.db,
                clock: state.clock.as_ref(),
                limiter: &state.scim_limiter,
                per_minute: state.settings.rate_limits.api_per_key,
            };
            let principal = match api_keys::admit(&gate, header.as_deref(), &needed)? {
                Admission::Admitted(principal) => principal,
                Admission::Refused(failure) => return Err(V1Error::from(failure)),
                Admission::RateLimited { retry_after_secs } => {
                    return Err(V1Error::rate_limited(retry_after_secs));
                }
                Admission::InsufficientScope { needed } => {
                    return Err(V1Error::insufficient_scope(needed));
                }
            };
            call(&state, &principal)
        })
        .await?
    }
}
