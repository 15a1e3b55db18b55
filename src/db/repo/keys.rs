//! JWT signing keys, shared by every node through the database.

use diesel::prelude::*;

use crate::db::rows::SigningKeyRow;
use crate::db::schema::signing_keys;
use crate::db::{DbConnection, native};

pub fn insert(conn: &mut DbConnection, row: &SigningKeyRow) -> QueryResult<()> {
    diesel::insert_into(signing_keys::table).values(row).execute(conn).map(drop)
}

/// Every key, newest first.
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<SigningKeyRow>> {
    native!(conn, |c| signing_keys::table
        .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
        .select(SigningKeyRow::as_select())
        .load(c))
}

/// The key that signs new tokens: the newest one not retired.
pub fn active(conn: &mut DbConnection) -> QueryResult<Option<SigningKeyRow>> {
    signing_keys::table
        .filter(signing_keys::retired_at.is_null())
        .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
        .select(SigningKeyRow::as_select())
        .first(conn)
        .optional()
}

/// Retires, as of `at` (which may be ahead), every key but `kid` not retired yet.
pub fn retire_all_except(conn: &mut DbConnection, kid: &str, at: i64) -> QueryResult<usize> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.ne(kid))
            .filter(signing_keys::retired_at.is_null()),
    )
    .set(signing_keys::retired_at.eq(at))
    .execute(conn)
}

/// Deletes one key (revocation).
pub fn delete(conn: &mut DbConnection, kid: &str) -> QueryResult<usize> {
    crate::db::credential_epoch::mark_revoking();
    diesel::delete(signing_keys::table.find(kid)).execute(conn)
}

/// Removes keys retired before `cutoff`: every token they signed has expired.
pub fn delete_retired_before(conn: &mut DbConnection, cutoff: i64) -> QueryResult<usize> {
    diesel::delete(signing_keys::table.filter(signing_keys::retired_at.lt(cutoff))).execute(conn)
}
