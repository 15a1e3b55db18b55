//! What a signed-in account does to its own credentials, in either realm: change its password
//! (the current one required; every other session ends), see its sessions, sign out everywhere.

use super::Session;
use crate::audit::{self, Event, Kind};
use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::accounts;
use crate::db::repo::sessions;
use crate::db::{Database, StoreError};
use crate::oauth::{password, secret};
use crate::service::OperatorError;
use crate::service::verdict::{Decided, Verdict};

/// One live session of the account, as its security page lists it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub created: String,
    pub expires: String,
    /// The browser looking at the page.
    pub current: bool,
}

/// Why a password change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeRefusal {
    /// The current password was wrong; nothing changed.
    WrongPassword,
    /// The new password is not acceptable (too short).
    Unacceptable(String),
    /// Every password-verification slot of this node is taken; retry after this many seconds.
    Busy(u64),
}

/// The live sessions of the account `session` belongs to; `cookie` is the current one.
pub fn sessions_of<S: Session>(
    db: &Database,
    clock: &dyn Clock,
    session: &S,
    cookie: &str,
) -> Result<Vec<SessionView>, StoreError> {
    let (table, account_id) = session.account();
    let current = secret::sha256_hex(cookie);
    let rows = sessions::list_of(&mut *db.conn()?, table, account_id, clock.now())?;
    Ok(rows
        .into_iter()
        .map(|row| SessionView {
            created: to_rfc3339(row.created_at),
            expires: to_rfc3339(row.expires_at),
            current: row.id_hash == current,
        })
        .collect())
}

/// What a password change form submitted, from which session cookie and address.
pub struct PasswordChange<'a> {
    pub cookie: &'a str,
    pub current: &'a str,
    pub new: &'a str,
    pub ip: Option<&'a str>,
}

/// Changes the password of the account `session` belongs to, once the current one is verified
/// (argon2 outside the transaction, through the node's gate); every session of the account but
/// this one (`change.cookie`) ends.
pub fn change_password<S: Session>(
    db: &Database,
    clock: &dyn Clock,
    gate: &password::Gate,
    session: &S,
    change: &PasswordChange<'_>,
) -> Decided<(), ChangeRefusal> {
    let PasswordChange { cookie, current: current_password, new: new_password, ip } = *change;
    let (table, account_id) = session.account();
    let Some(account) = accounts::find(&mut *db.conn()?, table, account_id)? else {
        return Ok(Verdict::Refused(ChangeRefusal::WrongPassword));
    };
    match gate.verify(current_password, &account.password_hash) {
        Ok(true) => {}
        Ok(false) => return Ok(Verdict::Refused(ChangeRefusal::WrongPassword)),
        Err(busy) => return Ok(Verdict::Refused(ChangeRefusal::Busy(busy.retry_after_secs))),
    }
    let hash = match super::new_password(new_password) {
        Ok(hash) => hash,
        Err(OperatorError::Invalid(why)) => {
            return Ok(Verdict::Refused(ChangeRefusal::Unacceptable(why)));
        }
        Err(OperatorError::Store(e)) => return Err(e),
        Err(other) => return Ok(Verdict::Refused(ChangeRefusal::Unacceptable(other.to_string()))),
    };
    let now = clock.now();
    let keep = secret::sha256_hex(cookie);
    db.write(|conn| {
        accounts::set_password(conn, table, account_id, &hash)?;
        let ended = sessions::delete_others(conn, table, account_id, &keep)?;
        let event = Event::new(Kind::PasswordChanged, &session.actor())
            .ip(ip.map(str::to_owned))
            .detail("other_sessions_ended", ended);
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok::<_, StoreError>(())
    })?;
    Ok(Verdict::Granted(()))
}

/// Ends every session of the account `session` belongs to, this one included.
pub fn sign_out_everywhere<S: Session>(
    db: &Database,
    clock: &dyn Clock,
    session: &S,
    ip: Option<&str>,
) -> Result<(), StoreError> {
    let (table, account_id) = session.account();
    let now = clock.now();
    db.write(|conn| {
        let ended = sessions::delete_of(conn, table, account_id)?;
        let event = Event::new(Kind::SignedOutEverywhere, &session.actor())
            .ip(ip.map(str::to_owned))
            .detail("sessions_ended", ended);
        audit::record(conn, db.audit_counts(), now, event)?;
        Ok(())
    })
}
