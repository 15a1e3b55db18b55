//! The request inspector's rows (`request_log`): written in batches, read a page at a time per
//! tenant (newest first), pruned by age and by count per tenant.

use diesel::prelude::*;

use crate::db::schema::request_log;
use crate::db::{DbConnection, MultiBackend};

/// One recorded request, as written and as read.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = request_log)]
// NULL rather than DEFAULT for `None`: SQLite has no DEFAULT in a VALUES list, so diesel would
// otherwise split every batch into one INSERT per row.
#[diesel(treat_none_as_default_value = false)]
pub struct RequestRow {
    #[diesel(skip_insertion)]
    pub seq: i64,
    pub tenant_id: String,
    pub at: i64,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    pub latency_ms: i64,
    pub credential: Option<String>,
    pub client: String,
    pub user_agent: String,
    pub request_id: String,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
}

#[cfg(test)]
impl RequestRow {
    /// An empty row, for tests to fill in.
    pub fn default_for_tests() -> RequestRow {
        RequestRow {
            seq: 0,
            tenant_id: "t".into(),
            at: 0,
            method: "GET".into(),
            path: "/".into(),
            status: 200,
            scim_type: None,
            detail: None,
            latency_ms: 0,
            credential: None,
            client: "other".into(),
            user_agent: String::new(),
            request_id: String::new(),
            request_body: None,
            response_body: None,
        }
    }
}

/// What a page of one tenant's log is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFilter {
    /// 2, 4 or 5: statuses 200–299, 400–499, 500–599.
    pub status_class: Option<i64>,
    pub method: Option<String>,
    /// `Users`, `Groups`, … : the first path segment after `/scim/v2/`.
    pub resource: Option<String>,
    pub client: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// Writes a batch (a flush holds up to half a second of requests): multi-row INSERTs of
/// [`INSERT_CHUNK`] rows, then of [`INSERT_SMALL`], the rest one by one.
pub fn insert(conn: &mut DbConnection, rows: &[RequestRow]) -> QueryResult<()> {
    super::insert_rows!(conn, request_log::table, rows, INSERT_CHUNK, INSERT_SMALL);
    Ok(())
}

/// Rows per INSERT under load (a busy node flushes thousands): 14 values each, 896 binds, well
/// within both backends' limits.
const INSERT_CHUNK: usize = 64;
/// Rows per INSERT for a quiet node's flush of a few dozen.
const INSERT_SMALL: usize = 8;

