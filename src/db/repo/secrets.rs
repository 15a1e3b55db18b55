//! Secrets every node shares (`server_secrets`), by name.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::server_secrets;

pub fn find(conn: &mut DbConnection, name: &str) -> QueryResult<Option<String>> {
    server_secrets::table
        .filter(server_secrets::name.eq(name))
        .select(server_secrets::value)
        .get_result(conn)
        .optional()
}

pub fn insert(conn: &mut DbConnection, name: &str, value: &str, now: i64) -> QueryResult<usize> {
    diesel::insert_into(server_secrets::table)
        .values((
            server_secrets::name.eq(name),
            server_secrets::value.eq(value),
            server_secrets::created_at.eq(now),
        ))
        .execute(conn)
}
