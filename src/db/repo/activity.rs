//! Each tenant's last SCIM activity: what the "Connect Okta" status line shows.

use diesel::prelude::*;

use crate::db::rows::TenantActivityRow;
use crate::db::schema::tenant_activity;
use crate::db::{DbConnection, is_unique_violation};

pub fn find(conn: &mut DbConnection, tenant_id: &str) -> QueryResult<Option<TenantActivityRow>> {
    tenant_activity::table
        .find(tenant_id)
        .select(TenantActivityRow::as_select())
        .get_result(conn)
        .optional()
}

/// A request was answered: `failure` is `(status, reason)` when it failed.
pub fn record(
    conn: &mut DbConnection,
    tenant_id: &str,
    now: i64,
    failure: Option<(i64, &str)>,
) -> QueryResult<()> {
    let found = find(conn, tenant_id)?;
    let exists = found.is_some();
    let mut row = found.unwrap_or_else(|| TenantActivityRow {
        tenant_id: tenant_id.to_owned(),
        ..TenantActivityRow::default()
    });
    row.last_request_at = Some(now);
    match failure {
        None => row.last_success_at = Some(now),
        Some((status, reason)) => {
            row.last_failure_at = Some(now);
            row.last_failure_status = Some(status);
            row.last_failure_reason = Some(reason.chars().take(500).collect());
        }
    }
    if exists {
        diesel::update(tenant_activity::table.find(tenant_id)).set(&row).execute(conn)?;
        return Ok(());
    }
    // Two nodes may record a tenant's first request at once; the second one updates instead.
    match conn
        .transaction(|conn| diesel::insert_into(tenant_activity::table).values(&row).execute(conn))
    {
        Ok(_) => Ok(()),
        Err(err) if is_unique_violation(&err) => {
            diesel::update(tenant_activity::table.find(tenant_id)).set(&row).execute(conn).map(drop)
        }
        Err(err) => Err(err),
    }
}
