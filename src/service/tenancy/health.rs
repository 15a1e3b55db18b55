//! Fleet health: which tenants need attention now. Each tenant's connection status comes from
//! its activity line (working, failing, idle, never connected), sorted with the ones needing
//! attention first; a page of them then gets its counts (users, groups, credentials in use) and
//! its requests and errors per hour over the last day.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;

use crate::clock::{Clock, to_rfc3339};
use crate::db::repo::request_log::{self, HourCount};
use crate::db::schema::{
    oauth_grants, scim_groups, scim_users, static_tokens, tenant_activity, tenants,
};
use crate::db::{Database, DbConnection, StoreError};
use crate::service::operations::inspector::HOUR_MS;

/// A tenant whose IdP has not been heard from for this long is idle.
pub const IDLE_AFTER_MS: i64 = 7 * 86_400_000;
/// Tenants per page of the dashboard.
pub const PAGE: usize = 50;

/// How a tenant's connection stands, in the order the dashboard shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// The last request was refused for the connection itself (401, 403, 429, 5xx) after the
    /// last success, or nothing ever succeeded: a data error (400, 409) is not a broken
    /// connection.
    Failing,
    /// Set up, but no request ever arrived.
    NeverConnected,
    /// Working before, silent for a week.
    Idle,
    Working,
    /// Disabled by an operator: nothing to attend to.
    Disabled,
}

/// What the activity line says, for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    pub last_request_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    pub last_failure_status: Option<i64>,
}

/// Statuses that say the connection, not one request's data, is broken.
fn breaks_the_connection(status: Option<i64>) -> bool {
    status.is_none_or(|s| matches!(s, 401 | 403 | 429) || s >= 500)
}

/// The connection status at `now`.
pub fn status(disabled: bool, seen: Seen, now: i64) -> Connection {
    if disabled {
        return Connection::Disabled;
    }
    let Some(last) = seen.last_request_at else { return Connection::NeverConnected };
    let failed_last =
        seen.last_failure_at.is_some_and(|f| seen.last_success_at.is_none_or(|s| f > s));
    if failed_last
        && (seen.last_success_at.is_none() || breaks_the_connection(seen.last_failure_status))
    {
        return Connection::Failing;
    }
    if now - last > IDLE_AFTER_MS { Connection::Idle } else { Connection::Working }
}

/// One tenant on the dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct TenantHealth {
    pub slug: String,
    pub name: String,
    pub status: Connection,
    pub last_request_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub last_failure_status: Option<i64>,
    pub last_failure_reason: Option<String>,
    pub users: i64,
    pub groups: i64,
    /// Live static tokens (Okta's header mode) and OAuth grants ("Authenticate with").
    pub static_tokens: i64,
    pub oauth_grants: i64,
    pub requests_24h: i64,
    pub failures_24h: i64,
    /// Requests and errors in each of the last 24 hours, oldest first.
    pub hourly: Vec<(i64, i64)>,
}

/// A page of the dashboard: the tenants matching the search, attention first.
#[derive(Debug, Clone, Serialize)]
pub struct HealthPage {
    pub total: usize,
    pub offset: usize,
    pub tenants: Vec<TenantHealth>,
}

type TenantLine = (
    String,
    String,
    String,
    bool,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// Tenants whose slug or name contains `search` (all when empty), attention first, then by
/// slug; `offset`, `limit` page them.
pub fn page(
    db: &Database,
    clock: &dyn Clock,
    search: &str,
    offset: usize,
    limit: usize,
) -> Result<HealthPage, StoreError> {
    let now = clock.now();
    let needle = search.trim().to_lowercase();
    db.read(|conn| {
        let lines: Vec<TenantLine> = tenants::table
            .left_join(tenant_activity::table)
            .select((
                tenants::id,
                tenants::slug,
                tenants::name,
                tenants::disabled,
                tenant_activity::last_request_at.nullable(),
                tenant_activity::last_success_at.nullable(),
                tenant_activity::last_failure_at.nullable(),
                tenant_activity::last_failure_status.nullable(),
                tenant_activity::last_failure_reason.nullable(),
            ))
            .load(conn)?;
        let mut lines: Vec<(Connection, TenantLine)> = lines
            .into_iter()
            .filter(|l| {
                needle.is_empty() || l.1.contains(&needle) || l.2.to_lowercase().contains(&needle)
            })
            .map(|l| {
                let seen = Seen {
                    last_request_at: l.4,
                    last_success_at: l.5,
                    last_failure_at: l.6,
                    last_failure_status: l.7,
                };
                (status(l.3, seen, now), l)
            })
            .collect();
        lines.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.1.cmp(&y.1)));
        let total = lines.len();
        let shown: Vec<(Connection, TenantLine)> =
            lines.into_iter().skip(offset).take(limit).collect();
        let ids: Vec<String> = shown.iter().map(|(_, l)| l.0.clone()).collect();
        let counts = Counts::read(conn, &ids, now)?;
        let tenants = shown.into_iter().map(|(status, l)| counts.health(status, l, now)).collect();
        Ok(HealthPage { total, offset, tenants })
    })
}

