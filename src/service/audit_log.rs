//! Reading the audit trail for operators (`scimd audit`).

use serde::Serialize;
use serde_json::Value;

use super::AdminError;
use super::tenants;
use crate::clock::{Clock, parse_rfc3339, to_rfc3339};
use crate::db::Database;
use crate::db::repo::audit;

#[derive(Debug, Serialize)]
pub struct AuditView {
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
pub fn parse_since(text: &str, now: i64) -> Result<i64, AdminError> {
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
        _ => Err(AdminError::Invalid(format!(
            "--since '{text}': give an RFC 3339 time or a span like 24h or 7d"
        ))),
    }
}

pub fn list(
    db: &Database,
    clock: &dyn Clock,
    tenant_slug: Option<&str>,
    since: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditView>, AdminError> {
    let since = since.map(|s| parse_since(s, clock.now())).transpose()?;
    let mut conn = db.conn()?;
    let tenant = tenants::optional_by_slug(&mut conn, tenant_slug)?;
    let slugs = tenants::slugs_by_id(&mut conn)?;
    let rows = audit::list(
        &mut conn,
        tenant.as_ref().map(|t| t.id.as_str()),
        since,
        limit.clamp(1, 100_000),
    )?;
    Ok(rows
        .into_iter()
        .map(|row| AuditView {
            at: to_rfc3339(row.at),
            event: row.event,
            actor: row.actor,
            tenant: row.tenant_id.map(|id| slugs.get(&id).cloned().unwrap_or(id)),
            client_id: row.client_id,
            grant_id: row.grant_id,
            ip: row.ip,
            detail: serde_json::from_str(&row.detail).unwrap_or(Value::Null),
        })
        .collect())
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
}
