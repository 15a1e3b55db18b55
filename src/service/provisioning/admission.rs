//! Admission of a SCIM request, in one place: which credential it carries (static token or
//! JWT), whether the tenant's request budget allows it, and whether the credential's scope covers
//! what it asks. A refusal is recorded (audit trail, activity) before it is answered.

use crate::clock::Clock;
use crate::db::{Database, StoreError};
use crate::oauth::scope;
use crate::service::oauth::access_tokens;
use crate::service::oauth::keys::TokenRuntime;
use crate::service::operations::rate_limit::{self, BatchedLimiter, Checked, Limit};
use crate::service::provisioning::credential_cache::{CacheKey, CredentialCache, Lookup};
use crate::service::tenancy::credentials::{self, AuthFailure, Principal};
use crate::service::verdict::{Decided, Verdict};

/// What admission needs from the application.
pub struct Gate<'a> {
    pub db: &'a Database,
    pub clock: &'a dyn Clock,
    pub tokens: &'a TokenRuntime,
    /// This node's verified credentials.
    pub credentials: &'a CredentialCache,
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

/// What admission decided from this node's memory alone.
#[derive(Debug)]
pub enum Remembered {
    /// Decided without the database.
    Decided(Admission),
    /// The credential is cached, but the tenant's request budget is due to be synchronised with
    /// the other nodes: finish with [`settle`] on the blocking pool.
    Settle(Principal, Checked),
}

/// Admission without any database access, when this node holds a fresh answer for the credential
/// (see `credential_cache`): `None` otherwise, and [`admit`] must run on the blocking pool. Cheap
/// enough for the async worker: one SHA-256 and one map lookup.
pub fn admit_remembered(gate: &Gate<'_>, knock: &Knock<'_>) -> Option<Remembered> {
    let token = knock.token.ok()?;
    let key = CacheKey::new(token, knock.issuer);
    let principal = gate.credentials.get(&key, gate.db.credential_epoch(), gate.clock.now())?;
    let checked = check_budget(gate, &principal);
    Some(match checked.needs_settling() {
        true => Remembered::Settle(principal, checked),
        false => Remembered::Decided(conclude(
            knock.writes,
            principal,
            checked.decision.retry_after_secs(),
        )),
    })
}

/// Finishes a [`Remembered::Settle`]: synchronises the budget, then decides.
pub fn settle(
    gate: &Gate<'_>,
    writes: bool,
    principal: Principal,
    checked: &Checked,
) -> Result<Admission, StoreError> {
    let retry_after_secs = gate.limiter.settle(gate.db, checked)?.retry_after_secs();
    Ok(conclude(writes, principal, retry_after_secs))
}

/// Decides whether a SCIM request may proceed.
pub fn admit(gate: &Gate<'_>, knock: &Knock<'_>) -> Result<Admission, StoreError> {
    let principal = match authenticate(gate, knock)? {
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
    let checked = check_budget(gate, &principal);
    settle(gate, knock.writes, principal, &checked)
}

/// The credential's principal, from the database, remembered when granted.
fn authenticate(gate: &Gate<'_>, knock: &Knock<'_>) -> Decided<Principal, AuthFailure> {
    let token = match knock.token {
        Ok(token) => token,
        Err(failure) => return Ok(Verdict::Refused(failure)),
    };
    let lookup = Lookup::begin(gate.db.credential_epoch());
    let verdict = if token.starts_with(credentials::TOKEN_PREFIX) {
        credentials::authenticate(gate.db, gate.clock, token)?
    } else {
        access_tokens::authenticate(gate.db, gate.clock, gate.tokens, token, knock.issuer)?
    };
    if let Verdict::Granted(principal) = &verdict {
        gate.credentials.put(CacheKey::new(token, knock.issuer), principal.clone(), lookup);
    }
    Ok(verdict)
}

/// Counts the request against its tenant's budget on this node.
fn check_budget(gate: &Gate<'_>, principal: &Principal) -> Checked {
    let limit = Limit::per_minute(gate.per_minute);
    gate.limiter.check(&principal.tenant_id, limit, gate.clock.now())
}

/// The answer once the credential is known and its budget decided: the rate limit, then scope.
fn conclude(writes: bool, principal: Principal, retry_after_secs: Option<u64>) -> Admission {
    if let Some(retry_after_secs) = retry_after_secs {
        return Admission::RateLimited { principal, retry_after_secs };
    }
    let (allowed, needed) = if writes {
        (principal.access.write, scope::SCIM_WRITE)
    } else {
        (principal.access.read, scope::SCIM_READ)
    };
    if !allowed {
        return Admission::InsufficientScope { principal, needed };
    }
    Admission::Admitted(principal)
}
