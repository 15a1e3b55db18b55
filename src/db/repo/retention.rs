//! Retention's statements: each deletes rows no rule reads any more, found by an indexed
//! column, and `PruneCounts` remembers how many for `/metrics`.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use diesel::prelude::*;
use diesel::sql_types::Bool;

use crate::db::DbConnection;
use crate::db::schema::{
    audit_events, oauth_codes, operator_sessions, rate_limits, refresh_tokens,
    revoked_access_tokens, web_sessions,
};

/// A key no other advisory lock in scimd uses: one node's housekeeping at a time on PostgreSQL.
pub const HOUSEKEEPING_LOCK: i64 = 0x5c1d_0002;

/// Whether this transaction may run housekeeping: on PostgreSQL it takes the advisory lock
/// until commit unless another node holds it (then `false`: that node is doing the work);
/// SQLite writers are one at a time already (the writer gate).
pub fn try_lock(conn: &mut DbConnection) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = Bool)]
        locked: bool,
    }
    match conn {
        DbConnection::Postgres(_) => Ok(diesel::sql_query(format!(
            "SELECT pg_try_advisory_xact_lock({HOUSEKEEPING_LOCK}) AS locked"
        ))
        .get_result::<Locked>(conn)?
        .locked),
        DbConnection::Sqlite(_) => Ok(true),
    }
}

/// Authorization codes (used or not) that expired before `cutoff`.
pub fn codes(conn: &mut DbConnection, cutoff: i64) -> QueryResult<usize> {
    diesel::delete(oauth_codes::table.filter(oauth_codes::expires_at.lt(cutoff))).execute(conn)
}

/// Sign-in sessions of both realms that expired before `now`.
pub fn sessions(conn: &mut DbConnection, now: i64) -> QueryResult<(usize, usize)> {
    let web = diesel::delete(web_sessions::table.filter(web_sessions::expires_at.lt(now)))
        .execute(conn)?;
    let operators =
        diesel::delete(operator_sessions::table.filter(operator_sessions::expires_at.lt(now)))
            .execute(conn)?;
    Ok((web, operators))
}

/// Rate-limit windows that started before `cutoff`.
pub fn rate_limits(conn: &mut DbConnection, cutoff: i64) -> QueryResult<usize> {
    diesel::delete(rate_limits::table.filter(rate_limits::window_start.lt(cutoff))).execute(conn)
}

/// Refresh tokens issued before `cutoff`, retired or not.
pub fn stale_refresh_tokens(conn: &mut DbConnection, cutoff: i64) -> QueryResult<usize> {
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::created_at.lt(cutoff)))
        .execute(conn)
}

/// Revocations of access tokens that expired before `now` (they no longer verify anyway).
pub fn revoked_access_tokens(conn: &mut DbConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(revoked_access_tokens::table.filter(revoked_access_tokens::expires_at.lt(now)))
        .execute(conn)
}

/// Up to `batch` audit events recorded before `cutoff`, oldest first (a long trail goes in
/// several transactions, so no one transaction holds the writers for long).
pub fn audit_events(conn: &mut DbConnection, cutoff: i64, batch: i64) -> QueryResult<usize> {
    let oldest = audit_events::table
        .filter(audit_events::at.lt(cutoff))
        .order(audit_events::at.asc())
        .select(audit_events::id)
        .limit(batch)
        .load::<String>(conn)?;
    diesel::delete(audit_events::table.filter(audit_events::id.eq_any(oldest))).execute(conn)
}

/// Rows deleted by housekeeping through one database handle, by table, and its runs by
/// outcome, since the process started.
#[derive(Debug, Default)]
pub struct PruneCounts {
    deleted: Mutex<BTreeMap<&'static str, u64>>,
    runs: Mutex<BTreeMap<&'static str, u64>>,
}

impl PruneCounts {
    pub fn add(&self, table: &'static str, n: usize) {
        *lock(&self.deleted).entry(table).or_default() += n as u64;
    }

    pub fn ran(&self, outcome: &'static str) {
        *lock(&self.runs).entry(outcome).or_default() += 1;
    }

    pub fn deleted(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.deleted).clone()
    }

    pub fn runs(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.runs).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere while counting; the counts stand.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
