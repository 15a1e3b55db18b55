//! Server-side browser sessions of either kind of account: the browser holds a random cookie,
//! the database its SHA-256 and the session's CSRF token, so every node knows every session.

use crate::db::repo::accounts::AccountTable;
use crate::db::repo::sessions;
use crate::db::rows::{AccountRow, SessionRow};
use crate::db::{DbConnection, StoreError};
use crate::oauth::secret;

/// A session's secrets, made before the transaction that stores it.
pub(super) struct Minted {
    pub cookie: String,
    pub csrf_token: String,
}

impl Minted {
    pub fn new() -> Minted {
        Minted {
            cookie: secret::generate(secret::SESSION_PREFIX),
            csrf_token: secret::generate(""),
        }
    }
}

/// Stores a session for `account_id`, sweeping the table's expired ones on the way.
pub(super) fn open(
    conn: &mut DbConnection,
    table: AccountTable,
    account_id: &str,
    minted: &Minted,
    now: i64,
    ttl_ms: i64,
) -> Result<(), StoreError> {
    sessions::delete_expired(conn, table, now)?;
    let row = SessionRow {
        id_hash: secret::sha256_hex(&minted.cookie),
        account_id: account_id.to_owned(),
        csrf_token: minted.csrf_token.clone(),
        created_at: now,
        expires_at: now + ttl_ms,
    };
    sessions::insert(conn, table, &row)?;
    Ok(())
}

/// The live session a cookie names and its account; none for disabled accounts.
pub(super) fn live(
    conn: &mut DbConnection,
    table: AccountTable,
    cookie: &str,
    now: i64,
) -> Result<Option<(SessionRow, AccountRow)>, StoreError> {
    let found = sessions::find(conn, table, &secret::sha256_hex(cookie), now)?;
    Ok(found.filter(|(_, account)| !account.disabled))
}

pub(super) fn close(
    conn: &mut DbConnection,
    table: AccountTable,
    cookie: &str,
) -> Result<(), StoreError> {
    sessions::delete(conn, table, &secret::sha256_hex(cookie))?;
    Ok(())
}

/// Signs an account out everywhere (password reset, disabling).
pub(super) fn close_all(
    conn: &mut DbConnection,
    table: AccountTable,
    account_id: &str,
) -> Result<(), StoreError> {
    sessions::delete_of(conn, table, account_id)?;
    Ok(())
}