/// One tenant's requests older than `before_seq` (newest first) that pass `filter`.
pub fn page(
    conn: &mut DbConnection,
    tenant_id: &str,
    filter: &RequestFilter,
    before_seq: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<RequestRow>> {
    let mut query = request_log::table
        .filter(request_log::tenant_id.eq(tenant_id.to_owned()))
        .into_boxed::<MultiBackend>();
    if let Some(before) = before_seq {
        query = query.filter(request_log::seq.lt(before));
    }
    if let Some(class) = filter.status_class {
        query = query.filter(request_log::status.between(class * 100, class * 100 + 99));
    }
    if let Some(method) = &filter.method {
        query = query.filter(request_log::method.eq(method.clone()));
    }
    if let Some(resource) = &filter.resource {
        let prefix = format!("/scim/v2/{resource}");
        query = query.filter(
            request_log::path
                .eq(prefix.clone())
                .or(request_log::path.like(format!("{prefix}/%")))
                .or(request_log::path.like(format!("{prefix}?%"))),
        );
    }
    if let Some(client) = &filter.client {
        query = query.filter(request_log::client.eq(client.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(request_log::at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(request_log::at.lt(until));
    }
    query.order(request_log::seq.desc()).limit(limit).select(RequestRow::as_select()).load(conn)
}

/// One request of a tenant.
pub fn find(conn: &mut DbConnection, tenant_id: &str, seq: i64) -> QueryResult<Option<RequestRow>> {
    request_log::table
        .filter(request_log::tenant_id.eq(tenant_id))
        .filter(request_log::seq.eq(seq))
        .select(RequestRow::as_select())
        .get_result(conn)
        .optional()
}

/// Deletes rows recorded before `cutoff`; answers how many. Rows are appended about in time
/// order, so the old ones are the oldest `seq`s: the walk from the first row stops at the first
/// one young enough to keep, and everything before it goes. No index on `at` is needed (each
/// recorded request would pay for one); a row that a node with a slow clock wrote after younger
/// ones waits for the next pass.
pub fn prune_older(conn: &mut DbConnection, cutoff: i64) -> QueryResult<usize> {
    let first_kept: Option<i64> = request_log::table
        .filter(request_log::at.ge(cutoff))
        .order(request_log::seq)
        .select(request_log::seq)
        .first(conn)
        .optional()?;
    match first_kept {
        Some(seq) => {
            diesel::delete(request_log::table.filter(request_log::seq.lt(seq))).execute(conn)
        }
        None => diesel::delete(request_log::table).execute(conn),
    }
}

/// Keeps at most `keep` rows per tenant (the newest); answers how many went.
pub fn prune_over(
    conn: &mut DbConnection,
    keep: i64,
    tenants: Option<&[String]>,
) -> QueryResult<usize> {
    let crowded: Vec<String> = match tenants {
        // Only these can have grown: each costs one walk of its newest `keep` index entries.
        Some(tenants) => tenants.to_vec(),
        None => request_log::table
            .group_by(request_log::tenant_id)
            .having(diesel::dsl::count_star().gt(keep))
            .select(request_log::tenant_id)
            .load(conn)?,
    };
    let mut deleted = 0;
    for tenant_id in crowded {
        let oldest_kept: Option<i64> = request_log::table
            .filter(request_log::tenant_id.eq(&tenant_id))
            .order(request_log::seq.desc())
            .offset(keep - 1)
            .select(request_log::seq)
            .first(conn)
            .optional()?;
        if let Some(seq) = oldest_kept {
            deleted += diesel::delete(
                request_log::table
                    .filter(request_log::tenant_id.eq(&tenant_id))
                    .filter(request_log::seq.lt(seq)),
            )
            .execute(conn)?;
        }
    }
    Ok(deleted)
}

/// An hour's requests and errors of one tenant (hour = Unix milliseconds / 3 600 000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourCount {
    pub requests: i64,
    pub errors: i64,
}

/// Adds `counts` (by tenant and hour) to the hourly totals.
pub fn add_hourly(
    conn: &mut DbConnection,
    counts: &std::collections::HashMap<(String, i64), HourCount>,
) -> QueryResult<()> {
    use crate::db::schema::tenant_hourly as h;
    for ((tenant_id, hour), add) in counts {
        let updated =
            diesel::update(h::table.filter(h::tenant_id.eq(tenant_id)).filter(h::hour.eq(hour)))
                .set((
                    h::requests.eq(h::requests + add.requests),
                    h::errors.eq(h::errors + add.errors),
                ))
                .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(h::table)
                .values((
                    h::tenant_id.eq(tenant_id),
                    h::hour.eq(hour),
                    h::requests.eq(add.requests),
                    h::errors.eq(add.errors),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// The hourly totals of `tenant_ids` from hour `since` on: (tenant id, hour, counts).
pub fn hourly(
    conn: &mut DbConnection,
    tenant_ids: &[String],
    since: i64,
) -> QueryResult<Vec<(String, i64, HourCount)>> {
    use crate::db::schema::tenant_hourly as h;
    let rows: Vec<(String, i64, i64, i64)> = h::table
        .filter(h::tenant_id.eq_any(tenant_ids))
        .filter(h::hour.ge(since))
        .select((h::tenant_id, h::hour, h::requests, h::errors))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(t, hour, requests, errors)| (t, hour, HourCount { requests, errors }))
        .collect())
}

/// Deletes hourly totals before hour `before`.
pub fn prune_hourly(conn: &mut DbConnection, before: i64) -> QueryResult<usize> {
    use crate::db::schema::tenant_hourly as h;
    diesel::delete(h::table.filter(h::hour.lt(before))).execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::StoreError;
    use crate::db::scratch::ScratchDatabase;

    /// A scratch database with tenant `t`.
    fn with_tenant(name: &str) -> ScratchDatabase {
        let scratch = ScratchDatabase::new(name, 2);
        scratch
            .db
            .write(|conn| {
                let tenant = crate::db::rows::TenantRow {
                    id: "t".into(),
                    slug: "t".into(),
                    name: "T".into(),
                    disabled: false,
                    created_at: 0,
                };
                crate::db::repo::tenants::insert(conn, &tenant).map_err(StoreError::from)
            })
            .unwrap();
        scratch
    }

    fn times(db: &crate::db::Database) -> Vec<i64> {
        let mut conn = db.conn().unwrap();
        let rows = page(&mut conn, "t", &RequestFilter::default(), None, 1000).unwrap();
        rows.into_iter().rev().map(|row| row.at).collect()
    }

    /// Age pruning removes the oldest rows up to the first young one; a late-written old row
    /// (a node with a slow clock) goes on a later pass, once the rows before it have.
    #[test]
    fn age_pruning_takes_the_old_prefix() {
        let scratch = with_tenant("request_log_age");
        let db = &scratch.db;
        let rows: Vec<RequestRow> = [10, 20, 30, 15, 40]
            .into_iter()
            .map(|at| RequestRow { at, ..RequestRow::default_for_tests() })
            .collect();
        db.write(|conn| insert(conn, &rows).map_err(StoreError::from)).unwrap();
        let prune = |cutoff| db.write(|conn| prune_older(conn, cutoff).map_err(StoreError::from));
        assert_eq!(prune(5).unwrap(), 0);
        assert_eq!(prune(25).unwrap(), 2);
        assert_eq!(times(db), [30, 15, 40]);
        assert_eq!(prune(35).unwrap(), 2);
        assert_eq!(times(db), [40]);
        assert_eq!(prune(50).unwrap(), 1, "all old: all go");
        assert!(times(db).is_empty());
    }

    /// Every row is written, whether it falls in a full batch or the rest, with its NULLs.
    #[test]
    fn batches_and_the_rest_are_all_written() {
        let scratch = with_tenant("request_log");
        let db = &scratch.db;
        let mixed = 2 * INSERT_CHUNK + 2 * INSERT_SMALL + 5;
        for count in [0, 1, INSERT_SMALL, INSERT_CHUNK - 1, INSERT_CHUNK, mixed] {
            let rows: Vec<RequestRow> = (0..count)
                .map(|n| RequestRow {
                    at: n as i64,
                    request_id: format!("{count}-{n}"),
                    detail: (n % 2 == 0).then(|| "even".to_owned()),
                    ..RequestRow::default_for_tests()
                })
                .collect();
            db.write(|conn| insert(conn, &rows).map_err(StoreError::from)).unwrap();
            let mut conn = db.conn().unwrap();
            let mut stored = page(&mut conn, "t", &RequestFilter::default(), None, 1000).unwrap();
            stored.retain(|row| row.request_id.starts_with(&format!("{count}-")));
            stored.sort_by_key(|row| row.at);
            let written: Vec<(String, Option<String>)> =
                stored.into_iter().map(|row| (row.request_id, row.detail)).collect();
            let expected: Vec<(String, Option<String>)> =
                rows.into_iter().map(|row| (row.request_id, row.detail)).collect();
            assert_eq!(written, expected, "{count} rows");
        }
    }
}
