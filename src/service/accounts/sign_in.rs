//! Signing in either kind of account: the address's request budget, account and address
//! lockouts, argon2id outside any transaction (against a dummy hash for unknown emails, so they
//! cost the same), failures counted and audited, and a session opened on success.

use super::sessions::{self, Minted};
use super::throttle::{self, ACCOUNT_MAX_FAILURES, IP_MAX_FAILURES};
use super::{NewSession, normalize_email};
use crate::audit::{self, Actor, Event, Kind};
use crate::clock::Clock;
use crate::db::repo::accounts::{self, AccountTable};
use crate::db::rows::AccountRow;
use crate::db::{Database, DbConnection, StoreError};
use crate::oauth::password;
use crate::service::operations::rate_limit::{self, Decision, Limit};
use crate::service::verdict::{Decided, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// Wrong email or password (never says which).
    Invalid,
    /// Too many sign-in requests from this address; retry after this many milliseconds.
    Throttled { retry_after: i64 },
    /// Too many failed attempts locked the account or the address; retry after this many
    /// milliseconds.
    Locked { retry_after: i64 },
    /// Every password-verification slot of this node is taken; retry after this many
    /// milliseconds. Neither a failure nor audited: nothing was checked.
    Busy { retry_after: i64 },
    /// The password was right, but the account's tenant is disabled: no session is opened.
    TenantDisabled,
}

/// What a realm decides, in the session's transaction, once the password is verified: open the
/// session (and record its `login.succeeded`), or refuse (and record its `login.failed`).
pub(super) enum Opened<S> {
    Session(S, Event),
    Refused(LoginFailure, Event),
}

/// What a sign-in form submitted, and the address it came from.
pub struct Attempt<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub ip: Option<&'a str>,
    /// Sign-in posts per address and window, shared by every node.
    pub ip_limit: Limit,
    /// The node's argon2 slots.
    pub gate: &'a password::Gate,
    /// The cookie of the session this browser already has in the realm, if any: a new sign-in
    /// ends it, so one browser holds one session per realm (a shared computer's next user does
    /// not leave the previous one signed in behind a new cookie).
    pub replaces: Option<&'a str>,
}

/// A sign-in post whose CSRF pair did not match (no session exists yet to bind a token to):
/// counted against the address's sign-in budget like any sign-in post, and recorded as
/// `csrf.rejected` while that budget lasts, so a flood of forged posts cannot grow the trail.
pub fn refuse_forged(
    db: &Database,
    clock: &dyn Clock,
    ip: Option<&str>,
    ip_limit: Limit,
    path: &str,
) -> Result<(), StoreError> {
    if let Some(ip) = ip {
        let bucket = format!("login-ip:{}", crate::cidr::throttle_key(ip));
        if rate_limit::hit(db, &bucket, ip_limit, clock.now())? != Decision::Allowed {
            return Ok(());
        }
    }
    super::record_csrf_rejection(db, clock, &Actor::Anonymous, ip, path)
}

/// What prefixes an account's throttle key and names the realm in sign-in events. Tenant admins
/// came first, so theirs is empty: their stored keys and events stay as they were.
fn realm(table: AccountTable) -> &'static str {
    match table {
        AccountTable::TenantAdmins => "",
        AccountTable::Operators => "operator:",
    }
}

