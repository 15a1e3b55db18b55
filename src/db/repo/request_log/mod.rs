//! The request inspector's store. Recorded requests are packed into segments
//! (`request_segments`, see [`segment`]): a flush writes one row per 64 requests (or 64 KiB) of
//! a tenant, a page of one tenant's log (newest first) unpacks the few segments whose summary
//! can match, retention deletes whole segments by age and trims one segment per tenant by count.
//!
//! `request_log`, one row per request, is the previous release's table: during a rolling upgrade
//! its nodes still write it, and [`fold_legacy`] moves those rows into segments until a later
//! release drops the table.

pub mod segment;

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::schema::{request_log, request_segments};
use crate::db::{DbConnection, MultiBackend};
use segment::{Bodies, SEGMENT_ENTRIES};

/// One recorded request. `seq` is its id: its segment's `seq` × 64 + its place in the segment
/// (the previous release's rows are read with their own `seq`, to be folded).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = request_log)]
pub struct RequestRow {
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
    /// `Users`, `Groups`, … : the first path segment after `/scim/v2/`, in any case.
    pub resource: Option<String>,
    pub client: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl RequestFilter {
    /// Whether `row` passes (the exact test; a segment's summary only narrows which to unpack).
    pub fn matches(&self, row: &RequestRow) -> bool {
        self.status_class.is_none_or(|class| row.status / 100 == class)
            && self.method.as_ref().is_none_or(|m| row.method.eq_ignore_ascii_case(m))
            && self.resource.as_ref().is_none_or(|r| {
                segment::resource_of(&row.path).is_some_and(|of| of.eq_ignore_ascii_case(r))
            })
            && self.client.as_ref().is_none_or(|c| &row.client == c)
            && self.since.is_none_or(|since| row.at >= since)
            && self.until.is_none_or(|until| row.at < until)
    }
}

/// A segment ready to be written: packed outside the write transaction, so the single writer
/// only copies it.
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = request_segments)]
pub struct PackedSegment {
    pub tenant_id: String,
    pub first_at: i64,
    pub last_at: i64,
    pub entries: i64,
    pub statuses: String,
    pub methods: String,
    pub resources: String,
    pub clients: String,
    pub body: Vec<u8>,
}

impl PackedSegment {
    /// Packs `rows` (one tenant's, at most [`SEGMENT_ENTRIES`], numbered as they come).
    fn new(tenant_id: &str, rows: &[&RequestRow]) -> PackedSegment {
        let numbered: Vec<(u8, &RequestRow)> =
            rows.iter().enumerate().map(|(n, row)| (n as u8, *row)).collect();
        PackedSegment::numbered(tenant_id, &numbered)
    }

    fn numbered(tenant_id: &str, rows: &[(u8, &RequestRow)]) -> PackedSegment {
        let summary = segment::summarize(rows.iter().map(|(_, row)| *row));
        PackedSegment {
            tenant_id: tenant_id.to_owned(),
            first_at: summary.first_at,
            last_at: summary.last_at,
            entries: rows.len() as i64,
            statuses: summary.statuses,
            methods: summary.methods,
            resources: summary.resources,
            clients: summary.clients,
            body: segment::encode(rows),
        }
    }
}

