//! The append-only audit trail: insert and read, never update or delete.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::rows::AuditEventRow;
use crate::db::schema::audit_events;

pub fn insert(conn: &mut DbConnection, row: &AuditEventRow) -> QueryResult<()> {
    diesel::insert_into(audit_events::table).values(row).execute(conn).map(drop)
}

/// Events in time order, optionally for one tenant and since a time, at most `limit`.
pub fn list(
    conn: &mut DbConnection,
    tenant_id: Option<&str>,
    since: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AuditEventRow>> {
    let mut query = audit_events::table.select(AuditEventRow::as_select()).into_boxed();
    if let Some(tenant_id) = tenant_id {
        query = query.filter(audit_events::tenant_id.eq(tenant_id.to_owned()));
    }
    if let Some(since) = since {
        query = query.filter(audit_events::at.ge(since));
    }
    query.order((audit_events::at, audit_events::id)).limit(limit).load(conn)
}
