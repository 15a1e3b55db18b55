//! Operator accounts: the people who run scimd's console at /admin. They share the sign-in
//! machinery of tenant admins (argon2id, lockouts, database sessions, CSRF tokens) but live in a
//! table of their own, so no tenant admin session can ever reach an operator page.

use serde::Serialize;

use super::OperatorError;
use super::admins::{new_credentials, normalize_email};
use super::login::{self, Account, Attempt, LoginFailure};
use crate::audit::{self, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::operators;
use crate::db::rows::{OperatorRow, OperatorSessionRow};
use crate::db::{Database, StoreError};
use crate::oauth::secret;
use crate::service::verdict::{Decided, Verdict};

#[derive(Debug, Serialize)]
pub struct OperatorView {
    pub id: String,
    pub email: String,
    pub disabled: bool,
    pub created: String,
}

impl From<OperatorRow> for OperatorView {
    fn from(row: OperatorRow) -> Self {
        OperatorView {
            id: row.id,
            email: row.email,
            disabled: row.disabled,
            created: to_rfc3339(row.created_at),
        }
    }
}

/// A signed-in operator.
#[derive(Debug, Clone)]
pub struct OperatorSession {
    pub operator_id: String,
    pub email: String,
    pub csrf_token: String,
}

impl OperatorSession {
    /// How the audit trail names them.
    pub fn actor(&self) -> String {
        format!("operator:{}", self.operator_id)
    }
}

pub fn create(
    db: &Database,
    clock: &dyn Clock,
    email: &str,
    password_text: &str,
) -> Result<OperatorView, OperatorError> {
    let (email, password_hash) = new_credentials(email, password_text)?;
    let now = clock.now();
    db.write(|conn| {
        if operators::find_by_email(conn, &normalize_email(email))?.is_some() {
            return Err(OperatorError::Conflict(format!("operator '{email}'")));
        }
        let row = OperatorRow {
            id: uuid::Uuid::now_v7().to_string(),
            email: email.to_owned(),
            email_ci: normalize_email(email),
            password_hash,
            disabled: false,
            created_at: now,
        };
        operators::insert(conn, &row)?;
        let event = Event::new(Kind::OperatorCreated, "operator")
            .detail("operator_id", row.id.clone())
            .detail("email", email);
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(OperatorView::from(row))
    })
}

pub fn list(db: &Database) -> Result<Vec<OperatorView>, OperatorError> {
    Ok(operators::list(&mut *db.conn()?)?.into_iter().map(OperatorView::from).collect())
}

/// A new session: the cookie value (for the browser only) and the session it opens.
#[derive(Debug)]
pub struct NewOperatorSession {
    pub cookie: String,
    pub session: OperatorSession,
}

pub fn login(
    db: &Database,
    clock: &dyn Clock,
    session_ttl_ms: i64,
    attempt: &Attempt<'_>,
) -> Decided<NewOperatorSession, LoginFailure> {
    let found =
        login::verify(db, clock, "operator:", attempt, |conn| {
            Ok(operators::find_by_email(conn, &normalize_email(attempt.email))?.map(|row| {
                Account { password_hash: row.password_hash.clone(), disabled: row.disabled, row }
            }))
        })?;
    let operator = match found {
        Verdict::Granted(operator) => operator,
        Verdict::Refused(failure) => return Ok(Verdict::Refused(failure)),
    };
    let now = clock.now();
    let cookie = secret::generate(secret::SESSION_PREFIX);
    let csrf_token = secret::generate("");
    db.write(|conn| {
        operators::delete_expired_sessions(conn, now)?;
        operators::insert_session(
            conn,
            &OperatorSessionRow {
                id_hash: secret::sha256_hex(&cookie),
                operator_id: operator.id.clone(),
                csrf_token: csrf_token.clone(),
                created_at: now,
                expires_at: now + session_ttl_ms,
            },
        )?;
        let event = Event::new(Kind::LoginSucceeded, format!("operator:{}", operator.id))
            .ip(attempt.ip.map(str::to_owned))
            .detail("email", operator.email.clone())
            .detail("realm", "operator");
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok::<_, StoreError>(())
    })?;
    let session = OperatorSession { operator_id: operator.id, email: operator.email, csrf_token };
    Ok(Verdict::Granted(NewOperatorSession { cookie, session }))
}

/// The live session a cookie names (none for expired sessions or disabled operators).
pub fn session(
    db: &Database,
    clock: &dyn Clock,
    cookie: &str,
) -> Result<Option<OperatorSession>, StoreError> {
    let found =
        operators::find_session(&mut *db.conn()?, &secret::sha256_hex(cookie), clock.now())?;
    Ok(found.filter(|(_, op)| !op.disabled).map(|(row, op)| OperatorSession {
        operator_id: op.id,
        email: op.email,
        csrf_token: row.csrf_token,
    }))
}

pub fn logout(
    db: &Database,
    clock: &dyn Clock,
    session: &OperatorSession,
    cookie: &str,
    ip: Option<&str>,
) -> Result<(), StoreError> {
    let now = clock.now();
    db.write(|conn| {
        operators::delete_session(conn, &secret::sha256_hex(cookie))?;
        let event = Event::new(Kind::Logout, session.actor()).ip(ip.map(str::to_owned));
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(())
    })
}
