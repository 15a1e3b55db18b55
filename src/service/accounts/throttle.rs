//! Sign-in lockouts: failures counted per account and per client address within a window; too
//! many lock the key for a while, on every node, since the counters are rows.

use crate::db::repo::throttle;
use crate::db::rows::ThrottleRow;
use crate::db::{DbConnection, StoreError};

use super::normalize_email;

/// Consecutive failures after which an account is locked for `LOCKOUT`.
pub const ACCOUNT_MAX_FAILURES: i64 = 5;
/// Failures from one IP address within `WINDOW` after which it is locked for `LOCKOUT`.
pub const IP_MAX_FAILURES: i64 = 20;
pub const WINDOW: i64 = 15 * 60 * 1000;
pub const LOCKOUT: i64 = 15 * 60 * 1000;

/// The account's key; `realm` keeps an operator and a tenant admin with one email apart. The
/// email is whatever the form said, so a long one is kept as its hash (`audit::bounded`): a
/// bounded row, and a key a PostgreSQL index can hold.
pub(super) fn account_key(realm: &str, email: &str) -> String {
    format!("{realm}account:{}", crate::audit::bounded(&normalize_email(email)))
}

/// Lockouts count an IPv6 client by its /64 (`cidr::throttle_key`).
pub(super) fn ip_key(ip: &str) -> String {
    format!("ip:{}", crate::cidr::throttle_key(ip))
}

/// How long `key` is still locked, if it is.
pub(super) fn locked_for(
    conn: &mut DbConnection,
    key: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let row = throttle::find(conn, key)?;
    Ok(row.and_then(|r| r.locked_until).filter(|until| *until > now).map(|until| until - now))
}

/// Counts a failure for `key`; counters past their window and lockout go first (they decide
/// nothing any more), so made-up emails leave no row behind for long.
pub(super) fn count_failure(
    conn: &mut DbConnection,
    key: &str,
    max: i64,
    now: i64,
) -> Result<(), StoreError> {
    throttle::prune(conn, now - WINDOW, now)?;
    let row = throttle::find(conn, key)?;
    let (failures, window_start) = match row {
        Some(r) if now - r.window_start < WINDOW && r.locked_until.is_none_or(|u| u > now) => {
            (r.failures + 1, r.window_start)
        }
        _ => (1, now),
    };
    let locked_until = (failures >= max).then_some(now + LOCKOUT);
    throttle::put(
        conn,
        &ThrottleRow { throttle_key: key.to_owned(), failures, window_start, locked_until },
    )?;
    Ok(())
}

pub(super) fn clear(conn: &mut DbConnection, key: &str) -> Result<(), StoreError> {
    throttle::clear(conn, key)?;
    Ok(())
}
