//! Maintains the filter index rows of one resource.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::rows::ValueRow;
use crate::db::schema::resource_values;

pub fn replace(conn: &mut DbConnection, resource_id: &str, rows: &[ValueRow]) -> QueryResult<()> {
    delete(conn, resource_id)?;
    // One statement per row: diesel's MultiConnection has no multi-row INSERT, and inside one
    // transaction the prepared statement is reused, so this stays cheap.
    for row in rows {
        diesel::insert_into(resource_values::table).values(row).execute(conn)?;
    }
    Ok(())
}

pub fn delete(conn: &mut DbConnection, resource_id: &str) -> QueryResult<()> {
    diesel::delete(resource_values::table.filter(resource_values::resource_id.eq(resource_id)))
        .execute(conn)?;
    Ok(())
}
