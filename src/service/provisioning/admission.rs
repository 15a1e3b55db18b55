//! Admission of a SCIM request, in one place: which credential it carries (static token or
//! JWT), whether the tenant's request budget allows it, and whether the credential's scope covers
//! what it asks. A refusal is recorded (audit trail, activity) before it is answered.

use crate::clock::Clock;
use crate::db::{Database, StoreError};
use crate::oauth::scope;
use crate::service::oauth::access_tokens;
use crate::service::oauth::keys::TokenRuntime;
use crate::service::operations::rate_limit::{self, BatchedLimiter, Limit};
use crate::service::tenancy::credentials::{self, AuthFailure, Principal};
use crate::service::verdict::Verdict;

/// What admission needs from the application.
pub struct Gate<'a> {
    pub db: &'a Database,
    pub clock: &'a dyn Clock,
    pub tokens: &'a TokenRuntime,
    pub limiter: &'a BatchedLimiter,
    /// SCIM requests per tenant and minute (0: no limit).
    pub per_minute: u64,
    /// Refused credentials per client address and minute (0: no limit).
    pub failures_per_ip: u64,
}

/// The request as admission sees it.
pub struct Knock<'a> {
    /// The bearer token, or why the `Authorization` header holds none.
    pub token: Result<&'a str, AuthFailure>,
    /// This server's origin, which JWTs must name as their issuer.
    pub issuer: &'a str,
    pub peer: Option<String>,
    pub path: &'a str,
    /// Writes need `scim:write`; reads (including `POST …/.search`) `scim:read`.
    pub writes: bool,
}

/// The answer to a request at the door.
#[derive(Debug)]
pub enum Admission {
    Admitted(Principal),
    /// The credential was refused; `tenant` names its tenant when it is authentically one
    /// tenant's (a revoked static token), for that tenant's status line.
    Refused {
        failure: AuthFailure,
        tenant: Option<String>,
    },
    /// The credential was refused, and so many were from this address within the window that
    /// this one is neither recorded nor answered 401.
    AddressLimited {
        retry_after_secs: u64,
    },
    /// The tenant's budget is spent for this window.
    RateLimited {
        principal: Principal,
        retry_after_secs: u64,
    },
    /// The credential is good but its scope does not cover the request.
    InsufficientScope {
        principal: Principal,
        needed: &'static str,
    },
}

/// Decides whether a SCIM request may proceed.
pub fn admit(gate: &Gate<'_>, knock: &Knock<'_>) -> Result<Admission, StoreError> {
    let verdict = match knock.token {
        Ok(token) if token.starts_with(credentials::TOKEN_PREFIX) => {
            credentials::authenticate(gate.db, gate.clock, token)?
        }
        Ok(token) => {
            access_tokens::authenticate(gate.db, gate.clock, gate.tokens, token, knock.issuer)?
        }
        Err(failure) => Verdict::Refused(failure),
    };
    let principal = match verdict {
        Verdict::Granted(principal) => principal,
        Verdict::Refused(failure) => {
            if let Some(peer) = &knock.peer {
                let bucket = format!("scim-auth-ip:{}", crate::cidr::throttle_key(peer));
                let limit = Limit::per_minute(gate.failures_per_ip);
                let decision = rate_limit::hit(gate.db, &bucket, limit, gate.clock.now())?;
                if let Some(retry_after_secs) = decision.retry_after_secs() {
                    return Ok(Admission::AddressLimited { retry_after_secs });
                }
            }
            let tenant = access_tokens::record_failure(
                gate.db,
                gate.clock,
                gate.tokens,
                failure,
                knock.token.ok(),
                knock.peer.clone(),
                knock.path,
            )?;
            return Ok(Admission::Refused { failure, tenant });
        }
    };
    let checked = gate.limiter.check(
        &principal.tenant_id,
        Limit::per_minute(gate.per_minute),
        gate.clock.now(),
    );
    if let Some(retry_after_secs) = gate.limiter.settle(gate.db, &checked)?.retry_after_secs() {
        return Ok(Admission::RateLimited { principal, retry_after_secs });
    }
    let (allowed, needed) = if knock.writes {
        (principal.access.write, scope::SCIM_WRITE)
    } else {
        (principal.access.read, scope::SCIM_READ)
    };
    if !allowed {
        return Ok(Admission::InsufficientScope { principal, needed });
    }
    Ok(Admission::Admitted(principal))
}
