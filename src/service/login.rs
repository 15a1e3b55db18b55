//! Logging a tenant admin in on the consent pages: argon2id verification (against a dummy hash
//! for unknown emails), throttling per account and per client IP, and server-side sessions kept
//! in the database so every node behind the load balancer knows them.

use crate::audit::{self, Event, Kind};
use crate::clock::Clock;
use crate::db::repo::{admins, tenants};
use crate::db::rows::{ThrottleRow, WebSessionRow};
use crate::db::{Database, DbConnection, StoreError};
use crate::oauth::{password, secret};
use crate::service::rate_limit::{self, Decision, Limit};
use crate::service::verdict::{Decided, Verdict};

use super::admins::normalize_email;

/// Consecutive failures after which an account is locked for `LOCKOUT`.
pub const ACCOUNT_MAX_FAILURES: i64 = 5;
/// Failures from one IP address within `WINDOW` after which it is locked for `LOCKOUT`.
pub const IP_MAX_FAILURES: i64 = 20;
pub const WINDOW: i64 = 15 * 60 * 1000;
pub const LOCKOUT: i64 = 15 * 60 * 1000;

/// A logged-in admin, as the consent page needs them.
#[derive(Debug, Clone)]
pub struct Session {
    pub admin_id: String,
    pub email: String,
    pub tenant_id: String,
    pub tenant_slug: String,
    pub tenant_name: String,
    pub csrf_token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// Wrong email or password (never says which).
    Invalid,
    /// Too many sign-in requests from this address; retry after this many milliseconds.
    Throttled { retry_after: i64 },
    /// Too many failed attempts locked the account or the address; retry after this many
    /// milliseconds.
    Locked { retry_after: i64 },
}

/// A new session: the cookie value (shown to the browser only) and its CSRF token.
#[derive(Debug)]
pub struct NewSession {
    pub cookie: String,
    pub session: Session,
}

fn account_key(email: &str) -> String {
    format!("account:{}", normalize_email(email))
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// How long `key` is still locked, if it is.
pub(super) fn locked_for(
    conn: &mut DbConnection,
    key: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let row = admins::find_throttle(conn, key)?;
    Ok(row.and_then(|r| r.locked_until).filter(|until| *until > now).map(|until| until - now))
}

pub(super) fn count_failure(
    conn: &mut DbConnection,
    key: &str,
    max: i64,
    now: i64,
) -> Result<(), StoreError> {
    let row = admins::find_throttle(conn, key)?;
    let (failures, window_start) = match row {
        Some(r) if now - r.window_start < WINDOW && r.locked_until.is_none_or(|u| u > now) => {
            (r.failures + 1, r.window_start)
        }
        _ => (1, now),
    };
    let locked_until = (failures >= max).then_some(now + LOCKOUT);
    admins::put_throttle(
        conn,
        &ThrottleRow { throttle_key: key.to_owned(), failures, window_start, locked_until },
    )?;
    Ok(())
}

/// What a sign-in form submitted, and the address it came from.
pub struct Attempt<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub ip: Option<&'a str>,
    /// Sign-in posts per address and window, shared by every node.
    pub ip_limit: Limit,
}

/// An account as sign-in needs it, whichever table it lives in.
pub(super) struct Account<T> {
    pub row: T,
    pub password_hash: String,
    pub disabled: bool,
}

/// The sign-in skeleton shared by tenant admins and operators: the address's request budget,
/// account and address lockouts, argon2id outside any transaction (against a dummy hash for
/// unknown emails, so they cost the same), and failures counted and audited. `realm` prefixes the
/// account's throttle key so an operator and an admin with one email are throttled apart.
pub(super) fn verify<T>(
    db: &Database,
    clock: &dyn Clock,
    realm: &str,
    attempt: &Attempt<'_>,
    find: impl FnOnce(&mut DbConnection) -> Result<Option<Account<T>>, StoreError>,
) -> Decided<T, LoginFailure> {
    let Attempt { email, password: password_text, ip, ip_limit } = *attempt;
    let now = clock.now();
    let account = format!("{realm}{}", account_key(email));
    let refusal = |reason: &str| {
        Event::new(Kind::LoginFailed, "anonymous")
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
        let decision = rate_limit::hit(db, &format!("login-ip:{ip}"), ip_limit, now)?;
        if let Decision::Limited { retry_after_ms } = decision {
            refuse("too many sign-in requests from this address", now)?;
            return Ok(Verdict::Refused(LoginFailure::Throttled { retry_after: retry_after_ms }));
        }
    }
    let found = {
        let mut conn = db.conn()?;
        let mut locked = locked_for(&mut conn, &account, now)?;
        if let Some(ip) = ip {
            locked = locked.max(locked_for(&mut conn, &ip_key(ip), now)?);
        }
        if let Some(retry_after) = locked {
            drop(conn);
            refuse("throttled", now)?;
            return Ok(Verdict::Refused(LoginFailure::Locked { retry_after }));
        }
        find(&mut conn)?
    };
    let verified = match &found {
        Some(a) if !a.disabled => password::verify(password_text, &a.password_hash),
        _ => {
            password::verify_dummy(password_text);
            false
        }
    };
    let now = clock.now();
    let Some(found) = found.filter(|_| verified) else {
        db.write(|conn| {
            count_failure(conn, &account, ACCOUNT_MAX_FAILURES, now)?;
            if let Some(ip) = ip {
                count_failure(conn, &ip_key(ip), IP_MAX_FAILURES, now)?;
            }
            audit::record(conn, db.audit_counts(), now, refusal("invalid email or password"))?;
            Ok::<_, StoreError>(())
        })?;
        return Ok(Verdict::Refused(LoginFailure::Invalid));
    };
    db.write(|conn| admins::clear_throttle(conn, &account).map_err(StoreError::from))?;
    Ok(Verdict::Granted(found.row))
}