/// The counts of one page of tenants, each read in one grouped query.
struct Counts {
    users: HashMap<String, i64>,
    groups: HashMap<String, i64>,
    tokens: HashMap<String, i64>,
    grants: HashMap<String, i64>,
    hourly: HashMap<String, HashMap<i64, HourCount>>,
}

macro_rules! count_by_tenant {
    ($conn:expr, $ids:expr, $query:expr, $tenant:expr) => {{
        let rows: Vec<(String, i64)> = $query
            .filter($tenant.eq_any($ids))
            .group_by($tenant)
            .select(($tenant, diesel::dsl::count_star()))
            .load($conn)?;
        rows.into_iter().collect::<HashMap<String, i64>>()
    }};
}

impl Counts {
    fn read(conn: &mut DbConnection, ids: &[String], now: i64) -> Result<Counts, StoreError> {
        let users = count_by_tenant!(conn, ids, scim_users::table, scim_users::tenant_id);
        let groups = count_by_tenant!(conn, ids, scim_groups::table, scim_groups::tenant_id);
        let tokens = count_by_tenant!(
            conn,
            ids,
            static_tokens::table.filter(static_tokens::revoked_at.is_null()),
            static_tokens::tenant_id
        );
        let grants = count_by_tenant!(
            conn,
            ids,
            oauth_grants::table.filter(oauth_grants::revoked_at.is_null()),
            oauth_grants::tenant_id
        );
        let mut hourly: HashMap<String, HashMap<i64, HourCount>> = HashMap::new();
        for (tenant, hour, count) in request_log::hourly(conn, ids, now / HOUR_MS - 23)? {
            hourly.entry(tenant).or_default().insert(hour, count);
        }
        Ok(Counts { users, groups, tokens, grants, hourly })
    }

    fn health(&self, status: Connection, l: TenantLine, now: i64) -> TenantHealth {
        let (id, slug, name, _, last_request, last_success, last_failure, failure_status, reason) =
            l;
        let get = |map: &HashMap<String, i64>| map.get(&id).copied().unwrap_or(0);
        let hours = self.hourly.get(&id);
        let current = now / HOUR_MS;
        let hourly: Vec<(i64, i64)> = (current - 23..=current)
            .map(|hour| {
                let count = hours.and_then(|h| h.get(&hour)).copied();
                count.map_or((0, 0), |c| (c.requests, c.errors))
            })
            .collect();
        TenantHealth {
            users: get(&self.users),
            groups: get(&self.groups),
            static_tokens: get(&self.tokens),
            oauth_grants: get(&self.grants),
            requests_24h: hourly.iter().map(|h| h.0).sum(),
            failures_24h: hourly.iter().map(|h| h.1).sum(),
            hourly,
            slug,
            name,
            status,
            last_request_at: last_request.map(to_rfc3339),
            last_success_at: last_success.map(to_rfc3339),
            last_failure_at: last_failure.map(to_rfc3339),
            last_failure_status: failure_status,
            last_failure_reason: reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_follows_the_activity_line() {
        let now = 100 * 86_400_000;
        let seen = |request, success, failure| Seen {
            last_request_at: request,
            last_success_at: success,
            last_failure_at: failure,
            last_failure_status: Some(401),
        };
        let data_error = |request, success, failure| Seen {
            last_failure_status: Some(409),
            ..seen(request, success, failure)
        };
        let hour = 3_600_000;
        let cases = [
            (false, seen(None, None, None), Connection::NeverConnected),
            (false, seen(Some(now - hour), Some(now - hour), None), Connection::Working),
            (
                false,
                seen(Some(now - hour), Some(now - 2 * hour), Some(now - hour)),
                Connection::Failing,
            ),
            (false, seen(Some(now - hour), None, Some(now - hour)), Connection::Failing),
            (
                false,
                seen(Some(now - hour), Some(now - hour), Some(now - 2 * hour)),
                Connection::Working,
            ),
            (
                false,
                seen(Some(now - 8 * 86_400_000), Some(now - 8 * 86_400_000), None),
                Connection::Idle,
            ),
            (true, seen(Some(now), None, Some(now)), Connection::Disabled),
            // A refused duplicate is the data's problem, not the connection's…
            (false, data_error(Some(now), Some(now - hour), Some(now)), Connection::Working),
            // …unless nothing ever succeeded.
            (false, data_error(Some(now), None, Some(now)), Connection::Failing),
        ];
        for (disabled, seen, expected) in cases {
            assert_eq!(status(disabled, seen, now), expected, "{seen:?}");
        }
        // Attention first.
        let mut order = vec![
            Connection::Working,
            Connection::Disabled,
            Connection::Idle,
            Connection::Failing,
            Connection::NeverConnected,
        ];
        order.sort();
        assert_eq!(
            order,
            [
                Connection::Failing,
                Connection::NeverConnected,
                Connection::Idle,
                Connection::Working,
                Connection::Disabled
            ]
        );
    }
}
