//! Reading the audit trail: the console's audit page and export, and `scimd audit`. Filters map
//! onto indexed columns and pages use keyset cursors, so a page costs the same at any depth.

use serde::Serialize;
use serde_json::Value;

use crate::service::OperatorError;
use crate::service::tenancy::tenants;
use std::collections::HashMap;

use crate::clock::{Clock, parse_rfc3339, to_rfc3339};
use crate::db::Database;
use crate::db::repo::audit::{self, AuditFilter, Cursor};
use crate::db::rows::AuditEventRow;

#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    pub id: String,
    pub at: String,
    pub event: String,
    pub actor: String,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub grant_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Value,
}

/// `--since` as an RFC 3339 time or a span back from now: `90s`, `30m`, `24h`, `7d`.
pub fn parse_since(text: &str, now: i64) -> Result<i64, OperatorError> {
    if let Some(at) = parse_rfc3339(text) {
        return Ok(at);
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let factor = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => 0,
    };
    match number.parse::<i64>() {
        Ok(n) if factor > 0 && n >= 0 => Ok(now - n.saturating_mul(factor)),
        _ => Err(OperatorError::Invalid(format!(
            "'{text}': give an RFC 3339 time or a span like 24h or 7d"
        ))),
    }
}

/// The filters of the audit page, the JSON-lines export and `scimd audit`, as typed.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Tenant slug.
    pub tenant: Option<String>,
    pub event: Option<String>,
    pub actor: Option<String>,
    pub grant: Option<String>,
    /// RFC 3339 or a span back from now (inclusive).
    pub since: Option<String>,
    /// RFC 3339 or a span back from now (exclusive).
    pub until: Option<String>,
}

/// One page and the cursor of the next, if there is more.
#[derive(Debug, Serialize)]
pub struct AuditPage {
    pub events: Vec<AuditView>,
    pub next: Option<String>,
}

fn resolve(
    conn: &mut crate::db::DbConnection,
    clock: &dyn Clock,
    query: &AuditQuery,
) -> Result<AuditFilter, OperatorError> {
    let now = clock.now();
    let nonempty = |v: &Option<String>| {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
    };
    let tenant = tenants::optional_by_slug(conn, nonempty(&query.tenant).as_deref())?;
    Ok(AuditFilter {
        tenant_id: tenant.map(|t| t.id),
        event: nonempty(&query.event),
        actor: nonempty(&query.actor),
        grant_id: nonempty(&query.grant),
        from: nonempty(&query.since).map(|s| parse_since(&s, now)).transpose()?,
        until: nonempty(&query.until).map(|s| parse_since(&s, now)).transpose()?,
    })
}

/// A cursor as it travels in URLs: `<at>.<id>`.
fn parse_cursor(text: &str) -> Result<(i64, String), OperatorError> {
    text.split_once('.')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_owned())))
        .filter(|(_, id)| uuid::Uuid::parse_str(id).is_ok())
        .ok_or_else(|| OperatorError::Invalid("invalid page cursor".into()))
}

/// A page of events, newest first (`backwards`) or oldest first, after `cursor`.
pub fn page(
    db: &Database,
    clock: &dyn Clock,
    query: &AuditQuery,
    cursor: Option<&str>,
    backwards: bool,
    limit: i64,
) -> Result<AuditPage, OperatorError> {
    let key = cursor.filter(|c| !c.is_empty()).map(parse_cursor).transpose()?;
    let cursor = if backwards { Cursor::Before(key) } else { Cursor::After(key) };
    let limit = limit.clamp(1, 10_000);
    let mut conn = db.conn()?;
    let filter = resolve(&mut conn, clock, query)?;
    let mut rows = audit::page(&mut conn, &filter, &cursor, limit + 1)?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = more.then(|| rows.last().map(|r| format!("{}.{}", r.at, r.id))).flatten();
    let slugs = tenants::slugs_by_id(&mut conn)?;
    Ok(AuditPage { events: rows.into_iter().map(|row| view(row, &slugs)).collect(), next })
}

/// Up to `limit` events, oldest first.
pub fn list(
    db: &Database,
    clock: &dyn Clock,
    tenant_slug: Option<&str>,
    since: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditView>, OperatorError> {
    let query = AuditQuery {
        tenant: tenant_slug.map(str::to_owned),
        since: since.map(str::to_owned),
        ..AuditQuery::default()
    };
    Ok(page(db, clock, &query, None, false, limit)?.events)
}

pub fn view(row: AuditEventRow, slugs: &HashMap<String, String>) -> AuditView {
    AuditView {
        id: row.id,
        at: to_rfc3339(row.at),
        event: row.event,
        actor: row.actor,
        tenant: row.tenant_id.map(|id| slugs.get(&id).cloned().unwrap_or(id)),
        client_id: row.client_id,
        grant_id: row.grant_id,
        ip: row.ip,
        detail: serde_json::from_str(&row.detail).unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_times_and_spans() {
        let now = 10 * 86_400_000;
        assert_eq!(parse_since("24h", now).unwrap(), now - 86_400_000);
        assert_eq!(parse_since("7d", now).unwrap(), now - 7 * 86_400_000);
        assert_eq!(parse_since("30m", now).unwrap(), now - 1_800_000);
        assert_eq!(parse_since("1970-01-02T00:00:00Z", now).unwrap(), 86_400_000);
        for bad in ["", "h", "-1h", "5w", "yesterday"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursors_are_time_dot_uuid() {
        let id = "0190b5a0-0000-7000-8000-000000000000";
        assert_eq!(parse_cursor(&format!("12.{id}")).unwrap(), (12, id.to_owned()));
        for bad in ["", "12", "x.y", "12.not-a-uuid", &format!("a.{id}")] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }
}
