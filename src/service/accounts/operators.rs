//! Operators: the vendor's people who run scimd's console at /admin. They sign in like tenant
//! admins but live in a table of their own, so no tenant admin session can reach an operator page.

use serde::Serialize;

use super::sessions::{self, Minted};
use super::sign_in::{self, Attempt, LoginFailure, Opened};
use super::{NewSession, add, new_credentials};
use crate::audit::{self, Actor, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::accounts::{self, AccountTable};
use crate::db::rows::AccountRow;
use crate::db::{Database, DbConnection, StoreError};
use crate::service::OperatorError;
use crate::service::verdict::Decided;

const TABLE: AccountTable = AccountTable::Operators;

#[derive(Debug, Serialize)]
pub struct OperatorView {
    pub id: String,
    pub email: String,
    pub disabled: bool,
    pub created: String,
}

impl From<AccountRow> for OperatorView {
    fn from(row: AccountRow) -> Self {
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

super::signed_in!(OperatorSession, AccountTable::Operators, operator_id);

impl OperatorSession {
    /// How the audit trail names them.
    pub fn actor(&self) -> Actor {
        Actor::Operator(self.operator_id.clone())
    }

    fn new(operator: AccountRow, csrf_token: String) -> OperatorSession {
        OperatorSession { operator_id: operator.id, email: operator.email, csrf_token }
    }
}

/// Creates an operator (from the CLI: whoever holds the database decides who runs the console).
pub fn create(
    db: &Database,
    clock: &dyn Clock,
    email: &str,
    password_text: &str,
) -> Result<OperatorView, OperatorError> {
    let (email, password_hash) = new_credentials(email, password_text)?;
    let now = clock.now();
    db.write(|conn| {
        let row = add(conn, TABLE, None, email, password_hash, now)?;
        let event = Event::new(Kind::OperatorCreated, &Actor::Cli)
            .detail("operator_id", row.id.clone())
            .detail("email", email);
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(OperatorView::from(row))
    })
}

/// An operator named by id or email.
fn find(conn: &mut DbConnection, operator: &str) -> Result<AccountRow, OperatorError> {
    let by_id = accounts::find(conn, TABLE, operator)?;
    let found = match by_id {
        Some(row) => Some(row),
        None => accounts::find_by_email(conn, TABLE, &super::normalize_email(operator))?,
    };
    found.ok_or_else(|| OperatorError::NotFound(format!("operator '{operator}'")))
}

/// Disables (signing them out everywhere) or re-enables an operator, named by id or email.
/// An operator cannot disable themselves: the console would have nobody left to undo it.
pub fn set_disabled(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    operator: &str,
    disabled: bool,
) -> Result<OperatorView, OperatorError> {
    let now = clock.now();
    db.write(|conn| {
        let mut row = find(conn, operator)?;
        if disabled && *actor == Actor::Operator(row.id.clone()) {
            return Err(OperatorError::Invalid("you cannot disable yourself".into()));
        }
        if row.disabled != disabled {
            accounts::set_disabled(conn, TABLE, &row.id, disabled)?;
            if disabled {
                sessions::close_all(conn, TABLE, &row.id)?;
            }
            let kind = if disabled { Kind::OperatorDisabled } else { Kind::OperatorEnabled };
            let event = Event::new(kind, actor)
                .detail("operator_id", row.id.clone())
                .detail("email", row.email.clone());
            audit::record(conn, db.audit_counts(), now, event)?;
            row.disabled = disabled;
        }
        Ok(OperatorView::from(row))
    })
}

/// A new random password for an operator, shown once.
#[derive(Debug, Serialize)]
pub struct IssuedPassword {
    pub operator: OperatorView,
    pub password: String,
}

/// Sets a new random password for an operator (by id or email) and signs them out everywhere.
pub fn reset_password(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    operator: &str,
) -> Result<IssuedPassword, OperatorError> {
    let password_text = super::generate_password();
    let password_hash = super::hash_password(&password_text)?;
    let now = clock.now();
    let row = db.write(|conn| {
        let row = find(conn, operator)?;
        accounts::set_password(conn, TABLE, &row.id, &password_hash)?;
        sessions::close_all(conn, TABLE, &row.id)?;
        let event = Event::new(Kind::OperatorPasswordReset, actor)
            .detail("operator_id", row.id.clone())
            .detail("email", row.email.clone());
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok::<_, OperatorError>(row)
    })?;
    Ok(IssuedPassword { operator: OperatorView::from(row), password: password_text })
}

pub fn list(db: &Database) -> Result<Vec<OperatorView>, OperatorError> {
    Ok(accounts::list(&mut *db.conn()?, TABLE)?.into_iter().map(OperatorView::from).collect())
}

/// Signs an operator in on the console.
pub fn login(
    db: &Database,
    clock: &dyn Clock,
    session_ttl_ms: i64,
    attempt: &Attempt<'_>,
) -> Decided<NewSession<OperatorSession>, LoginFailure> {
    let open = |_: &mut DbConnection, operator: AccountRow, minted: &Minted| {
        let event = Event::new(Kind::LoginSucceeded, &Actor::Operator(operator.id.clone()))
            .ip(attempt.ip.map(str::to_owned))
            .detail("email", operator.email.clone())
            .detail("realm", "operator");
        Ok(Opened::Session(OperatorSession::new(operator, minted.csrf_token.clone()), event))
    };
    sign_in::sign_in(db, clock, TABLE, session_ttl_ms, attempt, open)
}

/// The live session a cookie names (none for expired sessions or disabled operators).
pub fn session(
    db: &Database,
    clock: &dyn Clock,
    cookie: &str,
) -> Result<Option<OperatorSession>, StoreError> {
    let found = sessions::live(&mut *db.conn()?, TABLE, cookie, clock.now())?;
    Ok(found.map(|(row, operator)| OperatorSession::new(operator, row.csrf_token)))
}

/// Ends `session`, the one `cookie` names.
pub fn sign_out(
    db: &Database,
    clock: &dyn Clock,
    session: &OperatorSession,
    cookie: &str,
    ip: Option<&str>,
) -> Result<(), StoreError> {
    let event = Event::new(Kind::Logout, &session.actor()).ip(ip.map(str::to_owned));
    sign_in::sign_out(db, clock, TABLE, cookie, event)
}
