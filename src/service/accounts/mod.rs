//! Accounts: the customer's tenant admins (who consent and revoke at /account) and the vendor's
//! operators (who run the console at /admin). Both kinds share credentials, sign-in with
//! throttling and database sessions; only their tables, their tenant and their pages differ.

pub mod operators;
pub mod security;
mod sessions;
pub mod sign_in;
pub mod tenant_admins;
pub mod throttle;

use crate::audit::{self, Actor, Event, Kind};
use crate::clock::Clock;
use crate::db::repo::accounts::{self, AccountTable};
use crate::db::repo::secrets;
use crate::db::rows::AccountRow;
use crate::db::{Database, DbConnection, StoreError};
use crate::oauth::password;
use crate::service::OperatorError;

pub const MIN_PASSWORD_LEN: usize = 12;

/// A signed-in browser of one kind of account, as its pages need it.
pub trait Session: Clone + Send + Sync + Sized + 'static {
    /// The live session a cookie names (none for expired sessions and disabled accounts).
    fn lookup(db: &Database, clock: &dyn Clock, cookie: &str) -> Result<Option<Self>, StoreError>;
    /// The synchronizer token every form post of this session must carry.
    fn csrf_token(&self) -> &str;
    /// Who the session belongs to, as the audit trail names them.
    fn actor(&self) -> crate::audit::Actor;
    /// The account's table and id.
    fn account(&self) -> (AccountTable, &str);
    /// Ends this session (the one `cookie` names), audited as a `login.logout` from `ip`.
    fn sign_out(
        &self,
        db: &Database,
        clock: &dyn Clock,
        cookie: &str,
        ip: Option<&str>,
    ) -> Result<(), StoreError>;
}

/// Implements `Session` for a type with a `csrf_token` field, by its module's `session` and
/// `sign_out` functions.
macro_rules! signed_in {
    ($session:ty, $table:expr, $id:ident) => {
        impl $crate::service::accounts::Session for $session {
            fn lookup(
                db: &$crate::db::Database,
                clock: &dyn $crate::clock::Clock,
                cookie: &str,
            ) -> Result<Option<Self>, $crate::db::StoreError> {
                session(db, clock, cookie)
            }
            fn csrf_token(&self) -> &str {
                &self.csrf_token
            }
            fn actor(&self) -> $crate::audit::Actor {
                <$session>::actor(self)
            }
            fn account(&self) -> ($crate::db::repo::accounts::AccountTable, &str) {
                ($table, &self.$id)
            }
            fn sign_out(
                &self,
                db: &$crate::db::Database,
                clock: &dyn $crate::clock::Clock,
                cookie: &str,
                ip: Option<&str>,
            ) -> Result<(), $crate::db::StoreError> {
                sign_out(db, clock, self, cookie, ip)
            }
        }
    };
}
use signed_in;

/// Records a form post refused for its CSRF token (`csrf.rejected`): a forged cross-site request,
/// or a page left open past its session. `path` is the form's (one of our routes).
pub fn record_csrf_rejection(
    db: &Database,
    clock: &dyn Clock,
    actor: &Actor,
    ip: Option<&str>,
    path: &str,
) -> Result<(), StoreError> {
    let path: String = path.chars().take(200).collect();
    let event =
        Event::new(Kind::CsrfRejected, actor).ip(ip.map(str::to_owned)).detail("path", path);
    let now = clock.now();
    db.write(|conn| audit::record(conn, db.audit_counts(), now, event).map_err(StoreError::from))
}

/// The key of the pre-session sign-in CSRF tokens, shared by every node: made by the first node
/// that starts, read by the others (a second node racing the first reads the winner's).
pub fn sign_in_csrf_key(db: &Database, clock: &dyn Clock) -> Result<String, StoreError> {
    const NAME: &str = "sign_in_csrf";
    let now = clock.now();
    let fresh = crate::oauth::secret::generate("");
    let made = db.write(|conn| {
        if let Some(key) = secrets::find(conn, NAME)? {
            return Ok::<_, StoreError>(key);
        }
        secrets::insert(conn, NAME, &fresh, now)?;
        Ok(fresh.clone())
    });
    match made {
        Err(StoreError::Query(e)) if crate::db::is_unique_violation(&e) => {
            let key = secrets::find(&mut *db.conn()?, NAME)?;
            key.ok_or_else(|| StoreError::Invariant("the sign-in CSRF key vanished".into()))
        }
        other => other,
    }
}

/// A new session: the cookie value (for the browser only) and the session it opens.
#[derive(Debug)]
pub struct NewSession<S> {
    pub cookie: String,
    pub session: S,
}

/// Adds an account to `table` (with its tenant, for a tenant admin), unless its email is taken.
fn add(
    conn: &mut DbConnection,
    table: AccountTable,
    tenant_id: Option<String>,
    email: &str,
    password_hash: String,
    now: i64,
) -> Result<AccountRow, OperatorError> {
    let email_ci = normalize_email(email);
    if accounts::find_by_email(conn, table, &email_ci)?.is_some() {
        let kind = match table {
            AccountTable::TenantAdmins => "admin",
            AccountTable::Operators => "operator",
        };
        return Err(OperatorError::Conflict(format!("{kind} '{email}'")));
    }
    let row = AccountRow {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id,
        email: email.to_owned(),
        email_ci,
        password_hash,
        disabled: false,
        created_at: now,
    };
    accounts::insert(conn, table, &row)?;
    Ok(row)
}

/// 24 random characters from an alphabet without look-alikes (about 139 bits).
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..24).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

/// The case-insensitive form emails are unique and looked up by.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The argon2id hash of a new password, once it is long enough.
fn new_password(password_text: &str) -> Result<String, OperatorError> {
    if password_text.chars().count() < MIN_PASSWORD_LEN {
        return Err(OperatorError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    hash_password(password_text)
}

/// A new account's trimmed email and its password's argon2id hash, once both are acceptable.
/// Called before any transaction: argon2 is slow on purpose and must not hold the write lock.
fn new_credentials<'e>(
    email: &'e str,
    password_text: &str,
) -> Result<(&'e str, String), OperatorError> {
    let email = email.trim();
    validate_email(email)?;
    Ok((email, new_password(password_text)?))
}

fn hash_password(password_text: &str) -> Result<String, OperatorError> {
    password::hash(password_text).map_err(|e| OperatorError::Invalid(e.to_string()))
}

fn validate_email(email: &str) -> Result<(), OperatorError> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(OperatorError::Invalid(format!("'{email}' is not an email address")))
    }
}