/// Signs a tenant admin in on the consent or account pages.
pub fn login(
    db: &Database,
    clock: &dyn Clock,
    session_ttl_ms: i64,
    attempt: &Attempt<'_>,
) -> Decided<NewSession, LoginFailure> {
    let found = verify(db, clock, "", attempt, |conn| {
        Ok(admins::find_by_email(conn, &normalize_email(attempt.email))?.map(|row| Account {
            password_hash: row.password_hash.clone(),
            disabled: row.disabled,
            row,
        }))
    })?;
    let admin = match found {
        Verdict::Granted(admin) => admin,
        Verdict::Refused(failure) => return Ok(Verdict::Refused(failure)),
    };
    let now = clock.now();
    let cookie = secret::generate(secret::SESSION_PREFIX);
    let csrf_token = secret::generate("");
    let session = db.write(|conn| {
        let tenant = tenants::find(conn, &admin.tenant_id)?
            .ok_or_else(|| StoreError::Corrupt(format!("admin {} has no tenant", admin.id)))?;
        admins::delete_expired_sessions(conn, now)?;
        admins::insert_session(
            conn,
            &WebSessionRow {
                id_hash: secret::sha256_hex(&cookie),
                admin_id: admin.id.clone(),
                csrf_token: csrf_token.clone(),
                created_at: now,
                expires_at: now + session_ttl_ms,
            },
        )?;
        let event = Event::new(Kind::LoginSucceeded, format!("admin:{}", admin.id))
            .tenant(tenant.id.clone())
            .ip(attempt.ip.map(str::to_owned))
            .detail("email", admin.email.clone());
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok::<_, StoreError>(Session {
            admin_id: admin.id.clone(),
            email: admin.email.clone(),
            tenant_id: tenant.id,
            tenant_slug: tenant.slug,
            tenant_name: tenant.name,
            csrf_token,
        })
    })?;
    Ok(Verdict::Granted(NewSession { cookie, session }))
}

/// The live session a cookie names, if any (expired sessions and disabled admins have none).
pub fn session(
    db: &Database,
    clock: &dyn Clock,
    cookie: &str,
) -> Result<Option<Session>, StoreError> {
    let mut conn = db.conn()?;
    let Some((row, admin)) =
        admins::find_session(&mut conn, &secret::sha256_hex(cookie), clock.now())?
    else {
        return Ok(None);
    };
    if admin.disabled {
        return Ok(None);
    }
    let Some(tenant) = tenants::find(&mut conn, &admin.tenant_id)? else { return Ok(None) };
    if tenant.disabled {
        return Ok(None);
    }
    Ok(Some(Session {
        admin_id: admin.id,
        email: admin.email,
        tenant_id: tenant.id,
        tenant_slug: tenant.slug,
        tenant_name: tenant.name,
        csrf_token: row.csrf_token,
    }))
}

pub fn logout(
    db: &Database,
    clock: &dyn Clock,
    cookie: &str,
    ip: Option<&str>,
) -> Result<(), StoreError> {
    let Some(session) = session(db, clock, cookie)? else { return Ok(()) };
    let now = clock.now();
    db.write(|conn| {
        admins::delete_session(conn, &secret::sha256_hex(cookie))?;
        let event = Event::new(Kind::Logout, format!("admin:{}", session.admin_id))
            .tenant(session.tenant_id.clone())
            .ip(ip.map(str::to_owned));
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(())
    })
}