/// Checks an attempt against the accounts of `table`; the account on success.
fn verify(
    db: &Database,
    clock: &dyn Clock,
    table: AccountTable,
    attempt: &Attempt<'_>,
) -> Decided<AccountRow, LoginFailure> {
    let Attempt { email, password: password_text, ip, ip_limit, gate, .. } = *attempt;
    let now = clock.now();
    let realm = realm(table);
    let account = throttle::account_key(realm, email);
    let refusal = |reason: &str| {
        Event::new(Kind::LoginFailed, &Actor::Anonymous)
            .ip(ip.map(str::to_owned))
            .detail("email", email)
            .detail("realm", realm.trim_end_matches(':'))
            .detail("reason", reason.to_owned())
    };
    let refuse = |reason: &str, now: i64| {
        let event = refusal(reason);
        db.write(|conn| {
            audit::record(conn, db.audit_counts(), now, event).map_err(StoreError::from)
        })
    };
    if let Some(ip) = ip {
        let decision = rate_limit::hit(
            db,
            &format!("login-ip:{}", crate::cidr::throttle_key(ip)),
            ip_limit,
            now,
        )?;
        if let Decision::Limited { retry_after_ms } = decision {
            refuse("too many sign-in requests from this address", now)?;
            return Ok(Verdict::Refused(LoginFailure::Throttled { retry_after: retry_after_ms }));
        }
    }
    let found = {
        let mut conn = db.conn()?;
        let mut locked = throttle::locked_for(&mut conn, &account, now)?;
        if let Some(ip) = ip {
            locked = locked.max(throttle::locked_for(&mut conn, &throttle::ip_key(ip), now)?);
        }
        if let Some(retry_after) = locked {
            drop(conn);
            refuse("throttled", now)?;
            return Ok(Verdict::Refused(LoginFailure::Locked { retry_after }));
        }
        accounts::find_by_email(&mut conn, table, &normalize_email(email))?
    };
    let verified = match &found {
        Some(a) if !a.disabled => gate.verify(password_text, &a.password_hash),
        _ => gate.verify_dummy(password_text).map(|()| false),
    };
    let verified = match verified {
        Ok(verified) => verified,
        Err(busy) => {
            let retry_after = i64::try_from(busy.retry_after_secs).unwrap_or(1) * 1000;
            return Ok(Verdict::Refused(LoginFailure::Busy { retry_after }));
        }
    };
    let now = clock.now();
    let Some(found) = found.filter(|_| verified) else {
        db.write(|conn| {
            throttle::count_failure(conn, &account, ACCOUNT_MAX_FAILURES, now)?;
            if let Some(ip) = ip {
                throttle::count_failure(conn, &throttle::ip_key(ip), IP_MAX_FAILURES, now)?;
            }
            audit::record(conn, db.audit_counts(), now, refusal("invalid email or password"))?;
            Ok::<_, StoreError>(())
        })?;
        return Ok(Verdict::Refused(LoginFailure::Invalid));
    };
    db.write(|conn| throttle::clear(conn, &account))?;
    Ok(Verdict::Granted(found))
}

/// Signs an account of `table` in and opens a session for it. `open` runs in the session's
/// transaction: it builds what the pages need and the `login.succeeded` event to record.
pub(super) fn sign_in<S: Send>(
    db: &Database,
    clock: &dyn Clock,
    table: AccountTable,
    session_ttl_ms: i64,
    attempt: &Attempt<'_>,
    open: impl FnOnce(&mut DbConnection, AccountRow, &Minted) -> Result<Opened<S>, StoreError> + Send,
) -> Decided<NewSession<S>, LoginFailure> {
    let account = match verify(db, clock, table, attempt)? {
        Verdict::Granted(account) => account,
        Verdict::Refused(failure) => return Ok(Verdict::Refused(failure)),
    };
    let now = clock.now();
    let minted = Minted::new();
    let account_id = account.id.clone();
    let opened = db.write(|conn| match open(conn, account, &minted)? {
        Opened::Refused(failure, event) => {
            audit::record(conn, db.audit_counts(), now, event)?;
            Ok::<_, StoreError>(Err(failure))
        }
        Opened::Session(session, event) => {
            if let Some(previous) = attempt.replaces {
                sessions::close(conn, table, previous)?;
            }
            sessions::open(conn, table, &account_id, &minted, now, session_ttl_ms)?;
            audit::record(conn, db.audit_counts(), now, event)?;
            Ok(Ok(session))
        }
    })?;
    Ok(match opened {
        Ok(session) => Verdict::Granted(NewSession { cookie: minted.cookie, session }),
        Err(failure) => Verdict::Refused(failure),
    })
}

/// Ends the session `cookie` names and records `event` (a `login.logout`).
pub(super) fn sign_out(
    db: &Database,
    clock: &dyn Clock,
    table: AccountTable,
    cookie: &str,
    event: Event,
) -> Result<(), StoreError> {
    let now = clock.now();
    db.write(|conn| {
        sessions::close(conn, table, cookie)?;
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(())
    })
}