/// Each tenant's rows in the order given, in runs of at most [`SEGMENT_ENTRIES`] and, unless one
/// request is larger alone, [`segment::SEGMENT_BYTES`].
fn runs_by_tenant(rows: &[RequestRow]) -> Vec<(&str, Vec<&RequestRow>)> {
    let mut by_tenant: Vec<(&str, Vec<&RequestRow>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut last: Option<(&str, usize)> = None;
    for row in rows {
        // A busy flush is mostly runs of one tenant: the same as the last row needs no lookup.
        let at = match last {
            Some((tenant, at)) if tenant == row.tenant_id => at,
            _ => *index.entry(&row.tenant_id).or_insert_with(|| {
                by_tenant.push((&row.tenant_id, Vec::new()));
                by_tenant.len() - 1
            }),
        };
        last = Some((&row.tenant_id, at));
        by_tenant[at].1.push(row);
    }
    let mut runs = Vec::new();
    for (tenant, rows) in by_tenant {
        let mut run: Vec<&RequestRow> = Vec::new();
        let mut bytes = 0;
        for row in rows {
            let len = segment::packed_len(row);
            if run.len() == SEGMENT_ENTRIES as usize
                || (!run.is_empty() && bytes + len > segment::SEGMENT_BYTES)
            {
                runs.push((tenant, std::mem::take(&mut run)));
                bytes = 0;
            }
            run.push(row);
            bytes += len;
        }
        if !run.is_empty() {
            runs.push((tenant, run));
        }
    }
    runs
}

/// A flush's rows as segments: per tenant, in the order recorded.
pub fn pack(rows: &[RequestRow]) -> Vec<PackedSegment> {
    runs_by_tenant(rows).into_iter().map(|(tenant, run)| PackedSegment::new(tenant, &run)).collect()
}

/// Writes packed segments: multi-row INSERTs of [`INSERT_CHUNK`], then [`INSERT_SMALL`], the
/// rest one by one.
pub fn insert(conn: &mut DbConnection, segments: &[PackedSegment]) -> QueryResult<()> {
    super::insert_rows!(conn, request_segments::table, segments, INSERT_CHUNK, INSERT_SMALL);
    Ok(())
}

/// Segments per INSERT under load (a busy node's flush packs a few hundred).
const INSERT_CHUNK: usize = 16;
/// Segments per INSERT for a flush of a few tenants.
const INSERT_SMALL: usize = 4;

/// Segments unpacked per query while a page is filled.
const SCAN: i64 = 16;

#[derive(Queryable, Selectable)]
#[diesel(table_name = request_segments)]
struct StoredSegment {
    seq: i64,
    body: Vec<u8>,
}

/// A segment's requests, or none if its bytes cannot be read (damaged on disk, or written by a
/// newer release): logged, and then passed over, so that one bad segment leaves the rest of the
/// tenant's log readable and retention still removes it.
fn unpack(tenant_id: &str, stored: &StoredSegment, bodies: Bodies) -> Vec<(u8, RequestRow)> {
    segment::decode(stored.seq, tenant_id, &stored.body, bodies).unwrap_or_else(|err| {
        tracing::warn!(error = %err, "a request log segment cannot be read; it is skipped");
        Vec::new()
    })
}

/// One tenant's requests older than `before` (an id; newest first) that pass `filter`, at most
/// `limit`, without their bodies (a list shows none; [`find`] reads them).
pub fn page(
    conn: &mut DbConnection,
    tenant_id: &str,
    filter: &RequestFilter,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<RequestRow>> {
    let limit = usize::try_from(limit).unwrap_or(0);
    let mut rows = Vec::new();
    let mut upto = before.map(|id| segment::locate(id).0);
    while rows.len() < limit {
        let batch = candidates(conn, tenant_id, filter, upto)?;
        for stored in &batch {
            for (_, row) in unpack(tenant_id, stored, Bodies::Skip).into_iter().rev() {
                if before.is_none_or(|b| row.seq < b) && filter.matches(&row) {
                    rows.push(row);
                }
            }
        }
        match batch.last() {
            Some(last) if batch.len() as i64 == SCAN => upto = Some(last.seq - 1),
            _ => break,
        }
    }
    rows.truncate(limit);
    Ok(rows)
}

/// The next [`SCAN`] segments of a tenant at or below `upto`, newest first, whose summary can
/// match `filter`.
fn candidates(
    conn: &mut DbConnection,
    tenant_id: &str,
    filter: &RequestFilter,
    upto: Option<i64>,
) -> QueryResult<Vec<StoredSegment>> {
    use request_segments as s;
    let mut query =
        s::table.filter(s::tenant_id.eq(tenant_id.to_owned())).into_boxed::<MultiBackend>();
    if let Some(upto) = upto {
        query = query.filter(s::seq.le(upto));
    }
    if let Some(class) = filter.status_class {
        query = query.filter(s::statuses.like(segment::tag_pattern(&class.to_string())));
    }
    if let Some(method) = &filter.method {
        query = query.filter(s::methods.like(segment::tag_pattern(&method.to_ascii_uppercase())));
    }
    if let Some(resource) = &filter.resource {
        query =
            query.filter(s::resources.like(segment::tag_pattern(&resource.to_ascii_lowercase())));
    }
    if let Some(client) = &filter.client {
        query = query.filter(s::clients.like(segment::tag_pattern(client)));
    }
    if let Some(since) = filter.since {
        query = query.filter(s::last_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(s::first_at.lt(until));
    }
    query.order(s::seq.desc()).limit(SCAN).select(StoredSegment::as_select()).load(conn)
}

/// One request of a tenant, with its bodies.
pub fn find(conn: &mut DbConnection, tenant_id: &str, id: i64) -> QueryResult<Option<RequestRow>> {
    use request_segments as s;
    let (seq, n) = segment::locate(id);
    let stored: Option<StoredSegment> = s::table
        .filter(s::tenant_id.eq(tenant_id))
        .filter(s::seq.eq(seq))
        .select(StoredSegment::as_select())
        .get_result(conn)
        .optional()?;
    let Some(stored) = stored else { return Ok(None) };
    let entries = unpack(tenant_id, &stored, Bodies::Read);
    Ok(entries.into_iter().find(|(at, _)| i64::from(*at) == n).map(|(_, row)| row))
}

/// Up to `limit` of every tenant's requests, oldest first, with their bodies (tests, and a
/// look at a small log).
pub fn oldest(conn: &mut DbConnection, limit: usize) -> QueryResult<Vec<RequestRow>> {
    use request_segments as s;
    let mut rows = Vec::new();
    let mut after = i64::MIN;
    while rows.len() < limit {
        let batch: Vec<(String, StoredSegment)> = s::table
            .filter(s::seq.gt(after))
            .order(s::seq)
            .limit(SCAN)
            .select((s::tenant_id, StoredSegment::as_select()))
            .load(conn)?;
        for (tenant_id, stored) in &batch {
            rows.extend(unpack(tenant_id, stored, Bodies::Read).into_iter().map(|(_, r)| r));
            after = stored.seq;
        }
        if (batch.len() as i64) < SCAN {
            break;
        }
    }
    rows.truncate(limit);
    Ok(rows)
}

/// How many requests are recorded, for every tenant.
pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    use request_segments as s;
    let sizes: Vec<i64> = s::table.select(s::entries).load(conn)?;
    Ok(sizes.into_iter().sum())
}

/// Deletes the segments whose newest request was recorded before `cutoff`; answers how many
/// requests went. Segments are appended about in time order, so the old ones are the oldest
/// `seq`s: the walk from the first stops at the first one young enough to keep, and everything
/// before it goes (no index on the time: each flush would pay for one). A segment holds at most
/// a flush of one node, so a request outlives the age by at most about a second; one that a
/// node with a slow clock wrote after younger ones waits for the next pass.
pub fn prune_older(conn: &mut DbConnection, cutoff: i64) -> QueryResult<usize> {
    use request_segments as s;
    let first_kept: Option<i64> = s::table
        .filter(s::last_at.ge(cutoff))
        .order(s::seq)
        .select(s::seq)
        .first(conn)
        .optional()?;
    let below = first_kept.unwrap_or(i64::MAX);
    let sizes: Vec<i64> = s::table.filter(s::seq.lt(below)).select(s::entries).load(conn)?;
    if sizes.is_empty() {
        return Ok(0);
    }
    diesel::delete(s::table.filter(s::seq.lt(below))).execute(conn)?;
    Ok(sizes.into_iter().sum::<i64>() as usize)
}

/// Keeps at most `keep` requests per tenant (the newest): older segments go, and the one that
/// straddles the count keeps only its newest. Answers how many requests went.
pub fn prune_over(
    conn: &mut DbConnection,
    keep: i64,
    tenants: Option<&[String]>,
) -> QueryResult<usize> {
    use request_segments as s;
    let crowded: Vec<String> = match tenants {
        // Only these can have grown: each costs one walk of its index entries.
        Some(tenants) => tenants.to_vec(),
        // A tenant over its count has at least this many segments.
        None => s::table
            .group_by(s::tenant_id)
            .having(diesel::dsl::count_star().ge((keep + SEGMENT_ENTRIES - 1) / SEGMENT_ENTRIES))
            .select(s::tenant_id)
            .load(conn)?,
    };
    let mut deleted = 0;
    for tenant_id in crowded {
        let sizes: Vec<(i64, i64)> = s::table
            .filter(s::tenant_id.eq(&tenant_id))
            .order(s::seq.desc())
            .select((s::seq, s::entries))
            .load(conn)?;
        let Some((straddling, room, older)) = over_the_count(&sizes, keep) else { continue };
        if room > 0 {
            deleted += trim(conn, &tenant_id, straddling, room)?;
        }
        deleted += older as usize;
        let below = if room > 0 { straddling } else { straddling + 1 };
        diesel::delete(s::table.filter(s::tenant_id.eq(&tenant_id)).filter(s::seq.lt(below)))
            .execute(conn)?;
    }
    Ok(deleted)
}

/// Of a tenant's segment sizes (newest first), the segment the count `keep` falls in, how many
/// of its requests fit (0: none, it goes), and how many requests the segments after it (older)
/// hold; `None` when everything fits.
fn over_the_count(sizes: &[(i64, i64)], keep: i64) -> Option<(i64, i64, i64)> {
    let mut kept = 0;
    for (at, (seq, entries)) in sizes.iter().enumerate() {
        if kept + entries > keep {
            let older: i64 = sizes[at + 1..].iter().map(|(_, n)| n).sum();
            let room = keep - kept;
            return Some((*seq, room, if room > 0 { older } else { older + entries }));
        }
        kept += entries;
    }
    None
}

/// Keeps only the newest `room` requests of segment `seq`; answers how many went.
fn trim(conn: &mut DbConnection, tenant_id: &str, seq: i64, room: i64) -> QueryResult<usize> {
    use request_segments as s;
    let (stored, count): (StoredSegment, i64) = s::table
        .filter(s::seq.eq(seq))
        .select((StoredSegment::as_select(), s::entries))
        .get_result(conn)?;
    let entries = unpack(tenant_id, &stored, Bodies::Read);
    if entries.is_empty() {
        // Unreadable: it cannot be trimmed, and its requests cannot be shown; it goes whole.
        diesel::delete(s::table.filter(s::seq.eq(seq))).execute(conn)?;
        return Ok(usize::try_from(count).unwrap_or(0));
    }
    let cut = entries.len().saturating_sub(usize::try_from(room).unwrap_or(0));
    if cut == 0 {
        return Ok(0);
    }
    let kept: Vec<(u8, &RequestRow)> = entries[cut..].iter().map(|(n, row)| (*n, row)).collect();
    let packed = PackedSegment::numbered(tenant_id, &kept);
    diesel::update(s::table.filter(s::seq.eq(seq)))
        .set((
            s::first_at.eq(packed.first_at),
            s::last_at.eq(packed.last_at),
            s::entries.eq(packed.entries),
            s::statuses.eq(packed.statuses),
            s::methods.eq(packed.methods),
            s::resources.eq(packed.resources),
            s::clients.eq(packed.clients),
            s::body.eq(packed.body),
        ))
        .execute(conn)?;
    Ok(cut)
}

/// Where folded rows of the previous release's table are numbered: below every segment this
/// release writes, in their own order, so they list as older.
const LEGACY_BASE: i64 = -(1 << 50);

/// Moves up to `limit` of the oldest rows of `request_log` (written by nodes of the previous
/// release) into segments; answers how many moved.
pub fn fold_legacy(conn: &mut DbConnection, limit: i64) -> QueryResult<usize> {
    let rows: Vec<RequestRow> = request_log::table
        .order(request_log::seq)
        .limit(limit)
        .select(RequestRow::as_select())
        .load(conn)?;
    let Some(last) = rows.last().map(|r| r.seq) else { return Ok(0) };
    for (tenant, run) in runs_by_tenant(&rows) {
        // Each row is folded once, so its run's first `seq` names the segment uniquely.
        let seq = LEGACY_BASE + run[0].seq;
        diesel::insert_into(request_segments::table)
            .values((request_segments::seq.eq(seq), PackedSegment::new(tenant, &run)))
            .execute(conn)?;
    }
    diesel::delete(request_log::table.filter(request_log::seq.le(last))).execute(conn)?;
    Ok(rows.len())
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

    fn write(db: &crate::db::Database, rows: &[RequestRow]) {
        db.write(|conn| insert(conn, &pack(rows)).map_err(StoreError::from)).unwrap();
    }

    fn at(at: i64) -> RequestRow {
        RequestRow { at, ..RequestRow::default_for_tests() }
    }

    /// Age pruning removes the oldest segments up to the first young one; a late-written old
    /// one (a node with a slow clock) goes on a later pass, once those before it have; a
    /// segment goes only when its newest request is old.
    #[test]
    fn age_pruning_takes_the_old_prefix() {
        let scratch = with_tenant("request_log_age");
        let db = &scratch.db;
        for time in [10, 20, 30, 15, 40] {
            write(db, &[at(time)]);
        }
        let prune = |cutoff| db.write(|conn| prune_older(conn, cutoff).map_err(StoreError::from));
        assert_eq!(prune(5).unwrap(), 0);
        assert_eq!(prune(25).unwrap(), 2);
        assert_eq!(times(db), [30, 15, 40]);
        assert_eq!(prune(35).unwrap(), 2);
        assert_eq!(times(db), [40]);
        assert_eq!(prune(50).unwrap(), 1, "all old: all go");
        assert!(times(db).is_empty());
        write(db, &[at(60), at(80)]);
        assert_eq!(prune(70).unwrap(), 0, "its newest is young: the segment stays");
        assert_eq!(prune(81).unwrap(), 2);
    }

    /// Every request is written, in segments of at most 64 per tenant, whether the segments
    /// fall in a full INSERT or the rest, with their NULLs.
    #[test]
    fn batches_and_the_rest_are_all_written() {
        let scratch = with_tenant("request_log");
        let db = &scratch.db;
        let full = SEGMENT_ENTRIES as usize;
        let mixed = (2 * INSERT_CHUNK + 2 * INSERT_SMALL + 1) * full + 5;
        for count in [0, 1, full - 1, full, full + 1, mixed] {
            let rows: Vec<RequestRow> = (0..count)
                .map(|n| RequestRow {
                    at: n as i64,
                    request_id: format!("{count}-{n}"),
                    detail: (n % 2 == 0).then(|| "even".to_owned()),
                    ..RequestRow::default_for_tests()
                })
                .collect();
            assert_eq!(pack(&rows).len(), count.div_ceil(full), "{count} rows");
            write(db, &rows);
            let mut conn = db.conn().unwrap();
            let mut stored = page(&mut conn, "t", &RequestFilter::default(), None, 10_000).unwrap();
            stored.retain(|row| row.request_id.starts_with(&format!("{count}-")));
            stored.reverse();
            let written: Vec<(String, Option<String>)> =
                stored.into_iter().map(|row| (row.request_id, row.detail)).collect();
            let expected: Vec<(String, Option<String>)> =
                rows.into_iter().map(|row| (row.request_id, row.detail)).collect();
            assert_eq!(written, expected, "{count} rows");
        }
        assert_eq!(
            count(&mut db.conn().unwrap()).unwrap(),
            (1 + (full - 1) + full + (full + 1) + mixed) as i64
        );
    }

    /// A flush of several tenants packs each tenant's requests apart, in the order recorded.
    #[test]
    fn each_tenant_gets_its_own_segments() {
        let rows: Vec<RequestRow> = (0..150)
            .map(|n| RequestRow {
                tenant_id: if n % 3 == 0 { "a".into() } else { "b".into() },
                at: n,
                ..RequestRow::default_for_tests()
            })
            .collect();
        let packed = pack(&rows);
        let shape: Vec<(&str, i64, i64, i64)> = packed
            .iter()
            .map(|s| (s.tenant_id.as_str(), s.entries, s.first_at, s.last_at))
            .collect();
        assert_eq!(shape, [("a", 50, 0, 147), ("b", 64, 1, 95), ("b", 36, 97, 149)]);
    }

    /// Large bodies close a segment before 64 requests; a request larger alone gets its own.
    #[test]
    fn segments_stay_within_their_bytes() {
        let sized = |len: usize| RequestRow {
            response_body: Some("x".repeat(len)),
            ..RequestRow::default_for_tests()
        };
        let rows =
            [sized(20_000), sized(20_000), sized(20_000), sized(20_000), sized(100_000), sized(10)];
        let entries: Vec<i64> = pack(&rows).iter().map(|s| s.entries).collect();
        assert_eq!(entries, [3, 1, 1, 1]);
        assert!(
            pack(&rows).iter().all(|s| s.body.len() <= segment::SEGMENT_BYTES || s.entries == 1)
        );
    }

    #[test]
    fn the_count_falls_in_one_segment_and_the_older_ones_go() {
        let sizes = [(9, 5), (7, 5), (4, 5), (2, 3)];
        assert_eq!(over_the_count(&sizes, 18), None, "everything fits");
        assert_eq!(over_the_count(&sizes, 17), Some((2, 2, 0)));
        assert_eq!(over_the_count(&sizes, 7), Some((7, 2, 8)));
        assert_eq!(over_the_count(&sizes, 5), Some((7, 0, 13)), "a segment with no room goes");
        assert_eq!(over_the_count(&sizes, 0), Some((9, 0, 18)));
        assert_eq!(over_the_count(&[], 1), None);
    }

    /// Retention by count keeps exactly the newest: whole older segments go, the straddling one
    /// is trimmed to its newest and keeps their ids, with bodies.
    #[test]
    fn count_pruning_trims_the_straddling_segment() {
        let scratch = with_tenant("request_log_count");
        let db = &scratch.db;
        for flush in 0..3 {
            let rows: Vec<RequestRow> = (0..5)
                .map(|n| RequestRow {
                    at: flush * 10 + n,
                    status: if n == 0 { 500 } else { 200 },
                    response_body: Some(format!("body {flush}/{n}")),
                    ..RequestRow::default_for_tests()
                })
                .collect();
            write(db, &rows);
        }
        let mut conn = db.conn().unwrap();
        let all = page(&mut conn, "t", &RequestFilter::default(), None, 100).unwrap();
        drop(conn);
        let prune = |keep| {
            db.write(|conn| {
                prune_over(conn, keep, Some(&["t".to_owned()])).map_err(StoreError::from)
            })
        };
        assert_eq!(prune(7).unwrap(), 8);
        assert_eq!(times(db), [13, 14, 20, 21, 22, 23, 24]);
        let mut conn = db.conn().unwrap();
        let kept = page(&mut conn, "t", &RequestFilter::default(), None, 100).unwrap();
        let ids: Vec<i64> = kept.iter().map(|r| r.seq).collect();
        assert_eq!(ids, all[..7].iter().map(|r| r.seq).collect::<Vec<_>>(), "ids unchanged");
        let trimmed = find(&mut conn, "t", kept[6].seq).unwrap().unwrap();
        assert_eq!(trimmed.response_body.as_deref(), Some("body 1/3"));
        assert_eq!(find(&mut conn, "t", all[7].seq).unwrap(), None, "a trimmed request is gone");
        // The trimmed segment's summary follows what it holds: its 500 went with it.
        let errors = RequestFilter { status_class: Some(5), ..RequestFilter::default() };
        let failed: Vec<i64> =
            page(&mut conn, "t", &errors, None, 100).unwrap().iter().map(|r| r.at).collect();
        assert_eq!(failed, [20]);
        drop(conn);
        assert_eq!(prune(7).unwrap(), 0, "within the count: nothing goes");
        assert_eq!(prune(5).unwrap(), 2);
        assert_eq!(times(db), [20, 21, 22, 23, 24]);
        assert_eq!(prune(1).unwrap(), 4);
        assert_eq!(times(db), [24]);
    }

    /// A segment whose bytes cannot be read leaves the rest of the log readable, is not found
    /// by id, and goes whole when retention reaches it.
    #[test]
    fn a_damaged_segment_is_passed_over_and_pruned() {
        let scratch = with_tenant("request_log_damaged");
        let db = &scratch.db;
        for flush in 0..3 {
            let rows: Vec<RequestRow> = (0..5).map(|n| at(flush * 10 + n)).collect();
            write(db, &rows);
        }
        let mut conn = db.conn().unwrap();
        let all = page(&mut conn, "t", &RequestFilter::default(), None, 100).unwrap();
        let damaged = segment::locate(all[5].seq).0;
        diesel::update(request_segments::table.filter(request_segments::seq.eq(damaged)))
            .set(request_segments::body.eq(vec![0xffu8, 1, 2]))
            .execute(&mut conn)
            .unwrap();
        assert_eq!(times(db), [0, 1, 2, 3, 4, 20, 21, 22, 23, 24]);
        assert_eq!(find(&mut conn, "t", all[5].seq).unwrap(), None);
        assert_eq!(count(&mut conn).unwrap(), 15, "still counted while it is kept");
        drop(conn);
        let prune = |keep| {
            db.write(|conn| {
                prune_over(conn, keep, Some(&["t".to_owned()])).map_err(StoreError::from)
            })
        };
        assert_eq!(prune(7).unwrap(), 10, "the damaged segment straddles the count: it goes");
        assert_eq!(times(db), [20, 21, 22, 23, 24]);
    }

    fn varied(n: i64) -> RequestRow {
        let resources = ["Users", "Groups", "Bulk", "Schemas"];
        RequestRow {
            at: 1_000 + n,
            method: ["GET", "POST", "PATCH", "DELETE"][(n % 4) as usize].into(),
            path: format!("/scim/v2/{}/{n}", resources[(n / 3 % 4) as usize]),
            status: [200, 201, 404, 409, 500][(n / 5 % 5) as usize],
            client: ["okta", "entra", "other"][(n / 7 % 3) as usize].into(),
            ..RequestRow::default_for_tests()
        }
    }

    /// Every filter pages through exactly the requests it matches, newest first, however the
    /// segments' summaries narrow what is unpacked; `before` continues where a page ended.
    #[test]
    fn filtered_pages_match_the_exact_test_over_every_request() {
        let scratch = with_tenant("request_log_filters");
        let db = &scratch.db;
        let rows: Vec<RequestRow> = (0..700).map(varied).collect();
        // Flushes of varied sizes: full segments, small ones, single requests.
        let mut start = 0;
        for size in [64, 3, 1, 1, 200, 17, 64, 5].into_iter().cycle() {
            let end = (start + size).min(rows.len());
            write(db, &rows[start..end]);
            start = end;
            if start == rows.len() {
                break;
            }
        }
        let filters = [
            RequestFilter::default(),
            RequestFilter { status_class: Some(5), ..RequestFilter::default() },
            RequestFilter {
                status_class: Some(4),
                method: Some("patch".into()),
                ..RequestFilter::default()
            },
            RequestFilter { resource: Some("groups".into()), ..RequestFilter::default() },
            RequestFilter { resource: Some("Use".into()), ..RequestFilter::default() },
            RequestFilter { client: Some("entra".into()), ..RequestFilter::default() },
            RequestFilter { since: Some(1_100), until: Some(1_150), ..RequestFilter::default() },
            RequestFilter {
                status_class: Some(2),
                method: Some("GET".into()),
                resource: Some("Users".into()),
                client: Some("okta".into()),
                since: Some(1_050),
                until: None,
            },
        ];
        let mut conn = db.conn().unwrap();
        for filter in filters {
            let expected: Vec<i64> =
                rows.iter().rev().filter(|r| filter.matches(r)).map(|r| r.at).collect();
            let whole: Vec<i64> =
                page(&mut conn, "t", &filter, None, 1_000).unwrap().iter().map(|r| r.at).collect();
            assert_eq!(whole, expected, "{filter:?}");
            let mut paged = Vec::new();
            let mut before = None;
            loop {
                let rows = page(&mut conn, "t", &filter, before, 7).unwrap();
                paged.extend(rows.iter().map(|r| r.at));
                match rows.last() {
                    Some(last) if rows.len() == 7 => before = Some(last.seq),
                    _ => break,
                }
            }
            assert_eq!(paged, expected, "paged by 7: {filter:?}");
        }
        assert!(page(&mut conn, "other", &RequestFilter::default(), None, 10).unwrap().is_empty());
    }

    #[test]
    fn the_exact_test_reads_each_part_of_the_filter() {
        let row = RequestRow {
            at: 100,
            method: "PATCH".into(),
            path: "/scim/v2/Groups/7?excludedAttributes=members".into(),
            status: 204,
            client: "okta".into(),
            ..RequestRow::default_for_tests()
        };
        let pass = |filter: RequestFilter| filter.matches(&row);
        let none = RequestFilter::default;
        assert!(pass(none()));
        assert!(pass(RequestFilter { status_class: Some(2), ..none() }));
        assert!(!pass(RequestFilter { status_class: Some(4), ..none() }));
        assert!(pass(RequestFilter { method: Some("patch".into()), ..none() }));
        assert!(!pass(RequestFilter { method: Some("PUT".into()), ..none() }));
        assert!(pass(RequestFilter { resource: Some("GROUPS".into()), ..none() }));
        assert!(!pass(RequestFilter { resource: Some("Group".into()), ..none() }));
        assert!(pass(RequestFilter { client: Some("okta".into()), ..none() }));
        assert!(!pass(RequestFilter { client: Some("entra".into()), ..none() }));
        assert!(pass(RequestFilter { since: Some(100), until: Some(101), ..none() }));
        assert!(!pass(RequestFilter { since: Some(101), ..none() }));
        assert!(!pass(RequestFilter { until: Some(100), ..none() }));
    }

    /// Rows a node of the previous release wrote are folded into segments that list as older
    /// than this release's, and leave `request_log`.
    #[test]
    fn the_previous_releases_rows_are_folded_in() {
        let scratch = with_tenant("request_log_fold");
        let db = &scratch.db;
        write(db, &[at(500)]);
        db.write(|conn| {
            for time in [100, 200, 300] {
                diesel::insert_into(request_log::table)
                    .values((
                        request_log::tenant_id.eq("t"),
                        request_log::at.eq(time),
                        request_log::method.eq("GET"),
                        request_log::path.eq("/scim/v2/Users"),
                        request_log::status.eq(200),
                        request_log::latency_ms.eq(1),
                        request_log::client.eq("okta"),
                        request_log::user_agent.eq("Okta"),
                        request_log::request_id.eq(format!("r{time}")),
                        request_log::response_body.eq(Some(format!("body {time}"))),
                    ))
                    .execute(conn)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
        let fold = |limit| db.write(|conn| fold_legacy(conn, limit).map_err(StoreError::from));
        assert_eq!(fold(2).unwrap(), 2);
        assert_eq!(fold(10).unwrap(), 1);
        assert_eq!(fold(10).unwrap(), 0);
        assert_eq!(times(db), [100, 200, 300, 500]);
        let mut conn = db.conn().unwrap();
        let folded = page(&mut conn, "t", &RequestFilter::default(), None, 10).unwrap();
        let found = find(&mut conn, "t", folded[3].seq).unwrap().unwrap();
        assert_eq!(
            (found.request_id.as_str(), found.response_body.as_deref()),
            ("r100", Some("body 100"))
        );
        let left: i64 = request_log::table.count().get_result(&mut conn).unwrap();
        assert_eq!(left, 0);
    }
}
